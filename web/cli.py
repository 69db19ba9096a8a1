"""The `plenary` command: serve, admin-token, user add."""
from __future__ import annotations

import argparse
import logging
import os
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
    serve.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="hub processes sharing the port (SO_REUSEPORT), supervised and restarted by this one; more than 1 "
             "needs --db (PostgreSQL) and --redis. Default: one per core when --db and --redis are given "
             "(media crosses between them over UDP pipes), else 1",
    )

    token = commands.add_parser("admin-token", help="print a fresh admin token")
    token.add_argument("--data-dir", type=Path, default=None)

    user = commands.add_parser("user", help="staff accounts of the congress office")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create or reset an account; the password is read from stdin "
                                               "(one line) or prompted on a terminal")
    add.add_argument("name")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--admin", action="store_true", help="the whole hub")
    who.add_argument("--operator", metavar="SITE_ID", help="this site and the sites below it")
    add.add_argument("--data-dir", type=Path, default=None)
    add.add_argument("--db", default=None, help="database URL (default: $PLENARY_DB, else SQLite in the data dir)")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=args.data_dir,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        db_url=getattr(args, "db", None),
        redis_url=getattr(args, "redis", None),
    )


def default_workers(settings: Settings) -> int:
    """One process per core for a hub on PostgreSQL and Redis (what several
    processes need to be one hub); one on the embedded default."""
    shared = settings.db_url is not None and not settings.db_url.startswith("sqlite") and settings.redis_url
    return max(1, os.cpu_count() or 1) if shared else 1


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = settings_from(args)
    if args.command == "admin-token":
        from sessions.identity import TokenService

        print(TokenService(settings.signing_secret()).admin_token())
        return 0
    if args.command == "user":
        from sessions.accounts.command import user_add

        if settings.db_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)  # the SQLite file's home
        return user_add(settings.database_url, args.name, args.operator)
    from web import workers

    label = workers.worker_label()
    prefix = f"worker {label.split('/')[0]} " if label else ""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s")
    if args.workers is None:
        args.workers = default_workers(settings)
    refusal = workers.refusal(args.workers, settings.db_url, settings.redis_url)
    if refusal:
        print(f"plenary serve: {refusal}", file=sys.stderr)
        return 2
    if args.workers > 1:
        return supervise(args, settings)
    return serve(settings, demo=args.demo, reuse_port=label is not None)


def supervise(args: argparse.Namespace, settings: Settings) -> int:
    """Run `args.workers` hub processes on one port (web/workers.py)."""
    from web.workers import Supervisor

    settings.signing_secret()  # made once here when absent, not raced by the workers

    def argv_of(index: int, generation: int) -> list[str]:
        argv = [sys.executable, "-m", "web.cli", "serve", "--workers", "1", "--host", settings.host,
                "--port", str(settings.port), "--data-dir", str(settings.data_dir)]
        if args.db:
            argv += ["--db", args.db]
        if args.redis:
            argv += ["--redis", args.redis]
        if args.demo and index == 0 and generation == 1:
            argv.append("--demo")  # seeded once, by one worker
        return argv

    print(f"Plenary serving on {settings.base_url} with {args.workers} workers "
          f"(data: {settings.data_dir.resolve()})", flush=True)
    return Supervisor(args.workers, argv_of).run()


def serve(settings: Settings, *, demo: bool, reuse_port: bool = False) -> int:
    """One hub process; `reuse_port` when it is one of `--workers` (the
    port is shared with its siblings)."""
    from signaling.memtrace import limit_malloc_arenas
    from web import workers
    from web.app import HUB_KEY, create_app

    limit_malloc_arenas()
    if reuse_port:
        workers.die_with_parent()

    app = create_app(settings)
    app.on_response_prepare.append(_identify_node)
    if demo:
        async def seed(app: web.Application) -> None:
            from sessions.demo import demo_terminals, print_links, print_terminals, seed_demo

            hub = app[HUB_KEY]
            links = await seed_demo(hub.db, hub.tokens, settings.base_url)
            print_links(links, sys.stdout)
            path = settings.data_dir / "demo-links.tsv"
            path.write_text("".join(f"{l.role.value}\t{l.name}\t{l.site or ''}\t{l.url}\n" for l in links), encoding="utf-8")
            print(f"  all {len(links)} links: {path.resolve()}", flush=True)
            sites = await demo_terminals(hub.db, hub.tokens, settings.base_url)
            print_terminals(sites, sys.stdout)
            path = settings.data_dir / "demo-terminals.tsv"
            path.write_text("".join(f"{l.kind}\t{l.site}\t{l.url}\n" for l in sites), encoding="utf-8")
            print(f"  all {len(sites)} terminal links: {path.resolve()}", flush=True)
            # The office's console, signed in with an admin token (12 h), so
            # the demo can be tried without first making an account.
            console = f"{settings.base_url}/console?token={hub.tokens.admin_token()}"
            print(f"\nConsole (the congress office's, as admin): {console}", flush=True)

        app.on_startup.append(seed)
    app.on_startup.append(_freeze_startup_objects)
    if reuse_port:
        app.on_startup.append(_tell_parent_ready)
        print(f"Plenary worker {workers.worker_label()} (pid {os.getpid()}) serving on {settings.base_url}", flush=True)
    else:
        print(f"Plenary serving on {settings.base_url} (data: {settings.data_dir.resolve()})", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None, reuse_port=reuse_port or None)
    return 0


async def _identify_node(request: web.Request, response: web.StreamResponse) -> None:
    """`GET /healthz` names the process that answered (X-Plenary-Node: its
    node id, as in the presence tables; X-Plenary-Pid), so an operator or a
    test can tell the workers behind one port apart."""
    if request.path == "/healthz":
        from web.app import HUB_KEY

        response.headers["X-Plenary-Node"] = request.app[HUB_KEY].node_id
        response.headers["X-Plenary-Pid"] = str(os.getpid())


async def _tell_parent_ready(app: web.Application) -> None:
    from web import workers

    workers.tell_parent_ready()


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
