"""Load generator, reference servers and recorded figures (see README.md)."""
