"""Staff accounts: creating them, signing in and out, and checking a
session token's row on every use.

Every check reads the database, never a process's memory: several
processes form one hub, and a session signed out (or a user name locked)
through one of them must count on all.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.accounts.models import ACCOUNT_ROLES, Account, AccountSession, SignInThrottle
from sessions.accounts.passwords import verify_password
from sessions.db import Database
from sessions.errors import Invalid, NotFound, RateLimited, Unauthorized
from sessions.identity import OPERATOR_ROLE, Identity, TokenService
from sessions.models import Site, utcnow
from sessions.text import flaw

# The same answer for an unknown user name and a wrong password: the
# answer must not tell which user names exist.
WRONG_CREDENTIALS = "wrong user name or password"

# Failed sign-ins: this many within WINDOW locks the user name (or the
# client address) for LOCK. An office behind one NAT shares an address,
# so the address allows more than a user name.
USER_MAX_FAILURES = 5
ADDRESS_MAX_FAILURES = 20
WINDOW = timedelta(minutes=5)
LOCK = timedelta(minutes=5)

DEFAULT_SESSION_HOURS = 12.0
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"[^\s]{1,64}")


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# -- accounts ---------------------------------------------------------------------


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username) or flaw(username):
        raise Invalid("a user name is 1 to 64 characters, with no space or control character")
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if any(c in password for c in "\x00\r\n"):
        raise Invalid("a password is one line")
    return password


async def set_account(
    session: AsyncSession, username: str, role: str, site_id: str | None, password_hash: str
) -> tuple[Account, bool]:
    """Create the account, or reset it (role, site, password); returns it and
    whether it is new. A reset signs out every session it had."""
    check_username(username)
    if role not in ACCOUNT_ROLES:
        raise Invalid(f"role: {role!r} is not one of {', '.join(ACCOUNT_ROLES)}")
    if role == OPERATOR_ROLE:
        if site_id is None:
            raise Invalid("an operator belongs to a site")
        if await session.get(Site, site_id) is None:
            raise NotFound(f"no site {site_id!r}")
    elif site_id is not None:
        raise Invalid("an admin belongs to no site (the whole hub)")
    account = await session.scalar(select(Account).where(Account.username == username))
    now = utcnow()
    if account is None:
        account = Account(username=username, password_hash=password_hash, role=role, site_id=site_id,
                          created_at=now, updated_at=now)
        session.add(account)
        await session.flush()
        return account, True
    account.password_hash, account.role, account.site_id, account.updated_at = password_hash, role, site_id, now
    await session.execute(
        update(AccountSession)
        .where(AccountSession.account_id == account.id, AccountSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await session.flush()
    return account, False


# -- the sign-in throttle ---------------------------------------------------------------


def user_key(username: str) -> str:
    return "user:" + username.casefold()[:64]


def address_key(address: str | None) -> str:
    return "addr:" + (address or "unknown")[:100]


async def locked_for(session: AsyncSession, keys: list[str], now: datetime) -> float:
    """Seconds until every one of `keys` may try again (0: none is locked)."""
    rows = (await session.scalars(select(SignInThrottle.locked_until).where(SignInThrottle.key.in_(keys)))).all()
    ends = [aware(until) for until in rows if until is not None and aware(until) > now]
    return max((end - now).total_seconds() for end in ends) if ends else 0.0


async def _throttle_row(session: AsyncSession, key: str, now: datetime) -> SignInThrottle:
    """The key's row, locked (made first if absent; processes may race here)."""
    insert = sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert
    await session.execute(
        insert(SignInThrottle).values(key=key, failures=0, window_start=now).on_conflict_do_nothing(index_elements=["key"])
    )
    return (await session.scalars(
        select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()
        .execution_options(populate_existing=True)
    )).one()


async def record_failure(session: AsyncSession, key: str, limit: int, now: datetime) -> None:
    row = await _throttle_row(session, key, now)
    if row.locked_until is not None and aware(row.locked_until) > now:
        return  # locked meanwhile by a failure on another process
    if aware(row.window_start) + WINDOW <= now:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.failures, row.window_start, row.locked_until = 0, now, now + LOCK
    await session.flush()


