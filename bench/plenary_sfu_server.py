"""Benchmark host for Plenary's SFU (bench infrastructure, not product code).

Runs ``media.service.MediaService`` in its own process behind a minimal
signalling channel on 127.0.0.1 (aiohttp, JSON):

    GET  /health                          -> {"pid": ...}
    POST /publish   {participant, sdp, sources?}  -> {"sdp": answer}
    GET  /tracks                          -> [{id, participant_id, kind, source}]
    POST /subscribe {participant, tracks: [ids] | "all"} -> {"sdp": offer}
    POST /answer    {participant, sdp}    -> {}
    POST /leave     {participant}         -> {}
    GET  /stats                           -> svc.stats()
    POST /shutdown                        -> {} (closes the service, exits)

The benchmark measures this process's CPU.  By default aioice is pinned to
gather a single host candidate, 127.0.0.2 (the same media address Janus
gets), so both SFUs are measured on the same path.  The process exits by
itself after ``--max-seconds``.

Usage (normally started by bench/sfu.py inside its network namespace):
    python bench/plenary_sfu_server.py --port 8765 [--media-addr 127.0.0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
from typing import Any

from aiohttp import web

MEETING = "bench"


def _track_dict(t: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(t):
        d = dataclasses.asdict(t)
    elif hasattr(t, "_asdict"):
        d = t._asdict()
    elif hasattr(t, "model_dump"):
        d = t.model_dump()
    elif isinstance(t, dict):
        d = dict(t)
    else:
        d = {k: getattr(t, k, None) for k in ("id", "participant_id", "kind", "source")}
    return {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in d.items()}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool, type(None))):
        return x
    return str(x)


async def amain(args: argparse.Namespace) -> None:
    from media.service import MediaService  # the colleague's SFU

    # allow_loopback=True as for any single-host deployment; it replaces
    # aioice's address lookup process-wide, so the bench pin goes after it.
    svc = MediaService(ice_servers=[], allow_loopback=True)
    if args.media_addr:
        import aioice.ice

        addr = args.media_addr

        def _addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
            return [addr] if use_ipv4 else []

        aioice.ice.get_host_addresses = _addresses  # type: ignore[assignment]

    stop = asyncio.Event()

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"pid": os.getpid()})

    async def publish(req: web.Request) -> web.Response:
        body = await req.json()
        kw = {}
        if body.get("sources") is not None:
            kw["sources"] = body["sources"]
        answer = await svc.publish(MEETING, body["participant"], body["sdp"], **kw)
        return web.json_response({"sdp": answer})

    async def tracks(_: web.Request) -> web.Response:
        return web.json_response([_track_dict(t) for t in svc.tracks(MEETING)])

    async def subscribe(req: web.Request) -> web.Response:
        body = await req.json()
        offer = await svc.subscribe(MEETING, body["participant"], body.get("tracks", "all"))
        return web.json_response({"sdp": offer})

    async def answer(req: web.Request) -> web.Response:
        body = await req.json()
        await svc.answer(MEETING, body["participant"], body["sdp"])
        return web.json_response({})

    async def leave(req: web.Request) -> web.Response:
        body = await req.json()
        await svc.leave(MEETING, body["participant"])
        return web.json_response({})

    async def stats(_: web.Request) -> web.Response:
        try:
            return web.json_response(_jsonable(svc.stats()))
        except Exception as exc:  # stats are informative only
            return web.json_response({"error": repr(exc)})

    async def shutdown(_: web.Request) -> web.Response:
        stop.set()
        return web.json_response({})

    @web.middleware
    async def errors(req: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(req)
        except web.HTTPException:
            raise
        except Exception as exc:
            import traceback

            traceback.print_exc()
            return web.json_response({"error": repr(exc)}, status=500)

    app = web.Application(middlewares=[errors])
    app.add_routes(
        [
            web.get("/health", health),
            web.post("/publish", publish),
            web.get("/tracks", tracks),
            web.post("/subscribe", subscribe),
            web.post("/answer", answer),
            web.post("/leave", leave),
            web.get("/stats", stats),
            web.post("/shutdown", shutdown),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"plenary_sfu_server ready pid={os.getpid()} http://{args.host}:{args.port}", flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
    except asyncio.TimeoutError:
        print("plenary_sfu_server: max-seconds reached, exiting", flush=True)
    try:
        await asyncio.wait_for(svc.close(), timeout=10)
    except Exception as exc:
        print(f"svc.close failed: {exc!r}", flush=True)
    await runner.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--media-addr", default="127.0.0.2", help="pin aioice's host candidate ('' to disable)")
    ap.add_argument("--max-seconds", type=float, default=900)
    args = ap.parse_args()
    if not args.host.startswith("127."):
        sys.exit("loopback only")
    # make `media` importable when started as a script from anywhere
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
