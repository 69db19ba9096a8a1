"""The aiohttp application factory: one hub, its REST API, Socket.IO and the client."""
from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from signaling.config import Settings
from signaling.hub import Hub
from signaling.server import MeetingNamespace, create_sio, discover_events
from signaling.sites import SitesNamespace
from web import api as api_modules
from web.auth import HUB_KEY, staff_session_middleware
from web.errors import error_middleware, input_guard_middleware

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SITES_KEY = web.AppKey("sites", SitesNamespace)

# aiohttp refuses a header over 8190 bytes itself, with a text/plain 400 and
# a logged traceback, before any handler can answer the contract's error.
# Raised so that what a client might really send (a long token, a pasted
# link) reaches the handlers, which answer 401/404 JSON; beyond these, the
# request is not HTTP we serve. They are the parser's per-line limits,
# applied the same under tests (aiohttp_client) and `plenary serve`.
MAX_HEADER_FIELD_BYTES = 128 * 1024
MAX_REQUEST_LINE_BYTES = 64 * 1024
HANDLER_ARGS = {"max_field_size": MAX_HEADER_FIELD_BYTES, "max_line_size": MAX_REQUEST_LINE_BYTES}


class _MalformedRequestFilter(logging.Filter):
    """aiohttp logs every request it cannot parse (a header over the limits
    above, garbage on the port) with a full traceback: one client could fill
    the disk. Such a request is the client's fault, so one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BadHttpMessage):
            reason = " ".join(str(exc.message).split())[:200]
            record.msg, record.args = "refused a malformed HTTP request: %s", (reason,)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_MALFORMED_FILTER = _MalformedRequestFilter()


def discover_routes() -> list[web.RouteTableDef]:
    tables = []
    for info in sorted(pkgutil.iter_modules(api_modules.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"web.api.{info.name}")
        if isinstance(getattr(module, "routes", None), web.RouteTableDef):
            tables.append(module.routes)
    return tables


def create_app(settings: Settings) -> web.Application:
    # Built fresh per call: a Socket.IO server made at import time binds to
    # the first event loop and breaks the second test that uses it.
    app = web.Application(
        middlewares=[error_middleware, input_guard_middleware, staff_session_middleware],
        client_max_size=settings.max_upload_bytes + 1024 * 1024,
        handler_args=HANDLER_ARGS,
    )
    sio = create_sio(settings.redis_url, settings.ping_interval_s, settings.ping_timeout_s)
    hub = Hub(settings, sio)
    hub.features = discover_events()
    sio.register_namespace(MeetingNamespace(hub, hub.features))
    sio.register_namespace(sites := SitesNamespace(hub))
    sio.attach(app)
    app[HUB_KEY] = hub
    app[SITES_KEY] = sites

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for table in discover_routes():
        app.router.add_routes(table)
    app.router.add_get("/client/features", client_features)
    meeting_page = page("index.html", "The meeting client (a participant's join link).")
    app.router.add_get("/", meeting_page)
    app.router.add_get("/join", meeting_page)
    app.router.add_get("/terminal", page("terminal.html", "A site's terminal (POST /api/sites/{sid}/terminal's join_url)."))
    app.router.add_get("/screen", page("screen.html", "A hall's big screen (an observer's link, /screen for /join)."))
    app.router.add_get("/console", page("console.html", "The congress office's console."))
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC, append_version=False)

    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    server_log = logging.getLogger("aiohttp.server")
    if _MALFORMED_FILTER not in server_log.filters:
        server_log.addFilter(_MALFORMED_FILTER)
    return app


async def _start(app: web.Application) -> None:
    await app[HUB_KEY].start()
    app[SITES_KEY].start()  # the /sites namespace's presence sweep and ring clock


async def _stop(app: web.Application) -> None:
    await app[HUB_KEY].close()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB_KEY]
    return web.Response(body=hub.metrics.render(), content_type="text/plain", charset="utf-8")


def page(name: str, what: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page of the browser client. Its link may carry a token once
    (`?token=`): never sent on in a Referer, never cached."""

    async def serve(request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC / name)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    serve.__doc__ = what
    return serve


async def client_features(request: web.Request) -> web.Response:
    """The browser shell loads every feature module found here, so adding a
    feature to the client is adding one file to static/js/features/."""
    folder = STATIC / "js" / "features"
    names = sorted(p.name for p in folder.glob("*.js")) if folder.is_dir() else []
    return web.json_response([f"/static/js/features/{name}" for name in names])
