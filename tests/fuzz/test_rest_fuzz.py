"""Every REST route with bad credentials, bad bodies and bad path ids (issue 10).

The answer is always one of the contract's statuses with a JSON body
`{"error": {"code", "message"}}` whose code fits the status: never a 500,
never aiohttp's text/plain 400, never a traceback in the log. Well-typed
odd bodies (an emoji name) may be accepted; nothing else is created.
"""
from __future__ import annotations

import asyncio
from collections import Counter
import json
import re
import time

import jwt
from yarl import URL

from sessions.roles import Role
from tests.conftest import SECRET
from tests.fuzz.cases import ANSWERED, REFUSED, Case, event_cases
from tests.fuzz.world import World
from web.api.core import MeetingIn, ParticipantIn, SiteIn
from web.api.documents import AnnotationsIn
from web.api.accounts import AccountIn, SignIn
from web.api.meetings import MeetingPatch, QrIn, StatusIn
from web.api.people import BulkIn, GroupIn, PersonIn, PersonPatch
from signaling.registry import Empty

STATUS_CODES = {400: {"invalid"}, 401: {"unauthorized"}, 403: {"forbidden"}, 404: {"not_found"},
                409: {"conflict", "closed", "state"}, 413: {"too_large"}, 429: {"rate_limited"}}
# The JSON body of each route that takes one (a new one must be added here).
BODIES = {
    ("POST", "/api/sites"): SiteIn,
    ("POST", "/api/meetings"): MeetingIn,
    ("POST", "/api/meetings/{mid}/participants"): ParticipantIn,
    ("PUT", "/api/documents/{did}/pages/{n}/annotations"): AnnotationsIn,
    ("POST", "/api/sites/{sid}/terminal"): Empty,
    ("POST", "/api/people"): PersonIn,
    ("PATCH", "/api/people/{pid}"): PersonPatch,
    ("POST", "/api/groups"): GroupIn,
    ("POST", "/api/meetings/{mid}/participants/bulk"): BulkIn,
    ("PATCH", "/api/meetings/{mid}"): MeetingPatch,
    ("POST", "/api/meetings/{mid}/status"): StatusIn,
    ("POST", "/api/meetings/{mid}/participants/{pid}/reissue"): Empty,
    ("POST", "/api/qr"): QrIn,
    ("POST", "/api/accounts"): AccountIn,
    ("POST", "/api/session"): SignIn,
}
MULTIPART = {("POST", "/api/meetings/{mid}/documents"), ("POST", "/api/sites/import"), ("POST", "/api/people/import")}
# Routes that change something but read no body (a DELETE).
NO_BODY = {("DELETE", "/api/sites/{sid}/terminal"), ("DELETE", "/api/people/{pid}"), ("DELETE", "/api/session"),
           ("DELETE", "/api/accounts/{aid}"), ("POST", "/api/recordings/{rid}/export")}
# A directory person's id: none is made in the fuzz world, so the people
# routes answer `not_found` once a request gets that far.
NO_PERSON = "0" * 32
NO_ACCOUNT = "0" * 24  # likewise for staff accounts
IN_FLIGHT = 16


