"""The hub's side of reading an imported spreadsheet: one reader process
per file (sessions/people/read_worker.py), its answer turned back into the
importer's rows. The process is killed past `DEADLINE_S`.

A small CSV (up to `INLINE_BYTES`, some 3,000 rows: a tenth of a second) is
read in a thread instead: starting the process would cost more than that.
An XLSX always goes to the process (openpyxl, and what a ZIP may inflate to)."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from sessions.errors import HubError, Invalid, TooLarge
from sessions.people import importer
from sessions.people.importer import ZIP_MAGIC, Parsed, PersonRow, RowErrors, SiteRow
from sessions.people.kinds import Level, PersonKind
from sessions.roles import SiteKind

WORKER_MODULE = "sessions.people.read_worker"
# Starting the interpreter and openpyxl on a busy machine, then 20,000 rows.
DEADLINE_S = 120.0
INLINE_BYTES = 256 * 1024
# Where the `sessions` package lives, for the worker's `-m` import.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


async def read_rows(data: bytes, kind: str) -> Parsed:
    """`kind` is "sites" or "people"; the file refused whole raises its HubError."""
    if len(data) <= INLINE_BYTES and not data.startswith(ZIP_MAGIC):
        parse = importer.parse_sites if kind == "sites" else importer.parse_people
        return await asyncio.to_thread(lambda: parse(importer.read_table(data)))
    return await _read_in_process(data, kind)


async def _read_in_process(data: bytes, kind: str) -> Parsed:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", WORKER_MODULE, kind,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    try:
        async with asyncio.timeout(DEADLINE_S):
            out, err = await process.communicate(data)
    except TimeoutError:
        raise TooLarge(f"the file could not be read within {DEADLINE_S:.0f} seconds") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    try:
        answer = json.loads(out)
    except ValueError:
        # Killed by its memory or CPU limit, or it crashed: the file's doing, not the hub's.
        reason = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no answer"]
        raise Invalid(f"the file could not be read ({reason[0][:200]})") from None
    if not answer["ok"]:
        refusal = {"invalid": Invalid, "too_large": TooLarge}.get(answer["code"], HubError)
        raise refusal(answer["message"], code=answer["code"], status=answer["status"])
    rows = [_site_row(r) if kind == "sites" else _person_row(r) for r in answer["rows"]]
    errors = [RowErrors(e["line"], e["errors"]) for e in answer["errors"]]
    return Parsed(rows=rows, errors=errors, ignored_columns=answer["ignored_columns"])


def _site_row(r: dict) -> SiteRow:
    return SiteRow(r["line"], r["name"], SiteKind(r["kind"]), r["parent"])


def _person_row(r: dict) -> PersonRow:
    return PersonRow(r["line"], r["name"], PersonKind(r["kind"]), r["site"], Level(r["level"]) if r["level"] else None,
                     r["phone"], tuple(r["groups"]), r["code"], r["note"])
