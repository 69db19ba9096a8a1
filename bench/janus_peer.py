"""Janus 1.1 VideoRoom as the benchmark's reference SFU.

* Starts Debian's ``janus`` binary as a child process with a configuration
  folder generated into a temp dir (only the videoroom plugin and the HTTP
  transport, no event handlers/loggers, admin API off, no STUN, IPv6 off,
  ``event_loops`` = core count, media only on 127.0.0.2, HTTP on 127.0.0.1).
  The system service installed by the package is never used.
* Drives the VideoRoom HTTP flow with aiohttp: session + attach, publisher
  ``join`` + ``publish`` with the JSEP offer, subscriber ``join`` (multistream
  ``streams`` list) → Janus's offer → ``start`` with our answer.  One session
  holds every handle; a long-poll GET loop dispatches events by transaction
  and a keepalive loop keeps the session alive.
* :func:`check_sockets` verifies that every socket of the Janus process is
  bound inside 127.0.0.0/8.

Must run inside the private network namespace (see ``bench/netns.py``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Any

import aiohttp
import psutil

try:  # package or script use
    from . import netns
except ImportError:  # pragma: no cover
    import netns  # type: ignore[no-redef]

JANUS_LIB = "/usr/lib/x86_64-linux-gnu/janus"
HTTP_PORT = 8088
ROOM_ID = 4242


def _janus_binary() -> str:
    path = shutil.which("janus")
    if not path:
        raise RuntimeError("janus binary not found (apt-get install janus)")
    return path


def write_config(folder: str, event_loops: int) -> str:
    """Generate a minimal Janus config tree into ``folder``; returns janus.jcfg path."""
    plugins = os.path.join(folder, "plugins")
    transports = os.path.join(folder, "transports")
    empty = os.path.join(folder, "empty")
    for d in (plugins, transports, empty):
        os.makedirs(d, exist_ok=True)
    # Only the two modules we need are visible to Janus.
    os.symlink(os.path.join(JANUS_LIB, "plugins", "libjanus_videoroom.so"), os.path.join(plugins, "libjanus_videoroom.so"))
    os.symlink(os.path.join(JANUS_LIB, "transports", "libjanus_http.so"), os.path.join(transports, "libjanus_http.so"))
    main = f"""
general: {{
    configs_folder = "{folder}"
    plugins_folder = "{plugins}"
    transports_folder = "{transports}"
    events_folder = "{empty}"
    loggers_folder = "{empty}"
    debug_level = 3
    server_name = "plenary-bench"
    session_timeout = 60
    event_loops = {event_loops}
    protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/var"]
}}
certificates: {{
}}
media: {{
    ipv6 = false
    rtp_port_range = "20000-40000"
    no_media_timer = 5
    dtls_timeout = 500
}}
nat: {{
    nice_debug = false
    full_trickle = false
    ice_lite = false
    ice_tcp = false
    ignore_mdns = true
    ice_enforce_list = "{netns.SERVER_MEDIA_ADDR}"
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
    broadcast = false
}}
"""
    http = f"""
general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {HTTP_PORT}
    ip = "{netns.HTTP_ADDR}"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
cors: {{
}}
"""
    videoroom = """
