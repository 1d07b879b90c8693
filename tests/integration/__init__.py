"""Tests that run real processes or loopback servers (marked ``integration``)."""
