"""Console adapters: notifications as lines on a text stream (stderr, a log file)."""
