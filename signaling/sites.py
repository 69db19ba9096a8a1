"""The `/sites` namespace: sites' terminals, the live directory, ad-hoc calls.

Contract (docs/contract.md, "Sites, terminals and calls"): connect with a
site's terminal token, or an admin token to watch; on connect `directory`
`{seq, sites: [{id, name, kind, parent_id, online}]}`; broadcast
`directory:presence` `{seq, site_id, online}` when a site's first terminal
connects or its last one goes; `call:start`, `call:accept`, `call:decline`,
`call:cancel`; to the called sites `call:ring`, to caller and called
`call:state`.

Extensions (docs/protocol.md, Part 2, "Sites, terminals and calls"):
- `directory:sync` `{}` → `{ok, seq, sites}`: the directory again, for a
  client that saw a gap in the directory's `seq`.
- A terminal that connects while a call rings at its site gets that
  `call:ring` right after `directory`.
- `call:state`'s `seq` is the call's own (one per change of any of its
  sites); `directory` and `directory:presence` share the directory's.
- `call:start`'s ack also has `expires_at`; `call:accept`'s also has
  `meeting_id` and `role`.

How it holds across processes: terminal connections are rows on the
presence heartbeat's nodes (sessions/sites/terminals.py), so a dead
process's terminals go offline as its participants do; every process runs
`sweep` each second, which announces what changed (once: under the
directory row's lock), closes local connections whose token was revoked
meanwhile (should the cross-process disconnect have been lost), and writes
back its own rows after a database outage. Rings expire by `expire_due`,
run by every process from the database's `expires_at`; a ring's state
changes once, under its call row's lock, whichever process gets there first.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import Field, field_validator

from sessions.accounts.service import check_session
from sessions.errors import Forbidden, HubError, Unauthorized, unavailable_from
from sessions.identity import Identity, TerminalIdentity
from sessions.roles import Role
from sessions.sites import calls, terminals
from sessions.text import Id, Line
from signaling.registry import Events, Payload
from signaling.server import MeetingNamespace, _Bucket

if TYPE_CHECKING:
    from signaling.hub import Hub

log = logging.getLogger(__name__)

SITES_NAMESPACE = "/sites"
# Every process checks presence (and revocations) this often, and rings
# this often: a ring is `missed` within RING_CHECK_S of its expiry.
SWEEP_S = 1.0
RING_CHECK_S = 0.25
# How long the welcome waits for python-socketio to finish a connect.
WELCOME_WAIT_S = 10.0

site_events = Events()


def site_room(site_id: str) -> str:
    return f"s:{site_id}"


def join_url(hub: "Hub", token: str) -> str:
    return f"{hub.settings.base_url}/join?token={token}"


@dataclass(frozen=True)
class SiteCaller:
    """Who is on a `/sites` connection: a site's terminal, or an admin watching."""

    sid: str
    site_id: str | None
    name: str
    kind: str | None
    generation: int = 0
    # An admin watching through a staff session: the sweep lets the
    # connection go when that session is signed out or expires.
    session: Identity | None = None

    @property
    def participant_id(self) -> str:  # what the dispatcher's log lines name
        return f"site:{self.site_id}" if self.site_id else "admin"

    @property
    def meeting_id(self) -> None:
        return None

    def terminal(self, what: str) -> str:
        if self.site_id is None:
            raise Forbidden(f"an admin watches /sites; {what} is for a site's terminal")
        return self.site_id


# -- payloads -----------------------------------------------------------------


class CallStart(Payload):
    site_ids: list[Id] = Field(min_length=1, max_length=calls.MAX_SITES)
    title: Line | None = Field(default=None, min_length=1, max_length=300)

    @field_validator("site_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a site more than once")
        return value


class CallRef(Payload):
    call_id: Id


# -- events -------------------------------------------------------------------


async def emit_state(hub: "Hub", change: calls.StateChange) -> None:
    rooms = [site_room(change.from_site_id), site_room(change.site_id)]
    await hub.sio.emit("call:state", change.to_dict(), room=rooms, namespace=SITES_NAMESPACE)


async def emit_ring(hub: "Hub", ring: calls.Ring, to: str | None = None) -> None:
    await hub.sio.emit("call:ring", ring.to_dict(), room=to or site_room(ring.site_id), namespace=SITES_NAMESPACE)


@site_events.on("call:start", CallStart)
async def call_start(hub: "Hub", caller: SiteCaller, payload: CallStart) -> dict:
    site_id = caller.terminal("call:start")
    async with hub.db.transaction() as tx:
        started = await calls.start(tx, site_id, payload.site_ids, payload.title, hub.settings.ring_s)
    token = hub.tokens.issue(started.chair_id, Role.CHAIR, started.meeting_id)
    for ring in started.rings:
        await emit_ring(hub, ring)
    for change in started.changes:
        await emit_state(hub, change)
    return {"call_id": started.call_id, "meeting_id": started.meeting_id, "join_url": join_url(hub, token),
            "expires_at": started.rings[0].to_dict()["expires_at"]}


