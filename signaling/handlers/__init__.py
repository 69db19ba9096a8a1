"""One module per feature; each exposes `events = Events()` (found at start)."""
