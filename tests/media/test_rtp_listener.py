"""The RtpListener's tables (who an SSRC belongs to), on their own and
through a send transport's packet entry point."""

from __future__ import annotations

from media import rtcp
from media.consumer import Consumer
from media.producer import Producer
from media.rtp_listener import RtpListener
from media.transport import Transport
from tests.media.test_rtp_units import VP8_DELTA, VP8_KEY, rtp

MID_EXT = 4  # the publisher's id for the MID header extension in these tests


def _producer(mid: str = "0", id: str = "p") -> Producer:
    return Producer(
        id=id, participant_id="alice", kind="video", source="camera", mid=mid, mime_type="video/VP8",
        clock_rate=90000, payload_type=96, codec_parameters={}, rtx_payload_type=97, nack=True, ext_remap=bytes(16),
    )


def _with_mid(seq: int, payload: bytes, *, ssrc: int, mid: str, pt: int = 96) -> bytes:
    ext = bytes([(MID_EXT << 4) | (len(mid) - 1)]) + mid.encode()
    return rtp(seq, 3000 * seq, payload, pt=pt, ssrc=ssrc, ext=ext)


def test_producers_by_ssrc_rtx_ssrc_and_mid() -> None:
    listener = RtpListener()
    video, audio = _producer("0", "v"), _producer("1", "a")
    listener.add_producer(video, ssrc=1000, rtx_ssrc=1001)
    listener.add_producer(audio, ssrc=2000, rtx_ssrc=None)
    assert (video.ssrc, video.rtx_ssrc) == (1000, 1001)
    assert listener.producer_for_ssrc(1000) is video and listener.producer_for_ssrc(2000) is audio
    assert listener.producer_for_rtx_ssrc(1001) is video
    assert listener.producer_for_ssrc(1001) is None and listener.producer_for_rtx_ssrc(1000) is None
    assert listener.producer_for_mid("0") is video and listener.producer_for_mid("1") is audio

    listener.remove_producer(video)
    assert listener.producer_for_ssrc(1000) is None and listener.producer_for_rtx_ssrc(1001) is None
    assert listener.producer_for_mid("0") is None
    assert listener.producer_for_ssrc(2000) is audio  # the other producer keeps its entries
    assert listener.stats() == {"ssrcs": 1, "rtx_ssrcs": 0, "mids": 1, "consumer_ssrcs": 0, "unknown_ssrcs": 0}


def test_a_replaced_track_moves_the_ssrcs() -> None:
    listener = RtpListener()
    video = _producer()
    listener.add_producer(video, ssrc=1000, rtx_ssrc=1001)
    listener.set_producer_ssrcs(video, ssrc=3000, rtx_ssrc=3001)
    assert (video.ssrc, video.rtx_ssrc) == (3000, 3001)
    assert listener.producer_for_ssrc(3000) is video and listener.producer_for_rtx_ssrc(3001) is video
    assert listener.producer_for_ssrc(1000) is None and listener.producer_for_rtx_ssrc(1001) is None
    # An old SSRC that another producer has taken meanwhile stays that producer's.
    other = _producer("1", "o")
    listener.add_producer(other, ssrc=3000, rtx_ssrc=None)
    listener.set_producer_ssrcs(video, ssrc=4000, rtx_ssrc=None)
    assert listener.producer_for_ssrc(3000) is other and listener.producer_for_ssrc(4000) is video
    assert listener.producer_for_rtx_ssrc(3001) is None


