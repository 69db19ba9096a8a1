"""Calls between sites: reach, ring → accept / decline / cancel / missed, the
call log, and malformed payloads."""
from __future__ import annotations

import pytest

from tests.helpers import EventClient
from tests.sites.util import SitesClient, build_city, rest


@pytest.fixture
async def city_hub(hub, clients):
    """The hub, a small city, and a terminal of each site connected."""
    city = await build_city(hub.url)
    terminals = {}
    for key in city.ids:
        terminals[key] = await SitesClient(hub.url, city.tokens[key]).connect()
        clients.append(terminals[key])
    for t in terminals.values():
        await t.directory()
    return hub, city, terminals


def refused(ack: dict, code: str) -> bool:
    return ack["ok"] is False and ack["error"]["code"] == code and bool(ack["error"]["message"])


async def test_reach_rules(city_hub, clients):
    hub, city, t = city_hub
    ids = city.ids
    allowed = [("S1", "T"), ("A", "S1"), ("A", "S2"), ("A", "T"), ("A", "city"), ("city", "S3"), ("city", "D"),
               ("D", "city"), ("T", "S1"), ("T", "A"), ("S3", "B")]
    forbidden = [("S1", "A"), ("S1", "S2"), ("S1", "city"), ("A", "S3"), ("A", "B"), ("D", "S1"), ("S2", "S1"),
                 ("T", "S2"), ("S1", "S1"), ("city", "city")]
    for caller, callee in allowed:
        ack = await t[caller].call("call:start", {"site_ids": [ids[callee]]})
        assert ack["ok"], (caller, callee, ack)
    for caller, callee in forbidden:
        ack = await t[caller].call("call:start", {"site_ids": [ids[callee]]})
        assert refused(ack, "forbidden"), (caller, callee, ack)
    # One site out of reach refuses the whole call; nothing rings.
    ack = await t["A"].call("call:start", {"site_ids": [ids["S1"], ids["S3"]]})
    assert refused(ack, "forbidden"), ack
    assert "西城联络站" in ack["error"]["message"]
    ack = await t["city"].call("call:start", {"site_ids": ["0" * 32]})
    assert refused(ack, "not_found"), ack
    # An admin watches; it does not call.
    watcher = await SitesClient(hub.url, hub.tokens.admin_token()).connect()
    clients.append(watcher)
    assert refused(await watcher.call("call:start", {"site_ids": [ids["S1"]]}), "forbidden")


async def test_ring_then_accept_puts_the_station_in_the_meeting(city_hub, clients):
    hub, city, t = city_hub
    ids = city.ids
    ack = await t["A"].call("call:start", {"site_ids": [ids["S1"], ids["T"]], "title": "紧急议题"})
    assert ack["ok"] and set(ack) >= {"call_id", "meeting_id", "join_url"}, ack
    call_id = ack["call_id"]
    ring = await t["S1"].wait_for("call:ring", lambda r: r["call_id"] == call_id)
    assert ring["from"] == {"site_id": ids["A"], "name": "东城区人大"} and ring["title"] == "紧急议题"
    assert ring["expires_at"]
    await t["T"].wait_for("call:ring", lambda r: r["call_id"] == call_id)
    assert not [r for r in t["S2"].received["call:ring"] if r["call_id"] == call_id]  # not called
    for site in ("S1", "T"):
        ringing = await t["A"].state(call_id, ids[site], "ringing")
        assert ringing["at"] and ringing["seq"] >= 1

    accepted = await t["S1"].call("call:accept", {"call_id": call_id})
    assert accepted["ok"] and accepted["join_url"], accepted
    change = await t["A"].state(call_id, ids["S1"], "accepted")
    assert change == await t["S1"].state(call_id, ids["S1"], "accepted")
    assert change["seq"] == 3  # two rings, then this
    # The join links work: the station as deputy, the caller as chair.
    station = EventClient(hub.url, accepted["join_url"].split("token=", 1)[1])
    chair = EventClient(hub.url, ack["join_url"].split("token=", 1)[1])
    clients.extend([station, chair])
    await station.connect()
    await chair.connect()
    me = (await station.call("state:sync"))["me"]
    assert (me["role"], me["name"], me["site"]["id"]) == ("deputy", "和平联络站", ids["S1"])
    sync = await chair.call("state:sync")
    assert sync["me"]["role"] == "chair" and sync["meeting"]["id"] == ack["meeting_id"]
    assert sync["meeting"]["kind"] == "adhoc"  # the console lists a call as 临时会议
    # A township is not a station: it joins as member.
    township = await t["T"].call("call:accept", {"call_id": call_id})
    assert township["ok"] and township["role"] == "member", township
    # Answering again: the call no longer rings there.
    assert refused(await t["S1"].call("call:accept", {"call_id": call_id}), "closed")
    assert refused(await t["S1"].call("call:decline", {"call_id": call_id}), "closed")
    assert refused(await t["A"].call("call:cancel", {"call_id": call_id}), "closed")
    # A site not called, or no such call.
    assert refused(await t["S2"].call("call:accept", {"call_id": call_id}), "not_found")
    assert refused(await t["S1"].call("call:accept", {"call_id": "f" * 32}), "not_found")


