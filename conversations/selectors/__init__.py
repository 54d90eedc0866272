"""Reads. Every conversation id from a client goes through `access`."""
