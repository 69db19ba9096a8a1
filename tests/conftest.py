"""Fixtures: a hub on SQLite and on PostgreSQL, real sockets, real Redis.

Data tests take the `hub` fixture and run once per database. PostgreSQL and
Redis are the machine's own services (`.ci/run` starts them when they are
down); each test gets a database of its own.
"""
from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from sessions.identity import TokenService
from signaling.config import Settings
from web.app import create_app
from tests.helpers import EventClient

PG_ADMIN_DSN = os.environ.get("PLENARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("PLENARY_TEST_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "test-secret-" + "x" * 40


def _run_admin_sql(sql: str) -> None:
    """Run one statement on the admin database, off any running event loop."""

    async def run() -> None:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"plenary_test_{uuid.uuid4().hex[:12]}"
    _run_admin_sql(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    _run_admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_url():
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'plenary.db'}"
    return request.getfixturevalue("pg_url")


def make_settings(tmp_path: Path, db_url: str | None = None, redis_url: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        db_url=db_url,
        redis_url=redis_url,
        secret=SECRET,
        media_loopback=True,
    )


@dataclass
class HubUnderTest:
    """A running hub on a real port, with shortcuts for admin REST calls."""

    client: TestClient
    tokens: TokenService

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    @property
    def app(self):
        return self.client.app

    @property
    def hub(self):
        from web.auth import HUB_KEY

        return self.client.app[HUB_KEY]

    def admin_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.tokens.admin_token()}"}

    async def post(self, path: str, json: dict, token: str | None = None, status: int | None = 201) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else self.admin_headers()
        resp = await self.client.post(path, json=json, headers=headers)
        body = await resp.json()
        if status is not None:
            assert resp.status == status, body
        return body

    async def meeting(self, title: str = "专题询问") -> str:
        return (await self.post("/api/meetings", {"title": title}))["id"]

    async def participant(self, mid: str, name: str, role: str, site_id: str | None = None) -> dict:
        body = {"name": name, "role": role}
        if site_id:
            body["site_id"] = site_id
        return await self.post(f"/api/meetings/{mid}/participants", body)

    async def site(self, name: str, kind: str, parent_id: str | None = None) -> dict:
        body = {"name": name, "kind": kind}
        if parent_id:
            body["parent_id"] = parent_id
        return await self.post("/api/sites", body)

    async def connect(self, token: str) -> EventClient:
        return await EventClient(self.url, token).connect()


@pytest.fixture
async def hub(db_url: str, aiohttp_client, tmp_path: Path):
    """A hub on each database in turn (SQLite, PostgreSQL).

    `db_url` comes first so that it is set up first and torn down last: the
    app (and its pool and leave hooks) closes before its database is dropped."""
    app = create_app(make_settings(tmp_path, db_url))
    client = await aiohttp_client(app)
    return HubUnderTest(client, TokenService(SECRET))


@pytest.fixture
async def sqlite_hub(aiohttp_client, tmp_path: Path):
    """A hub on the embedded default only (for tests that are not about data)."""
    app = create_app(make_settings(tmp_path))
    client = await aiohttp_client(app)
    return HubUnderTest(client, TokenService(SECRET))


@pytest.fixture
async def clients():
    """EventClients opened in a test are closed after it, even when it fails."""
    opened: list[EventClient] = []
    yield opened
    for c in opened:
        await c.close()


CHROMIUM = os.environ.get("PLENARY_CHROMIUM", "/usr/bin/chromium")
# See docs/notes/browser-tests.md for why each of these is needed here.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.async_api import async_playwright, expect

    # Playwright's 5 s default is tight on a 2-core CI machine running
    # servers, Chromium and peers at once; assertions still wait on events.
    expect.set_options(timeout=15_000)

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            await instance.close()
