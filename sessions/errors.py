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


class Unavailable(HubError):
    """Something the hub depends on (the database) cannot be reached just now:
    nothing was changed, and the same request may be retried shortly."""

    code, status = "unavailable", 503


DATABASE_UNAVAILABLE = "the database is unavailable just now; try again shortly"


def unavailable_from(exc: BaseException) -> Unavailable | None:
    """`Unavailable` when `exc` says the database cannot be reached (refused or
    dropped connection, server shutting down or starting, a connect or pool
    timeout), else None. Raised anywhere else, an OSError or a timeout is not
    the database's, so it is only counted when a database driver raised it."""
    return Unavailable(DATABASE_UNAVAILABLE) if _is_database_outage(exc) else None


_DB_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite")


def _is_database_outage(exc: BaseException) -> bool:
    from sqlalchemy import exc as sa

    try:
        from asyncpg import exceptions as pg
        outages: tuple[type[BaseException], ...] = (
            pg.PostgresConnectionError, pg.CannotConnectNowError, pg.AdminShutdownError,
            pg.CrashShutdownError, pg.TooManyConnectionsError,
        )
        pg_interface = pg.InterfaceError
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        outages, pg_interface = (), ()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.TimeoutError):  # no pooled connection came back in time
            return True
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        if outages and isinstance(current, outages):
            return True
        if pg_interface and isinstance(current, pg_interface) and "connection" in str(current) and "closed" in str(current):
            return True  # "connection is closed", "connection was closed in the middle of operation"
        if isinstance(current, (OSError, TimeoutError)) and _raised_by_database(current):
            return True  # refused, reset, unreachable; asyncpg's connect timeout
        current = current.__cause__ or current.__context__
    return False


def _raised_by_database(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] in _DB_MODULES:
            return True
        tb = tb.tb_next
    return False


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
