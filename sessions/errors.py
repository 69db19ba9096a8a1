"""Errors that cross the hub's edge with the contract's codes.

REST turns them into `{"error": {"code", "message"}}` with the matching HTTP
status; Socket.IO turns them into `{"ok": false, "error": {...}}` acks.
"""
from __future__ import annotations


class HubError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class Invalid(HubError):
    code, status = "invalid", 400


class Unauthorized(HubError):
    code, status = "unauthorized", 401


class Forbidden(HubError):
    code, status = "forbidden", 403


class NotFound(HubError):
    code, status = "not_found", 404


class Conflict(HubError):
    code, status = "conflict", 409


class TooLarge(HubError):
    code, status = "too_large", 413


class RateLimited(HubError):
    code, status = "rate_limited", 429


class Closed(HubError):
    """The thing is over (a closed vote, an ended meeting)."""

    code, status = "closed", 409


class StateError(HubError):
    """Not allowed in the current stage."""

    code, status = "state", 409
