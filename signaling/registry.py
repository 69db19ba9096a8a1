"""How feature modules declare Socket.IO events and `state:sync` sections.

Each module in `signaling/handlers/` makes one `Events()` and decorates its
handlers; the server discovers them all. A handler gets the hub, the caller
and its validated payload, and returns the ack's extra fields (or None).
Raising a `HubError` becomes an `{"ok": false, "error": ...}` ack.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import Forbidden, format_validation_error, from_database_error
from sessions.roles import Role
from sessions.text import EdgeModel

log = logging.getLogger(__name__)

__all__ = ["Payload", "Empty", "Caller", "Events", "EventSpec", "format_validation_error"]


class Payload(EdgeModel):
    """Base of every client payload: unknown fields are an error, not ignored,
    and no string in it carries a control character (sessions/text.py); give
    fields the types of sessions/text.py (Line, Id, Int, Bool, Number)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Empty(Payload):
    pass


@dataclass(frozen=True)
class Caller:
    sid: str
    participant_id: str
    meeting_id: str
    role: Role
    name: str

    def require(self, roles: Iterable[Role], what: str = "this") -> None:
        if self.role not in roles:
            raise Forbidden(f"a {self.role.value} may not do {what}")


# The first argument is the hub (signaling.hub.Hub). It is `Any` here
# because the hub holds the features' Events: naming it would be a cycle.
Handler = Callable[[Any, Caller, Any], Awaitable[dict | None]]
StateSection = Callable[[Any, Caller, AsyncSession], Awaitable[Any]]
Starter = Callable[[Any], Awaitable[None]]
Hook = Callable[[Any, Caller], Awaitable[None]]
# (hub, meeting id, the id of who closed it)
CloseHook = Callable[[Any, str, str | None], Awaitable[None]]


@dataclass(frozen=True)
class EventSpec:
    name: str
    model: type[BaseModel]
    roles: frozenset[Role] | None
    handler: Handler


class Events:
    def __init__(self) -> None:
        self.specs: dict[str, EventSpec] = {}
        self.sections: dict[str, StateSection] = {}
        self.starters: list[Starter] = []
        self.leave_hooks: list[Hook] = []
        self.lost_hooks: list[Hook] = []
        self.close_hooks: list[CloseHook] = []

    def on(self, name: str, model: type[BaseModel] = Empty, roles: Iterable[Role] | None = None):
        """Declare a client→server event; `roles` refuses others with `forbidden`."""

        def decorate(fn: Handler) -> Handler:
            self.specs[name] = EventSpec(name, model, frozenset(roles) if roles else None, _refusing_bad_data(fn))
            return fn

        return decorate

    def state(self, key: str):
        """Declare a key of the `state:sync` answer."""

        def decorate(fn: StateSection) -> StateSection:
            self.sections[key] = fn
            return fn

        return decorate

    def on_start(self, fn: Starter) -> Starter:
        """Run once when the hub starts (restore state, start periodic jobs)."""
        self.starters.append(fn)
        return fn

    def on_leave(self, fn: Hook):
        """Run when a client disconnects (release media, lower hands...)."""
        self.leave_hooks.append(fn)
        return fn

    def on_lost(self, fn: Hook):
        """Run for each connection of a process that died, on the process that
        found it dead (its heartbeat stopped), with that connection's row
        already gone.  Only for hub-wide state kept in the database (a raised
        hand): the caller's media, say, lived and died in the other process."""
        self.lost_hooks.append(fn)
        return fn

    def on_close(self, fn: CloseHook) -> CloseHook:
        """Run once when the meeting closes, after `meeting:status` went out
        and before its connections are let go: finish what the meeting left
        running (an open vote gets its result, an open inquiry topic is
        closed), so that every site sees the end and the record is whole."""
        self.close_hooks.append(fn)
        return fn


def _refusing_bad_data(fn: Handler) -> Handler:
    """A database refusal caused by input becomes its contract error, not an
    `internal` ack (a safety net behind the payload models)."""

    @wraps(fn)
    async def handler(hub: Any, caller: Caller, payload: Any) -> dict | None:
        try:
            return await fn(hub, caller, payload)
        except SQLAlchemyError as exc:
            refusal = from_database_error(exc)
            if refusal is None:
                raise
            # One line, no traceback: input did this, but a check is missing.
            log.warning("%s: the database refused its input (%s)", fn.__name__, type(getattr(exc, "orig", None) or exc).__name__)
            raise refusal from None

    return handler
