"""Byte-level checks of parsing and per-consumer rewriting (no network)."""

from __future__ import annotations

import struct

from media.consumer import Consumer
from media.producer import Producer
from media.router import Router
from media.rtp_parse import (
    HEADER,
    find_extension,
    h264_is_keyframe_start,
    header_length,
    rewrite_extensions,
    unwrap_rtx,
    vp8_is_keyframe_start,
)
from media.speaker import ActiveSpeakerDetector


def rtp(seq: int, ts: int, payload: bytes, pt: int = 96, ssrc: int = 1234, marker: bool = False, ext: bytes = b"") -> bytes:
    b0 = 0x80 | (0x10 if ext else 0)
    header = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    if ext:
        padded = ext + b"\x00" * (-len(ext) % 4)
        header += struct.pack("!HH", 0xBEDE, len(padded) // 4) + padded
    return header + payload


VP8_KEY = bytes([0x90, 0x80, 0x05]) + bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A])  # X,S; I; picid; P=0
VP8_DELTA = bytes([0x90, 0x80, 0x06]) + bytes([0x11, 0x02, 0x00])  # P=1
VP8_CONT = bytes([0x80, 0x80, 0x05]) + bytes([0x00] * 4)  # S=0


def test_vp8_keyframe_detection() -> None:
    assert vp8_is_keyframe_start(rtp(1, 0, VP8_KEY), 12)
    assert not vp8_is_keyframe_start(rtp(1, 0, VP8_DELTA), 12)
    assert not vp8_is_keyframe_start(rtp(1, 0, VP8_CONT), 12)
    assert not vp8_is_keyframe_start(rtp(1, 0, b""), 12)


def test_h264_keyframe_detection() -> None:
    sps, pps, idr, slice_ = b"\x67\x42\x00", b"\x68\xce", b"\x65\x88\x84", b"\x41\x9a"
    stap = b"\x18" + struct.pack("!H", len(sps)) + sps + struct.pack("!H", len(pps)) + pps
    assert h264_is_keyframe_start(rtp(1, 0, idr), 12)
    assert h264_is_keyframe_start(rtp(1, 0, sps), 12)
    assert h264_is_keyframe_start(rtp(1, 0, stap), 12)
    assert h264_is_keyframe_start(rtp(1, 0, b"\x7c\x85" + b"\x00" * 10), 12)  # FU-A start, IDR
    assert not h264_is_keyframe_start(rtp(1, 0, b"\x7c\x05" + b"\x00" * 10), 12)  # FU-A middle
    assert not h264_is_keyframe_start(rtp(1, 0, b"\x5c\x81" + b"\x00" * 10), 12)  # FU-A start, non-IDR
    assert not h264_is_keyframe_start(rtp(1, 0, slice_), 12)


def test_extensions_remap_and_audio_level() -> None:
    # publisher ids: 4 = mid ("0"), 1 = audio level (V=1, level 30)
    ext = bytes([0x40, ord("0"), 0x10, 0x80 | 30])
    data = rtp(5, 0, b"opus", ext=ext)
    assert find_extension(data, 4) == b"0"
    remap = bytearray([14] * 16)
    remap[0], remap[15], remap[1] = 0, 15, 2
    buf = bytearray(data)
    assert rewrite_extensions(buf, bytes(remap)) == 0x80 | 30
    assert find_extension(buf, 14) == b"0" and find_extension(buf, 4) is None
    assert find_extension(buf, 2) == bytes([0x80 | 30])
    assert header_length(buf) == 12 + 4 + 4


def test_rtx_unwrap() -> None:
    original = rtp(100, 9000, b"payload", pt=96, ssrc=1)
    rtx = rtp(7, 9000, struct.pack("!H", 100) + b"payload", pt=97, ssrc=2)
    assert bytes(unwrap_rtx(rtx, 12, 96, 1)) == original
    assert unwrap_rtx(rtp(8, 0, b"", pt=97, ssrc=2), 12, 96, 1) is None


def _video_producer() -> Producer:
    p = Producer(
        id="p", participant_id="alice", kind="video", source="camera", mid="0", mime_type="video/VP8",
        clock_rate=90000, payload_type=96, codec_parameters={}, rtx_payload_type=97, nack=True,
        ext_remap=bytes([0] + [14] * 14 + [15]),
    )
    p.ssrc = 1234
    return p


def _consumer(p: Producer, sent: list[bytes], router: Router | None = None) -> Consumer:
    c = Consumer(id="c", producer=p, participant_id="bob", mid="1", ssrc=555, rtx_ssrc=556)
    (router or Router("m")).add_consumer(c)  # the router links a consumer to its producer
    c.configure(pt=100, rtx_pt=101, nack=True)
    c.set_sender(lambda data: sent.append(bytes(data)), lambda data: None, 1)
    return c


