"""Imports every module that declares tables, so metadata is complete."""
import sessions.models  # noqa: F401
