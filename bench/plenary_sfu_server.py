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
    POST /pipe/open    {remote, srtp?}    -> this end's PipeInfo   (bench/pipe.py)
    POST /pipe/connect {remote, info}     -> {}
    POST /pipe/in      {remote, params}   -> {} (a far producer becomes one here)
    POST /pipe/out     {remote, producer} -> PipedProducer (send a producer over)

With ``--redis URL --node NAME`` the process is one node of a cascade
(signaling/cascade.py, wired as signaling/hub.py wires it): its local
producers are listed in Redis, and ``/subscribe`` first pipes in the named
producers that live on another node (``Cascade.ensure``, as the hub's
media:subscribe does), so subscribers may be spread over several processes.

With ``--record DIR`` every producer published here is recorded, as the
hub's recorder does it (recordings/recorder.py, fed by the same
tracks-changed callback, files muxed in its threads), into DIR; the
recording's rows live in a SQLite database there (bench/recording.py).

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
    from media.service import MediaService

    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    def every(interval: float, job: Any, name: str) -> asyncio.Task[Any]:
        async def loop() -> None:
            while True:
                try:
                    await job()
                except Exception:
                    import traceback

                    traceback.print_exc()
                await asyncio.sleep(interval)

        return spawn(loop(), name)

    cascade: Any = None

    recorder: Any = None

    async def tracks_changed(meeting_id: str) -> None:
        if recorder is not None:
            await recorder.sync(meeting_id)
        if cascade is not None:
            await cascade.local_tracks_changed(meeting_id)

    async def pipe_closed(meeting_id: str, node: str, reason: str) -> None:
        print(f"pipe to {node} closed: {reason}", flush=True)
        if cascade is not None:
            await cascade.pipe_closed(meeting_id, node, reason)

    async def remote_tracks(meeting_id: str) -> None:
        pass  # no signalling clients to tell

    # allow_loopback=True as for any single-host deployment; it replaces
    # aioice's address lookup process-wide, so the bench pin goes after it.
    svc = MediaService(ice_servers=[], allow_loopback=True, on_tracks_changed=tracks_changed,
                       on_pipe_closed=pipe_closed, pipe_bind_host=args.pipe_addr,
                       pipe_srtp=not args.plain_pipes)
    if args.redis:
        from signaling.cascade import Cascade

        cascade = Cascade(args.node, args.redis, svc, remote_tracks)
        await cascade.start(spawn, every)
    if args.record:
        recorder = await start_recorder(svc, args.record, spawn, every)
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
        wanted = body.get("tracks", "all")
        if cascade is not None and isinstance(wanted, list):
            await cascade.ensure(MEETING, wanted, timeout=15)
        offer = await svc.subscribe(MEETING, body["participant"], wanted)
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

    async def pipe_open(req: web.Request) -> web.Response:
        body = await req.json()
        info = await svc.open_pipe(MEETING, body["remote"], srtp=body.get("srtp"))
        return web.json_response(info.to_dict())

    async def pipe_connect(req: web.Request) -> web.Response:
        body = await req.json()
        await svc.connect_pipe(MEETING, body["remote"], body["info"])
        return web.json_response({})

    async def pipe_in(req: web.Request) -> web.Response:
        body = await req.json()
        await svc.pipe_producer_in(MEETING, body["remote"], body["params"])
        return web.json_response({})

    async def pipe_out(req: web.Request) -> web.Response:
        body = await req.json()
        params = svc.pipe_producer_out(MEETING, body["remote"], body["producer"])
        return web.json_response(dataclasses.asdict(params))

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
            web.post("/pipe/open", pipe_open),
            web.post("/pipe/connect", pipe_connect),
            web.post("/pipe/in", pipe_in),
            web.post("/pipe/out", pipe_out),
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
    if recorder is not None:
        await recorder.close()
    if cascade is not None:
        await cascade.close()
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        await asyncio.wait_for(svc.close(), timeout=10)
    except Exception as exc:
        print(f"svc.close failed: {exc!r}", flush=True)
    await runner.cleanup()


async def start_recorder(svc: Any, folder: str, spawn: Any, every: Any) -> Any:
    """A real Recorder recording the bench meeting into `folder`."""
    from pathlib import Path

    from recordings import service
    from recordings.recorder import Recorder
    from sessions.db import Database, sqlite_url
    from sessions.models import Meeting

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    db = Database(sqlite_url(root))
    await db.migrate()
    async with db.transaction() as tx:
        tx.add(Meeting(id=MEETING, title="bench"))
        await tx.flush()
        recording, _logged = await service.start(tx, MEETING, None)

    class Host:
        def __init__(self) -> None:
            self.db = db
            self.spawn = spawn
            self.every = every

        async def publish(self, *_: Any, **__: Any) -> None:
            pass  # no clients to tell

    async def failed(meeting_id: str, recording_id: str, error: dict) -> None:
        print(f"recording failed: {error}", flush=True)

    recorder = Recorder(Host(), svc, "bench-node", root, failed)
    recorder.start()
    await recorder.begin(recording.id, MEETING, service.aware(recording.started_at))
    print(f"recording into {root / recording.id}", flush=True)
    return recorder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--media-addr", default="127.0.0.2", help="pin aioice's host candidate ('' to disable)")
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--redis", default="", help="join a cascade through this Redis")
    ap.add_argument("--node", default="bench-node", help="this process's node id in the cascade")
    ap.add_argument("--pipe-addr", default="127.0.0.2", help="address pipe sockets bind and announce")
    ap.add_argument("--plain-pipes", action="store_true", help="plain RTP on pipes instead of SRTP")
    ap.add_argument("--record", default="", help="record every producer into this folder")
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
