"""The verdict rule at its boundaries (pure), and once end to end."""
from __future__ import annotations

import pytest

from voting.rules import CountingBase, tally

OPTS = ["满意", "基本满意", "不满意"]


def ballots(satisfied: int, basic: int, dissatisfied: int) -> list[str]:
    return ["满意"] * satisfied + ["基本满意"] * basic + ["不满意"] * dissatisfied


@pytest.mark.parametrize(
    "s, b, d, eligible, verdict",
    [
        (6, 0, 0, 10, "满意"),  # 6 > 5
        (5, 0, 0, 10, "不满意"),  # exactly half is not more than half, and nothing else adds up
        (5, 1, 0, 10, "基本满意"),  # 满意 exactly half; 满意+基本满意 6 > 5
        (5, 0, 5, 10, "不满意"),  # 满意+基本满意 = 5: exactly half again
        (3, 3, 4, 10, "基本满意"),
        (0, 5, 5, 10, "不满意"),
        (4, 1, 0, 9, "基本满意"),  # odd base: 4.5 is half; 4 < 4.5, 5 > 4.5
        (5, 0, 0, 9, "满意"),
        (0, 0, 0, 10, "不满意"),  # nobody voted
    ],
)
def test_verdict_against_eligible(s, b, d, eligible, verdict):
    result = tally(OPTS, ballots(s, b, d), eligible=eligible, present=eligible, base=CountingBase.ELIGIBLE)
    assert result.verdict == verdict


def test_base_changes_the_verdict():
    votes = ballots(4, 0, 1)  # 5 cast of 10 eligible, 7 present
    assert tally(OPTS, votes, eligible=10, present=7, base=CountingBase.ELIGIBLE).verdict == "不满意"
    assert tally(OPTS, votes, eligible=10, present=7, base=CountingBase.PRESENT).verdict == "满意"  # 4 > 3.5
    assert tally(OPTS, votes, eligible=10, present=8, base=CountingBase.PRESENT).verdict == "不满意"  # 4 = 8/2
    assert tally(OPTS, votes, eligible=10, present=7, base=CountingBase.CAST).verdict == "满意"


def test_rate_and_validity():
    result = tally(OPTS, ballots(1, 2, 1), eligible=8, present=8, base=CountingBase.ELIGIBLE)
    assert result.satisfaction_rate == 0.75
    assert result.valid is False  # 4 of 8 is exactly half: not more than half voted
    assert tally(OPTS, ballots(1, 2, 2), eligible=8, present=8, base=CountingBase.ELIGIBLE).valid is True
    empty = tally(OPTS, [], eligible=8, present=8, base=CountingBase.ELIGIBLE)
    assert empty.satisfaction_rate is None and empty.valid is False and empty.counts == dict.fromkeys(OPTS, 0)


def test_options_in_another_order_are_still_the_default_rule():
    result = tally(list(reversed(OPTS)), ballots(3, 0, 0), eligible=5, present=5, base=CountingBase.ELIGIBLE)
    assert result.verdict == "满意" and result.satisfaction_rate == 1.0


def test_custom_options_need_more_than_half_of_the_base():
    opts = ["同意", "反对", "弃权"]
    assert tally(opts, ["同意"] * 3 + ["反对"] * 2, eligible=5, present=5, base=CountingBase.ELIGIBLE).verdict == "同意"
    half = tally(opts, ["同意"] * 2 + ["反对"] * 2, eligible=4, present=4, base=CountingBase.ELIGIBLE)
    assert half.verdict is None and half.satisfaction_rate is None


def test_unknown_choice_is_never_counted_silently():
    with pytest.raises(ValueError):
        tally(OPTS, ["很满意"], eligible=1, present=1, base=CountingBase.ELIGIBLE)


async def test_exactly_half_end_to_end(hub, committee_of):
    committee = await committee_of(4)
    cc, members = committee.chair_client, committee.member_clients
    vid = (await cc.call("vote:open", {"subject": "边界", "secret": True}))["vote_id"]
    for client, choice in zip(members, ["满意", "满意", "不满意"]):
        assert (await client.call("vote:cast", {"vote_id": vid, "choice": choice}))["ok"]
    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    # 满意 2 of 4 eligible is exactly half: not 满意, and nothing lifts it to 基本满意.
    assert result["verdict"] == "不满意"
    assert result["satisfaction_rate"] == pytest.approx(2 / 3) and result["valid"] is True


async def test_present_base_is_the_roster_online_at_open(hub, committee_of, clients):
    committee = await committee_of(2)
    cc, (m1, _m2) = committee.chair_client, committee.member_clients
    offline = await hub.participant(committee.mid, "缺席委员", "member")
    await cc.wait_for("roster", lambda r: offline["id"] in {p["id"] for p in r["participants"]})
    vid = (await cc.call("vote:open", {"subject": "出席基数", "secret": True, "base": "present"}))["vote_id"]
    late = await hub.connect(offline["token"]); clients.append(late)  # online after the opening: not present
    assert (await m1.call("vote:cast", {"vote_id": vid, "choice": "满意"}))["ok"]
    assert (await late.call("vote:cast", {"vote_id": vid, "choice": "不满意"}))["ok"]
    result = (await cc.call("vote:close", {"vote_id": vid}))["result"]
    assert (result["eligible"], result["present"], result["cast"]) == (3, 2, 2)
    # 满意 1 of present 2 is exactly half: not 满意; 满意+基本满意 = 1: still half.
    assert result["verdict"] == "不满意"
