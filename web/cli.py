"""The `plenary` command: serve, admin-token."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from signaling.config import Settings


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="plenary", description="Plenary meeting and live-inquiry hub")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the hub")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data-dir", type=Path, default=None, help="default ./plenary-data or $PLENARY_DATA_DIR")
    serve.add_argument("--db", default=None, help="database URL, e.g. postgresql+asyncpg://… (default: SQLite in the data dir)")
    serve.add_argument("--redis", default=None, help="redis://… to join several processes into one hub")
    serve.add_argument("--demo", action="store_true", help="seed a city-wide demo meeting and print join links")

    token = commands.add_parser("admin-token", help="print a fresh admin token")
    token.add_argument("--data-dir", type=Path, default=None)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=args.data_dir,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        db_url=getattr(args, "db", None),
        redis_url=getattr(args, "redis", None),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = settings_from(args)
    if args.command == "admin-token":
        from sessions.identity import TokenService

        print(TokenService(settings.signing_secret()).admin_token())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(settings, demo=args.demo)


def serve(settings: Settings, *, demo: bool) -> int:
    from signaling.memtrace import limit_malloc_arenas
    from web.app import HUB_KEY, create_app

    limit_malloc_arenas()

    app = create_app(settings)
    if demo:
        async def seed(app: web.Application) -> None:
            from sessions.demo import print_links, seed_demo

            hub = app[HUB_KEY]
            links = await seed_demo(hub.db, hub.tokens, settings.base_url)
            print_links(links, sys.stdout)
            path = settings.data_dir / "demo-links.tsv"
            path.write_text("".join(f"{l.role.value}\t{l.name}\t{l.site or ''}\t{l.url}\n" for l in links), encoding="utf-8")
            print(f"  all {len(links)} links: {path.resolve()}", flush=True)

        app.on_startup.append(seed)
    app.on_startup.append(_freeze_startup_objects)
    print(f"Plenary serving on {settings.base_url} (data: {settings.data_dir.resolve()})", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


async def _freeze_startup_objects(app: web.Application) -> None:
    """Keep what imports and start-up made out of the garbage collector's
    full passes: with a few hundred clients those passes took 90-170 ms and
    stalled the loop (vote acks, broadcasts); frozen, about half. Collecting
    less often then keeps most of the remaining passes out of a busy second
    (bench/vote.py: cast→ack p99 200-300 ms before, 50-80 ms after)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


if __name__ == "__main__":
    sys.exit(main())
