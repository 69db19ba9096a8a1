"""Every Socket.IO event, every malformed payload class, from every role (issue 10).

Each ack must come (no hang), be `{"ok": false, "error": {code, message}}`
with a contract code (never `internal`), the connection must stay up and
answer `state:sync`, and the hub must log no traceback. Afterwards nothing
was created behind the refusals and a real vote still counts exactly.
"""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from sessions.roles import Role
from signaling.server import discover_events
from tests.fuzz.cases import REFUSED, Case, event_cases, heavy_cases
from tests.fuzz.rawsio import Dropped, Refused, RawSocket
from tests.fuzz.runner import ACK_TIMEOUT_S, check_alive, run_cases
from tests.fuzz.world import MEETING_ROLES, World

CONNECTIONS_PER_ROLE = 8  # ~140 cases each: past the burst, the pace (25/s) costs about a second
IN_FLIGHT_TOTAL = 24  # under the hub's database pool (20 + 10 overflow): the fuzz is not a load test


def all_specs() -> dict:
    specs = {}
    for feature in discover_events():
        specs.update(feature.specs)
    return specs


def test_the_fuzz_covers_every_event():
    specs = all_specs()
    assert "state:sync" in specs
    # The contract's events are all there (a renamed one would escape the fuzz).
    contract = {"state:sync", "media:publish", "media:unpublish", "media:subscribe", "media:answer",
                "inquiry:hand", "inquiry:command", "vote:open", "vote:cast", "vote:close",
                "doc:presenter", "doc:present", "doc:opened"}
    assert contract <= set(specs)
    for name, spec in specs.items():
        assert len(event_cases(name, spec.model, {}, {})) >= 10, name


def cases_for(world: World, role: str) -> list[Case]:
    cases = []
    for name, spec in sorted(all_specs().items()):
        allowed = spec.roles is None or role in {r.value for r in spec.roles}
        for case in event_cases(name, spec.model, world.ids(world.a), world.ids(world.b)):
            # A role the event is not for is refused whatever it sends.
            cases.append(case if allowed else Case(case.event, case.variant, case.label, case.body, REFUSED))
    return cases


async def counts(world: World) -> dict:
    """What REST shows of the hub's rows, to compare before and after."""
    hub = world.hub
    headers = hub.admin_headers()
    sites = await (await hub.client.get("/api/sites", headers=headers)).json()
    answer = {"sites": len(sites)}
    for meeting in (world.a, world.b):
        body = await (await hub.client.get(f"/api/meetings/{meeting.mid}", headers=headers)).json()
        answer[f"participants {meeting.mid}"] = len(body["participants"])
    return answer


async def a_real_vote_counts_exactly(world: World) -> None:
    people = world.a.people
    chair = await world.socket(people["chair"]["token"])
    member = await world.socket(people["member"]["token"])
    opened = await chair.call("vote:open", json.dumps({"subject": "after the fuzz", "secret": False}))
    assert opened["ok"], opened
    cast = await member.call("vote:cast", json.dumps({"vote_id": opened["vote_id"], "choice": "满意"}))
    assert cast["ok"], cast
    closed = await chair.call("vote:close", json.dumps({"vote_id": opened["vote_id"]}))
    assert closed["ok"], closed
    result = closed["result"]
    assert result["cast"] == 1 and result["counts"]["满意"] == 1 and sum(result["counts"].values()) == 1, result
    # The fuzz target vote may have taken a well-formed ballot (ballot_id
    # null is a valid cast) but never more than one per eligible voter.
    target = await chair.call("vote:close", json.dumps({"vote_id": world.a.vote_id}))
    assert target["ok"], target
    result = target["result"]
    assert sum(result["counts"].values()) == result["cast"] <= result["eligible"], result


async def test_every_event_gets_the_contract_error(world, hub_log):
    """All roles at once: each sends every case over its own connections."""
    before = await counts(world)
    started = time.monotonic()
    by_role = {role.value: cases_for(world, role.value) for role in MEETING_ROLES}

    gate = asyncio.Semaphore(IN_FLIGHT_TOTAL)

    async def fuzz(role: str, cases: list[Case]):
        token = world.a.people[role]["token"]
        return await run_cases(role, cases, lambda: world.socket(token), CONNECTIONS_PER_ROLE, gate)

    results = await asyncio.gather(*(fuzz(role, cases) for role, cases in by_role.items()))
    failures = [f for found in results for f in found]
    total = sum(len(c) for c in by_role.values())
    print(f"{total} cases from {len(by_role)} roles in {time.monotonic() - started:.1f}s, {len(failures)} failures")
    report = [str(f) for f in failures]
    after = await counts(world)
    # Well-typed cases may have been accepted (a topic opened with an emoji
    # title, a vote closed with batch_id null), but no event makes a site or
    # a participant, and a real vote afterwards counts exactly its ballot.
    if after != before:
        report.append(f"rows changed: {before} -> {after}")
    await a_real_vote_counts_exactly(world)
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, f"{len(failures)} of {total} cases broke the contract:\n" + "\n".join(report)


async def test_heavy_payloads_get_the_contract_error(world, hub_log):
    """20,000-deep nesting and 1.5 MiB messages, once per event (from the chair,
    who may send most events); a message too big to read at all (3 MiB) gets
    `too_large` or a websocket close that says so (1009), never a silent drop."""
    token = world.a.people["chair"]["token"]
    cases = [c for name, spec in sorted(all_specs().items())
             for c in heavy_cases(name, spec.model, world.ids(world.a))]
    failures = await run_cases("chair", cases, lambda: world.socket(token), 2)
    report = [str(f) for f in failures]
    sock = await world.socket(token)
    try:
        ack = await sock.call("state:sync", json.dumps({"zz_pad": "P" * (3 << 20)}), timeout=ACK_TIMEOUT_S)
        if not (isinstance(ack, dict) and ack.get("error", {}).get("code") == "too_large"):
            report.append(f"3 MiB message: ack {str(ack)[:200]}")
    except Dropped as exc:
        if "1009" not in str(exc):
            report.append(f"3 MiB message: dropped without saying why: {exc}")
    except TimeoutError:
        report.append("3 MiB message: no ack and no close")
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, f"{len(failures)} of {len(cases)} heavy cases broke the contract:\n" + "\n".join(report)


