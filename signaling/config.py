"""Settings of one `plenary serve` process, from flags and the environment."""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sessions.db import sqlite_url


@dataclass
class Settings:
    data_dir: Path = Path("./plenary-data")
    host: str = "127.0.0.1"
    port: int = 8080
    db_url: str | None = None
    redis_url: str | None = None
    secret: str | None = None
    # STUN/TURN servers handed to clients and used by the SFU's own peer
    # connections. None by default: no public server is ever contacted.
    ice_servers: list[dict] = field(default_factory=list)
    # Loopback host candidates for the SFU: on for tests and single-machine demos.
    media_loopback: bool = False
    # Behind a 1:1 NAT: the public address the SFU's ICE host candidates
    # announce to clients, "PUBLIC" (every IPv4 host candidate) or
    # "PUBLIC/PRIVATE" (only the one on the interface address PRIVATE).
    media_public_address: str | None = None
    # Pipes between the hub's processes (media across processes, with Redis):
    # the address their UDP sockets bind and announce (127.0.0.1 when all
    # processes share one machine; this machine's address the others reach,
    # otherwise), the port range they take ((0, 0): any free port), and
    # whether they carry SRTP (off only on a trusted network).
    media_address: str = "127.0.0.1"
    # What the other processes send to, when it is not the bound address
    # (binding 0.0.0.0 behind NAT or on several interfaces needs it).
    media_announced_address: str | None = None
    # A pipe silent this long is dead (its far process crashed or is cut off).
    media_pipe_timeout_s: float = 5.0
    media_pipe_ports: tuple[int, int] = (0, 0)
    media_pipe_srtp: bool = True
    public_url: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    # Meeting papers: more pages than this is refused as too large.
    max_document_pages: int = 500
    # Engine.IO heartbeat (sent to clients in the handshake): a client that
    # goes silent is dropped, and shown offline, after interval + timeout.
    ping_interval_s: float = 5.0
    ping_timeout_s: float = 5.0
    # pdfium renders in worker processes: address space of each, wall time
    # per page, and how many (a page over a limit is refused, 413).
    render_memory_bytes: int = 512 * 1024 * 1024
    render_page_seconds: float = 20.0
    render_workers: int = 2
    # How long a call rings at a site's terminal before it is `missed`.
    ring_s: float = 30.0
    # Where recordings are written (PLENARY_RECORDINGS_DIR); default
    # `<data dir>/recordings`. Processes on several machines need it shared.
    recordings_dir: Path | None = None
    # How long a staff member's sign-in (POST /api/session) lasts (PLENARY_SESSION_HOURS).
    session_hours: float = 12.0

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values: dict = {}
        if "PLENARY_DATA_DIR" in env:
            values["data_dir"] = Path(env["PLENARY_DATA_DIR"])
        if "PLENARY_DB" in env:
            values["db_url"] = env["PLENARY_DB"]
        if "PLENARY_REDIS" in env:
            values["redis_url"] = env["PLENARY_REDIS"]
        if "PLENARY_SECRET" in env:
            values["secret"] = env["PLENARY_SECRET"]
        if "PLENARY_ICE_SERVERS" in env:
            values["ice_servers"] = json.loads(env["PLENARY_ICE_SERVERS"])
        if "PLENARY_PUBLIC_URL" in env:
            values["public_url"] = env["PLENARY_PUBLIC_URL"]
        if "PLENARY_RENDER_MEMORY_MB" in env:
            values["render_memory_bytes"] = int(env["PLENARY_RENDER_MEMORY_MB"]) * 1024 * 1024
        if "PLENARY_RENDER_PAGE_SECONDS" in env:
            values["render_page_seconds"] = float(env["PLENARY_RENDER_PAGE_SECONDS"])
        if env.get("PLENARY_RECORDINGS_DIR"):
            values["recordings_dir"] = Path(env["PLENARY_RECORDINGS_DIR"])
        if "PLENARY_SESSION_HOURS" in env:
            values["session_hours"] = float(env["PLENARY_SESSION_HOURS"])
        if "PLENARY_RING_S" in env:
            values["ring_s"] = float(env["PLENARY_RING_S"])
        for name, key in (("ping_interval_s", "PLENARY_PING_INTERVAL"), ("ping_timeout_s", "PLENARY_PING_TIMEOUT")):
            if key in env:
                values[name] = float(env[key])
        if env.get("PLENARY_MEDIA_LOOPBACK") in ("1", "true", "yes"):
            values["media_loopback"] = True
        if env.get("PLENARY_MEDIA_PUBLIC_ADDRESS"):
            values["media_public_address"] = env["PLENARY_MEDIA_PUBLIC_ADDRESS"]
        if "PLENARY_MEDIA_ADDRESS" in env:
            values["media_address"] = env["PLENARY_MEDIA_ADDRESS"]
        if "PLENARY_MEDIA_ANNOUNCED_ADDRESS" in env:
            values["media_announced_address"] = env["PLENARY_MEDIA_ANNOUNCED_ADDRESS"]
        if "PLENARY_MEDIA_PIPE_TIMEOUT_S" in env:
            values["media_pipe_timeout_s"] = float(env["PLENARY_MEDIA_PIPE_TIMEOUT_S"])
        if "PLENARY_MEDIA_PIPE_PORTS" in env:
            low, _, high = env["PLENARY_MEDIA_PIPE_PORTS"].partition("-")
            values["media_pipe_ports"] = (int(low), int(high or low))
        if env.get("PLENARY_MEDIA_PIPE_SRTP") in ("0", "false", "no"):
            values["media_pipe_srtp"] = False
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.data_dir = Path(settings.data_dir)
        return settings

    @property
    def recordings_path(self) -> Path:
        return Path(self.recordings_dir) if self.recordings_dir else self.data_dir / "recordings"

    @property
    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.data_dir)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def signing_secret(self) -> str:
        """The configured secret, or the one kept in the data dir (made once)."""
        if self.secret:
            return self.secret
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        secret = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting at once must not end up with two keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secret)
        return secret
