"""`plenary user add`: a real subprocess, the password on stdin, then
sign-in; the database keeps an argon2 hash and never the password."""
from __future__ import annotations

from pathlib import Path

import aiohttp
from sqlalchemy import select, text

from sessions.accounts.models import Account
from tests.accounts.kit import call, plenary_user_add, sign_in
from tests.conftest import SECRET
from tests.helpers import ServeProcess

PASSWORD = "Plenary-office-2026!"


def no_password_in_files(data_dir: Path, password: str) -> None:
    """Neither the SQLite file nor its journal holds the password's bytes."""
    files = [p for p in data_dir.glob("plenary.db*") if p.is_file()]
    assert files, list(data_dir.iterdir())
    for path in files:
        data = path.read_bytes()
        for form in (password.encode(), password.encode("utf-16-le")):
            assert form not in data, path


async def test_user_add_on_a_data_dir_then_serve_and_sign_in(tmp_path: Path):
    data_dir = tmp_path / "data"
    status, out, err = await plenary_user_add("chief", "--admin", "--data-dir", str(data_dir), password=PASSWORD)
    assert status == 0, err
    assert "chief" in out and "created" in out and PASSWORD not in out + err
    no_password_in_files(data_dir, PASSWORD)

    server = await ServeProcess(data_dir=data_dir, secret=SECRET).start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/api/session", json={"username": "chief", "password": PASSWORD}) as resp:
                body = await resp.json()
                assert resp.status == 201 and body["role"] == "admin", body
            headers = {"Authorization": f"Bearer {body['token']}"}
            async with http.post(f"{server.url}/api/sites", json={"name": "市人大", "kind": "city"},
                                 headers=headers) as resp:
                assert resp.status == 201, await resp.text()
            async with http.post(f"{server.url}/api/session", json={"username": "chief", "password": "wrong"}) as resp:
                assert resp.status == 401
    finally:
        await server.stop()
    no_password_in_files(data_dir, PASSWORD)

    # Run again: a reset, with a new password.
    status, out, err = await plenary_user_add("chief", "--admin", "--data-dir", str(data_dir), password="another-one-2026")
    assert status == 0 and "reset" in out, err
    no_password_in_files(data_dir, "another-one-2026")


async def test_user_add_an_operator_with_the_db_flag_and_the_env(hub, db_url: str):
    site = await hub.site("东城区人大", "district")
    status, out, err = await plenary_user_add("east", "--operator", site["id"], "--db", db_url, password=PASSWORD)
    assert status == 0, err
    # PLENARY_DB, as `serve` reads it.
    status, out, err = await plenary_user_add("chief", "--admin", password="admin-pass-2026",
                                              env={"PLENARY_DB": db_url, "PLENARY_DATA_DIR": str(hub.hub.settings.data_dir)})
    assert status == 0, err

    status, body = await sign_in(hub, "east", PASSWORD)
    assert status == 201 and body["role"] == "operator" and body["site_id"] == site["id"], body
    assert (await call(hub, "GET", "/api/sites", body["token"]))[1] == [site]
    status, body = await sign_in(hub, "chief", "admin-pass-2026")
    assert status == 201 and body["role"] == "admin" and "site_id" not in body

    async with hub.hub.db.read() as session:
        accounts = (await session.scalars(select(Account).order_by(Account.username))).all()
        assert [(a.username, a.role, a.site_id) for a in accounts] == [("chief", "admin", None),
                                                                         ("east", "operator", site["id"])]
        for account in accounts:
            assert account.password_hash.startswith("$argon2id$"), account.password_hash
        # Every text column of every account row: no password anywhere.
        rows = (await session.execute(text("SELECT * FROM accounts"))).all()
    for row in rows:
        for value in row:
            assert PASSWORD not in str(value) and "admin-pass-2026" not in str(value)
    if db_url.startswith("sqlite"):
        no_password_in_files(Path(db_url.split("///", 1)[1]).parent, PASSWORD)


async def test_user_add_refusals(tmp_path: Path):
    data_dir = str(tmp_path / "data")
    status, _, err = await plenary_user_add("east", "--operator", "0" * 32, "--data-dir", data_dir, password=PASSWORD)
    assert status == 2 and "no site" in err
    status, _, err = await plenary_user_add("chief", "--admin", "--data-dir", data_dir, password="short")
    assert status == 2 and "password" in err
    status, _, err = await plenary_user_add("has space", "--admin", "--data-dir", data_dir, password=PASSWORD)
    assert status == 2 and "user name" in err
    status, _, err = await plenary_user_add("both", "--admin", "--operator", "x", "--data-dir", data_dir,
                                            password=PASSWORD)
    assert status == 2 and "not allowed with" in err
