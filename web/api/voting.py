"""REST for votes: the vote, its result, its published ballot chain, receipt checks.

- `GET /api/votes/{vid}` (admin, participants of its meeting) → the vote with
  live turnout while open; once closed also `result`, `ballots` (the
  hash-chained records: position, receipt_hash, choice [, voter_id for named
  votes], prev_hash, hash), `chain_head`, `genesis` and `audit` (the server's
  own recomputation: `{ok, broken_at, reason}`).
- `GET /api/votes/{vid}/verify?receipt=…` → `{counted, position, choice,
  receipt_hash, audit}` once closed; `409 conflict` while still open.
"""
from __future__ import annotations

from aiohttp import web

from sessions import events as event_log
from sessions.errors import Conflict, Invalid
from voting import audit, service
from web.auth import hub_of, identify, require_meeting_access

routes = web.RouteTableDef()


async def _load(request: web.Request):
    identify(request)  # 401 before anything about the vote is revealed
    vote_id = request.match_info["vid"]
    if len(vote_id) > 64:
        raise Invalid("vote id is too long")
    hub = hub_of(request)
    async with hub.db.read() as session:
        vote = await service.get_vote(session, vote_id)
    await require_meeting_access(request, vote.meeting_id)
    return hub, vote


async def published_head(session, vote) -> str | None:
    """The head written into the meeting's log (and broadcast) at close."""
    logged = await event_log.events_of(session, vote.meeting_id, types=("vote:result",))
    heads = [e.payload.get("chain_head") for e in logged if e.payload.get("vote_id") == vote.id]
    return heads[0] if heads else None


async def audit_of(session, vote) -> tuple[list[audit.BallotRecord], audit.AuditReport]:
    records = await service.chain_of(session, vote.id)
    report = audit.verify_chain(vote.id, records, head=vote.chain_head or "", counts=vote.counts)
    if report.ok and await published_head(session, vote) != vote.chain_head:
        report = audit.AuditReport(False, None, "the stored head differs from the one announced at close")
    return records, report


@routes.get("/api/votes/{vid}")
async def get_vote(request: web.Request) -> web.Response:
    hub, vote = await _load(request)
    async with hub.db.read() as session:
        vote = await service.get_vote(session, vote.id)
        body = {**service.opened_view(vote), "status": vote.status, "meeting_id": vote.meeting_id}
        cast, eligible = await service.turnout(session, vote)
        body["turnout"] = {"cast": cast, "eligible": eligible}
        if vote.status == service.CLOSED:
            records, report = await audit_of(session, vote)
            body["result"] = service.result_view(vote)
            body["chain_head"] = vote.chain_head
            body["genesis"] = audit.genesis(vote.id)
            body["ballots"] = [r.to_dict() for r in records]
            body["audit"] = report.to_dict()
    return web.json_response(body)


@routes.get("/api/votes/{vid}/verify")
async def verify_receipt(request: web.Request) -> web.Response:
    hub, vote = await _load(request)
    receipt = request.query.get("receipt", "")
    if not receipt or len(receipt) > 100:
        raise Invalid("give the receipt as ?receipt=")
    if vote.status != service.CLOSED:
        raise Conflict("the ballots are published when the vote closes")
    digest = audit.receipt_hash(receipt)
    async with hub.db.read() as session:
        records, report = await audit_of(session, vote)
    found = next((r for r in records if r.receipt_hash == digest), None)
    return web.json_response({
        "counted": found is not None,
        "position": found.position if found else None,
        "choice": found.choice if found else None,
        "receipt_hash": digest,
        "audit": report.to_dict(),
    })
