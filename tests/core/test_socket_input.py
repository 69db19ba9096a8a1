"""Bad input on Socket.IO gets the contract's error and keeps the connection."""


async def test_bad_events_get_errors_not_disconnects(sqlite_hub, clients):
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    client = await sqlite_hub.connect(member["token"])
    clients.append(client)

    ack = await client.call("no:such-event", {})
    assert ack == {"ok": False, "error": {"code": "invalid", "message": "unknown event 'no:such-event'"}}
    ack = await client.call("state:sync", "a string")
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"
    ack = await client.call("state:sync", {"unexpected": 1})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid" and "unexpected" in ack["error"]["message"]
    ack = await client.call("state:sync", [1, 2, 3])
    assert ack["error"]["code"] == "invalid"
    assert client.sio.connected
    sync = await client.call("state:sync")
    assert sync["ok"] is True and sync["meeting"]["id"] == mid
    assert set(sync) >= {"seq", "meeting", "me", "roster", "inquiry", "vote", "document", "recording", "tracks",
                         "ice_servers"}
    assert sync["ice_servers"] == []  # no public STUN server unless configured


async def test_flooding_is_rate_limited(sqlite_hub, clients):
    import asyncio

    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    client = await sqlite_hub.connect(member["token"])
    clients.append(client)
    acks = await asyncio.gather(*(client.call("no:such-event") for _ in range(200)))
    codes = {a["error"]["code"] for a in acks}
    assert "rate_limited" in codes and client.sio.connected


async def test_seq_grows_by_one_per_meeting_event(hub, clients):
    mid = await hub.meeting()
    people = [await hub.participant(mid, f"委员{i}", "member") for i in range(4)]
    watcher = await hub.connect(people[0]["token"])
    clients.append(watcher)
    start = (await watcher.call("state:sync"))["seq"]
    for p in people[1:]:
        clients.append(await hub.connect(p["token"]))
        await watcher.wait_for(
            "roster", lambda r, pid=p["id"]: {x["id"]: x["online"] for x in r["participants"]}[pid]
        )
    seqs = [r["seq"] for r in watcher.received["roster"] if r["seq"] > start]
    assert seqs == list(range(start + 1, start + 1 + len(seqs))) and len(seqs) >= 3
    assert (await watcher.call("state:sync"))["seq"] == seqs[-1]


async def test_a_storm_of_joins_sends_few_rosters(sqlite_hub, clients):
    import asyncio

    mid = await sqlite_hub.meeting()
    people = [await sqlite_hub.participant(mid, f"委员{i}", "member") for i in range(30)]
    watcher = await sqlite_hub.connect(people[0]["token"])
    clients.append(watcher)
    await watcher.wait_for("roster", lambda r: sum(x["online"] for x in r["participants"]) == 1)
    clients.extend(await asyncio.gather(*(sqlite_hub.connect(p["token"]) for p in people[1:])))
    await watcher.wait_for("roster", lambda r: all(x["online"] for x in r["participants"]))
    # 29 joins, coalesced: far fewer snapshots than joins reach each client.
    assert len(watcher.received["roster"]) < 15


async def test_undecodable_payloads_from_a_real_client_are_answered(sqlite_hub, clients, caplog):
    """What python-socketio itself sends: a 101-digit integer, 40 levels of
    nesting, NaN. Each is answered `invalid` on its ack; no traceback."""
    import logging

    caplog.set_level(logging.WARNING)
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    client = await sqlite_hub.connect(member["token"])
    clients.append(client)
    nested: list = []
    for _ in range(40):
        nested = [nested]
    cases = [
        ({"vote_id": "x", "choice": 10**100}, "a number has 101 characters"),
        ({"deep": nested}, "nested deeper than"),
        ({"vote_id": "x", "choice": float("nan")}, "NaN is not JSON"),
    ]
    for payload, reason in cases:
        ack = await client.call("vote:cast", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
        assert reason in ack["error"]["message"], ack
    assert client.sio.connected
    assert (await client.call("state:sync"))["ok"] is True
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