def api_routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every REST route, read from the router."""
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/") and route.method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            found.add((route.method, path))
    return sorted(found)


def fill(template: str, world: World, **override: str) -> str:
    real = {"mid": world.a.mid, "did": world.a.document_id, "n": "1", "vid": world.a.vote_id, "sid": world.site_id,
            "rid": world.a.recording_id, "name": "timeline.jsonl", "pid": NO_PERSON,
            "aid": NO_ACCOUNT, **override}
    return re.sub(r"\{(\w+)\}", lambda m: real[m.group(1)], template)


def params_of(template: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", template)


def body_token(world: World, template: str) -> str:
    """A token that may call the route, so a bad body reaches the parser."""
    if "annotations" in template:
        return world.a.people["member"]["token"]
    return world.hub.tokens.admin_token()


def response_problem(status: int, content_type: str, text: str, expect: str) -> str | None:
    if 200 <= status < 300:
        shown = text[:150] if content_type == "application/json" else f"a {content_type} body"
        return None if expect == ANSWERED else f"accepted with {status}: {shown}"
    if status not in STATUS_CODES:
        return f"status {status} ({content_type}): {text[:150]}"
    if content_type != "application/json":
        return f"{status} as {content_type}: {text[:150]}"
    try:
        error = json.loads(text)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        return f"{status} body not {{error: {{code, message}}}}: {text[:150]}"
    if code not in STATUS_CODES[status] or not isinstance(message, str) or not message:
        return f"{status} with code {code!r}: {text[:150]}"
    return None


async def send(world: World, method: str, path: str, *, headers: dict, data: bytes | None = None):
    """One request with the path sent as written (%00 stays %00)."""
    session = world.hub.client.session
    url = URL(world.hub.url + path, encoded=True)
    async with session.request(method, url, headers=headers, data=data) as resp:
        return resp.status, resp.content_type, await resp.text(errors="replace")


async def run(
    world: World, requests: list[tuple[str, str, str, dict, bytes | None, str]], created: Counter | None = None
) -> list[str]:
    """Send (label, method, path, headers, body, expect) concurrently; the broken
    ones. `created` counts the 201 answers per path."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    report: list[str] = []
    created = created if created is not None else Counter()

    async def one(label, method, path, headers, data, expect) -> None:
        async with gate:
            try:
                status, ctype, text = await asyncio.wait_for(send(world, method, path, headers=headers, data=data), 20)
            except Exception as exc:  # a dropped connection or a hang is the finding
                report.append(f"{method} {path[:80]} {label}: {exc!r}")
                return
        if status == 201:
            created[path] += 1
        problem = response_problem(status, ctype, text, expect)
        if problem:
            report.append(f"{method} {path[:80]} {label} (expected {expect}) -> {problem}")

    await asyncio.gather(*(one(*r) for r in requests))
    return sorted(report)


def test_every_body_route_is_fuzzed(sqlite_hub):
    routes = api_routes(sqlite_hub.app)
    with_body = {r for r in routes if r[0] in ("POST", "PUT", "PATCH", "DELETE")}
    assert with_body <= set(BODIES) | MULTIPART | NO_BODY, with_body - set(BODIES) - MULTIPART - NO_BODY


def forged_tokens(world: World) -> list[tuple[str, str]]:
    member = world.a.people["member"]
    other_secret = "another-secret-" + "y" * 40
    now = int(time.time())
    return [
        ("no token", ""),
        ("garbage token", "Bearer not.a.jwt"),
        ("100 KB header", "Bearer " + "A" * 100_000),
        ("NUL in header value", "Bearer abc%00def"),
        ("member sub, chair role", "Bearer " + world.hub.tokens.issue(member["id"], Role.CHAIR, world.a.mid)),
        ("member sub, admin role",
         "Bearer " + jwt.encode({"sub": member["id"], "role": "admin", "exp": now + 600}, SECRET, "HS256")),
        ("member sub, clerk role, meeting B",
         "Bearer " + jwt.encode({"sub": member["id"], "role": "clerk", "mid": world.b.mid, "exp": now + 600},
                                SECRET, "HS256")),
        ("expired admin", "Bearer " + jwt.encode({"sub": "admin", "role": "admin", "exp": now - 10}, SECRET, "HS256")),
        ("admin signed elsewhere",
         "Bearer " + jwt.encode({"sub": "admin", "role": "admin", "exp": now + 600}, other_secret, "HS256")),
        ("alg none", "Bearer " + jwt.encode({"sub": "admin", "role": "admin", "exp": now + 600}, None, "none")),
        ("unknown role", "Bearer " + jwt.encode(
            {"sub": member["id"], "role": "superuser", "mid": world.a.mid, "exp": now + 600}, SECRET, "HS256")),
        ("sub not a string", "Bearer " + jwt.encode(
            {"sub": 10**30, "role": "member", "mid": world.a.mid, "exp": now + 600}, SECRET, "HS256")),
        ("mid of 10,000 chars", "Bearer " + jwt.encode(
            {"sub": member["id"], "role": "member", "mid": "m" * 10_000, "exp": now + 600}, SECRET, "HS256")),
    ]


