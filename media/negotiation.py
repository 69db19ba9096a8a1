"""What an applied SDP means for forwarding: the codec a producer publishes,
its SSRCs and header extensions, and what to offer its subscribers.

Pure functions over aiortc's negotiated state; no I/O."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

from . import aiortc_hooks as hooks
from .producer import Producer
from .rtp_parse import NEUTRAL_EXT_ID_ONE_BYTE

if TYPE_CHECKING:
    from aiortc.sdp import MediaDescription

SOURCES = ("camera", "screen", "mic")
DEFAULT_SOURCE = {"video": "camera", "audio": "mic"}
# Header extension ids the SFU offers subscribers (aiortc's defaults); the
# publisher's ids are rewritten to these once per packet.
CANONICAL_EXT_IDS = {
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level": 2,
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time": 3,
}
MID_EXT_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


def is_rtx(codec: RTCRtpCodecParameters) -> bool:
    return codec.mimeType.lower() == "video/rtx"


def primary_codec(codecs: list[RTCRtpCodecParameters]) -> tuple[RTCRtpCodecParameters | None, int | None]:
    """First real codec of a negotiated list and the RTX payload type for it."""
    primary = next((c for c in codecs if not is_rtx(c)), None)
    if primary is None:
        return None, None
    rtx = next((c for c in codecs if is_rtx(c) and c.parameters.get("apt") == primary.payloadType), None)
    return primary, (rtx.payloadType if rtx else None)


def has_nack(codec: RTCRtpCodecParameters) -> bool:
    return any(fb.type == "nack" and not fb.parameter for fb in codec.rtcpFeedback)


def offered_ssrcs(m: MediaDescription) -> tuple[int | None, int | None]:
    """(media, rtx) SSRCs an offer announces for an m-line (FID group first)."""
    for group in m.ssrc_group:
        if group.semantic == "FID" and len(group.items) >= 2:
            return int(group.items[0]), int(group.items[1])
    return (m.ssrc[0].ssrc if m.ssrc else None), None


def extension_remap(t: RTCRtpTransceiver) -> tuple[bytes, int | None]:
    """Publisher extension id -> id subscribers know (index = id, one-byte
    form); everything else, notably the publisher's MID, is neutralised.
    Also returns the publisher's MID extension id (for SSRC learning)."""
    remap = bytearray([NEUTRAL_EXT_ID_ONE_BYTE] * 16)
    remap[0], remap[15] = 0, 15
    mid_ext_id = None
    for ext in hooks.transceiver_header_extensions(t):
        if 0 < ext.id < 15:
            remap[ext.id] = CANONICAL_EXT_IDS.get(ext.uri, NEUTRAL_EXT_ID_ONE_BYTE)
        if ext.uri == MID_EXT_URI:
            mid_ext_id = ext.id
    return bytes(remap), mid_ext_id


def producer_for(t: RTCRtpTransceiver, participant_id: str, source: str) -> tuple[Producer, int | None] | None:
    """A Producer for a negotiated receiving transceiver, with the
    publisher's MID extension id; None if no codec was agreed."""
    primary, rtx_pt = primary_codec(hooks.transceiver_codecs(t))
    if primary is None:
        return None
    remap, mid_ext_id = extension_remap(t)
    producer = Producer(
        id=uuid.uuid4().hex[:16],
        participant_id=participant_id,
        kind=t.kind,
        source=source,
        mid=t.mid or "",
        mime_type=primary.mimeType,
        clock_rate=primary.clockRate,
        payload_type=primary.payloadType,
        codec_parameters=dict(primary.parameters),
        rtx_payload_type=rtx_pt,
        nack=has_nack(primary),
        ext_remap=remap,
    )
    return producer, mid_ext_id


def codec_preferences(producer: Producer) -> list[RTCRtpCodecCapability]:
    """Offer the subscriber exactly the producer's codec (no transcoding),
    plus RTX for video."""
    caps = RTCRtpSender.getCapabilities(producer.kind).codecs
    same_mime = [c for c in caps if c.mimeType.lower() == producer.mime_type.lower()]
    exact = [c for c in same_mime if c.parameters == producer.codec_parameters]
    chosen = (exact or same_mime)[:1]
    if producer.kind == "video":
        chosen += [c for c in caps if c.mimeType.lower() == "video/rtx"][:1]
    return chosen
