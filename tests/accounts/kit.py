"""What the account tests share: accounts made through the service (as
`plenary user add` makes them), sign-in, and REST calls with a token."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from sessions.accounts import service
from sessions.accounts.passwords import hash_password_async

ROOT = Path(__file__).resolve().parents[2]
PLENARY = str(Path(sys.executable).parent / "plenary")


async def make_account(hub, username: str, password: str, site_id: str | None = None) -> str:
    """An admin account (an operator's with `site_id`); its id."""
    role = "operator" if site_id else "admin"
    password_hash = await hash_password_async(password)
    async with hub.hub.db.transaction() as tx:
        account, _ = await service.set_account(tx, username, role, site_id, password_hash)
    return account.id


async def sign_in(hub, username: str, password: str) -> tuple[int, dict]:
    resp = await hub.client.post("/api/session", json={"username": username, "password": password})
    return resp.status, await resp.json()


async def session_token(hub, username: str, password: str) -> str:
    status, body = await sign_in(hub, username, password)
    assert status == 201, body
    return body["token"]


async def call(hub, method: str, path: str, token: str, json: Any = None) -> tuple[int, Any]:
    resp = await hub.client.request(method, path, json=json, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def plenary_user_add(*args: str, password: str, env: dict | None = None) -> tuple[int, str, str]:
    """Run `plenary user add ARGS` with the password on stdin: (status, stdout, stderr)."""
    import os

    proc = await asyncio.create_subprocess_exec(
        PLENARY, "user", "add", *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate((password + "\n").encode()), 60)
    return proc.returncode, out.decode(), err.decode()
