"""Working fakes of outside services, for tests that need a real protocol on loopback."""
