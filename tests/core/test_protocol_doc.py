"""docs/protocol.md documents every event and route the code serves.

The lists come from the code, not from the document: the Socket.IO events the
feature modules register (`signaling.server.discover_events`, and the
`/sites` namespace's `signaling.sites.site_events`), their
`state:sync` sections, every event name the server sends or logs (read from
the source: each `<feature>:<name>` string constant of a registered
feature, and each name handed to `emit`, `emit_to`, `emit_unsequenced`,
`record` or the event log's `append`), and every REST route of the aiohttp
application `web.app.create_app` builds. Each must appear in
docs/protocol.md the way the document writes them: in backticks, the name (or
`METHOD /path` with the route's own parameter names) opening the span, e.g.
`vote:cast`, `vote:open_batch {…}`, `POST /api/sites`,
`GET /api/votes/{vid}/verify?receipt=…`. A failure lists what is missing.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from signaling.config import Settings
from signaling.server import discover_events
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
# The packages whose code sends Socket.IO events (tests and bench excluded).
PACKAGES = ["signaling", "sessions", "voting", "media", "recordings", "web"]
# Calls that send or log a meeting event, and the position of its name in
# their arguments: `sio.emit(name, …)`, `hub.emit_to(pid, name, …)`,
# `hub.record(mid, name, …)`, `events.append(tx, mid, name, …)`…
SENDERS = {"emit": 0, "emit_to": 1, "emit_unsequenced": 1, "broadcast": 1, "record": 1, "append": 2}
EVENT_NAME = re.compile(r"^[a-z][a-z_]*(:[a-z][a-z_-]*)?$")
# Not the hub's own routes: the Socket.IO endpoint (documented in "The
# Socket.IO wire") and the static files of the browser client.
SKIPPED_PREFIXES = ("/socket.io/", "/static")


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def documented(doc: str, name: str) -> bool:
    """`name` opens a backtick span: `name`, `name {payload}`, `GET /path?query`."""
    return re.search("`" + re.escape(name) + r"[`\s?]", doc) is not None


def missing_report(kind: str, missing: list[str]) -> str:
    return f"docs/protocol.md does not document these {kind}:\n" + "\n".join(f"  {m}" for m in missing)


def registered_events() -> list[str]:
    from signaling.sites import site_events  # the /sites namespace's own

    return sorted({name for feature in [*discover_events(), site_events] for name in feature.specs})


def state_sections() -> list[str]:
    return sorted({key for feature in discover_events() for key in feature.sections})


def sent_events() -> dict[str, list[str]]:
    """Event names the server sends or logs, each with where in the source it
    is written: every string constant of the `<feature>:<name>` shape whose
    feature is one of the registered events' (`vote`, `doc`…), wherever it
    stands (the services log meeting events under their wire name and
    `Hub.publish` sends them under it; the inquiry's log types are the
    `type` label of `plenary_meeting_events_total`), and any other constant
    handed as the event name to a call that sends or logs one (`roster`)."""
    features = {name.split(":", 1)[0] for name in registered_events() if ":" in name}
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            names: list[ast.expr] = []
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    feature, colon, _ = node.value.partition(":")
                    if colon and feature in features and EVENT_NAME.match(node.value):
                        names.append(node)
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    position = SENDERS.get(node.func.attr)
                    if position is not None and len(node.args) > position:
                        names.append(node.args[position])
                    names += [k.value for k in node.keywords if k.arg in ("event", "broadcast")]
            for arg in names:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and EVENT_NAME.match(arg.value):
                    where = f"{path.relative_to(ROOT)}:{arg.lineno}"
                    if where not in found.get(arg.value, []):
                        found.setdefault(arg.value, []).append(where)
    return found


def rest_routes(tmp_path: Path) -> list[str]:
    settings = Settings(
        data_dir=tmp_path / "data",
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'plenary.db'}",
        secret="protocol-doc-" + "x" * 40,
    )
    app = create_app(settings)
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "OPTIONS", "*") or path.startswith(SKIPPED_PREFIXES):
            continue
        routes.add(f"{route.method} {path}")
    return sorted(routes)


def test_every_registered_socketio_event_is_documented():
    events = registered_events()
    assert {"state:sync", "vote:cast", "media:publish", "inquiry:command", "doc:present"} <= set(events), events
    doc = doc_text()
    missing = [f"`{name}`" for name in events if not documented(doc, name)]
    assert not missing, missing_report("client→server Socket.IO events (signaling/handlers/*.py)", missing)


def test_every_event_the_server_sends_or_logs_is_documented():
    sent = sent_events()
    # The scan must keep finding the server's sends, or this test proves nothing.
    assert {"roster", "vote:result", "vote:turnout", "media:offer", "doc:page", "inquiry:state"} <= set(sent), sorted(sent)
    doc = doc_text()
    registered = set(registered_events())  # the test above reports those
    missing = [
        f"`{name}` (at {', '.join(sent[name])})"
        for name in sorted(sent)
        if name not in registered and not documented(doc, name)
    ]
    assert not missing, missing_report("Socket.IO events the server sends or logs", missing)


def test_every_state_sync_section_is_documented():
    sections = state_sections()
    assert {"vote", "inquiry", "document", "media", "tracks"} <= set(sections), sections
    doc = doc_text()
    # The contract's list: `state:sync` → `{ok, seq, meeting, …}`; an
    # extension: `state:sync` key `media`, `state:sync` → `vote: {…}`,
    # `state:sync` … under `inquiry`.
    contract = re.search(r"`state:sync` → `\{([^}`]*)\}`", doc)
    assert contract, "docs/protocol.md lost the contract's `state:sync` → `{…}` line"
    listed = {field.strip() for field in contract.group(1).split(",")}
    missing = [
        f"`state:sync` key `{key}`"
        for key in sections
        if key not in listed and not re.search(r"`state:sync`[^`]{0,40}`" + re.escape(key) + r"[`:\s]", doc)
    ]
    assert not missing, missing_report("state:sync sections", missing)


def test_every_rest_route_is_documented(tmp_path):
    routes = rest_routes(tmp_path)
    assert {"POST /api/sites", "GET /api/votes/{vid}", "GET /healthz"} <= set(routes), routes
    doc = doc_text()
    missing = [f"`{route}`" for route in routes if not documented(doc, route)]
    assert not missing, missing_report("REST routes (web/app.py, web/api/*.py)", missing)


# Environment variables set by `plenary serve --workers` for its own children,
# documented in docs/deploy.md ("do not set them"), not settings.
INTERNAL_ENV = {"PLENARY_WORKER", "PLENARY_WORKER_PARENT", "PLENARY_WORKER_READY_FD"}


def settings_read() -> dict[str, list[str]]:
    """Every `PLENARY_*` name the code reads (each string constant of that
    shape in the packages), with where it is written."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"PLENARY_[A-Z0-9_]+", node.value):
                        found.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_setting_is_documented():
    """Each setting is in docs/protocol.md's settings list, and in
    docs/deploy.md's table of every setting (section 3.1)."""
    read = settings_read()
    assert {"PLENARY_ICE_SERVERS", "PLENARY_MEDIA_PUBLIC_ADDRESS", "PLENARY_DB"} <= set(read), sorted(read)
    protocol = doc_text()
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    missing = [
        f"`{name}` (at {', '.join(read[name])}) in {doc_name}"
        for name in sorted(set(read) - INTERNAL_ENV)
        for doc_name, doc in (("docs/protocol.md", protocol), ("docs/deploy.md", deploy))
        if f"`{name}" not in doc
    ]
    assert not missing, "these settings are not documented:\n" + "\n".join(f"  {m}" for m in missing)
    for name in INTERNAL_ENV & set(read):
        assert f"`{name}`" in deploy, f"{name} is not explained in docs/deploy.md"
