"""Accounts of the congress office's staff: who may sign in to the console,
their sessions, and how far an operator's rights reach."""
