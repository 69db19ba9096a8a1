"""Document tables (on sessions.models.Base)."""