@site_events.on("call:accept", CallRef)
async def call_accept(hub: "Hub", caller: SiteCaller, payload: CallRef) -> dict:
    site_id = caller.terminal("call:accept")
    async with hub.db.transaction() as tx:
        accepted = await calls.accept(tx, payload.call_id, site_id)
    token = hub.tokens.issue(accepted.participant_id, accepted.role, accepted.meeting_id)
    await emit_state(hub, accepted.change)
    hub.request_roster(accepted.meeting_id)
    return {"join_url": join_url(hub, token), "meeting_id": accepted.meeting_id, "role": accepted.role.value}


@site_events.on("call:decline", CallRef)
async def call_decline(hub: "Hub", caller: SiteCaller, payload: CallRef) -> None:
    site_id = caller.terminal("call:decline")
    async with hub.db.transaction() as tx:
        change = await calls.decline(tx, payload.call_id, site_id)
    await emit_state(hub, change)


@site_events.on("call:cancel", CallRef)
async def call_cancel(hub: "Hub", caller: SiteCaller, payload: CallRef) -> None:
    site_id = caller.terminal("call:cancel")
    async with hub.db.transaction() as tx:
        changes = await calls.cancel(tx, payload.call_id, site_id)
    for change in changes:
        await emit_state(hub, change)


@site_events.on("directory:sync")
async def directory_sync(hub: "Hub", caller: SiteCaller, payload: Any) -> dict:
    async with hub.db.read() as session:
        return await terminals.directory(session)


# -- presence, revocation, the ring clock ------------------------------------------


async def announce(hub: "Hub", site_ids: list[str] | None = None) -> None:
    """Announce each change of the sites' online state (all sites: None)."""
    async with hub.db.read() as session:
        if not await terminals.differs(session, site_ids):
            return
    async with hub.db.transaction() as tx:
        changes = await terminals.reconcile(tx, site_ids)
    for change in changes:
        await hub.sio.emit("directory:presence", change.to_dict(), namespace=SITES_NAMESPACE)


async def revoke_terminals(hub: "Hub", site_id: str) -> None:
    """Every terminal token of the site issued so far stops working, and its
    open `/sites` connections close, on whichever process holds them (through
    the Socket.IO manager: Redis with several processes; each process's
    sweep also closes any it still holds)."""
    async with hub.db.transaction() as tx:
        await terminals.revoke(tx, site_id)
    async with hub.db.read() as session:
        sids = await terminals.connection_sids(session, site_id)
    for sid in sids:
        await hub.sio.disconnect(sid, namespace=SITES_NAMESPACE)


async def expire_due(hub: "Hub") -> None:
    """Rings past their `expires_at` become `missed`."""
    async with hub.db.read() as session:
        due = await calls.due(session)
    by_call: dict[str, list[str]] = defaultdict(list)
    for call_id, site_id in due:
        by_call[call_id].append(site_id)
    for call_id, site_ids in by_call.items():
        async with hub.db.transaction() as tx:
            changes = await calls.expire(tx, call_id, site_ids)
        for change in changes:
            await emit_state(hub, change)


# -- the namespace ----------------------------------------------------------------


