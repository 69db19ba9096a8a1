"""Password hashes: argon2id, computed off the event loop.

argon2 takes tens of milliseconds and 64 MiB per hash by design; it runs in
a small pool of its own so that a burst of sign-ins neither stalls the loop
nor takes the threads other work uses (argon2-cffi releases the GIL).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")
# A hash of nothing anyone can type, made once: a user name that does not
# exist is verified against it, so it costs what a wrong password costs.
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("no account has this password")
        try:
            _hasher.verify(_dummy_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False  # whatever was typed: there is no such user
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash (no such user), the same work
    against a dummy hash, and False."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)


def is_argon2(value: str) -> bool:
    return value.startswith("$argon2id$")
