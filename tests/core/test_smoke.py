async def test_roster_seen_by_two_clients(hub, clients):
    mid = await hub.meeting()
    a = await hub.participant(mid, "张三", "member")
    b = await hub.participant(mid, "李四", "deputy")
    ca = await hub.connect(a["token"]); clients.append(ca)
    sync = await ca.call("state:sync")
    assert sync["ok"] and sync["me"]["id"] == a["id"]
    cb = await hub.connect(b["token"]); clients.append(cb)
    joined = await ca.wait_for("roster", lambda r: all(p["online"] for p in r["participants"]))
    assert {p["id"] for p in joined["participants"]} == {a["id"], b["id"]}
    await cb.close()
    left = await ca.wait_for(
        "roster",
        lambda r: r["seq"] > joined["seq"] and not {p["id"]: p["online"] for p in r["participants"]}[b["id"]],
    )
    assert {p["id"]: p["online"] for p in left["participants"]} == {a["id"]: True, b["id"]: False}
