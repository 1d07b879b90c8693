"""The Docker executor (docker SDK): agents run in a fresh container per attempt."""