def test_ssrcs_are_learnt_from_the_mid_extension() -> None:
    """An offer without a=ssrc lines: the first packet's MID binds its SSRC
    (media by payload type 96, RTX by 97); anything else stays unknown."""
    listener = RtpListener()
    video = _producer("v0")
    listener.add_producer(video, ssrc=None, rtx_ssrc=None)
    packet = _with_mid(1, VP8_KEY, ssrc=5000, mid="v0")
    assert listener.learn(5000, packet) is None  # no MID extension id known yet
    listener.set_mid_extension(MID_EXT)
    listener.set_mid_extension(None)  # an offer naming none keeps the known id
    assert listener.learn(5000, packet) is video
    assert video.ssrc == 5000 and listener.producer_for_ssrc(5000) is video
    assert listener.learn(5001, _with_mid(1, b"\x00\x01" + VP8_KEY, ssrc=5001, mid="v0", pt=97)) is None
    assert video.rtx_ssrc == 5001 and listener.producer_for_rtx_ssrc(5001) is video
    # A third SSRC on the same MID (a simulcast layer we do not take) is remembered as unknown.
    assert listener.learn(5002, _with_mid(1, VP8_KEY, ssrc=5002, mid="v0")) is None
    assert listener.producer_for_ssrc(5002) is None and listener.stats()["unknown_ssrcs"] == 1
    # A MID nobody publishes binds nothing, and is tried again later.
    assert listener.learn(6000, _with_mid(1, VP8_KEY, ssrc=6000, mid="zz")) is None
    assert listener.stats()["unknown_ssrcs"] == 1


def test_consumers_by_ssrc_and_a_recycled_transceiver() -> None:
    listener = RtpListener()
    producer = _producer()
    first = Consumer(id="c1", producer=producer, participant_id="bob", mid="0", ssrc=700, rtx_ssrc=701)
    listener.add_consumer(first)
    assert listener.consumer_for_ssrc(700) is first and listener.consumer_for_ssrc(701) is first
    # The transceiver is recycled: a new consumer continues on the same SSRCs,
    # and removing the old one afterwards must not cut the new one off.
    second = Consumer(id="c2", producer=producer, participant_id="bob", mid="0", ssrc=700, rtx_ssrc=701, continue_from=first)
    listener.add_consumer(second)
    listener.remove_consumer(first)
    assert listener.consumer_for_ssrc(700) is second and listener.consumer_for_ssrc(701) is second
    listener.remove_consumer(second)
    assert listener.consumer_for_ssrc(700) is None and listener.consumer_for_ssrc(701) is None


async def test_the_send_transport_delivers_by_its_listener() -> None:
    """Packets entering a send transport reach the producer its table names,
    by SSRC, by learnt MID and by RTX, and stop once it is removed."""
    transport = Transport(role="send", participant_id="alice", ice_servers=[], on_connected=lambda t: None, on_gone=lambda t: None)
    try:
        named, learnt = _producer("0", "named"), _producer("1", "learnt")
        transport.set_mid_extension(MID_EXT)
        transport.add_producer(named, ssrc=1000, rtx_ssrc=None)
        transport.add_producer(learnt, ssrc=None, rtx_ssrc=None)
        transport.rtp_in(rtp(1, 0, VP8_KEY, ssrc=1000), 0)
        transport.rtp_in(_with_mid(1, VP8_KEY, ssrc=2000, mid="1"), 0)
        transport.rtp_in(rtp(2, 3000, VP8_DELTA, ssrc=2000), 33)  # no MID needed once learnt
        assert named.packets == 1 and learnt.packets == 2 and learnt.ssrc == 2000
        transport.rtcp_in(rtcp.sender_report(1000, 0x1234_5678_0000_0000, 90000, 1, 6))
        assert named.sr_rtp == 90000 and learnt.sr_rtp == 0
        transport.remove_producer(named)
        transport.rtp_in(rtp(3, 6000, VP8_DELTA, ssrc=1000), 66)
        assert named.packets == 1 and transport.malformed == 0
    finally:
        await transport.close()
    assert transport.listener_stats() == {"ssrcs": 0, "rtx_ssrcs": 0, "mids": 0, "consumer_ssrcs": 0, "unknown_ssrcs": 0}


def test_no_media_object_reaches_into_another() -> None:
    """The seams stay put: no module of media/ reads or writes another
    object's underscore names (aiortc_hooks.py exists to touch aiortc's),
    and only the transport holds an RtpListener."""
    import ast
    import pathlib

    import media

    reaching: list[str] = []
    listeners: list[str] = []
    for path in sorted(pathlib.Path(media.__file__).parent.glob("*.py")):
        if path.name == "aiortc_hooks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    reaching.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "RtpListener":
                listeners.append(path.name)
    assert reaching == []
    assert listeners == ["transport.py"]