async def test_bad_credentials_on_every_route(world, hub_log):
    requests = []
    for method, template in api_routes(world.hub.app):
        for label, header in forged_tokens(world):
            headers = {"Authorization": header.replace("%00", "\x00")} if header else {}
            if "\x00" in headers.get("Authorization", ""):
                continue  # a client library refuses to send it; the raw-header case is below
            requests.append((label, method, fill(template, world), headers, None, REFUSED))
    report = await run(world, requests)
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, f"{len(report)} of {len(requests)} requests broke the contract:\n" + "\n".join(report)


BAD_IDS = [
    ("nul", "ab%00cd"), ("nul-only", "%00"), ("10000-chars", "i" * 10_000), ("bad-utf8", "%ff%fe"),
    ("surrogate-utf8", "%ed%a0%80"), ("dot-dot", ".."), ("unicode", "%E2%80%AE%F0%9F%91%8D"),
    ("quote", "%22%27%3B--"), ("space", "%20"), ("huge-int", "9" * 120), ("negative", "-1"), ("zero", "0"),
    ("float", "1.5"), ("exponent", "1e3"), ("other-meeting", None),
]


async def test_bad_path_ids_on_every_route(world, hub_log):
    member = {"Authorization": f"Bearer {world.a.people['member']['token']}"}
    admin = world.hub.admin_headers()
    foreign = {"mid": world.b.mid, "did": world.b.document_id, "vid": world.b.vote_id, "n": "2",
               "rid": world.b.recording_id}
    requests = []
    for method, template in api_routes(world.hub.app):
        if method != "GET":
            continue  # bodies are fuzzed apart; a path id must fail before the body matters
        for param in params_of(template):
            for label, bad in BAD_IDS:
                if bad is None:
                    if param in ("n", "name", "pid", "aid"):
                        continue  # page 2 of the paper exists; file names are per recording; people are no meeting's
                    bad, who, expect = foreign[param], member, REFUSED
                    requests.append((f"{param}:{label} (member)", method, fill(template, world, **{param: bad}),
                                     who, None, expect))
                    continue
                for who_label, who in (("member", member), ("admin", admin)):
                    requests.append((f"{param}:{label} ({who_label})", method,
                                     fill(template, world, **{param: bad}), who, None, REFUSED))
    report = await run(world, requests)
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, f"{len(report)} of {len(requests)} requests broke the contract:\n" + "\n".join(report)


def body_cases(model) -> list[Case]:
    """The Socket.IO payload classes, as JSON bodies (ids: this meeting's)."""
    return event_cases("body", model, {}, {})


async def listed_rows(world: World) -> dict:
    headers = world.hub.admin_headers()
    client = world.hub.client
    sites = await (await client.get("/api/sites", headers=headers)).json()
    meeting = await (await client.get(f"/api/meetings/{world.a.mid}", headers=headers)).json()
    return {"sites": len(sites), "participants": len(meeting["participants"])}


