"""Accounts: sign-in, passwords, invitations, and who changed what."""
