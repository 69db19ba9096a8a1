"""The aiohttp application factory: one hub, its REST API, Socket.IO and the client."""
from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

from aiohttp import web

from signaling.server import MeetingNamespace, create_sio, discover_events
from web import api as api_modules
from web.auth import HUB_KEY
from web.config import Settings
from web.errors import error_middleware
from web.hub import Hub

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


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
    app = web.Application(middlewares=[error_middleware], client_max_size=settings.max_upload_bytes + 1024 * 1024)
    sio = create_sio(settings.redis_url)
    hub = Hub(settings, sio)
    hub.features = discover_events()
    namespace = MeetingNamespace(hub, hub.features)
    hub.namespace = namespace
    sio.register_namespace(namespace)
    sio.attach(app)
    app[HUB_KEY] = hub

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for table in discover_routes():
        app.router.add_routes(table)
    app.router.add_get("/client/features", client_features)
    app.router.add_get("/", index_page)
    app.router.add_get("/join", index_page)
    if STATIC.is_dir():
        app.router.add_static("/static/", STATIC, append_version=False)

    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    hub: Hub = app[HUB_KEY]
    await hub.start()
    hub.media = _make_media(hub)
    for feature in hub.features:
        for starter in feature.starters:
            await starter(hub)


def _make_media(hub: Hub):
    try:
        from signaling.handlers.media import build_media_service
    except ImportError:
        return None
    return build_media_service(hub)


async def _stop(app: web.Application) -> None:
    await app[HUB_KEY].close()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def metrics(request: web.Request) -> web.Response:
    hub: Hub = request.app[HUB_KEY]
    return web.Response(body=hub.metrics.render(), content_type="text/plain", charset="utf-8")


async def index_page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC / "index.html")
    # The join link's token must not leak through Referer to anything the page loads.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def client_features(request: web.Request) -> web.Response:
    """The browser shell loads every feature module found here, so adding a
    feature to the client is adding one file to static/js/features/."""
    folder = STATIC / "js" / "features"
    names = sorted(p.name for p in folder.glob("*.js")) if folder.is_dir() else []
    return web.json_response([f"/static/js/features/{name}" for name in names])