async def test_bad_bodies_on_every_route(world, hub_log):
    requests = []
    for (method, template), model in sorted(BODIES.items()):
        path = fill(template, world)
        token = body_token(world, template)
        json_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        base = next(c for c in body_cases(model) if c.label == "unknown-field").body
        valid = json.dumps({k: v for k, v in json.loads(base).items() if k != "zz_unknown"})
        for case in body_cases(model):
            requests.append((case.label, method, path, json_headers, case.body.encode(), case.expect))
        extra = [
            ("text/plain JSON", {"Content-Type": "text/plain"}, valid.encode()),
            ("form-encoded", {"Content-Type": "application/x-www-form-urlencoded"}, b"name=x&kind=city"),
            ("no content type", {}, valid.encode()),
            ("not JSON", {"Content-Type": "application/json"}, b"{name: 'x',"),
            ("empty body", {"Content-Type": "application/json"}, b""),
            ("JSON array", {"Content-Type": "application/json"}, b"[1, 2, 3]"),
            ("JSON null", {"Content-Type": "application/json"}, b"null"),
            ("nested [ x 100,000", {"Content-Type": "application/json"}, b"[" * 100_000),
            ("nested [ ] x 100,000", {"Content-Type": "application/json"}, b"[" * 100_000 + b"]" * 100_000),
            ("nested {} x 50,000", {"Content-Type": "application/json"}, b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
            ("invalid UTF-8", {"Content-Type": "application/json"}, b'{"name": "\xff\xfe"}'),
            ("duplicate keys", {"Content-Type": "application/json"}, b'{"a": 1, "a": 2}'),
            ("5000-digit int", {"Content-Type": "application/json"}, b'{"zz": ' + b"9" * 5000 + b"}"),
            ("NaN", {"Content-Type": "application/json"}, b'{"zz": NaN}'),
            ("2 MiB string", {"Content-Type": "application/json"}, b'{"zz": "' + b"P" * (2 << 20) + b'"}'),
        ]
        for label, headers, data in extra:
            requests.append((label, method, path, {"Authorization": f"Bearer {token}", **headers}, data, REFUSED))
        # RFC 8259 lets a parser accept these; either way, no 500.
        for label, data in [("UTF-16 body", valid.encode("utf-16")), ("BOM", b"\xef\xbb\xbf" + valid.encode())]:
            requests.append((label, method, path, json_headers, data, ANSWERED))
    for method, template in sorted(MULTIPART):
        path = fill(template, world)
        auth = {"Authorization": f"Bearer {world.hub.tokens.admin_token()}"}
        boundary = "fuzzfuzz"
        def part(name: str, value: bytes, filename: str | None = None) -> bytes:
            disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
            return f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
        multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        end = f"--{boundary}--\r\n".encode()
        for label, headers, data in [
            ("JSON instead of multipart", {"Content-Type": "application/json"}, b'{"file": "x"}'),
            ("empty multipart", multipart, end),
            ("no closing boundary", multipart, part("file", b"%PDF-1.4\n", "a.pdf")),
            ("garbage", multipart, b"\x00\xff" * 1000),
            ("not a PDF", multipart, part("file", b"hello", "a.pdf") + end),
            ("NUL in title", multipart, part("title", b"ab\x00cd") + part("file", b"%PDF-1.4\n", "a.pdf") + end),
            ("NUL in roles", multipart, part("roles", b"member\x00") + part("file", b"%PDF-1.4\n", "a.pdf") + end),
            ("unknown participant", multipart,
             part("participants", b"zz" * 10) + part("file", b"%PDF-1.4\n", "a.pdf") + end),
            ("unknown field", multipart, part("zz", b"1") + end),
            ("bad UTF-8 field", multipart, part("title", b"\xff\xfe") + part("file", b"%PDF-1.4\n", "a.pdf") + end),
        ]:
            requests.append((label, method, path, {**auth, **headers}, data, REFUSED))
    before = await listed_rows(world)
    created: Counter = Counter()
    report = await run(world, requests, created)
    after = await listed_rows(world)
    # Rows exist only for the well-typed odd bodies that were answered 201.
    expected = {"sites": before["sites"] + created["/api/sites"],
                "participants": before["participants"] + created[f"/api/meetings/{world.a.mid}/participants"]}
    if after != expected:
        report.append(f"rows: {before} before, {dict(created)} created, {after} after")
    report += [f"traceback logged: {t}" for t in hub_log()]
    assert not report, f"{len(report)} of {len(requests)} requests broke the contract:\n" + "\n".join(report)
