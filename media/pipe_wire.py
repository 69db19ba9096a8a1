"""What two ends of a pipe exchange, as plain data the signalling layer can
carry (JSON over Redis), and the few packets of the pipe's own: keys,
addresses, piped producers' parameters, and the RTCP APP packets used for
keepalive and goodbye.  No I/O here."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

import pylibsrtp

# The one SRTP profile pipes use (RFC 3711 default, 30-byte master key+salt).
SRTP_PROFILE = "AES_CM_128_HMAC_SHA1_80"
SRTP_KEY_LENGTH = 30
# libsrtp's replay window for the receiving side: a NACK answer may arrive
# well behind the newest packet (the default 128 is ~2 s of video).
SRTP_WINDOW = 1024

# RTCP APP (PT 204) packets of the pipe itself; subtype says which.
APP_NAME = b"PLNP"
APP_KEEPALIVE = 0  # data: SSRCs of piped streams this end's floor mutes
APP_GOODBYE = 1  # this end closes the pipe on purpose: tear down now
_APP_HEADER = struct.Struct("!BBHI4s")


def new_srtp_key() -> str:
    """A fresh master key+salt for one direction of one pipe, base64 (JSON-safe)."""
    return base64.b64encode(os.urandom(SRTP_KEY_LENGTH)).decode("ascii")


def srtp_session(key: str, *, outbound: bool) -> pylibsrtp.Session:
    raw = base64.b64decode(key, validate=True)
    if len(raw) != SRTP_KEY_LENGTH:
        raise ValueError(f"an SRTP key is {SRTP_KEY_LENGTH} bytes, not {len(raw)}")
    policy = pylibsrtp.Policy(
        key=raw,
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND,
        srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    )
    # NACK answers resend a packet with its original sequence number, which
    # libsrtp refuses to protect twice unless told to.
    policy.allow_repeat_tx = True
    policy.window_size = SRTP_WINDOW
    return pylibsrtp.Session(policy)


@dataclass(frozen=True)
class PipeInfo:
    """One end of a pipe as the other end needs it: where to send, and the
    SRTP key this end sends with (None: plain RTP, trusted network)."""

    host: str
    port: int
    srtp_key: str | None = None
    srtp_profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | PipeInfo) -> PipeInfo:
        if isinstance(data, PipeInfo):
            return data
        host, port = data.get("host"), data.get("port")
        if not isinstance(host, str) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"bad pipe address {host!r}:{port!r}")
        key = data.get("srtp_key")
        profile = data.get("srtp_profile")
        if key is not None and (not isinstance(key, str) or profile != SRTP_PROFILE):
            raise ValueError(f"unsupported SRTP parameters (profile {profile!r})")
        return cls(host=host, port=port, srtp_key=key, srtp_profile=profile)


@dataclass(frozen=True)
class PipedProducer:
    """A producer as it crosses a pipe: what the destination router needs
    to make a pipe producer with the same id, and the SSRC/payload type
    its packets carry on the pipe (the source's pipe consumer's)."""

    producer_id: str
    participant_id: str
    kind: str  # "audio" | "video"
    source: str  # "camera" | "screen" | "mic"
    mime_type: str
    clock_rate: int
    payload_type: int
    ssrc: int
    nack: bool
    codec_parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | PipedProducer) -> PipedProducer:
        if isinstance(data, PipedProducer):
            return data
        try:
            made = cls(
                producer_id=str(data["producer_id"]),
                participant_id=str(data["participant_id"]),
                kind=str(data["kind"]),
                source=str(data["source"]),
                mime_type=str(data["mime_type"]),
                clock_rate=int(data["clock_rate"]),
                payload_type=int(data["payload_type"]),
                ssrc=int(data["ssrc"]),
                nack=bool(data["nack"]),
                codec_parameters=dict(data.get("codec_parameters") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad piped producer parameters: {exc}") from None
        if made.kind not in ("audio", "video") or not 0 <= made.payload_type < 128 or not 0 < made.ssrc < 2**32:
            raise ValueError("bad piped producer parameters: kind, payload type or SSRC out of range")
        return made


def app_packet(subtype: int, ssrc: int, data: bytes = b"") -> bytes:
    """An RTCP APP packet named PLNP (RFC 3550 6.7); data is whole words."""
    assert len(data) % 4 == 0
    length_words = (12 + len(data)) // 4 - 1
    return _APP_HEADER.pack(0x80 | subtype, 204, length_words, ssrc, APP_NAME) + data


def parse_app(data: bytes) -> tuple[int, bytes] | None:
    """(subtype, data) of a pipe's own APP packet, else None."""
    if len(data) < 12 or data[1] != 204 or data[8:12] != APP_NAME:
        return None
    length = (struct.unpack_from("!H", data, 2)[0] + 1) * 4
    return data[0] & 0x1F, bytes(data[12:length])


def pack_ssrcs(ssrcs: list[int]) -> bytes:
    return b"".join(struct.pack("!I", s) for s in ssrcs[:64])


def unpack_ssrcs(data: bytes) -> set[int]:
    return {struct.unpack_from("!I", data, i)[0] for i in range(0, len(data) - 3, 4)}