def test_consumer_waits_for_keyframe_then_rewrites() -> None:
    p = _video_producer()
    sent: list[bytes] = []
    c = _consumer(p, sent)
    assert c.waiting_keyframe and p.waiting_keyframe == 1
    p.receive(rtp(1000, 90000, VP8_DELTA), 0)
    assert sent == []  # held: no keyframe yet
    p.receive(rtp(1001, 93000, VP8_KEY), 33)
    p.receive(rtp(1002, 93000, VP8_CONT, marker=True), 34)
    assert not c.waiting_keyframe and p.waiting_keyframe == 0
    headers = [HEADER.unpack_from(x) for x in sent]
    assert [h[1] & 0x7F for h in headers] == [100, 100] and headers[1][1] & 0x80
    assert [h[4] for h in headers] == [555, 555]
    assert (headers[1][2] - headers[0][2]) & 0xFFFF == 1
    assert headers[0][3] == headers[1][3]
    assert sent[0][12:] == VP8_KEY


def test_pause_resume_keeps_one_stream_and_nack_uses_rtx() -> None:
    p = _video_producer()
    sent: list[bytes] = []
    c = _consumer(p, sent)
    p.receive(rtp(10, 1000, VP8_KEY), 0)
    p.receive(rtp(11, 4000, VP8_DELTA), 33)
    c.pause()
    p.receive(rtp(12, 7000, VP8_DELTA), 66)
    c.resume()
    p.receive(rtp(13, 10000, VP8_DELTA), 100)  # held until keyframe
    p.receive(rtp(14, 13000, VP8_KEY), 2000)
    seqs = [HEADER.unpack_from(x)[2] for x in sent]
    tss = [HEADER.unpack_from(x)[3] for x in sent]
    assert len(sent) == 3
    assert [(s - seqs[0]) & 0xFFFF for s in seqs] == [0, 1, 2]  # no gap across the pause
    assert (tss[2] - tss[1]) & 0xFFFFFFFF >= 90000 * 1.9  # timestamp follows wall time
    # NACK for the second packet: answered by RTX with the original seq inside.
    c.on_nack([seqs[1]])
    rtx = sent[-1]
    b0, b1, rseq, rts, rssrc = HEADER.unpack_from(rtx)
    assert rssrc == 556 and b1 & 0x7F == 101 and rts == tss[1]
    assert struct.unpack_from("!H", rtx, 12)[0] == seqs[1]
    assert rtx[14:] == VP8_DELTA
    assert c.retransmissions == 1
    c.on_nack([(seqs[0] - 5) & 0xFFFF])  # before this segment: ignored
    assert c.retransmissions == 1


def test_uplink_gap_is_nacked() -> None:
    p = _video_producer()
    out: list[bytes] = []
    p.rtcp_out = out.append
    p.receive(rtp(1, 0, VP8_KEY), 0)
    p.receive(rtp(4, 0, VP8_DELTA), 1)
    assert p.nacks_sent == 1 and len(out) == 1
    assert out[0][1] == 205  # RTPFB
    p.receive(rtp(2, 0, VP8_DELTA), 2)  # repair arrives
    p.retry_nacks(60)
    assert p.nacks_sent == 2  # only 3 asked again
    info = p.receiver_info()
    assert info is not None and info.highest_sequence == 4 and info.packets_lost == 1


def test_speaker_detector_hysteresis() -> None:
    d = ActiveSpeakerDetector()
    for _ in range(5):
        d.update({"a": 20, "b": 110})
    assert d.current == "a"
    # One loud blip from b does not steal the floor.
    d.update({"a": 20, "b": 10})
    d.update({"a": 20, "b": 110})
    assert d.current == "a"
    changes = 0
    previous = d.current
    for _ in range(20):
        d.update({"a": 110, "b": 20})
        if d.current != previous:
            changes += 1
            previous = d.current
    assert d.current == "b" and changes == 1
    for _ in range(40):
        d.update({})
    assert d.current is None
    for _ in range(3):
        d.update({"a": 20})
    assert d.current == "a"
    d.forget("a")  # left the meeting
    assert d.current is None and d.update({}) is None


def test_consumer_sender_report_maps_publisher_clock() -> None:
    import time

    from aiortc.rtp import RtcpPacket

    p = _video_producer()
    sent: list[bytes] = []
    c = _consumer(p, sent)
    p.receive(rtp(10, 1000, VP8_KEY), 0)
    assert c.sender_report(time.monotonic()) is None  # no SR from the publisher yet
    ntp = (3_900_000_000 << 32) | (1 << 31)  # some wall time, .5 s
    p.on_sender_report(ntp, 5000)
    now = p.sr_mono + 0.5
    (sr,) = RtcpPacket.parse(c.sender_report(now))
    assert sr.ssrc == 555
    assert sr.sender_info.packet_count == 1 and sr.sender_info.octet_count == len(VP8_KEY)
    # Same instant on the publisher's NTP timeline, in this consumer's RTP clock.
    assert sr.sender_info.ntp_timestamp == ntp + (1 << 31)
    assert sr.sender_info.rtp_timestamp == (5000 + 45000 + c.ts_off) & 0xFFFFFFFF


