"""Unit tests: pure code only (no database, no channel layer)."""
