"""Inquiry tables (on sessions.models.Base)."""
