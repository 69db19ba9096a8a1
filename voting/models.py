"""Voting tables (on sessions.models.Base)."""
