"""The spreadsheet reader's process: `python -m sessions.people.read_worker
sites|people` reads a file's bytes on stdin and writes one JSON answer on
stdout: `{"ok": true, "rows": […], "errors": […], "ignored_columns": […]}`,
or `{"ok": false, "status", "code", "message"}` for a file refused whole.

Why a process: openpyxl parses XML in pure Python (a 20,000-row sheet is
seconds of CPU), which in a thread of the hub would hold the GIL against the
event loop and the media it forwards; and a workbook that inflates (a zip
bomb, a cell of megabytes) should exhaust this process's capped memory, not
the hub's. RLIMIT_AS and RLIMIT_CPU are set here; the hub also kills it
past its deadline (sessions/people/reading.py).
"""
from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict

MEMORY_BYTES = 1024 * 1024 * 1024
CPU_SECONDS = 120


def main() -> int:
    for limit, value in ((resource.RLIMIT_AS, MEMORY_BYTES), (resource.RLIMIT_CPU, CPU_SECONDS)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # a lower hard limit is already in place: keep it
    # Imported after the limits, so that what they import counts too.
    from sessions.errors import HubError
    from sessions.people import importer

    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    parse = {"sites": importer.parse_sites, "people": importer.parse_people}.get(kind)
    if parse is None:
        print(f"usage: {sys.argv[0]} sites|people", file=sys.stderr)
        return 2
    data = sys.stdin.buffer.read()
    try:
        parsed = parse(importer.read_table(data))
        answer = {"ok": True, "rows": [asdict(r) for r in parsed.rows],
                  "errors": [e.to_dict() for e in parsed.errors], "ignored_columns": parsed.ignored_columns}
    except HubError as refused:
        answer = {"ok": False, "status": refused.status, "code": refused.code, "message": refused.message}
    except MemoryError:
        answer = {"ok": False, "status": 413, "code": "too_large",
                  "message": "the file needs more memory to read than the reader is given"}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
