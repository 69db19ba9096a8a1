"""Synchronized paperless documents (电子阅文)."""
