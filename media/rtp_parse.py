"""Byte-level RTP helpers for the forwarding hot path.

Everything works on the raw packet (bytes/bytearray) without building
aiortc RtpPacket objects: parse/serialize cost ~5 µs per packet, more than
SRTP protect itself.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!BBHII")  # v/p/x/cc, m/pt, seq, ts, ssrc
SEQ_TS_SSRC = struct.Struct("!HII")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")

# Extension id used to neutralise elements a subscriber must not interpret
# (e.g. the publisher's MID, which names an m-line of a different SDP).
# The SFU offers ids 1..3 only, so 14 is unknown to every subscriber.
NEUTRAL_EXT_ID_ONE_BYTE = 14
NEUTRAL_EXT_ID_TWO_BYTE = 255


def header_length(data: bytes | bytearray) -> int:
    """Length of the fixed header + CSRCs + extension block (0 if invalid)."""
    n = len(data)
    if n < 12:
        return 0
    length = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if length + 4 > n:
            return 0
        length += 4 + 4 * ((data[length + 2] << 8) | data[length + 3])
    return length if length <= n else 0


def payload_length(data: bytes | bytearray, hdr_len: int) -> int:
    """Payload octets (header and padding excluded), as SR octet counts want."""
    n = len(data) - hdr_len
    if data[0] & 0x20 and n > 0:
        n -= data[-1]
    return n if n > 0 else 0


def rewrite_extensions(buf: bytearray, remap: bytes) -> int:
    """Rewrite header-extension ids in place via `remap` (index: publisher id,
    value: id the subscribers know, NEUTRAL for "ignore").  Returns the audio
    level byte (RFC 6464: V bit + level) if the element mapped to id 2 is
    present, else -1.  Ids never change length, so nothing moves."""
    if not buf[0] & 0x10:
        return -1
    start = 12 + 4 * (buf[0] & 0x0F)
    if start + 4 > len(buf):
        return -1
    profile = (buf[start] << 8) | buf[start + 1]
    # A truncated packet may claim more extension words than it carries.
    end = min(start + 4 + 4 * ((buf[start + 2] << 8) | buf[start + 3]), len(buf))
    pos = start + 4
    level = -1
    if profile == 0xBEDE:
        while pos < end:
            b = buf[pos]
            ext_id = b >> 4
            if ext_id == 0:  # padding byte
                pos += 1
                continue
            if ext_id == 15:
                break
            size = (b & 0x0F) + 1
            new_id = remap[ext_id]
            if new_id != ext_id:
                buf[pos] = (new_id << 4) | (b & 0x0F)
            if new_id == 2 and pos + 1 < end:
                level = buf[pos + 1]
            pos += 1 + size
    elif (profile & 0xFFF0) == 0x1000:
        while pos + 1 < end:
            ext_id = buf[pos]
            if ext_id == 0:
                pos += 1
                continue
            size = buf[pos + 1]
            new_id = remap[ext_id] if ext_id < 16 else NEUTRAL_EXT_ID_TWO_BYTE
            if new_id == NEUTRAL_EXT_ID_ONE_BYTE:
                new_id = NEUTRAL_EXT_ID_TWO_BYTE
            buf[pos] = new_id
            if new_id == 2 and size >= 1 and pos + 2 < end:
                level = buf[pos + 2]
            pos += 2 + size
    return level


def find_extension(data: bytes | bytearray, wanted_id: int) -> bytes | None:
    """Value of one header extension element (slow path: MID learning)."""
    if not data[0] & 0x10:
        return None
    start = 12 + 4 * (data[0] & 0x0F)
    if start + 4 > len(data):
        return None
    profile = (data[start] << 8) | data[start + 1]
    end = min(len(data), start + 4 + 4 * ((data[start + 2] << 8) | data[start + 3]))
    pos = start + 4
    if profile == 0xBEDE:
        while pos < end:
            b = data[pos]
            ext_id = b >> 4
            if ext_id == 0:
                pos += 1
                continue
            if ext_id == 15:
                break
            size = (b & 0x0F) + 1
            if ext_id == wanted_id:
                return bytes(data[pos + 1 : pos + 1 + size])
            pos += 1 + size
    elif (profile & 0xFFF0) == 0x1000:
        while pos + 1 < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            size = data[pos + 1]
            if ext_id == wanted_id:
                return bytes(data[pos + 2 : pos + 2 + size])
            pos += 2 + size
    return None


def vp8_is_keyframe_start(data: bytes | bytearray, hdr_len: int) -> bool:
    """First packet of a VP8 keyframe: descriptor S=1, PID=0, then the VP8
    payload header's P bit (inverse key frame flag) is 0 (RFC 7741)."""
    pos = hdr_len
    n = len(data)
    if pos >= n:
        return False
    b = data[pos]
    if not (b & 0x10) or (b & 0x07):  # S bit, partition index
        return False
    pos += 1
    if b & 0x80:  # X: extension byte present
        if pos >= n:
            return False
        x = data[pos]
        pos += 1
        if x & 0x80:  # I: picture id
            if pos >= n:
                return False
            pos += 2 if data[pos] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            pos += 1
        if x & 0x30:  # T or K: TID/KEYIDX byte
            pos += 1
    if pos >= n:
        return False
    return not (data[pos] & 0x01)


def h264_is_keyframe_start(data: bytes | bytearray, hdr_len: int) -> bool:
    """A packet that starts an IDR access unit: SPS or IDR NAL, either alone,
    inside a STAP-A, or as the first fragment of an FU-A (RFC 6184)."""
    n = len(data)
    if hdr_len >= n:
        return False
    nal_type = data[hdr_len] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A: 16-bit size + NAL, repeated
        pos = hdr_len + 1
        while pos + 2 < n:
            size = (data[pos] << 8) | data[pos + 1]
            if size == 0:
                break
            if data[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal_type == 28:  # FU-A: start bit + original type in the FU header
        if hdr_len + 1 >= n:
            return False
        fu = data[hdr_len + 1]
        return bool(fu & 0x80) and (fu & 0x1F) in (5, 7)
    return False


def unwrap_rtx(data: bytes | bytearray, hdr_len: int, pt: int, ssrc: int) -> bytearray | None:
    """Turn an RTX packet (RFC 4588) back into the original packet: its
    first two payload bytes are the original sequence number."""
    if len(data) - hdr_len < 2 or (data[0] & 0x20 and len(data) - hdr_len - data[-1] < 2):
        return None  # padding-only probe
    osn = (data[hdr_len] << 8) | data[hdr_len + 1]
    out = bytearray(data[:hdr_len])
    out += data[hdr_len + 2 :]
    out[1] = (out[1] & 0x80) | pt
    U16.pack_into(out, 2, osn)
    U32.pack_into(out, 8, ssrc)
    return out

