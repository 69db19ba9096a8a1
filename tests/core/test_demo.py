"""`plenary serve --demo`: the city-wide topology, one meeting, a join link per role."""
import asyncio
import os
import sys
from collections import Counter

import aiohttp

from sessions import directory
from sessions.db import Database
from sessions.demo import seed_demo
from sessions.identity import TokenService
from tests.conftest import SECRET
from tests.helpers import EventClient, free_port
from tests.sites.util import SitesClient


async def test_demo_topology(db_url):
    db = Database(db_url)
    await db.migrate()
    try:
        tokens = TokenService(SECRET)
        links = await seed_demo(db, tokens, "http://hub.example")
        again = await seed_demo(db, tokens, "http://hub.example")  # a restart reuses the meeting
        async with db.read() as session:
            sites = await directory.list_sites(session)
        kinds = Counter(s.kind for s in sites)
        assert kinds["city"] == 1 and kinds["district"] == 8 and kinds["station"] == 94
        assert kinds["township"] >= 8 and 18 <= kinds["department"] <= 22
        by_id = {s.id: s for s in sites}
        for s in sites:
            if s.kind == "station":
                assert by_id[s.parent_id].kind in ("district", "township")
            if s.kind == "township":
                assert by_id[s.parent_id].kind == "district"
        roles = Counter(link.role.value for link in links)
        assert roles["chair"] == 1 and roles["clerk"] == 1 and 38 <= roles["member"] <= 42
        assert roles["deputy"] >= 10 and roles["respondent"] >= 2
        assert len(again) == len(links)
        identity = tokens.verify(links[0].url.split("token=")[1])
        assert identity.meeting_id is not None
    finally:
        await db.dispose()


async def test_serve_demo_prints_a_link_per_role(tmp_path):
    port = free_port()
    env = {**os.environ, "PLENARY_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.cli", "serve", "--demo", "--port", str(port), "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )
    try:
        links: dict[str, str] = {}
        role = None
        while len(links) < 6:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "serve exited before printing the links"
            words = line.split()
            if words and words[0] in ("chair", "clerk", "member", "deputy", "respondent", "observer"):
                role = words[0]
            elif role and "/join?token=" in line:
                links[role] = line.strip()
        terminals: dict[str, str] = {}
        kind = None
        while len(terminals) < 3:  # then a terminal link each for the city hall, a district, a station
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "serve exited before printing the terminal links"
            words = line.split()
            if words and words[0] in ("city", "district", "station"):
                kind = words[0]
            elif kind and "/terminal?token=" in line:
                terminals[kind] = line.strip()
        async with aiohttp.ClientSession() as http:
            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            for _ in range(100):
                if await healthy():
                    break
                await asyncio.sleep(0.1)
        client = await EventClient(f"http://127.0.0.1:{port}", links["deputy"].split("token=")[1]).connect()
        try:
            sync = await client.call("state:sync")
            assert sync["me"]["role"] == "deputy" and len(sync["roster"]) >= 60
        finally:
            await client.close()
        assert (tmp_path / "demo-links.tsv").read_text(encoding="utf-8").count("/join?token=") == len(sync["roster"])
        # A station's terminal link opens /sites and sees the whole city's directory.
        station = await SitesClient(f"http://127.0.0.1:{port}", terminals["station"].split("token=")[1]).connect()
        try:
            directory = await station.directory()
        finally:
            await station.close()
        kinds = {site["kind"] for site in directory["sites"]}
        assert kinds == {"city", "district", "township", "station", "department"}
        assert (tmp_path / "demo-terminals.tsv").read_text(encoding="utf-8").count("/terminal?token=") \
            == len(directory["sites"])
    finally:
        proc.terminate()
        await proc.wait()
