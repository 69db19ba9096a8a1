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


def format_validation_error(exc) -> str:
    """A pydantic ValidationError as one line that says where and what
    ("page: Input should be a valid integer (got a string)")."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"]
        if err["type"].endswith("_type") and "input" in err:
            message += f" (got {_json_kind(err['input'])})"
        if not where and err["type"] == "control_character":
            parts.append(message)  # it names the field itself
        else:
            parts.append(f"{where or 'payload'}: {message}")
    return "; ".join(parts)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def from_database_error(exc: BaseException) -> HubError | None:
    """The contract's code for a database refusal that input caused, or None.

    A safety net: the edge validates text and checks references before any
    write, so reaching this means a check is missing; the caller still gets
    an answer it can act on, never a 500 or an `internal` ack.
    """
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.IntegrityError):
        return Conflict("the request refers to something that does not exist, or repeats something unique")
    if isinstance(exc, sa.DataError):
        return Invalid("a value has a form or length the database does not accept")
    if isinstance(exc, sa.StatementError) and isinstance(exc.orig, UnicodeError):
        return Invalid("text is not valid Unicode")
    return None
