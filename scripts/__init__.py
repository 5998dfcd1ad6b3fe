"""Repository scripts (importable by the tests)."""
