"""Forged, expired and wrong-meeting tokens are refused on REST and on connect."""
import time

import jwt
import pytest

from sessions.identity import TokenService
from sessions.roles import Role
from tests.conftest import SECRET
from tests.helpers import connect_error

OTHER_SECRET = "another-hub-secret-" + "y" * 40


@pytest.fixture
async def setting(hub):
    mid = await hub.meeting("第一次会议")
    other_mid = await hub.meeting("第二次会议")
    member = await hub.participant(mid, "王五", "member")
    return hub, mid, other_mid, member


def bad_tokens(member_id: str, mid: str, other_mid: str) -> dict[str, str]:
    own = TokenService(SECRET)
    return {
        "forged": TokenService(OTHER_SECRET).issue(member_id, Role.MEMBER, mid),
        "expired": jwt.encode(
            {"sub": member_id, "role": "member", "mid": mid, "exp": int(time.time()) - 10}, SECRET, algorithm="HS256"
        ),
        "wrong-meeting": own.issue(member_id, Role.MEMBER, other_mid),
        "garbage": "not.a.jwt",
        "alg-none": jwt.encode({"sub": member_id, "role": "member", "mid": mid, "exp": 2**31}, None, algorithm="none"),
        "forged-role": own.issue(member_id, Role.CHAIR, mid),
        "unknown-role": jwt.encode(
            {"sub": member_id, "role": "king", "mid": mid, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"
        ),
        "unknown-participant": own.issue("0" * 32, Role.MEMBER, mid),
    }


async def test_rest_refuses_bad_tokens(setting):
    hub, mid, other_mid, member = setting
    tokens = bad_tokens(member["id"], mid, other_mid)
    for label, token in tokens.items():
        # forged-role too: REST checks the role against the database, as connect does.
        resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": f"Bearer {token}"})
        body = await resp.json()
        assert resp.status == 401, (label, body)
        assert body["error"]["code"] == "unauthorized" and body["error"]["message"], label
    resp = await hub.client.get(f"/api/meetings/{mid}")
    assert resp.status == 401 and (await resp.json())["error"]["message"] == "missing token"


async def test_rest_accepts_own_token_and_admin(setting):
    hub, mid, _, member = setting
    resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": f"Bearer {member['token']}"})
    body = await resp.json()
    assert resp.status == 200 and body["id"] == mid
    assert [p["name"] for p in body["participants"]] == ["王五"]
    resp = await hub.client.get(f"/api/meetings/{mid}", headers=hub.admin_headers())
    assert resp.status == 200


async def test_connect_refuses_bad_tokens_with_reason(setting):
    hub, mid, other_mid, member = setting
    tokens = bad_tokens(member["id"], mid, other_mid)
    expected = {
        "forged": "signature",
        "expired": "expired",
        "wrong-meeting": "another meeting",
        "garbage": "invalid",
        "alg-none": "invalid",
        "unknown-role": "unknown role",
        "forged-role": "role",
        "unknown-participant": "no participant",
    }
    for label, token in tokens.items():
        reason = await connect_error(hub.url, {"token": token})
        assert expected[label] in reason, (label, reason)
    assert "missing token" in await connect_error(hub.url, None)
    assert "missing token" in await connect_error(hub.url, {"token": 42})
    assert "admin" in await connect_error(hub.url, {"token": hub.tokens.admin_token()})
    assert "another meeting" in await connect_error(hub.url, {"token": member["token"], "meeting_id": other_mid})


async def test_admin_token_command_prints_a_verifiable_token(tmp_path):
    import asyncio
    import os
    import sys

    env = {**os.environ, "PLENARY_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "admin-token", "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, env=env,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    identity = TokenService(SECRET).verify(out.decode().strip())
    assert identity.is_admin and identity.meeting_id is None


async def test_secret_is_generated_once_into_the_data_dir(tmp_path):
    from signaling.config import Settings

    first = Settings(data_dir=tmp_path).signing_secret()
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path).signing_secret() == first
    assert oct((tmp_path / "secret").stat().st_mode & 0o777) == "0o600"
