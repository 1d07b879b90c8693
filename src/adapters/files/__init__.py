"""Task logs as plain files under the state directory."""
