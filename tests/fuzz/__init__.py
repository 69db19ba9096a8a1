"""Fuzz suite (issue 10): every event and every REST route gets malformed input
of every class, from every role, and must answer with the contract's error."""
