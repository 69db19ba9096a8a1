"""Where document bytes live: content-addressed files under the data dir.

    documents/<sha256>.pdf                       the upload, stored once per content
    documents/<sha256>/pages/<n>.png             the plain render of page n
    documents/incoming/<random>.part             uploads being received

Viewers' watermarked pages are cached in memory only (see render.py).
Every file appears by `os.replace` of a finished temporary file, so a reader
(in this or another process sharing the data dir) never sees half a file.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path


class DocumentStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "documents"
        self.incoming = self.root / "incoming"

    def pdf_path(self, sha256: str) -> Path:
        return self.root / f"{sha256}.pdf"

    def page_path(self, sha256: str, page: int) -> Path:
        return self.root / sha256 / "pages" / f"{page}.png"

    def new_incoming(self) -> Path:
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / f"{uuid.uuid4().hex}.part"

    def adopt(self, temp: Path, sha256: str) -> Path:
        """Move a received upload to its content address (blocking; run off the loop)."""
        target = self.pdf_path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            temp.unlink(missing_ok=True)  # same content already stored
        else:
            os.replace(temp, target)
        return target


def write_atomically(path: Path, data: bytes) -> None:
    """Blocking: write next to the target and rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temp, "wb") as f:
        f.write(data)
    os.replace(temp, path)


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