async def test_decline_cancel_missed_and_the_call_log(city_hub):
    hub, city, t = city_hub
    ids = city.ids
    ack = await t["city"].call("call:start", {"site_ids": [ids["S1"], ids["S3"], ids["D"], ids["A"]]})
    call_id = ack["call_id"]
    assert (await t["S1"].call("call:decline", {"call_id": call_id}))["ok"]
    await t["city"].state(call_id, ids["S1"], "declined")
    assert (await t["A"].call("call:accept", {"call_id": call_id}))["ok"]
    # Only the caller cancels; cancelling stops what still rings.
    assert refused(await t["S3"].call("call:cancel", {"call_id": call_id}), "forbidden")
    hub.hub.settings.ring_s = 1.5  # PLENARY_RING_S, for the next call only
    missed_call = (await t["A"].call("call:start", {"site_ids": [ids["S2"]]}))["call_id"]
    assert (await t["city"].call("call:cancel", {"call_id": call_id}))["ok"]
    for site in ("S3", "D"):
        await t["city"].state(call_id, ids[site], "cancelled")
        await t[site].state(call_id, ids[site], "cancelled")
    assert refused(await t["S3"].call("call:accept", {"call_id": call_id}), "closed")
    # Nobody answers the other call: it is missed after the ring time.
    missed = await t["A"].state(missed_call, ids["S2"], "missed", timeout=10)
    await t["S2"].state(missed_call, ids["S2"], "missed")
    assert refused(await t["S2"].call("call:accept", {"call_id": missed_call}), "closed")

    status, log = await rest(hub.url, "GET", "/api/calls")
    assert status == 200 and [c["id"] for c in log] == [missed_call, call_id]  # newest first
    first = log[1]
    assert set(first) == {"id", "meeting_id", "title", "from_site_id", "created_at", "sites"}
    assert first["from_site_id"] == ids["city"] and first["meeting_id"] == ack["meeting_id"]
    assert [(s["site_id"], s["state"]) for s in first["sites"]] == [
        (ids["S1"], "declined"), (ids["S3"], "cancelled"), (ids["D"], "cancelled"), (ids["A"], "accepted")]
    assert log[0]["sites"] == [{"site_id": ids["S2"], "state": "missed", "at": missed["at"]}]
    # Filtered by site; a terminal sees its own site's calls only.
    status, only = await rest(hub.url, "GET", f"/api/calls?site_id={ids['S2']}")
    assert [c["id"] for c in only] == [missed_call]
    status, own = await rest(hub.url, "GET", "/api/calls", token=city.tokens["S1"])
    assert status == 200 and [c["id"] for c in own] == [call_id]
    status, own = await rest(hub.url, "GET", f"/api/calls?site_id={ids['A']}", token=city.tokens["A"])
    assert status == 200 and [c["id"] for c in own] == [missed_call, call_id]
    status, body = await rest(hub.url, "GET", f"/api/calls?site_id={ids['A']}", token=city.tokens["S1"])
    assert (status, body["error"]["code"]) == (403, "forbidden")
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员", "member")
    status, body = await rest(hub.url, "GET", "/api/calls", token=member["token"])
    assert (status, body["error"]["code"]) == (403, "forbidden")


async def test_a_terminal_that_connects_mid_ring_is_rung(city_hub, clients):
    hub, city, t = city_hub
    call_id = (await t["T"].call("call:start", {"site_ids": [city.ids["S1"]]}))["call_id"]
    late = await SitesClient(hub.url, city.tokens["S1"]).connect()
    clients.append(late)
    await late.directory()
    ring = await late.wait_for("call:ring", lambda r: r["call_id"] == call_id)
    assert ring["from"]["site_id"] == city.ids["T"]


async def test_malformed_payloads_are_invalid(city_hub):
    hub, city, t = city_hub
    s = t["city"]
    station = city.ids["S1"]
    for event, payload in [
        ("call:start", {}),
        ("call:start", {"site_ids": []}),
        ("call:start", {"site_ids": station}),
        ("call:start", {"site_ids": [station, station]}),
        ("call:start", {"site_ids": [f"{i:032x}" for i in range(201)]}),
        ("call:start", {"site_ids": [station], "title": "两行\n标题"}),
        ("call:start", {"site_ids": [station], "title": ""}),
        ("call:start", {"site_ids": [station], "colour": "red"}),
        ("call:start", {"site_ids": [5]}),
        ("call:start", {"site_ids": ["bad id"]}),
        ("call:start", [station]),
        ("call:start", "hello"),
        ("call:accept", {}),
        ("call:accept", {"call_id": 5}),
        ("call:accept", {"call_id": ""}),
        ("call:decline", {"call_id": None}),
        ("call:cancel", {"call_id": "x" * 65}),
        ("call:ring", {}),
        ("no:such", {}),
    ]:
        ack = await s.call(event, payload)
        assert refused(ack, "invalid"), (event, payload, ack)
    # 200 sites is the limit, not an error of form.
    ack = await s.call("call:start", {"site_ids": [f"{i:032x}" for i in range(200)]})
    assert refused(ack, "not_found"), ack


async def test_two_pages_answering_at_once_one_wins(city_hub, clients):
    import asyncio

    hub, city, t = city_hub
    other_page = await SitesClient(hub.url, city.tokens["S1"]).connect()
    clients.append(other_page)
    await other_page.directory()
    call_id = (await t["T"].call("call:start", {"site_ids": [city.ids["S1"]]}))["call_id"]
    await other_page.wait_for("call:ring", lambda r: r["call_id"] == call_id)
    acks = await asyncio.gather(t["S1"].call("call:accept", {"call_id": call_id}),
                                other_page.call("call:decline", {"call_id": call_id}))
    assert sorted(a["ok"] for a in acks) == [False, True], acks
    loser = next(a for a in acks if not a["ok"])
    assert loser["error"]["code"] == "closed", loser
    winner = "accepted" if acks[0]["ok"] else "declined"
    await t["T"].state(call_id, city.ids["S1"], winner)
    states = [s for s in t["T"].received["call:state"] if s["call_id"] == call_id]
    assert [(s["seq"], s["state"]) for s in states] == [(1, "ringing"), (2, winner)], states