# -- sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    token: str
    role: str
    site_id: str | None
    expires_at: datetime

    def to_dict(self) -> dict:
        answer = {"token": self.token, "role": self.role, "expires_at": self.expires_at.isoformat()}
        if self.site_id is not None:
            answer["site_id"] = self.site_id
        return answer


async def sign_in(
    db: Database, tokens: TokenService, username: str, password: str, address: str | None,
    hours: float = DEFAULT_SESSION_HOURS,
) -> SignedIn:
    """A new session for the account, or 401 (`WRONG_CREDENTIALS`, whichever
    was wrong) or 429 (too many failures for the user name or the address)."""
    keys = [user_key(username), address_key(address)]
    now = utcnow()
    async with db.read() as session:
        wait = await locked_for(session, keys, now)
        account = None if wait else await session.scalar(select(Account).where(Account.username == username))
    if wait:
        raise _rate_limited(wait)
    # Off the loop, and as long for an unknown user (a dummy hash) as for a known one.
    if not await verify_password(account.password_hash if account else None, password):
        async with db.transaction() as tx:
            now = utcnow()
            await record_failure(tx, keys[0], USER_MAX_FAILURES, now)
            await record_failure(tx, keys[1], ADDRESS_MAX_FAILURES, now)
        raise Unauthorized(WRONG_CREDENTIALS)
    assert account is not None
    async with db.transaction() as tx:
        now = utcnow()
        # Failures on other processes may have locked the name while this
        # password was being checked: the lock holds for the right one too.
        wait = await locked_for(tx, keys, now)
        if wait:
            raise _rate_limited(wait)
        await tx.execute(delete(SignInThrottle).where(SignInThrottle.key == keys[0]))
        row = AccountSession(id=uuid.uuid4().hex, account_id=account.id, created_at=now,
                             expires_at=now + timedelta(hours=hours))
        tx.add(row)
    expires_at = row.expires_at
    token = tokens.issue_session(account.id, account.role, account.site_id, row.id, int(expires_at.timestamp()))
    return SignedIn(token, account.role, account.site_id, expires_at)


def _rate_limited(wait: float) -> RateLimited:
    return RateLimited(f"too many failed sign-ins for this user name or from this address; "
                       f"try again in {int(wait) + 1} s")


async def check_session(session: AsyncSession, identity: Identity) -> Account:
    """The account of a staff session token, if its session still counts
    (else 401): not signed out, not expired, and the account still what the
    token claims."""
    row = (await session.execute(
        select(AccountSession, Account).join(Account, Account.id == AccountSession.account_id)
        .where(AccountSession.id == identity.session_id)
    )).first()
    if row is None:
        raise Unauthorized("this session is not one of this hub's; sign in again")
    live, account = row
    if account.id != identity.account_id:
        raise Unauthorized("this session is not one of this hub's; sign in again")
    if live.revoked_at is not None:
        raise Unauthorized("this session has been signed out; sign in again")
    if aware(live.expires_at) <= utcnow():
        raise Unauthorized("this session has expired; sign in again")
    claimed = OPERATOR_ROLE if identity.is_operator else "admin"
    if account.role != claimed or (claimed == OPERATOR_ROLE and account.site_id != identity.operator_site):
        raise Unauthorized("this account's role has changed; sign in again")
    return account


async def sign_out(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        update(AccountSession)
        .where(AccountSession.id == session_id, AccountSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def open_session(session: AsyncSession, account_id: str, expires_at: datetime) -> AccountSession:
    """A session row with a given expiry (sign_in makes them; tests and tools
    make one that has already expired)."""
    if await session.get(Account, account_id) is None:
        raise NotFound("no such account")
    row = AccountSession(id=uuid.uuid4().hex, account_id=account_id, created_at=utcnow(), expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row
