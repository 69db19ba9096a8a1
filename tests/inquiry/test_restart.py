"""A server restart in the middle of an answer: the state reloads from the
event log and the answer's timer continues from its recorded start."""
import time

from sessions.identity import TokenService
from tests.conftest import SECRET, HubUnderTest, make_settings
from web.app import create_app


async def test_answer_timer_survives_a_restart(aiohttp_client, tmp_path, db_url):
    first = HubUnderTest(await aiohttp_client(create_app(make_settings(tmp_path, db_url))), TokenService(SECRET))
    mid = await first.meeting()
    chair = await first.participant(mid, "主任", "chair")
    member = await first.participant(mid, "委员", "member")
    dept = await first.participant(mid, "交通局", "respondent")
    c = await first.connect(chair["token"])
    try:
        for action in (
            {"action": "open_topic", "title": "交通", "respondents": [dept["id"]], "answer_s": 3},
            {"action": "grant", "participant": member["id"]},
            {"action": "answer", "respondent": dept["id"]},
        ):
            ack = await c.call("inquiry:command", action)
            assert ack["ok"], ack
        before = await c.wait_for("inquiry:state", lambda s: s["seq"] == ack["seq"])
    finally:
        await c.close()
    assert before["stage"] == "answer"
    await first.client.close()  # the process goes away mid-answer

    second = HubUnderTest(await aiohttp_client(create_app(make_settings(tmp_path, db_url))), TokenService(SECRET))
    m = await second.connect(member["token"])
    try:
        sync = await m.call("state:sync")
        received_at = time.time()
        state = sync["inquiry"]
        assert (state["stage"], state["speaker"], state["respondent"]) == ("answer", member["id"], dept["id"])
        assert state["timer"] == before["timer"]  # started_at unchanged
        assert state["seq"] == before["seq"] and state["overtime"] is False
        started = state["timer"]["started_at"]
        remaining = 3 - (state["server_time"] - started)
        assert 0 < remaining < 3
        assert abs(remaining - (3 - (received_at - started))) < 0.3
        # The restarted process's clock runs the timer out on time.
        over = await m.wait_for("inquiry:state", lambda s: s["overtime"], timeout=5)
        assert 3 <= over["server_time"] - started < 3.5
        assert over["timer"] == before["timer"] and over["stage"] == "answer"
    finally:
        await m.close()
