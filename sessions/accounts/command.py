"""`plenary user add NAME (--admin | --operator SITE_ID)`: create or reset a
staff account. The password comes from standard input (one line) or, on a
terminal, from a prompt that does not echo it."""
from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TextIO

from sessions.accounts import service
from sessions.accounts.passwords import hash_password_async
from sessions.db import Database
from sessions.errors import HubError, Invalid


def read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise Invalid("the two passwords differ")
        return password
    line = stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


async def _add(database_url: str, username: str, role: str, site_id: str | None, password: str) -> bool:
    password_hash = await hash_password_async(password)
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.transaction() as tx:
            _, created = await service.set_account(tx, username, role, site_id, password_hash)
    finally:
        await db.dispose()
    return created


def user_add(database_url: str, username: str, operator_site: str | None, stdin: TextIO = sys.stdin,
             out: TextIO = sys.stdout) -> int:
    """The command's work; its exit status (2: refused, with the reason on stderr)."""
    role = "operator" if operator_site is not None else "admin"
    try:
        service.check_username(username)
        password = service.check_password(read_password(stdin))
        created = asyncio.run(_add(database_url, username, role, operator_site, password))
    except HubError as exc:
        print(f"plenary user add: {exc.message}", file=sys.stderr)
        return 2
    what = f"operator of site {operator_site}" if operator_site else "admin"
    print(f"account {username!r} ({what}) {'created' if created else 'reset; its sessions are signed out'}", file=out)
    return 0
