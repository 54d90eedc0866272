"""Offline notification: decide (schedule), deliver (email, push), run (worker)."""
