"""The admins' account management (the console's 账号 tab): list, create,
delete (its sessions stop working); operators and join links are refused."""
from __future__ import annotations

from tests.accounts.kit import call, make_account, session_token
from tests.core.test_rest import error_of


async def test_admin_lists_creates_and_deletes_accounts(hub):
    city = await hub.site("市人大常委会", "city")
    district = await hub.site("西城区人大", "district", city["id"])
    await make_account(hub, "chief", "chief-password-1")
    admin = await session_token(hub, "chief", "chief-password-1")

    status, made = await call(hub, "POST", "/api/accounts", admin,
                              {"username": "west-office", "password": "west-password-1", "role": "operator",
                               "site_id": district["id"]})
    assert status == 201, made
    assert (made["username"], made["role"], made["site_id"]) == ("west-office", "operator", district["id"])
    assert "password" not in made and "password_hash" not in made
    status, listed = await call(hub, "GET", "/api/accounts", admin)
    assert status == 200 and [a["username"] for a in listed] == ["chief", "west-office"]
    assert all("password_hash" not in a for a in listed)

    # The new account signs in; refusals leave nothing behind.
    operator = await session_token(hub, "west-office", "west-password-1")
    for bad, code in (
        ({"username": "west-office", "password": "another-pass-1", "site_id": district["id"]}, (409, "conflict")),
        ({"username": "x y", "password": "another-pass-1", "site_id": district["id"]}, (400, "invalid")),
        ({"username": "short", "password": "1234", "site_id": district["id"]}, (400, "invalid")),
        ({"username": "nosite", "password": "another-pass-1"}, (400, "invalid")),
        ({"username": "ghost", "password": "another-pass-1", "site_id": "0" * 32}, (404, "not_found")),
        ({"username": "boss", "password": "another-pass-1", "role": "king"}, (400, "invalid")),
    ):
        status, answer = await call(hub, "POST", "/api/accounts", admin, bad)
        assert (status, answer["error"]["code"]) == code, (bad, answer)
    # The taken name's password did not change.
    assert await session_token(hub, "west-office", "west-password-1")

    # Operators, join links and no token are refused.
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员甲", "member")
    for token in (operator, member["token"]):
        for method, path, body in (("GET", "/api/accounts", None),
                                   ("POST", "/api/accounts", {"username": "a", "password": "b" * 8}),
                                   ("DELETE", f"/api/accounts/{made['id']}", None)):
            status, answer = await call(hub, method, path, token, body)
            assert status == 403 and answer["error"]["code"] == "forbidden", (path, answer)
    await error_of(await hub.client.get("/api/accounts"), 401, "unauthorized")

    # Deleting: its sessions stop working at once.
    status, ok = await call(hub, "DELETE", f"/api/accounts/{made['id']}", admin)
    assert status == 200 and ok == {"ok": True}
    status, answer = await call(hub, "GET", "/api/sites", operator)
    assert status == 401, answer
    status, listed = await call(hub, "GET", "/api/accounts", admin)
    assert [a["username"] for a in listed] == ["chief"]
    status, answer = await call(hub, "DELETE", f"/api/accounts/{made['id']}", admin)
    assert status == 404 and answer["error"]["code"] == "not_found"
    # An admin does not delete the account it is signed in with.
    chief_id = listed[0]["id"]
    status, answer = await call(hub, "DELETE", f"/api/accounts/{chief_id}", admin)
    assert status == 409 and answer["error"]["code"] == "conflict"
    # The admin token may delete it.
    resp = await hub.client.delete(f"/api/accounts/{chief_id}", headers=hub.admin_headers())
    assert resp.status == 200
    status, _ = await call(hub, "GET", "/api/accounts", admin)
    assert status == 401
