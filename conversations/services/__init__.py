"""Writes. Each runs in one transaction and fans out after commit."""