WIRE_FRAMES = [
    ("broken-json", "[not json"),
    ("truncated", '["state:sync",{'),
    ("empty-array", "[]"),
    ("number-event", "[123,{}]"),
    ("null-event", "[null,{}]"),
    ("object-not-array", '{"a":1}'),
    ("bare-string", '"state:sync"'),
    ("nul-in-event-name", '["state\\u0000sync",{}]'),
    ("surrogate-event-name", '["\\ud800",{}]'),
    ("huge-int-event", "[" + "9" * 200 + ",{}]"),
    ("5000-digit-int", '["vote:cast",{"vote_id":"x","choice":' + "9" * 5000 + "}]"),
    ("nan", '["vote:cast",{"vote_id":"x","choice":NaN}]'),
    ("unknown-event", '["no:such-event",{}]'),
    ("long-event-name", '["' + "e" * 100_000 + '",{}]'),
]


@pytest.mark.parametrize("role", ["member", "observer"])
async def test_broken_frames_are_answered_on_their_ack_id(world, hub_log, role):
    """A frame that does not decode still has an ack id: it gets `invalid` there."""
    token = world.a.people[role]["token"]
    report: list[str] = []

    async def one(label: str, frame: str) -> None:
        sock = await world.socket(token)
        try:
            ack = await sock.emit_raw(frame, timeout=ACK_TIMEOUT_S)
        except TimeoutError:
            report.append(f"{label}: no ack within {ACK_TIMEOUT_S:.0f}s")
            return
        except Dropped as exc:
            report.append(f"{label}: connection dropped: {exc}")
            return
        ack = ack[0] if isinstance(ack, list) and len(ack) == 1 else ack
        if not (isinstance(ack, dict) and ack.get("ok") is False and ack.get("error", {}).get("code") == "invalid"):
            report.append(f"{label}: ack {str(ack)[:200]}")
        failures: list = []
        await check_alive(label, sock, failures)
        report.extend(str(f) for f in failures)

    # Each frame on its own connection, so one that kills its connection
    # cannot hide what the next one gets.
    await asyncio.gather(*(one(label, frame) for label, frame in WIRE_FRAMES))
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, "\n".join(report)


async def test_bad_connects_are_refused_with_a_reason(world, hub_log):
    """The admin, forged and malformed credentials get a connect_error that says why."""
    tokens = world.hub.tokens
    member = world.a.people["member"]
    forged = [
        ("admin token", {"token": tokens.admin_token()}),
        ("member sub, chair role", {"token": tokens.issue(member["id"], Role.CHAIR, world.a.mid)}),
        ("member of A claiming meeting B", {"token": tokens.issue(member["id"], Role.MEMBER, world.b.mid)}),
        ("garbage token", {"token": "not.a.jwt"}),
        ("100 KB token", {"token": "A" * 100_000}),
        ("token with NUL", {"token": "ab\x00cd"}),
        ("token not a string", {"token": 10**100}),
        ("token a list", {"token": [member["token"]]}),
        ("auth a string", member["token"]),
        ("auth a list", [member["token"]]),
        ("auth null", None),
        ("no token", {}),
        ("meeting_id of B", {"token": member["token"], "meeting_id": world.b.mid}),
        ("meeting_id not a string", {"token": member["token"], "meeting_id": {"a": [1]}}),
        ("deep auth", {"token": member["token"], "zz": json.loads("[" * 500 + "]" * 500)}),
    ]
    report = []
    for label, auth in forged:
        sock = RawSocket(world.hub.url)
        world.sockets.append(sock)
        try:
            await sock.open(auth, timeout=ACK_TIMEOUT_S)
        except Refused as exc:
            if not str(exc):
                report.append(f"{label}: refused without a reason")
            continue
        except (TimeoutError, Dropped) as exc:
            report.append(f"{label}: no connect_error: {exc!r}")
            continue
        report.append(f"{label}: accepted")
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, "\n".join(report)


async def test_junk_before_any_namespace_is_cut_off_quietly(world, caplog):
    """A websocket that never connects a namespace and sends malformed packets
    is closed, and the hub logs it once, not once per packet."""
    import logging

    import aiohttp

    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{world.hub.url}/socket.io/?EIO=4&transport=websocket")
        opening = await ws.receive()
        assert opening.data.startswith("0"), opening
        sent = 0
        for sent in range(1, 2001):
            if ws.closed:
                break
            try:
                await ws.send_str("42/meeting,[not json")
            except (ConnectionError, RuntimeError):
                break
        # The hub closes it: reading runs into the close (ping packets aside).
        async def closed() -> None:
            async for _msg in ws:
                pass
        await asyncio.wait_for(closed(), ACK_TIMEOUT_S)
    logged = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.split(".")[0] in
              ("engineio", "socketio", "signaling", "web", "aiohttp")]
    assert len(logged) <= 2, f"{len(logged)} log records for one junk connection ({sent} packets sent): " + \
        "; ".join(f"{r.name}: {r.getMessage()[:80]}" for r in logged[:3])
    assert not any(r.exc_info for r in logged), "a traceback was logged"
