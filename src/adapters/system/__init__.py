"""The real clock and id source."""
