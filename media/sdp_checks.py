"""Strict checks of client SDP before aiortc sees it.

aiortc applies much that a WebRTC SFU must refuse: a "publish" offer that
sends nothing (recvonly, inactive), one without a DTLS fingerprint (no
DTLS-SRTP could ever be keyed), payload type 999, or an answer sent as an
offer.  These checks read the SDP text line by line, so garbage of any kind
(binary, control characters, a novel) ends here as an `SdpError` naming what
is wrong, which the signalling edge answers `invalid`.

Pure functions, no I/O, no aiortc.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A browser offers a handful of m-lines (camera, screen, mic, maybe a data
# channel); renegotiation can add a few more.  Thousands cost aiortc a
# transceiver each.
MAX_SECTIONS = 64
MAX_LINES = 4000

MEDIA_KINDS = ("audio", "video", "application")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
SETUPS = ("actpass", "active", "passive", "holdconn")
# Hashes aiortc can check a peer certificate against.
FINGERPRINT_HASHES = ("sha-256", "sha-384", "sha-512")

_LINE = re.compile(r"[a-z]=")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_M_LINE = re.compile(r"m=(\S+) ([0-9]{1,5})(?:/[0-9]{1,5})? (\S+)((?: \S+)+)$")
_FINGERPRINT = re.compile(r"(\S+) ([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){15,63})$")
_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]+$")
_PT_ATTRS = ("rtpmap", "fmtp", "rtcp-fb")


class SdpError(ValueError):
    """The SDP is not acceptable; the message says why, for the client."""


@dataclass
class Section:
    """One m= section: its m-line and its a= attributes, in order."""

    index: int
    kind: str
    port: int
    proto: str
    formats: list[str]
    attrs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"m-line {self.index + 1} ({self.kind})"

    @property
    def rejected(self) -> bool:
        return self.port == 0

    @property
    def is_rtp(self) -> bool:
        return self.kind in ("audio", "video")

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.attrs if n == name]

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.attrs)


@dataclass
class Sdp:
    session: list[tuple[str, str]]
    sections: list[Section]

    def session_values(self, name: str) -> list[str]:
        return [v for n, v in self.session if n == name]

    def values(self, section: Section, name: str) -> list[str]:
        """A media-level attribute, falling back to the session level."""
        return section.values(name) or self.session_values(name)

    def direction(self, section: Section) -> str:
        own = [n for n, _ in section.attrs if n in DIRECTIONS]
        session = [n for n, _ in self.session if n in DIRECTIONS]
        if len(own) > 1 or len(session) > 1:
            raise SdpError(f"{section.label} has more than one direction attribute")
        return (own or session or ["sendrecv"])[0]

    def mid(self, section: Section) -> str | None:
        mids = section.values("mid")
        return mids[0] if mids else None


def parse(sdp: object) -> Sdp:
    """Split SDP text into session attributes and m= sections, refusing
    anything that is not line-structured SDP."""
    if not isinstance(sdp, str):
        raise SdpError("sdp must be a string")
    if _CONTROL.search(sdp):
        raise SdpError("sdp contains control characters")
    lines = re.split(r"\r?\n", sdp.strip("\r\n"))
    if len(lines) > MAX_LINES:
        raise SdpError(f"sdp has more than {MAX_LINES} lines")
    if not lines or lines[0] != "v=0":
        raise SdpError("not an SDP: it must start with the line v=0")
    session: list[tuple[str, str]] = []
    sections: list[Section] = []
    for number, line in enumerate(lines, 1):
        if "\r" in line:
            raise SdpError(f"line {number} contains a carriage return without a line feed")
        if not _LINE.match(line):
            raise SdpError(f"line {number} is not of the form <letter>=<value>")
        kind, value = line[0], line[2:]
        if kind == "m":
            match = _M_LINE.match(line)
            if match is None:
                raise SdpError(f"line {number} is not an m-line of the form m=<media> <port> <proto> <formats>")
            media, port, proto, formats = match.groups()
            if media not in MEDIA_KINDS:
                raise SdpError(f"line {number}: media kind {media!r} is not one of {', '.join(MEDIA_KINDS)}")
            if int(port) > 65535:
                raise SdpError(f"line {number}: port {port} is out of range")
            if len(sections) == MAX_SECTIONS:
                raise SdpError(f"sdp has more than {MAX_SECTIONS} m-lines")
            sections.append(Section(len(sections), media, int(port), proto, formats.split()))
        elif kind == "a":
            name, _, attr_value = value.partition(":")
            (sections[-1].attrs if sections else session).append((name, attr_value))
    return Sdp(session, sections)


# -- checks shared by offers and answers -------------------------------------------


def _check_transport(sdp: Sdp, section: Section, setups: tuple[str, ...], role: str) -> None:
    """DTLS fingerprint, ICE credentials, setup role and RTCP mux of an
    m-section that is in use."""
    fingerprints = sdp.values(section, "fingerprint")
    if not fingerprints:
        raise SdpError(f"{section.label} has no a=fingerprint (at media or session level): DTLS cannot be verified")
    usable = False
    for value in fingerprints:
        match = _FINGERPRINT.match(value)
        if match is None:
            raise SdpError(f"{section.label}: a=fingerprint must be '<hash> <hex:hex:...>'")
        usable = usable or match.group(1).lower() in FINGERPRINT_HASHES
    if not usable:
        raise SdpError(f"{section.label}: no fingerprint uses {', '.join(FINGERPRINT_HASHES)}")
    ufrags, pwds = sdp.values(section, "ice-ufrag"), sdp.values(section, "ice-pwd")
    if not ufrags or not pwds:
        raise SdpError(f"{section.label} has no a=ice-ufrag and a=ice-pwd")
    if not (4 <= len(ufrags[0]) <= 256 and _ICE_CHARS.match(ufrags[0])):
        raise SdpError(f"{section.label}: a=ice-ufrag must be 4-256 letters, digits, + or /")
    if not (22 <= len(pwds[0]) <= 256 and _ICE_CHARS.match(pwds[0])):
        raise SdpError(f"{section.label}: a=ice-pwd must be 22-256 letters, digits, + or /")
    found = sdp.values(section, "setup")
    if not found:
        raise SdpError(f"{section.label} has no a=setup")
    if found[0] not in setups:
        raise SdpError(
            f"{section.label}: a=setup:{found[0]} is not valid in {role} (expected {' or '.join(setups)})"
        )
    if section.is_rtp and not (section.has("rtcp-mux") or any(n == "rtcp-mux" for n, _ in sdp.session)):
        raise SdpError(f"{section.label} has no a=rtcp-mux, which WebRTC requires")


def _is_number(text: str) -> bool:
    # ASCII only: str.isdigit() also accepts "²" and "٣", which int() refuses.
    return text.isascii() and text.isdigit()


def _payload_type(section: Section, text: str, where: str) -> int:
    if not _is_number(text) or len(text) > 3 or not 0 <= int(text) <= 127:
        raise SdpError(f"{section.label}: payload type {text[:12]!r} in {where} is not a number in 0-127")
    pt = int(text)
    if 64 <= pt <= 95:
        # With RTCP multiplexed on the RTP port these collide with RTCP
        # packet types 192-223 (RFC 5761, section 4).
        raise SdpError(f"{section.label}: payload type {pt} in {where} collides with RTCP (use 96-127)")
    return pt


def _check_rtp_section(section: Section) -> None:
    """An RTP m-line: secure profile; formats 0-127, none in RTCP's range,
    every dynamic one (35-63, 96-127) described by an rtpmap; SSRCs 32-bit;
    header-extension ids 1-255."""
    if not section.proto.upper().endswith(("RTP/SAVPF", "RTP/SAVP")):
        raise SdpError(f"{section.label}: protocol {section.proto[:40]!r} is not secure RTP (RTP/SAVPF)")
    formats = {_payload_type(section, f, "the m-line") for f in section.formats}
    mapped: set[int] = set()
    for name, value in section.attrs:
        if name not in _PT_ATTRS:
            continue
        head = value.split(" ", 1)[0]
        if name == "rtcp-fb" and head == "*":
            continue
        pt = _payload_type(section, head, f"a={name}")
        if name == "rtpmap":
            if "/" not in value.partition(" ")[2]:
                raise SdpError(f"{section.label}: a=rtpmap:{pt} must be '<pt> <codec>/<clock rate>'")
            mapped.add(pt)
    unmapped = sorted(pt for pt in formats if pt >= 35 and pt not in mapped)
    if unmapped:
        raise SdpError(f"{section.label}: dynamic payload type {unmapped[0]} has no a=rtpmap")
    for value in section.values("ssrc"):
        _ssrc(section, value.split(" ", 1)[0])
    for value in section.values("ssrc-group"):
        for item in value.split()[1:]:
            _ssrc(section, item)
    for value in section.values("extmap"):
        ext_id = value.split(" ", 1)[0].split("/", 1)[0]
        if not (_is_number(ext_id) and len(ext_id) <= 3 and 1 <= int(ext_id) <= 255):
            raise SdpError(f"{section.label}: a=extmap id {ext_id[:12]!r} is not a number in 1-255")


def _ssrc(section: Section, text: str) -> None:
    if not (_is_number(text) and len(text) <= 10 and int(text) < 2**32):
        raise SdpError(f"{section.label}: SSRC {text[:12]!r} is not a 32-bit unsigned number")


# -- the two things clients send -------------------------------------------------------


def check_publish_offer(text: object, *, renegotiating: bool = False) -> Sdp:
    """A `media:publish` offer: something to send, and a transport a DTLS-SRTP
    session can be built on.  A first offer must be `a=setup:actpass`; a
    renegotiation may keep the passive role its client already has (the SFU
    answers active)."""
    sdp = parse(text)
    setups = ("actpass", "passive") if renegotiating else ("actpass",)
    in_use = [s for s in sdp.sections if not s.rejected]
    for section in in_use:
        _check_transport(sdp, section, setups, "an offer")
        if section.is_rtp:
            _check_rtp_section(section)
    sending = [s for s in in_use if s.is_rtp and sdp.direction(s) in ("sendonly", "sendrecv")]
    if not sending:
        raise SdpError(
            "the offer sends no audio or video: it needs an audio or video m-line that is "
            "sendonly or sendrecv (to stop publishing, use media:unpublish)"
        )
    return sdp


# What an answerer may say to each offered direction (RFC 3264, section 6.1).
_ANSWER_DIRECTIONS = {
    "sendonly": ("recvonly", "inactive"),
    "recvonly": ("sendonly", "inactive"),
    "sendrecv": DIRECTIONS,
    "inactive": ("inactive",),
}
_COUNTER_ROLE = {"active": ("passive",), "passive": ("active",)}


def check_answer(text: object, offer: object | None = None) -> Sdp:
    """A `media:answer`: an answer (not an offer) and, given the pending
    offer, one that answers it m-line for m-line."""
    sdp = parse(text)
    if not sdp.sections:
        raise SdpError("the answer has no m-lines")
    offered = parse(offer) if offer is not None else None
    if offered is not None and len(offered.sections) != len(sdp.sections):
        raise SdpError(
            f"the answer has {len(sdp.sections)} m-lines, the pending offer {len(offered.sections)}"
        )
    for section in sdp.sections:
        theirs = offered.sections[section.index] if offered is not None else None
        if theirs is not None:
            if theirs.kind != section.kind or offered.mid(theirs) != sdp.mid(section):
                raise SdpError(
                    f"{section.label} with mid {sdp.mid(section)!r} does not answer the offer's "
                    f"{theirs.kind} m-line with mid {offered.mid(theirs)!r}"
                )
        if section.rejected:
            continue
        setups: tuple[str, ...] = ("active", "passive")
        if theirs is not None and not theirs.rejected:
            offered_setup = offered.values(theirs, "setup")
            setups = _COUNTER_ROLE.get(offered_setup[0] if offered_setup else "", setups)
        _check_transport(sdp, section, setups, "an answer")
        if not section.is_rtp:
            continue
        _check_rtp_section(section)
        if theirs is None:
            continue
        if theirs.rejected:
            raise SdpError(f"{section.label} accepts an m-line the offer rejected")
        allowed = _ANSWER_DIRECTIONS[offered.direction(theirs)]
        if sdp.direction(section) not in allowed:
            raise SdpError(
                f"{section.label}: {sdp.direction(section)} does not answer {offered.direction(theirs)} "
                f"(expected {' or '.join(allowed)})"
            )
        extra = [f for f in section.formats if f not in theirs.formats]
        if extra:
            raise SdpError(f"{section.label}: payload type {extra[0]} was not in the offer")
    return sdp
