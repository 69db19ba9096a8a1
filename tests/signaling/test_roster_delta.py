"""Roster changes in two shapes (docs/protocol.md, "Roster changes as
deltas"): a client that connects with auth `roster: "delta"` gets
`roster:presence` {seq, online, offline} when only presence changed, the
whole `roster` when people changed; other clients get the contract's whole
`roster` every time, under the same seq."""

from tests.helpers import EventClient, connect_error


async def test_presence_changes_come_as_deltas_to_those_who_ask(hub, clients):
    mid = await hub.meeting("两种名单")
    chair = await hub.participant(mid, "主任", "chair")
    member = await hub.participant(mid, "委员", "member")
    late = await hub.participant(mid, "代表", "deputy")

    full = await EventClient(hub.url, chair["token"]).connect()
    clients.append(full)
    delta = await EventClient(hub.url, member["token"], auth={"roster": "delta"}).connect()
    clients.append(delta)
    await full.wait_for("roster", lambda r: {p["id"] for p in r["participants"] if p["online"]}
                        == {chair["id"], member["id"]})

    # Someone comes online: the full client gets the roster, the delta client one id, same seq.
    newcomer = await EventClient(hub.url, late["token"]).connect()
    clients.append(newcomer)
    came = await delta.wait_for("roster:presence", lambda d: late["id"] in d["online"])
    assert came["offline"] == []
    whole = await full.wait_for("roster", lambda r: r["seq"] == came["seq"])
    assert {p["id"] for p in whole["participants"] if p["online"]} == {chair["id"], member["id"], late["id"]}
    assert all("participants" not in d for d in delta.received["roster:presence"])

    # Someone goes offline: the same, the other way.
    await newcomer.close()
    gone = await delta.wait_for("roster:presence", lambda d: late["id"] in d["offline"])
    assert gone["online"] == [] and gone["seq"] > came["seq"]
    whole = await full.wait_for("roster", lambda r: r["seq"] == gone["seq"])
    assert not next(p for p in whole["participants"] if p["id"] == late["id"])["online"]

    # People change (a participant is added): everyone gets the whole roster.
    added = await hub.participant(mid, "新委员", "member")
    for client in (full, delta):
        roster = await client.wait_for("roster", lambda r: added["id"] in {p["id"] for p in r["participants"]})
    assert roster["seq"] > gone["seq"]

    # The delta client's seqs leave no gap: every meeting event reached it in one shape or the other.
    seen = sorted(d["seq"] for event in ("roster", "roster:presence") for d in delta.received[event])
    assert seen == list(range(seen[0], seen[-1] + 1))


async def test_an_unknown_roster_mode_is_refused(hub):
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员", "member")
    reason = await connect_error(hub.url, {"token": member["token"], "roster": "sometimes"})
    assert "roster" in reason
