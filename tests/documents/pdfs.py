"""Real PDF files for tests and the benchmark, written by hand (no PDF library).

Each page shows a big page number and a grey band, so renders differ per page
and have both paper and ink.
"""
from __future__ import annotations

import os
import zlib


def _assemble(objects: list[bytes], trailer_extra: bytes = b"", padding: int = 0) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    if padding:
        out += b"%" + b"x" * padding + b"\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


def make_pdf(
    pages: int = 3, *, label: str = "Page", padding_bytes: int = 0, body_lines: int = 0, colour: bool = False
) -> bytes:
    """A valid A4 PDF with `pages` pages; `padding_bytes` of comment make it big;
    `body_lines` lines of running text per page make it look like a real paper;
    `colour` paints the band red."""
    font = 3
    first_page = 4
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(pages):
        content = (
            f"{'0.85 0.1 0.1 rg' if colour else '0.8 g'} 50 700 495 40 re f 0 g BT /F1 72 Tf 80 420 Td ({label} {i + 1}) Tj ET "
            f"BT /F1 14 Tf 80 380 Td (Plenary test paper, page {i + 1} of {pages}) Tj ET"
        ).encode()
        if body_lines:
            text = " ".join(
                f"BT /F1 7 Tf 60 {350 - 7 * n} Td (Line {n + 1}: the committee reviewed the budget, "
                f"the audit findings and the rectification report item by item.) Tj ET"
                for n in range(body_lines)
            )
            content += b" " + text.encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {first_page + 2 * i + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    # Padding is a comment after the header: still a valid PDF, just large.
    return _assemble(objects, padding=padding_bytes)


def make_encrypted_pdf() -> bytes:
    """A PDF under the standard security handler whose user password is not empty.

    The /U entry matches no password we know, so a reader must ask for one:
    exactly what a password-protected upload looks like to pdfium.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <"
        + os.urandom(32).hex().encode()
        + b"> /U <"
        + os.urandom(32).hex().encode()
        + b"> >>",
    ]
    file_id = os.urandom(16).hex().encode()
    return _assemble(objects, b"/Encrypt 4 0 R /ID [<" + file_id + b"> <" + file_id + b">] ")


def _one_page(page_extra: bytes, extra_objects: list[bytes]) -> bytes:
    """A one-page A4 PDF; object 4 onwards are `extra_objects` (the first is the page's content)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R " + page_extra + b">>",
        *extra_objects,
    ]
    return _assemble(objects)


def make_inflating_pdf(inflated_mb: int = 100) -> bytes:
    """A valid one-page PDF of ~250 KB whose content stream inflates to `inflated_mb` MB.

    The content is one diagonal line drawn over and over: FlateDecode packs
    it ~400:1, and a renderer must hold millions of paths to draw it (pdfium
    without limits: gigabytes, for minutes).
    """
    op = b"0 0 m 595 842 l S\n"
    content = zlib.compress(op * (inflated_mb * 1024 * 1024 // len(op)), 9)
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream"
    return _one_page(b"", [stream])


def make_slow_pdf(levels: int = 7, fan: int = 10) -> bytes:
    """A 2 KB one-page PDF that takes very long to draw but little memory.

    A form XObject that draws the next one `fan` times, `levels` deep: the
    last one's line is stroked fan**(levels-1) times (levels 6: ~40 s of
    pdfium here; 7: ~7 min).
    """
    first_form = 5
    content = b"/X Do"
    objects = [b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    for level in range(levels):
        if level < levels - 1:
            body = b" ".join([b"/X Do"] * fan)
            resources = b"/Resources << /XObject << /X %d 0 R >> >> " % (first_form + level + 1)
        else:
            body, resources = b"0.5 w 0 0 m 595 842 l S", b""
        objects.append(
            b"<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] %s/Length %d >>\nstream\n" % (resources, len(body))
            + body
            + b"\nendstream"
        )
    return _one_page(b"/Resources << /XObject << /X %d 0 R >> >> " % first_form, objects)
