"""Clients and a small city for the `/sites` tests."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import NOTHING, EventClient, connect_error

SITES = "/sites"


class SitesClient(EventClient):
    """An EventClient on `/sites`: records every event, and its disconnects."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.sio.on("*", self._record, namespace=SITES)
        self.sio.on("disconnect", self._gone, namespace=SITES)
        self.disconnects: list[Any] = []

    async def _gone(self, *args: Any) -> None:
        self.disconnects.append(args)
        self._changed.set()

    async def connect(self) -> "SitesClient":
        await self.sio.connect(
            self.base_url, auth={"token": self.token}, namespaces=[SITES], transports=["websocket"], wait_timeout=10
        )
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> dict:
        return await self.sio.call(event, data if data is not None else {}, namespace=SITES, timeout=timeout)

    async def wait_disconnected(self, timeout: float = 10) -> None:
        await self._wait(lambda: True if self.disconnects else NOTHING, timeout,
                         lambda: f"still connected after {timeout}s")

    async def directory(self, timeout: float = 10) -> dict:
        return await self.wait_for("directory", timeout=timeout)

    async def presence(self, site_id: str, online: bool, timeout: float = 10) -> dict:
        return await self.wait_for(
            "directory:presence", lambda p: p["site_id"] == site_id and p["online"] is online, timeout=timeout
        )

    async def state(self, call_id: str, site_id: str, state: str, timeout: float = 10) -> dict:
        return await self.wait_for(
            "call:state", lambda s: (s["call_id"], s["site_id"], s["state"]) == (call_id, site_id, state),
            timeout=timeout,
        )


async def sites_connect_error(base_url: str, token: Any) -> str:
    """Connect to `/sites` expecting a refusal; the server's reason."""
    return await connect_error(base_url, {"token": token}, namespace=SITES)


@dataclass
class City:
    """市 → 区A → 镇T → 站S1; 区A → 站S2; 市 → 区B → 站S3; 市 → 部门D. Ids by key."""

    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


LAYOUT = [
    ("city", "市人大常委会", "city", None),
    ("A", "东城区人大", "district", "city"),
    ("T", "和平街道", "township", "A"),
    ("S1", "和平联络站", "station", "T"),
    ("S2", "东城联络站", "station", "A"),
    ("B", "西城区人大", "district", "city"),
    ("S3", "西城联络站", "station", "B"),
    ("D", "交通局", "department", "city"),
]


async def build_city(url: str, *, terminals: bool = True) -> City:
    """The sites over REST (admin), and a terminal token for each."""
    city = City()
    admin = {"Authorization": f"Bearer {TokenService(SECRET).admin_token()}"}
    async with aiohttp.ClientSession(headers=admin) as http:
        for key, name, kind, parent in LAYOUT:
            body = {"name": name, "kind": kind}
            if parent:
                body["parent_id"] = city.ids[parent]
            async with http.post(f"{url}/api/sites", json=body) as resp:
                assert resp.status == 201, await resp.text()
                city.ids[key] = (await resp.json())["id"]
                city.names[key] = name
            if terminals:
                async with http.post(f"{url}/api/sites/{city.ids[key]}/terminal", json={}) as resp:
                    assert resp.status == 201, await resp.text()
                    city.tokens[key] = (await resp.json())["token"]
    return city


async def rest(url: str, method: str, path: str, token: str | None = None, json: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token or TokenService(SECRET).admin_token()}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.request(method, f"{url}{path}", json=json) as resp:
            return resp.status, await resp.json()


async def gather_close(*clients: EventClient) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