general: {
    string_ids = false
}
"""
    path = os.path.join(folder, "janus.jcfg")
    with open(path, "w") as fh:
        fh.write(main)
    with open(os.path.join(folder, "janus.transport.http.jcfg"), "w") as fh:
        fh.write(http)
    with open(os.path.join(folder, "janus.plugin.videoroom.jcfg"), "w") as fh:
        fh.write(videoroom)
    return path


class JanusError(RuntimeError):
    pass


class JanusServer:
    """The Janus child process plus its HTTP API client."""

    name = "janus"

    def __init__(self, event_loops: int | None = None, log_dir: str | None = None) -> None:
        self.event_loops = event_loops or (os.cpu_count() or 1)
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-janus-")
        self.log_path = os.path.join(log_dir or self._tmp.name, "janus.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.base = f"http://{netns.HTTP_ADDR}:{HTTP_PORT}/janus"
        self.session_id: int | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._handles: dict[str, int] = {}  # peer name -> handle id
        self._feeds: dict[str, int] = {}  # publisher name -> feed id
        self._closing = False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- process ---------------------------------------------------------
    async def start(self, timeout: float = 15.0) -> None:
        if not netns.in_private_netns():
            raise RuntimeError("Janus must run inside the benchmark's private network namespace")
        cfg = write_config(self._tmp.name, self.event_loops)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [_janus_binary(), "-C", cfg, "-F", self._tmp.name, "-o"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self._tmp.name,
            preexec_fn=netns.die_with_parent,
        )
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise JanusError(f"janus exited with {self.proc.returncode}; log: {self.log_tail()}")
            try:
                async with self.http.get(self.base + "/info", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        info = await r.json(content_type=None)
                        self.version = info.get("version_string")
                        break
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise JanusError("janus HTTP API did not come up; log: " + self.log_tail())
            await asyncio.sleep(0.2)
        # one session for all handles
        resp = await self._post(self.base, {"janus": "create"})
        self.session_id = resp["data"]["id"]
        self._tasks.append(asyncio.create_task(self._poll_loop()))
        self._tasks.append(asyncio.create_task(self._keepalive_loop()))
        # our own room: bitrate 0 (no cap), enough publishers
        admin = await self._attach("_admin")
        r = await self._message(
            admin,
            {
                "request": "create",
                "room": ROOM_ID,
                "description": "plenary-bench",
                "publishers": 16,
                "bitrate": 0,
                "fir_freq": 0,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "notify_joining": False,
                "permanent": False,
            },
        )
        pd = r["plugindata"]["data"]
        if pd.get("videoroom") != "created":
            raise JanusError(f"room create failed: {pd}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                data = fh.read()
            return data[-n:].decode(errors="replace")
        except OSError:
            return ""

    async def stop(self) -> None:
        self._closing = True
        if self.http is not None and self.session_id is not None and self.proc and self.proc.poll() is None:
            try:
                await self._post(f"{self.base}/{self.session_id}", {"janus": "destroy"}, timeout=3)
            except Exception:
                pass
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        try:
            self._log.close()
        except Exception:
            pass
        self._tmp.cleanup()

    # -- HTTP plumbing ---------------------------------------------------
    async def _post(self, url: str, body: dict[str, Any], timeout: float = 20) -> dict[str, Any]:
        assert self.http is not None
        body = dict(body)
        body.setdefault("transaction", uuid.uuid4().hex[:12])
        async with self.http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            data = await r.json(content_type=None)
        if data.get("janus") == "error":
            raise JanusError(f"{body.get('janus')}: {data.get('error')}")
        return data

    async def _poll_loop(self) -> None:
        assert self.http is not None
        url = f"{self.base}/{self.session_id}"
        while not self._closing:
            try:
                async with self.http.get(
                    url, params={"maxev": "20", "rid": str(int(time.time() * 1000))},
                    timeout=aiohttp.ClientTimeout(total=40),
                ) as r:
                    data = await r.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._closing:
                    return
                await asyncio.sleep(0.2)
                continue
            events = data if isinstance(data, list) else [data]
            for ev in events:
                tx = ev.get("transaction")
                fut = self._pending.get(tx) if tx else None
                if fut is not None and not fut.done() and ev.get("janus") in ("event", "error"):
                    fut.set_result(ev)

    async def _keepalive_loop(self) -> None:
        url = f"{self.base}/{self.session_id}"
        while not self._closing:
            await asyncio.sleep(15)
            try:
                await self._post(url, {"janus": "keepalive"}, timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception:
                pass

    async def _attach(self, name: str) -> int:
        r = await self._post(f"{self.base}/{self.session_id}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        hid = r["data"]["id"]
        self._handles[name] = hid
        return hid

    async def _message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """Send a plugin message; return the synchronous reply or the async event."""
        tx = uuid.uuid4().hex[:12]
        msg: dict[str, Any] = {"janus": "message", "transaction": tx, "body": body}
        if jsep is not None:
            msg["jsep"] = jsep
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[tx] = fut
        try:
            r = await self._post(f"{self.base}/{self.session_id}/{handle}", msg, timeout=timeout)
            if r.get("janus") == "success":
                return r
            ev = await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(tx, None)
        if ev.get("janus") == "error":
            raise JanusError(str(ev.get("error")))
        data = ev.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{body.get('request')}: {data['error']}")
        return ev

    # -- the SFU adapter interface used by bench/sfu.py --------------------
    async def publish(self, name: str, offer_sdp: str) -> str:
        h = await self._attach(name)
        ev = await self._message(h, {"request": "join", "ptype": "publisher", "room": ROOM_ID, "display": name})
        self._feeds[name] = ev["plugindata"]["data"]["id"]
        ev = await self._message(h, {"request": "publish", "bitrate": 0}, jsep={"type": "offer", "sdp": offer_sdp})
        jsep = ev.get("jsep")
        if not jsep or jsep.get("type") != "answer":
            raise JanusError(f"publish: no answer in {ev}")
        return jsep["sdp"]

    async def subscribe(self, name: str, publishers: list[str]) -> str:
        h = await self._attach(name)
        streams = [{"feed": self._feeds[p]} for p in publishers]
        ev = await self._message(
            h, {"request": "join", "ptype": "subscriber", "room": ROOM_ID, "streams": streams, "use_msid": False}
        )
        jsep = ev.get("jsep")
        if not jsep or jsep.get("type") != "offer":
            raise JanusError(f"subscribe: no offer in {ev}")
        return jsep["sdp"]

    async def answer(self, name: str, answer_sdp: str) -> None:
        h = self._handles[name]
        await self._message(h, {"request": "start", "room": ROOM_ID}, jsep={"type": "answer", "sdp": answer_sdp})

    def extra_stats(self) -> dict[str, Any]:
        return {"event_loops": self.event_loops, "version": getattr(self, "version", None)}


def check_sockets(pid: int) -> tuple[bool, list[str]]:
    """True if every inet socket of ``pid`` is bound inside 127.0.0.0/8."""
    bad: list[str] = []
    seen: list[str] = []
    proc = psutil.Process(pid)
    conns = proc.net_connections(kind="inet") if hasattr(proc, "net_connections") else proc.connections(kind="inet")
    for c in conns:
        ip = c.laddr.ip if c.laddr else ""
        seen.append(f"{c.type.name}:{ip}:{c.laddr.port if c.laddr else ''}")
        if not ip.startswith("127."):
            bad.append(f"{c.type.name} {ip}:{c.laddr.port if c.laddr else ''}")
    return (not bad and bool(seen)), bad or seen
