"""PLENARY_ICE_SERVERS reaches clients through `state:sync` and the SFU's own
peer connections (issue 13, NAT)."""
from __future__ import annotations

import json
from pathlib import Path

from media.transport import make_configuration
from sessions.identity import TokenService
from signaling.config import Settings
from tests.conftest import SECRET, HubUnderTest
from web.app import create_app

SERVERS = [
    {"urls": "stun:turn.example.org:3478"},
    {
        "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
        "username": "plenary",
        "credential": "CHANGE_ME",
    },
]


async def test_ice_servers_from_the_environment_reach_clients_and_the_sfu(monkeypatch, aiohttp_client, tmp_path: Path, clients):
    monkeypatch.setenv("PLENARY_ICE_SERVERS", json.dumps(SERVERS))
    settings = Settings.from_env(data_dir=tmp_path / "data", secret=SECRET, media_loopback=True)
    assert settings.ice_servers == SERVERS
    hub = HubUnderTest(await aiohttp_client(create_app(settings)), TokenService(SECRET))
    mid = await hub.meeting()
    for role in ("chair", "member", "observer"):
        person = await hub.participant(mid, f"{role}-1", role)
        client = await hub.connect(person["token"])
        clients.append(client)
        sync = await client.call("state:sync")
        assert sync["ok"] is True
        assert sync["ice_servers"] == SERVERS  # as configured, credential included (docs/deploy.md 5.3)
    # The SFU's peer connections use the same list.
    configuration = make_configuration(hub.hub.media.ice_servers)
    assert [s.urls for s in configuration.iceServers] == [s["urls"] for s in SERVERS]
    assert configuration.iceServers[1].username == "plenary" and configuration.iceServers[1].credential == "CHANGE_ME"


async def test_no_ice_servers_by_default(monkeypatch, sqlite_hub, clients):
    monkeypatch.delenv("PLENARY_ICE_SERVERS", raising=False)
    assert Settings.from_env().ice_servers == []
    mid = await sqlite_hub.meeting()
    member = await sqlite_hub.participant(mid, "委员", "member")
    client = await sqlite_hub.connect(member["token"])
    clients.append(client)
    assert (await client.call("state:sync"))["ice_servers"] == []
