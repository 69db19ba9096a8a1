"""Keys for the secret ballot: what lets a voter change or resend a ballot
without the database rows linking that voter to a choice.

Threat model (see voting/README.md): someone who reads every row of the
database, at any time, must not learn who chose what. Someone who also holds
the hub's signing secret can, while a vote is open, locate a given voter's
ballot row (that is what makes changing a choice possible); once the vote is
closed the per-vote salt is destroyed and the ballot rows are rewritten
without their locator, so not even the secret's holder can link afterwards.

- slot = HMAC(vote_key, voter_id) with vote_key = HMAC(secret, salt): the
  ballot row's locator while open. Without the secret it is a random string.
- ballot_key = HMAC(secret, vote, voter, client ballot id): the idempotency
  key stored with the participation row.
- receipt_box: the receipt XOR a keystream from (secret, vote, voter, ballot
  id), so a resend after a reconnect gets the same receipt back, while the
  participation row alone does not reveal the receipt (whose hash names the
  ballot row).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

SALT_BYTES = 32


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def new_receipt() -> str:
    """128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def new_ballot_id() -> str:
    return secrets.token_urlsafe(16)


def _mac(key: bytes, *parts: str | bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        raw = part.encode() if isinstance(part, str) else part
        # Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        mac.update(len(raw).to_bytes(4, "big"))
        mac.update(raw)
    return mac.digest()


def vote_key(secret: bytes, salt: bytes) -> bytes:
    return _mac(secret, b"vote-key", salt)


def slot_of(key: bytes, voter_id: str) -> str:
    return _mac(key, b"slot", voter_id).hex()


def ballot_key(secret: bytes, vote_id: str, voter_id: str, ballot_id: str) -> str:
    return _mac(secret, b"ballot-id", vote_id, voter_id, ballot_id).hex()


def _keystream(secret: bytes, vote_id: str, voter_id: str, ballot_id: str, length: int) -> bytes:
    stream = _mac(secret, b"receipt-box", vote_id, voter_id, ballot_id)
    if length > len(stream):
        raise ValueError("receipt too long for its box")
    return stream[:length]


def box_receipt(secret: bytes, vote_id: str, voter_id: str, ballot_id: str, receipt: str) -> str:
    raw = receipt.encode()
    stream = _keystream(secret, vote_id, voter_id, ballot_id, len(raw))
    return bytes(a ^ b for a, b in zip(raw, stream)).hex()


def unbox_receipt(secret: bytes, vote_id: str, voter_id: str, ballot_id: str, box: str) -> str:
    raw = bytes.fromhex(box)
    stream = _keystream(secret, vote_id, voter_id, ballot_id, len(raw))
    return bytes(a ^ b for a, b in zip(raw, stream)).decode()
