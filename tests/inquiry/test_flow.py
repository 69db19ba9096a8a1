"""A whole inquiry over real sockets, on SQLite and PostgreSQL: every step,
every refusal, the overtime event, the minutes."""
async def cast(hub, clients):
    """Chair, three members, two departments, a deputy at a liaison station."""
    mid = await hub.meeting()
    city = await hub.site("市政府", "city")
    env = await hub.site("生态环境局", "department", city["id"])
    water = await hub.site("水务局", "department", city["id"])
    district = await hub.site("东城区", "district")
    station = await hub.site("东城区代表联络站", "station", district["id"])
    people = {
        "chair": await hub.participant(mid, "主任", "chair"),
        "m1": await hub.participant(mid, "委员甲", "member"),
        "m2": await hub.participant(mid, "委员乙", "member"),
        "m3": await hub.participant(mid, "委员丙", "member"),
        "r1": await hub.participant(mid, "环境局长", "respondent", env["id"]),
        "r2": await hub.participant(mid, "水务局长", "respondent", water["id"]),
        "d1": await hub.participant(mid, "代表丁", "deputy", station["id"]),
    }
    conns = {}
    for key, p in people.items():
        conns[key] = await hub.connect(p["token"])
        clients.append(conns[key])
    ids = {key: p["id"] for key, p in people.items()}
    return mid, people, ids, conns


def refused(ack, code):
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    return True