async def test_subscriber_rtcp_is_relayed_or_answered() -> None:
    """PLI/FIR go to the publisher (throttled), NACKs are answered from the
    cache, REMB is recorded: the receive transport's RTCP dispatch."""
    from media import rtcp
    from media.transport import Transport

    p = _video_producer()
    upstream: list[bytes] = []
    p.rtcp_out = upstream.append
    sent: list[bytes] = []
    c = _consumer(p, sent)
    p.receive(rtp(10, 1000, VP8_KEY), 0)
    p.receive(rtp(11, 4000, VP8_DELTA), 33)
    transport = Transport(role="recv", participant_id="bob", ice_servers=[], on_connected=lambda t: None, on_gone=lambda t: None)
    try:
        transport.add_consumer(c)
        p._last_pli = -1e9
        before = p.plis_sent
        transport.rtcp_in(rtcp.pli(1, c.ssrc))
        assert p.plis_sent == before + 1 and c.plis_received == 1
        transport.rtcp_in(rtcp.pli(1, c.ssrc))  # within a second: throttled
        assert p.plis_sent == before + 1
        fir = rtcp.RtcpPsfbPacket(fmt=rtcp.RTCP_PSFB_FIR, ssrc=1, media_ssrc=0, fci=c.ssrc.to_bytes(4, "big") + b"\x01\x00\x00\x00")
        transport.rtcp_in(bytes(fir))
        assert c.plis_received == 3  # every request counted, relayed at most 1/s
        first_out = HEADER.unpack_from(sent[0])[2]
        transport.rtcp_in(rtcp.nack(1, c.ssrc, [first_out]))
        assert c.retransmissions == 1 and HEADER.unpack_from(sent[-1])[4] == c.rtx_ssrc
        transport.rtcp_in(rtcp.remb(1, 800_000, [c.ssrc]))
        assert c.remb_bps == 800_000
        transport.rtcp_in(b"\x80\xc9\x00\x07garbage")  # malformed: ignored, never raised
    finally:
        await transport.close()


def test_switching_source_continues_the_stream() -> None:
    """Router.switch_consumer: the subscriber keeps one SSRC and sequence
    space; the new source starts at its next keyframe."""
    router = Router("m")
    a, b = _video_producer(), _video_producer()
    b.id, b.participant_id, b.ssrc = "p2", "carol", 999
    sent: list[bytes] = []
    c = _consumer(a, sent, router)
    a.receive(rtp(10, 1000, VP8_KEY), 0)
    a.receive(rtp(11, 4000, VP8_DELTA), 33)
    router.switch_consumer(c, b)
    assert c.producer is b and c in b.consumers and c not in a.consumers
    a.receive(rtp(12, 7000, VP8_DELTA), 66)  # old source: no longer forwarded
    b.receive(rtp(500, 123, VP8_DELTA), 70)  # new source mid-GOP: held
    b.receive(rtp(501, 3123, VP8_KEY), 100)
    headers = [HEADER.unpack_from(x) for x in sent]
    assert len(headers) == 3
    assert [h[4] for h in headers] == [555, 555, 555]
    assert [(h[2] - headers[0][2]) & 0xFFFF for h in headers] == [0, 1, 2]
    assert 0 < (headers[2][3] - headers[1][3]) & 0xFFFFFFFF < 90000


def test_truncated_header_extension_is_ignored_not_raised() -> None:
    from media.rtp_parse import rewrite_extensions

    remap = bytes(range(16))
    # One-byte extension block claiming 2 words, but the packet ends after 1 byte of it.
    packet = bytearray([0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 2, 0x20])
    assert rewrite_extensions(packet, remap) == -1
    # Header claims an extension but the packet stops inside the fixed header.
    assert rewrite_extensions(bytearray([0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE]), remap) == -1


def test_a_late_second_copy_is_forwarded_once_and_nacks_are_bounded() -> None:
    p = _video_producer()
    sent: list[bytes] = []
    c = _consumer(p, sent)
    p.receive(rtp(10, 1000, VP8_KEY), 0)
    p.receive(rtp(12, 1000, VP8_CONT), 1)  # 11 lost on the uplink
    p.receive(rtp(11, 1000, VP8_CONT), 40)  # the repair
    p.receive(rtp(11, 1000, VP8_CONT), 60)  # the same repair again (RTX answering a retry)
    seqs = [HEADER.unpack_from(x)[2] for x in sent]
    assert len(seqs) == 3 and len(set(seqs)) == 3

    for n in range(13, 300):
        p.receive(rtp(n, 1000 + n, VP8_CONT), n)
    sent.clear()
    c.on_nack([(c.last_seq - i) & 0xFFFF for i in range(200)])
    assert len(sent) == 64  # the rest wait for the subscriber's next NACK
