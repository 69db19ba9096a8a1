"""The published hash chain of a closed vote, and the check that recomputes it.

At close the counted ballots are ordered by their receipt hash (random, so the
order says nothing about who voted when) and chained:

    prev_0 = sha256("plenary-vote:" + vote_id)
    hash_i = sha256(prev_i + canonical_json({"vote", "position", "receipt_hash", "choice"[, "voter_id"]}))
    prev_{i+1} = hash_i

The last hash is the chain head. It is stored on the vote row, written into
the `vote:result` event of the meeting log and broadcast to every site, so a
ballot row changed afterwards breaks the chain and `verify_chain` says at
which position. A voter checks their receipt by hashing it (sha256 hex) and
finding that hash in the published list.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


def receipt_hash(receipt: str) -> str:
    return hashlib.sha256(receipt.encode()).hexdigest()


def genesis(vote_id: str) -> str:
    return hashlib.sha256(f"plenary-vote:{vote_id}".encode()).hexdigest()


@dataclass(frozen=True)
class BallotRecord:
    position: int
    receipt_hash: str
    choice: str
    voter_id: str | None  # named votes only
    prev_hash: str
    record_hash: str

    def to_dict(self) -> dict:
        data = {
            "position": self.position,
            "receipt_hash": self.receipt_hash,
            "choice": self.choice,
            "prev_hash": self.prev_hash,
            "hash": self.record_hash,
        }
        if self.voter_id is not None:
            data["voter_id"] = self.voter_id
        return data


def record_hash(vote_id: str, position: int, receipt: str, choice: str, voter_id: str | None, prev: str) -> str:
    body = {"vote": vote_id, "position": position, "receipt_hash": receipt, "choice": choice}
    if voter_id is not None:
        body["voter_id"] = voter_id
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


def build_chain(vote_id: str, ballots: list[tuple[str, str, str | None]]) -> list[BallotRecord]:
    """Chain (receipt_hash, choice, voter_id) ballots in receipt-hash order."""
    records = []
    prev = genesis(vote_id)
    for position, (receipt, choice, voter_id) in enumerate(sorted(ballots, key=lambda b: b[0])):
        digest = record_hash(vote_id, position, receipt, choice, voter_id, prev)
        records.append(BallotRecord(position, receipt, choice, voter_id, prev, digest))
        prev = digest
    return records


def head_of(vote_id: str, records: list[BallotRecord]) -> str:
    return records[-1].record_hash if records else genesis(vote_id)


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    broken_at: int | None  # the first position whose record does not check out
    reason: str | None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "broken_at": self.broken_at, "reason": self.reason}


def verify_chain(
    vote_id: str, records: list[BallotRecord], *, head: str, counts: dict[str, int] | None = None
) -> AuditReport:
    """Recompute the chain from stored records; the first break wins."""
    prev = genesis(vote_id)
    prev_receipt = ""
    ordered = sorted(records, key=lambda r: r.position)
    for index, record in enumerate(ordered):
        if record.position != index:
            return AuditReport(False, index, f"position {index} is missing (found {record.position})")
        if record.prev_hash != prev:
            return AuditReport(False, index, f"record {index} does not follow record {index - 1}")
        if index and record.receipt_hash <= prev_receipt:
            return AuditReport(False, index, f"record {index} is out of receipt order")
        expected = record_hash(vote_id, index, record.receipt_hash, record.choice, record.voter_id, prev)
        if record.record_hash != expected:
            return AuditReport(False, index, f"record {index} was changed after the vote closed")
        prev = record.record_hash
        prev_receipt = record.receipt_hash
    if prev != head:
        # Every stored record checks out against its neighbour, so the end was
        # cut off or the whole chain was rewritten: the head no longer matches.
        return AuditReport(False, len(ordered), "the chain does not end at the published head")
    if counts is not None:
        recount: dict[str, int] = {option: 0 for option in counts}
        for record in ordered:
            recount[record.choice] = recount.get(record.choice, 0) + 1
        if recount != counts:
            return AuditReport(False, None, f"published counts {counts} differ from the ballots {recount}")
    return AuditReport(True, None, None)
