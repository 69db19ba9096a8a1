"""Signing in and out (`POST /api/session`, `DELETE /api/session`), on SQLite
and PostgreSQL: one answer for a wrong name or password, the sign-in
throttle, expiry, sign-out on every process, and an admin's session doing
what the admin token does."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from sqlalchemy import select, update

from sessions.accounts import passwords, service
from sessions.accounts.models import SignInThrottle
from sessions.identity import TokenService
from sessions.models import utcnow
from tests.accounts.kit import call, make_account, session_token, sign_in
from tests.conftest import SECRET, make_settings
from tests.sites.util import SitesClient, sites_connect_error
from web.app import create_app
from web.auth import HUB_KEY

PASSWORD = "correct horse battery"


async def test_an_admin_session_does_what_the_admin_token_does(hub, clients):
    await make_account(hub, "office-admin", PASSWORD)
    status, body = await sign_in(hub, "office-admin", PASSWORD)
    assert status == 201, body
    assert body["role"] == "admin" and "site_id" not in body
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11.9) < expires - datetime.now(timezone.utc) <= timedelta(hours=12)
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["role"] == "admin" and claims["sub"].startswith("account:") and claims["sid"]
    token = body["token"]

    status, city = await call(hub, "POST", "/api/sites", token, {"name": "市人大", "kind": "city"})
    assert status == 201, city
    status, station = await call(hub, "POST", "/api/sites", token,
                                 {"name": "联络站", "kind": "station", "parent_id": city["id"]})
    assert status == 201, station
    status, sites = await call(hub, "GET", "/api/sites", token)
    assert status == 200 and {s["id"] for s in sites} == {city["id"], station["id"]}
    status, meeting = await call(hub, "POST", "/api/meetings", token, {"title": "常委会"})
    assert status == 201, meeting
    # Made by the admin token: an admin's session reaches it as well.
    other_mid = await hub.meeting("另一次会议")
    for mid in (meeting["id"], other_mid):
        status, member = await call(hub, "POST", f"/api/meetings/{mid}/participants", token,
                                    {"name": "王五", "role": "member", "site_id": station["id"]})
        assert status == 201, member
        status, got = await call(hub, "GET", f"/api/meetings/{mid}", token)
        assert status == 200 and [p["name"] for p in got["participants"]] == ["王五"]
    status, terminal = await call(hub, "POST", f"/api/sites/{station['id']}/terminal", token, {})
    assert status == 201 and terminal["token"]
    status, calls = await call(hub, "GET", "/api/calls", token)
    assert status == 200 and calls == []
    status, ok = await call(hub, "DELETE", f"/api/sites/{station['id']}/terminal", token)
    assert status == 200 and ok == {"ok": True}
    watcher = await SitesClient(hub.url, token).connect()
    clients.append(watcher)
    assert {s["id"] for s in (await watcher.directory())["sites"]} == {city["id"], station["id"]}
    # The admin token works as before.
    status, _ = await call(hub, "GET", "/api/sites", hub.tokens.admin_token())
    assert status == 200


async def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(hub, monkeypatch):
    await make_account(hub, "clerk", PASSWORD)
    status, wrong_password = await sign_in(hub, "clerk", "not the password")
    assert status == 401, wrong_password
    status, unknown_user = await sign_in(hub, "nobody", PASSWORD)
    assert status == 401, unknown_user
    assert wrong_password == unknown_user == {"error": {"code": "unauthorized", "message": service.WRONG_CREDENTIALS}}

    # The same work either way: an unknown name is verified against a dummy
    # hash, so it costs one argon2 verification, as a wrong password does
    # (counted, not timed: a timing under CI load proves nothing).
    real = passwords._hasher
    verified: list[str] = []

    class CountingHasher:
        def verify(self, password_hash: str, password: str) -> bool:
            verified.append(password_hash)
            return real.verify(password_hash, password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    assert (await sign_in(hub, "clerk", "still not it"))[0] == 401
    assert (await sign_in(hub, "ghost", "still not it"))[0] == 401
    assert len(verified) == 2 and all(passwords.is_argon2(h) for h in verified), verified


async def test_repeated_failures_lock_the_name_even_against_the_right_password(hub):
    await make_account(hub, "target", PASSWORD)
    await make_account(hub, "colleague", PASSWORD)
    statuses = []
    for _ in range(10):
        status, body = await sign_in(hub, "target", "guess")
        statuses.append(status)
        if status == 429:
            assert body["error"]["code"] == "rate_limited", body
    assert statuses[:service.USER_MAX_FAILURES] == [401] * service.USER_MAX_FAILURES
    assert 429 in statuses[:9] and statuses[service.USER_MAX_FAILURES:] == [429] * (10 - service.USER_MAX_FAILURES)
    status, body = await sign_in(hub, "target", PASSWORD)
    assert status == 429 and body["error"]["code"] == "rate_limited", body
    # The same name in other letter case is the same name for the throttle.
    assert (await sign_in(hub, "TARGET", "guess"))[0] == 429
    # Another user from the same address is not locked out by it.
    assert (await sign_in(hub, "colleague", PASSWORD))[0] == 201

    # Once the lock ends the right password works, and it clears the count.
    async with hub.hub.db.transaction() as tx:
        await tx.execute(update(SignInThrottle).where(SignInThrottle.key == "user:target")
                         .values(locked_until=utcnow() - timedelta(seconds=1)))
    assert (await sign_in(hub, "target", PASSWORD))[0] == 201
    async with hub.hub.db.read() as session:
        assert await session.get(SignInThrottle, "user:target") is None


async def test_repeated_failures_from_one_address_lock_it(hub):
    await make_account(hub, "somebody", PASSWORD)
    statuses = [(await sign_in(hub, f"guess{i}", "guess"))[0] for i in range(service.ADDRESS_MAX_FAILURES + 1)]
    assert statuses == [401] * service.ADDRESS_MAX_FAILURES + [429]
    status, body = await sign_in(hub, "somebody", PASSWORD)
    assert status == 429 and body["error"]["code"] == "rate_limited"


async def test_an_expired_session_is_refused(hub, clients):
    account_id = await make_account(hub, "night-shift", PASSWORD)
    tokens = TokenService(SECRET)
    async with hub.hub.db.transaction() as tx:
        live = await service.open_session(tx, account_id, utcnow() + timedelta(hours=1))
        ended = await service.open_session(tx, account_id, utcnow() - timedelta(seconds=1))
    in_an_hour = int(time.time()) + 3600
    good = tokens.issue_session(account_id, "admin", None, live.id, in_an_hour)
    assert (await call(hub, "GET", "/api/sites", good))[0] == 200
    # The token's own `exp` has passed (its row still lives).
    stale = tokens.issue_session(account_id, "admin", None, live.id, int(time.time()) - 10)
    status, body = await call(hub, "GET", "/api/sites", stale)
    assert status == 401 and body["error"]["message"] == "token expired"
    # The row has expired (the token's `exp` has not).
    row_ended = tokens.issue_session(account_id, "admin", None, ended.id, in_an_hour)
    status, body = await call(hub, "GET", "/api/sites", row_ended)
    assert status == 401 and "expired" in body["error"]["message"], body
    assert "expired" in await sites_connect_error(hub.url, row_ended)
    # A session id the hub never made, and a session of another account.
    status, _ = await call(hub, "GET", "/api/sites", tokens.issue_session(account_id, "admin", None, "f" * 32, in_an_hour))
    assert status == 401
    other_id = await make_account(hub, "day-shift", PASSWORD)
    status, _ = await call(hub, "GET", "/api/sites", tokens.issue_session(other_id, "admin", None, live.id, in_an_hour))
    assert status == 401
    # An operator's claims over an admin's session: refused, not widened or narrowed.
    async with hub.hub.db.read() as session:
        assert (await session.scalar(select(service.Account.role).where(service.Account.id == account_id))) == "admin"
    status, _ = await call(hub, "GET", "/api/sites", tokens.issue_session(account_id, "operator", "a" * 32, live.id, in_an_hour))
    assert status == 401


async def test_the_session_hours_setting(db_url, aiohttp_client, tmp_path: Path):
    settings = make_settings(tmp_path, db_url)
    settings.session_hours = 0.5
    client = await aiohttp_client(create_app(settings))
    hub = client.app[HUB_KEY]

    class Shim:  # what make_account and sign_in use of the `hub` fixture
        pass

    shim = Shim()
    shim.hub, shim.client = hub, client
    await make_account(shim, "brief", PASSWORD)
    status, body = await sign_in(shim, "brief", PASSWORD)
    assert status == 201
    left = datetime.fromisoformat(body["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)


async def test_signing_out_stops_the_token_on_every_process(hub, aiohttp_client, tmp_path: Path, db_url: str, clients):
    """Two hub processes (apps) on one database: sign out through one, the
    token stops on the other too."""
    other = await aiohttp_client(create_app(make_settings(tmp_path / "other", db_url)))
    await make_account(hub, "leaving", PASSWORD)
    token = await session_token(hub, "leaving", PASSWORD)
    kept = await session_token(hub, "leaving", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    resp = await other.get("/api/sites", headers=headers)
    assert resp.status == 200
    # The console's live directory, on this process and the other, and one of the other session.
    watchers = [await SitesClient(url, token).connect() for url in (hub.url, str(other.make_url("")).rstrip("/"))]
    staying = await SitesClient(hub.url, kept).connect()
    clients.extend([*watchers, staying])
    for watcher in (*watchers, staying):
        await watcher.directory()

    assert await call(hub, "DELETE", "/api/session", token) == (200, {"ok": True})
    # Its open connections go too, on every process (each one's sweep reads the session).
    for watcher in watchers:
        await watcher.wait_disconnected()
    status, body = await call(hub, "GET", "/api/sites", token)
    assert status == 401 and "signed out" in body["error"]["message"], body
    resp = await other.get("/api/sites", headers=headers)
    assert resp.status == 401 and "signed out" in (await resp.json())["error"]["message"]
    assert "signed out" in await sites_connect_error(hub.url, token)
    assert (await call(hub, "DELETE", "/api/session", token))[0] == 401
    # Another session of the same account is its own.
    assert (await call(hub, "GET", "/api/sites", kept))[0] == 200
    assert staying.sio.connected and not staying.disconnects
    # Tokens that are not a session's have nothing to sign out.
    status, body = await call(hub, "DELETE", "/api/session", hub.tokens.admin_token())
    assert status == 400 and body["error"]["code"] == "invalid"


async def test_resetting_an_account_signs_its_sessions_out(hub):
    await make_account(hub, "forgetful", PASSWORD)
    token = await session_token(hub, "forgetful", PASSWORD)
    await make_account(hub, "forgetful", "a brand new password")
    assert (await call(hub, "GET", "/api/sites", token))[0] == 401
    assert (await sign_in(hub, "forgetful", PASSWORD))[0] == 401
    assert (await sign_in(hub, "forgetful", "a brand new password"))[0] == 201


async def test_malformed_sign_in_bodies_are_invalid(hub):
    for body in ({}, {"username": "x"}, {"username": "x", "password": "y", "remember": True},
                 {"username": 1, "password": "y"}, {"username": "x", "password": ""},
                 {"username": "x", "password": "p" * (service.MAX_PASSWORD + 1)}, ["x", "y"]):
        resp = await hub.client.post("/api/session", json=body)
        answer = await resp.json()
        assert resp.status == 400 and answer["error"]["code"] == "invalid", (body, answer)
    resp = await hub.client.post("/api/session", data=b"username=x", headers={"Content-Type": "text/plain"})
    assert resp.status in (400, 415)