async def test_whole_inquiry_with_refusals(hub, clients):
    mid, people, ids, c = await cast(hub, clients)
    chair, m1, m2, d1, r1 = c["chair"], c["m1"], c["m2"], c["d1"], c["r1"]

    async def command(action, **fields):
        ack = await chair.call("inquiry:command", {"action": action, **fields})
        assert ack["ok"], ack
        # Every site sees the same transition with its seq.
        states = [await x.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"]) for x in (chair, m2, d1)]
        assert states[0] == states[1] == states[2]
        return states[0]

    # Nothing open yet: a hand is refused by the stage.
    assert refused(await m1.call("inquiry:hand", {"raise": True}), "state")
    # Roles: a member cannot command, a respondent cannot raise a hand.
    assert refused(await m1.call("inquiry:command", {"action": "open_topic", "title": "x", "respondents": [ids["r1"]]}), "forbidden")
    # Bad input is `invalid`, never a dropped connection.
    assert refused(await chair.call("inquiry:command", {"action": "dance"}), "invalid")
    assert refused(await chair.call("inquiry:command", {"action": "grant"}), "invalid")
    assert refused(await chair.call("inquiry:command", {"action": "open_topic", "title": "x", "respondents": []}), "invalid")
    assert refused(await chair.call("inquiry:command", {"action": "open_topic", "title": "x", "respondents": [ids["m1"]]}), "invalid")
    assert refused(await chair.call("inquiry:command", {"action": "open_topic", "title": "x", "respondents": ["nobody"]}), "not_found")
    assert refused(await chair.call("inquiry:command", "not an object"), "invalid")

    s = await command("open_topic", title="大气污染防治", respondents=[ids["r1"], ids["r2"]],
                      report_s=600, question_s=120, answer_s=240, follow_ups=1)
    assert s["topic"]["title"] == "大气污染防治" and s["topic"]["respondents"] == [ids["r1"], ids["r2"]]
    assert (s["stage"], s["speaker"], s["timer"], s["queue"]) == ("idle", None, None, [])
    assert isinstance(s["server_time"], float)
    assert refused(await chair.call("inquiry:command", {"action": "open_topic", "title": "y", "respondents": [ids["r1"]]}), "state")

    assert refused(await r1.call("inquiry:hand", {"raise": True}), "forbidden")
    assert refused(await m1.call("inquiry:hand", {"raise": "yes"}), "invalid")
    assert refused(await chair.call("inquiry:command", {"action": "answer", "respondent": ids["r1"]}), "state")
    assert refused(await chair.call("inquiry:command", {"action": "follow_up"}), "state")

    s = await command("start_report", respondent=ids["r1"])
    assert (s["stage"], s["speaker"], s["respondent"]) == ("report", ids["r1"], ids["r1"])
    assert s["timer"]["duration_s"] == 600 and s["overtime"] is False
    assert refused(await chair.call("inquiry:command", {"action": "grant", "participant": ids["m1"]}), "state")
    await command("end_turn")

    # Hands in the order raised; the chair sees the queue.
    for who in ("m1", "d1", "m2"):
        ack = await c[who].call("inquiry:hand", {"raise": True})
        assert ack["ok"], ack
    queue = [ids["m1"], ids["d1"], ids["m2"]]
    await chair.wait_for("inquiry:state", lambda s: s["queue"] == queue)
    # Raising again changes nothing (no new event), lowering removes.
    assert (await m1.call("inquiry:hand", {"raise": True})) == {"ok": True}

    assert refused(await m2.call("inquiry:command", {"action": "grant", "participant": ids["m2"]}), "forbidden")
    assert refused(await chair.call("inquiry:command", {"action": "grant", "participant": ids["r1"]}), "forbidden")

    s = await command("grant", participant=ids["m1"])
    assert (s["stage"], s["speaker"], s["queue"], s["follow_ups_left"]) == ("question", ids["m1"], queue[1:], 1)
    assert s["timer"]["duration_s"] == 120
    assert refused(await chair.call("inquiry:command", {"action": "answer", "respondent": ids["m3"]}), "invalid")
    s = await command("answer", respondent=ids["r2"])
    assert (s["stage"], s["speaker"], s["respondent"], s["spotlight"]) == ("answer", ids["m1"], ids["r2"], ids["r2"])
    s = await command("follow_up")
    assert (s["stage"], s["speaker"], s["follow_ups_left"]) == ("follow_up", ids["m1"], 0)
    s = await command("answer", respondent=ids["r2"])
    assert s["stage"] == "answer"
    assert refused(await chair.call("inquiry:command", {"action": "follow_up"}), "state")
    s = await command("end_turn")
    assert (s["stage"], s["speaker"], s["timer"]) == ("idle", None, None)

    # The deputy at the liaison station gets the next turn.
    s = await command("grant", participant=ids["d1"])
    assert s["speaker"] == ids["d1"] and s["queue"] == [ids["m2"]]
    await command("answer", respondent=ids["r1"])
    await command("end_turn")

    ack = await m2.call("inquiry:hand", {"raise": False})
    assert ack["ok"] and "seq" in ack
    sync = await m2.call("state:sync")
    assert sync["inquiry"]["queue"] == [] and sync["inquiry"]["topic"]["title"] == "大气污染防治"

    s = await command("close_topic")
    assert s["topic"] is None and s["stage"] == "idle"
    assert refused(await chair.call("inquiry:command", {"action": "end_turn"}), "state")

    # The satisfaction vote that follows the inquiry goes into the same record.
    opened = await chair.call("vote:open", {"subject": "对生态环境局的满意度", "secret": True})
    assert opened["ok"], opened
    for who in ("m1", "m2", "m3"):
        cast_ack = await c[who].call("vote:cast", {"vote_id": opened["vote_id"], "choice": "满意"})
        assert cast_ack["ok"], cast_ack
    assert (await chair.call("vote:close", {"vote_id": opened["vote_id"]}))["ok"]

    # The record: every segment with its speaker, their department or station, start and duration.
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes",
                                headers={"Authorization": f"Bearer {people['chair']['token']}"})
    assert resp.status == 200
    minutes = await resp.json()
    [topic] = minutes["topics"]
    segments = topic["segments"]
    assert [(x["kind"], x["speaker"]["id"]) for x in segments] == [
        ("report", ids["r1"]), ("question", ids["m1"]), ("answer", ids["r2"]), ("follow_up", ids["m1"]),
        ("answer", ids["r2"]), ("question", ids["d1"]), ("answer", ids["r1"]),
    ]
    assert segments[0]["speaker"]["site"]["name"] == "生态环境局"
    assert segments[5]["speaker"]["site"]["name"] == "东城区代表联络站"
    assert all(x["started_at"] and x["duration_s"] >= 0 and x["overtime"] is False for x in segments)
    assert topic["opened_at"] and topic["closed_at"]
    assert minutes["meeting"]["id"] == mid
    [vote] = minutes["votes"]
    assert (vote["vote_id"], vote["verdict"], vote["cast"]) == (opened["vote_id"], "满意", 3)

    for token, status in ((people["m1"]["token"], 403), (None, 401)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await hub.client.get(f"/api/meetings/{mid}/minutes", headers=headers)
        assert resp.status == status
        assert "code" in (await resp.json())["error"]


async def test_overtime_is_an_event_not_a_cut(hub, clients):
    mid, people, ids, c = await cast(hub, clients)
    chair, m1 = c["chair"], c["m1"]
    ack = await chair.call("inquiry:command", {"action": "open_topic", "title": "t", "respondents": [ids["r1"]],
                                               "question_s": 0.6})
    assert ack["ok"], ack
    ack = await chair.call("inquiry:command", {"action": "grant", "participant": ids["m1"]})
    granted = await m1.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"])
    over = await m1.wait_for("inquiry:state", lambda s: s["seq"] > ack["seq"] and s["overtime"], timeout=5)
    # On time (the checker ticks every 0.2 s), and the floor is not cut.
    assert over["server_time"] - granted["timer"]["started_at"] >= 0.6
    assert over["server_time"] - granted["timer"]["started_at"] < 1.5
    assert (over["stage"], over["speaker"], over["timer"]) == ("question", ids["m1"], granted["timer"])
    # The chair decides: a new timer clears the flag.
    ack = await chair.call("inquiry:command", {"action": "answer", "respondent": ids["r1"]})
    answer = await m1.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"])
    assert answer["overtime"] is False
    # Recorded exactly once.
    overtimes = [s for s in m1.received["inquiry:state"] if s["overtime"]]
    assert len(overtimes) == 1
    resp = await hub.client.get(f"/api/meetings/{mid}/minutes", headers=hub.admin_headers())
    segments = (await resp.json())["topics"][0]["segments"]
    assert [(x["kind"], x["overtime"]) for x in segments] == [("question", True), ("answer", False)]


async def test_a_hand_is_lowered_when_its_owner_leaves(hub, clients):
    mid, people, ids, c = await cast(hub, clients)
    ack = await c["chair"].call("inquiry:command", {"action": "open_topic", "title": "t", "respondents": [ids["r1"]]})
    assert ack["ok"], ack
    # A second connection of m1 (a second tablet) keeps the hand up when one leaves.
    second = await hub.connect(people["m1"]["token"])
    clients.append(second)
    for who in ("m1", "m2"):
        assert (await c[who].call("inquiry:hand", {"raise": True}))["ok"]
    raised = await c["chair"].wait_for("inquiry:state", lambda s: s["queue"] == [ids["m1"], ids["m2"]])
    await c["m2"].close()
    lowered = await c["chair"].wait_for("inquiry:state", lambda s: s["seq"] > raised["seq"] and s["queue"] == [ids["m1"]])
    m2_gone = await c["chair"].wait_for("roster", lambda r: r["seq"] > lowered["seq"])
    await second.close()
    # The roster goes out after the leave hooks ran: by then a wrong lowering would show.
    await c["chair"].wait_for("roster", lambda r: r["seq"] > m2_gone["seq"])
    sync = await c["chair"].call("state:sync")
    assert sync["inquiry"]["queue"] == [ids["m1"]] and sync["inquiry"]["seq"] == lowered["seq"]
    await c["m1"].close()
    await c["chair"].wait_for("inquiry:state", lambda s: s["seq"] > lowered["seq"] and s["queue"] == [])
