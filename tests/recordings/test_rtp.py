"""FrameAssembler: RTP packets back into whole frames (recordings/rtp.py)."""
from __future__ import annotations

import struct

from recordings.rtp import REORDER_WAIT_S, FrameAssembler


def rtp(seq: int, ts: int, payload: bytes, *, marker: bool = False, pt: int = 96) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, 1234) + payload


def vp8(keyframe: bool, start: bool, body: bytes = b"x" * 20) -> bytes:
    """A VP8 payload descriptor (S bit, partition 0) and, on a frame's first
    packet, the payload header whose low bit is 0 for a keyframe."""
    descriptor = bytes([0x10 if start else 0x00])
    if not start:
        return descriptor + body
    header = bytes([0x00 if keyframe else 0x01, 0, 0])
    return descriptor + header + (b"\x9d\x01\x2a" if keyframe else b"") + body


def video_frame(seq: int, ts: int, keyframe: bool, packets: int = 3) -> list[bytes]:
    return [
        rtp(seq + i, ts, vp8(keyframe, i == 0), marker=i == packets - 1)
        for i in range(packets)
    ]


def test_packets_out_of_order_make_whole_frames_in_order():
    asm = FrameAssembler("video", "vp8")
    packets = video_frame(100, 9000, True) + video_frame(103, 12000, False)
    order = [1, 0, 2, 4, 3, 5]
    frames = []
    for i in order:
        frames += asm.push(packets[i], now=0.0)
    assert [(f.timestamp, f.keyframe) for f in frames] == [(9000, True), (12000, False)]
    assert frames[0].data.startswith(b"\x00\x00\x00\x9d\x01\x2a")  # descriptor stripped
    assert asm.gaps == 0


def test_video_waits_for_a_keyframe_at_the_start_and_after_a_lost_packet():
    asm = FrameAssembler("video", "vp8")
    assert asm.push(video_frame(1, 3000, False)[0], now=0.0) == []
    out = []
    for p in video_frame(1, 3000, False)[1:] + video_frame(4, 6000, True):
        out += asm.push(p, now=0.0)
    assert [f.timestamp for f in out] == [6000]  # the delta frame before it is dropped
    # Frame at 9000 loses its middle packet for good; frame 12000 is a delta frame.
    lost = video_frame(7, 9000, False)
    out = asm.push(lost[0], now=1.0) + asm.push(lost[2], now=1.0)
    for p in video_frame(10, 12000, False):
        out += asm.push(p, now=1.0)
    assert out == []  # still waiting for the hole to be repaired
    for p in video_frame(13, 15000, True):
        out += asm.push(p, now=1.0 + REORDER_WAIT_S + 0.1)
    # The broken frame and the delta frame after it are dropped; the next keyframe plays.
    assert [(f.timestamp, f.keyframe) for f in out] == [(15000, True)]
    assert asm.gaps == 1 and asm.frames_dropped >= 2


def test_a_repair_within_the_wait_loses_nothing():
    asm = FrameAssembler("video", "vp8")
    first = video_frame(1, 3000, True)
    second = video_frame(4, 6000, False)
    out = []
    for p in first + [second[0], second[2]]:
        out += asm.push(p, now=0.0)
    assert [f.timestamp for f in out] == [3000]
    out = asm.push(second[1], now=0.2)  # the retransmission
    assert [f.timestamp for f in out] == [6000] and asm.gaps == 0


def test_sequence_and_timestamp_wrap_around():
    asm = FrameAssembler("audio", "opus")
    seqs = [65534, 65535, 0, 1]
    stamps = [0xFFFFFC40 - 960, 0xFFFFFC40, 0xFFFFFC40 + 960, 0xFFFFFC40 + 1920]
    out = []
    for s, ts in zip(seqs, stamps):
        out += asm.push(rtp(s, ts, b"opus", pt=111), now=0.0)
    assert [f.timestamp for f in out] == [0xFFFFFC40 - 960, 0xFFFFFC40, 0xFFFFFC40 + 960, 0xFFFFFC40 + 1920]
    assert all(f.keyframe for f in out)


def test_duplicates_and_garbage_are_ignored():
    asm = FrameAssembler("audio", "opus")
    out = asm.push(rtp(5, 960, b"a", pt=111), now=0.0)
    out += asm.push(rtp(5, 960, b"a", pt=111), now=0.0)
    out += asm.push(b"\x80\x00", now=0.0)  # shorter than a header
    out += asm.push(rtp(6, 1920, b"b", pt=111), now=0.0)
    assert [f.data for f in out] == [b"a", b"b"]
