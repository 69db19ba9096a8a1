"""The admins' view of staff accounts (the console's 账号 tab): list, create,
delete. Passwords are hashed by sessions/accounts/passwords.py and written
by `service.set_account`, as `plenary user add` does; this module only adds
what the console needs beyond it (create without resetting, delete)."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.accounts import service
from sessions.accounts.models import Account, AccountSession
from sessions.errors import Conflict, NotFound


def account_dict(account: Account) -> dict:
    return {
        "id": account.id,
        "username": account.username,
        "role": account.role,
        "site_id": account.site_id,
        "created_at": service.aware(account.created_at).isoformat(),
    }


async def list_accounts(session: AsyncSession) -> list[Account]:
    return list((await session.scalars(select(Account).order_by(Account.username))).all())


async def create(session: AsyncSession, username: str, role: str, site_id: str | None, password_hash: str) -> Account:
    """A new account; an existing user name is `409 conflict` (the console
    never resets someone else's password by accident; `plenary user add`
    does resets)."""
    if await session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict(f"the user name {username!r} is taken")
    account, _ = await service.set_account(session, username, role, site_id, password_hash)
    return account


async def remove(session: AsyncSession, account_id: str) -> None:
    """Delete the account and its sessions: every token it signed in with
    is refused from then on (the session row is read on every use)."""
    if await session.get(Account, account_id) is None:
        raise NotFound("no such account")
    await session.execute(delete(AccountSession).where(AccountSession.account_id == account_id))
    await session.execute(delete(Account).where(Account.id == account_id))
