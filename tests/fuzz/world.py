"""A meeting with every role, a paper and an open vote, plus a second meeting
whose ids the fuzz borrows ("ids of other meetings"), on each database."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import aiohttp

from sessions.roles import Role
from tests.documents.pdfs import make_pdf
from tests.fuzz.rawsio import RawSocket

# Every role that joins a meeting (admin is refused on connect, tested apart).
MEETING_ROLES = [r for r in Role if r is not Role.ADMIN]
CONTRACT_CODES = {"invalid", "unauthorized", "forbidden", "not_found", "conflict", "closed", "state",
                  "too_large", "rate_limited"}


@dataclass
class Meeting:
    mid: str
    people: dict[str, dict]  # role → {id, token}
    document_id: str
    vote_id: str
    recording_id: str  # a stopped recording (no media: its timeline file)


@dataclass
class World:
    hub: object
    a: Meeting
    b: Meeting
    site_id: str
    sockets: list[RawSocket] = field(default_factory=list)

    def ids(self, meeting: Meeting) -> dict:
        """Real ids by payload field name: a payload built from them is well-formed."""
        people = meeting.people
        return {
            "vote_id": meeting.vote_id, "document_id": meeting.document_id,
            "participant_id": people["member"]["id"], "participant": people["member"]["id"],
            "respondent": people["respondent"]["id"], "respondents": [people["respondent"]["id"]],
            "choice": "满意", "sdp": "v=0\r\n", "tracks": "all",
        }

    async def socket(self, token: str, **kwargs) -> RawSocket:
        sock = RawSocket(self.hub.url)
        self.sockets.append(sock)
        return await sock.open({"token": token}, **kwargs)


async def upload_pdf(hub, mid: str) -> str:
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(2), filename="paper.pdf", content_type="application/pdf")
    resp = await hub.client.post(f"/api/meetings/{mid}/documents", data=form, headers=hub.admin_headers())
    body = await resp.json()
    assert resp.status == 201, body
    return body["id"]


async def make_meeting(hub, title: str, site_id: str) -> Meeting:
    mid = await hub.meeting(title)
    people = {}
    for role in MEETING_ROLES:
        people[role.value] = await hub.participant(mid, f"{role.value}-{title}", role.value,
                                                   site_id if role is Role.RESPONDENT else None)
    document_id = await upload_pdf(hub, mid)
    chair = RawSocket(hub.url)
    await chair.open({"token": people["chair"]["token"]})
    try:
        ack = await chair.call("vote:open", json.dumps({"subject": "fuzz target", "secret": False}))
        started = await chair.call("recording:start", "{}")
        stopped = await chair.call("recording:stop", "{}")
    finally:
        await chair.close()
    assert ack["ok"] and started["ok"] and stopped["ok"], (ack, started, stopped)
    return Meeting(mid, people, document_id, ack["vote_id"], started["recording_id"])


def ack_problem(ack, expect: str) -> str | None:
    """Why an ack breaks the contract for a case expecting `expect`, or None."""
    if not isinstance(ack, dict) or not isinstance(ack.get("ok"), bool):
        return f"ack is not {{ok, ...}}: {str(ack)[:200]}"
    if ack["ok"]:
        return None if expect == "answered" else f"accepted: {str(ack)[:200]}"
    error = ack.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("message"), str) or not error.get("message"):
        return f"error shape: {str(ack)[:200]}"
    if error.get("code") == "rate_limited":
        return "rate_limited although the fuzz paces below the limit: the case was not tested"
    if error.get("code") not in CONTRACT_CODES:
        return f"code {error.get('code')!r} ({error.get('message', '')[:150]})"
    if expect == "too_large" and error["code"] != "too_large":
        return f"code {error['code']!r} instead of too_large ({error['message'][:150]})"
    return None
