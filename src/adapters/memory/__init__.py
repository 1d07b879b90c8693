"""In-memory adapters: for tests, dry runs, and as the reference for each contract."""
