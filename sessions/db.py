"""The database: one async engine per process, migrations applied at start.

SQLite (the embedded default) gets WAL, a busy timeout and `BEGIN IMMEDIATE`
so that concurrent writers queue instead of failing with "database is locked"
half-way through a transaction. PostgreSQL needs none of that.

PostgreSQL may go away (a restart, a failover): every wait on it is bounded
(connect, a pooled connection, a statement), so a caller gets an error in
seconds, never a hang, and `sessions.errors.unavailable_from` names it
`unavailable`. A transaction cut off rolls back (the server drops it with its
connection). Pooled connections are pinged before use, so the first requests
after the database returns get fresh ones instead of failing on dead ones.
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do; it only has to be the same in every process.
_MIGRATION_LOCK_KEY = 0x504C454E

# PostgreSQL: seconds to open a connection, to wait for a pooled one when all
# are busy, and for one statement (migrations, which run on an engine of
# their own, are not bounded).
CONNECT_TIMEOUT_S = float(os.environ.get("PLENARY_DB_CONNECT_TIMEOUT_S", "5"))
POOL_TIMEOUT_S = float(os.environ.get("PLENARY_DB_POOL_TIMEOUT_S", "5"))
STATEMENT_TIMEOUT_S = float(os.environ.get("PLENARY_DB_STATEMENT_TIMEOUT_S", "30"))


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'plenary.db').resolve()}"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(url, connect_args={"timeout": 30})
            _make_sqlite_serializable(self.engine)
        else:
            # Connections beyond pool_size are closed when returned, so every
            # burst (a vote: 200 ballots in a second) paid for new ones; keep
            # 20 (same ceiling of 30). bench/vote.py: cast p99 ~200 → ~50 ms.
            # pool_pre_ping: after a database restart, pooled connections are
            # dead; each is replaced on its next checkout instead of failing.
            self.engine = create_async_engine(
                url, pool_size=20, max_overflow=10, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT_S,
                connect_args={"timeout": CONNECT_TIMEOUT_S, "command_timeout": STATEMENT_TIMEOUT_S},
            )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def migrate(self, revision: str = "head") -> None:
        if self.is_sqlite:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade, revision)
            return
        # Its own engine: a migration (or waiting for another process's) may
        # take longer than the statement timeout of ordinary work.
        engine = create_async_engine(self.url, poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT_S})
        try:
            async with engine.begin() as conn:
                # Several processes may start at once on one database.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                await conn.run_sync(_upgrade, revision)
        finally:
            await engine.dispose()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _upgrade(sync_conn, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


def _make_sqlite_serializable(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
