"""The render worker: a child process that runs pdfium under memory and CPU limits.

A PDF can be tiny and still inflate to gigabytes of drawing operations, or
take minutes to draw (forms that draw forms that draw forms). pdfium runs
here, never in the hub: the address space is capped with RLIMIT_AS, so an
inflating page makes pdfium fail or abort in this process only, and the
hub's pool (render_pool.py) replaces it. The hub also enforces the wall-clock
time per page; RLIMIT_CPU here is the backstop for a hub that died or hangs.

Started as `python -m sessions.documents.render_worker --memory-bytes N
--page-seconds S`. It talks over stdin/stdout in frames (see render_pool.py):
one request, one reply, in order. It writes the plain PNG of a page itself
(atomically, into the shared page cache) and sends the decoded pixels back
so the hub can watermark without decoding the PNG again. EOF on stdin ends it.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import resource
import signal
import sys
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

from sessions.documents.render import encode_plain, is_grey
from sessions.documents.render_pool import FRAME_LENGTH
from sessions.documents.storage import write_atomically


def read_frame(stream: BinaryIO) -> tuple[dict, bytes] | None:
    raw = stream.read(FRAME_LENGTH.size)
    if len(raw) < FRAME_LENGTH.size:
        return None
    header = json.loads(stream.read(FRAME_LENGTH.unpack(raw)[0]))
    payload = stream.read(header.get("payload", 0)) if header.get("payload") else b""
    return header, payload


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_frame(stream: BinaryIO, header: dict, payload: bytes = b"") -> None:
    # Every reply tells this process's resident memory: the pool replaces a
    # worker that a big page left bloated (freed memory is not always returned).
    encoded = json.dumps({**header, "payload": len(payload), "rss_bytes": rss_bytes()}).encode()
    stream.write(FRAME_LENGTH.pack(len(encoded)) + encoded)
    if payload:
        stream.write(payload)
    stream.flush()


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the hub that started it is gone (no orphans)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _cpu_budget(seconds: float) -> None:
    """Allow `seconds` more CPU time from now: SIGXCPU (which kills) beyond it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(math.ceil(used + seconds)) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class Documents:
    """pdfium work of this process: a few documents kept open between pages."""

    KEEP_OPEN = 4

    def __init__(self) -> None:
        import pypdfium2 as pdfium  # after the limits are set: pdfium's memory counts
        import pypdfium2.raw as pdfium_c

        self.pdfium, self.pdfium_c = pdfium, pdfium_c
        self._open: OrderedDict[str, object] = OrderedDict()

    def _document(self, path: str):
        doc = self._open.pop(path, None)
        if doc is None:
            doc = self.pdfium.PdfDocument(path)
        self._open[path] = doc
        while len(self._open) > self.KEEP_OPEN:
            _, old = self._open.popitem(last=False)
            old.close()
        return doc

    def count_pages(self, path: str) -> dict:
        """Open the file as rendering would; refuse it with a clear reason."""
        pdfium_c = self.pdfium_c
        try:
            doc = self.pdfium.PdfDocument(path)
        except self.pdfium.PdfiumError as exc:
            if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                return _refusal("the PDF is encrypted with a password; upload an unprotected copy")
            if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
                return _refusal("the PDF uses an unsupported security handler")
            return _refusal("not a readable PDF (the file is damaged or not a PDF)")
        try:
            return {"ok": True, "pages": len(doc)}
        finally:
            doc.close()

    def render(self, path: str, index: int, out: str, width_px: int, max_pixels: int) -> tuple[dict, bytes]:
        try:
            page = self._document(path)[index]
        except self.pdfium.PdfiumError:
            return _refusal(f"page {index + 1} of this PDF cannot be rendered"), b""
        try:
            width_pt, height_pt = page.get_size()
            if width_pt <= 0 or height_pt <= 0:
                return _refusal(f"page {index + 1} has no area"), b""
            # pdfium rounds the bitmap size up: aim a hair below the width.
            scale = (width_px - 1e-3) / width_pt
            if (width_pt * scale) * (height_pt * scale) > max_pixels:
                # A page with an absurd aspect ratio must not become a gigapixel bitmap.
                scale = math.sqrt(max_pixels / (width_pt * height_pt))
            try:
                bitmap = page.render(scale=scale, may_draw_forms=False)
            except self.pdfium.PdfiumError:
                return _refusal(f"page {index + 1} of this PDF cannot be rendered"), b""
            try:
                # copy(): the PIL image must not outlive pdfium's buffer.
                image = bitmap.to_pil().convert("RGB").copy()
            finally:
                bitmap.close()
        finally:
            page.close()
        if is_grey(image):
            image = image.convert("L")
        write_atomically(Path(out), encode_plain(image))
        return {"ok": True, "mode": image.mode, "size": list(image.size)}, image.tobytes()

    def close(self) -> None:
        for doc in self._open.values():
            doc.close()
        self._open.clear()


def _refusal(message: str) -> dict:
    return {"ok": False, "code": "invalid", "message": message}


def serve(memory_bytes: int, page_seconds: float) -> None:
    # Frames go out on a private copy of stdout; fd 1 becomes stderr, so a
    # library that prints cannot corrupt the stream.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    # Ctrl-C at the terminal reaches the whole process group; the hub decides
    # when its workers end (it kills them at close), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    documents = Documents()
    write_frame(replies, {"ready": True, "pid": os.getpid()})
    while (frame := read_frame(requests)) is not None:
        request, _payload = frame
        _cpu_budget(page_seconds)
        try:
            if request["op"] == "count":
                write_frame(replies, documents.count_pages(request["path"]))
            elif request["op"] == "render":
                reply, pixels = documents.render(
                    request["path"], request["index"], request["out"], request["width_px"], request["max_pixels"]
                )
                write_frame(replies, reply, pixels)
            else:
                write_frame(replies, _refusal(f"unknown request {request['op']!r}"))
        except MemoryError:
            # Over the address-space limit in Python code: this process's
            # state is suspect, so end it; the hub reports the overrun.
            os._exit(3)
        except Exception:
            # A bug or a full disk, not the page's fault: say so, keep serving.
            traceback.print_exc()
            write_frame(replies, {"ok": False, "code": "internal", "message": "the renderer failed"})
    documents.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-bytes", type=int, required=True)
    parser.add_argument("--page-seconds", type=float, required=True)
    args = parser.parse_args()
    try:
        serve(args.memory_bytes, args.page_seconds)
    except Exception:
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