class SitesNamespace(MeetingNamespace):
    """`/sites`: the connect guard, rate limit and validated dispatch of
    `/meeting` (signaling/server.py), with terminals in place of participants."""

    def __init__(self, hub: "Hub") -> None:
        super().__init__(hub, [site_events])
        self.namespace = SITES_NAMESPACE

    def start(self) -> None:
        self.hub.every(SWEEP_S, self.sweep, "sites-presence")
        self.hub.every(RING_CHECK_S, lambda: expire_due(self.hub), "sites-ring-clock")

    def held(self) -> dict[str, tuple[str, str]]:
        return {}  # no meeting's presence rows: see sweep

    async def _admit(self, sid: str, auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = self.hub.tokens.verify_any(token if isinstance(token, str) else None)
            if isinstance(identity, TerminalIdentity):
                async with self.hub.db.transaction() as tx:
                    site = await terminals.admit(tx, sid, self.hub.node_id, identity.site_id, identity.generation)
                caller = SiteCaller(sid, site.id, site.name, site.kind, identity.generation)
            elif identity.is_admin:
                if identity.session_id is not None:  # an admin's session: its row must still count
                    async with self.hub.db.read() as session:
                        await check_session(session, identity)
                caller = SiteCaller(sid, None, "admin", None, session=identity if identity.session_id else None)
            elif identity.is_operator:
                # The directory is the whole city's; an operator's console reads its part over REST.
                raise Unauthorized("an operator's session does not open /sites; use GET /api/sites")
            else:
                raise Unauthorized("a participant's token does not open /sites: connect with the site's terminal "
                                   "token (or an admin token, to watch)")
        except HubError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        self._callers[sid] = caller  # type: ignore[assignment]
        self._buckets[sid] = _Bucket()
        if caller.site_id is not None:
            await self.enter_room(sid, site_room(caller.site_id))
        self.hub.spawn(self._welcome(sid, caller), f"sites-welcome:{sid}")

    async def _welcome(self, sid: str, caller: SiteCaller) -> None:
        """After the connect has gone through: the site's presence, then the
        directory and the calls ringing at the site, to this connection."""
        deadline = time.monotonic() + WELCOME_WAIT_S
        while not self.server.manager.is_connected(sid, self.namespace):
            if sid not in self._callers or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.01)
        if caller.site_id is not None:
            try:
                await announce(self.hub, [caller.site_id])
            except Exception as exc:  # the sweep announces it once the database answers
                if unavailable_from(exc) is None:
                    log.exception("could not announce the presence of site %s", caller.site_id)
        async with self.hub.db.read() as session:
            snapshot = await terminals.directory(session)
            rings = await calls.ringing_for(session, caller.site_id) if caller.site_id else []
        await self.server.emit("directory", snapshot, to=sid, namespace=self.namespace)
        # A change announced (by another process) between the snapshot and
        # its emit may have reached the client before it: send the directory
        # again then, so the last one a client gets is never older.
        for _ in range(3):
            async with self.hub.db.read() as session:
                if await terminals.directory_seq(session) == snapshot["seq"]:
                    break
                snapshot = await terminals.directory(session)
            await self.server.emit("directory", snapshot, to=sid, namespace=self.namespace)
        for ring in rings:
            await emit_ring(self.hub, ring, to=sid)

    async def _abandon_join(self, sid: str) -> None:
        self._callers.pop(sid, None)
        self._buckets.pop(sid, None)
        await self.server.manager.disconnect(sid, self.namespace, ignore_queue=True)
        await self._drop_row(sid)

    async def _drop_row(self, sid: str) -> None:
        try:
            async with self.hub.db.transaction() as tx:
                await terminals.leave(tx, sid)
        except Exception as exc:
            # The sweep drops it once the database answers again.
            if unavailable_from(exc) is None:
                log.exception("could not drop the terminal row of %s", sid)

    async def on_disconnect(self, sid: str) -> None:
        caller = self._callers.pop(sid, None)
        self._buckets.pop(sid, None)
        if caller is None or caller.site_id is None:
            return
        await self._drop_row(sid)
        try:
            await announce(self.hub, [caller.site_id])
        except Exception as exc:
            if unavailable_from(exc) is None:
                log.exception("could not announce the presence of site %s", caller.site_id)

    async def sweep(self) -> None:
        """Once a second on every process: close local terminals whose token
        was revoked, make this node's terminal rows agree with what it holds,
        and announce every site whose online state changed (a dead process's
        sites go offline here, once its heartbeat is stale)."""
        held: dict[str, SiteCaller] = {
            sid: c for sid, c in self._callers.items() if isinstance(c, SiteCaller) and c.site_id is not None
        }
        async with self.hub.db.read() as session:
            rows = await terminals.node_rows(session, self.hub.node_id)
            current = await terminals.generations(session, {c.site_id for c in held.values() if c.site_id})
        now_held = self.held_sids()
        revoked = [sid for sid, c in held.items() if current.get(c.site_id or "", 0) != c.generation]
        for sid in revoked:
            await self.server.disconnect(sid, namespace=self.namespace, ignore_queue=True)
        missing = {
            sid: (c.site_id, c.generation)
            for sid, c in held.items()
            if sid not in rows and sid not in revoked and sid in self._callers and c.site_id is not None
        }
        stale = [sid for sid in rows if sid not in now_held]
        if missing or stale:
            async with self.hub.db.transaction() as tx:
                await terminals.restore_node(tx, self.hub.node_id, missing, stale)  # type: ignore[arg-type]
        await self._let_ended_sessions_go()
        await announce(self.hub)

    async def _let_ended_sessions_go(self) -> None:
        """An admin who signed out (on any process), whose session expired or
        whose account was removed stops watching: the directory is not theirs
        to see any more."""
        watchers = {sid: c.session for sid, c in self._callers.items()
                    if isinstance(c, SiteCaller) and c.session is not None}
        if not watchers:
            return
        ended = []
        async with self.hub.db.read() as session:
            for sid, identity in watchers.items():
                try:
                    await check_session(session, identity)
                except Unauthorized:
                    ended.append(sid)
        for sid in ended:
            await self.server.disconnect(sid, namespace=self.namespace, ignore_queue=True)
