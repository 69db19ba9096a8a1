"""media/sdp_checks.py: what a publish offer and a subscriber's answer must
be (issue 10, item 8).  Real SDP from aiortc peers made here and from
Chromium 156 (captured with its fake camera and mic), then each defect the
hub must refuse, and garbage that must end as SdpError, never anything else."""
from __future__ import annotations

import random
import re

import pytest
from aiortc import RTCPeerConnection

from media.sdp_checks import MAX_SECTIONS, SdpError, check_answer, check_publish_offer, parse
from tests.media.media_testkit import MovingVideo, Tone, config


async def _aiortc_offer(direction: str = "sendonly") -> str:
    pc = RTCPeerConnection(config())
    try:
        pc.addTransceiver(MovingVideo(), direction=direction)
        pc.addTransceiver(Tone(), direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


async def _offer_and_answer() -> tuple[str, str]:
    """An SFU-like sendonly offer and a real aiortc receiver's answer to it."""
    tx, rx = RTCPeerConnection(config()), RTCPeerConnection(config())
    try:
        tx.addTransceiver(MovingVideo(), direction="sendonly")
        tx.addTransceiver(Tone(), direction="sendonly")
        await tx.setLocalDescription(await tx.createOffer())
        await rx.setRemoteDescription(tx.localDescription)
        await rx.setLocalDescription(await rx.createAnswer())
        return tx.localDescription.sdp, rx.localDescription.sdp
    finally:
        await tx.close()
        await rx.close()


async def _renegotiation_offer() -> str:
    """An aiortc publisher's second offer, after a first exchange."""
    pub, sfu = RTCPeerConnection(config()), RTCPeerConnection(config())
    try:
        pub.addTransceiver(MovingVideo(), direction="sendonly")
        await pub.setLocalDescription(await pub.createOffer())
        await sfu.setRemoteDescription(pub.localDescription)
        await sfu.setLocalDescription(await sfu.createAnswer())
        await pub.setRemoteDescription(sfu.localDescription)
        pub.addTransceiver(Tone(), direction="sendonly")
        await pub.setLocalDescription(await pub.createOffer())
        return pub.localDescription.sdp
    finally:
        await pub.close()
        await sfu.close()


def _drop(sdp: str, pattern: str) -> str:
    """sdp without the lines matching pattern (at the start of a line)."""
    out = "".join(line for line in sdp.splitlines(keepends=True) if not re.match(pattern, line))
    assert out != sdp, f"nothing matched {pattern!r}"
    return out


def _sub(sdp: str, pattern: str, replacement: str) -> str:
    out = re.sub(pattern, replacement, sdp, flags=re.MULTILINE)
    assert out != sdp, f"nothing matched {pattern!r}"
    return out


def _refused(check, *args, match: str, **kwargs) -> str:
    with pytest.raises(SdpError, match=match) as err:
        check(*args, **kwargs)
    return str(err.value)


# -- real SDP passes ------------------------------------------------------------------


async def test_real_offers_and_answers_pass():
    check_publish_offer(await _aiortc_offer())
    check_publish_offer(await _aiortc_offer("sendrecv"))
    check_publish_offer(CHROMIUM_OFFER)  # dynamic payload types 35-63 too (63 red, 39-46 AV1/H.265)
    again = await _renegotiation_offer()
    check_publish_offer(again, renegotiating=True)
    # RFC 8842 lets a later offer keep the role its client already has; the
    # SFU answered active, so that is passive.
    check_publish_offer(_sub(again, r"^a=setup:actpass", "a=setup:passive"), renegotiating=True)
    offer, answer = await _offer_and_answer()
    check_answer(answer, offer)
    check_answer(CHROMIUM_ANSWER)
    # A missing final CRLF (the edge strips whitespace) is fine.
    check_publish_offer(CHROMIUM_OFFER.rstrip())


async def test_session_level_fingerprint_and_setup_are_enough():
    offer = await _aiortc_offer()
    fingerprint = re.search(r"^a=fingerprint:[^\r\n]*", offer, re.MULTILINE).group(0)
    moved = _drop(offer, r"a=(fingerprint|setup):")
    moved = moved.replace("t=0 0\r\n", f"t=0 0\r\n{fingerprint}\r\na=setup:actpass\r\n", 1)
    check_publish_offer(moved)


# -- publish offers the hub refuses ------------------------------------------------------


async def test_an_offer_that_sends_nothing_is_refused():
    for direction in ("recvonly", "inactive"):
        message = _refused(check_publish_offer, await _aiortc_offer(direction), match="sends no audio or video")
        assert "media:unpublish" in message
    rejected = _sub(await _aiortc_offer(), r"^m=(audio|video) \d+ ", r"m=\1 0 ")
    _refused(check_publish_offer, rejected, match="sends no audio or video")
    # A data channel alone publishes nothing either.
    pc = RTCPeerConnection(config())
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    data_only = pc.localDescription.sdp
    await pc.close()
    _refused(check_publish_offer, data_only, match="sends no audio or video")


async def test_an_offer_without_fingerprint_is_refused():
    offer = await _aiortc_offer()
    _refused(check_publish_offer, _drop(offer, r"a=fingerprint:"), match="no a=fingerprint")
    _refused(check_publish_offer, _sub(offer, r"^a=fingerprint:\S+ .*$", "a=fingerprint:sha-256 zz"),
             match="fingerprint must be")
    _refused(check_publish_offer, _sub(offer, r"^a=fingerprint:\S+ ", "a=fingerprint:md5 "),
             match="no fingerprint uses")


async def test_bad_payload_types_are_refused():
    offer = await _aiortc_offer()
    first_video_pt = re.search(r"^m=video \d+ \S+ (\d+)", offer, re.MULTILINE).group(1)
    pt999 = offer.replace(f" {first_video_pt} ", " 999 ", 1).replace(f"a=rtpmap:{first_video_pt} ", "a=rtpmap:999 ")
    assert "999" in _refused(check_publish_offer, pt999, match="not a number in 0-127")
    _refused(check_publish_offer, _sub(offer, r"^(m=video \d+ \S+) (\d+)", r"\1 vp8"), match="not a number in 0-127")
    _refused(check_publish_offer, _sub(offer, r"^a=rtpmap:(\d+) VP8", "a=rtpmap:128 VP8"), match="a=rtpmap")
    rtcp_range = offer.replace(f" {first_video_pt} ", " 72 ", 1).replace(f"a=rtpmap:{first_video_pt} ", "a=rtpmap:72 ")
    _refused(check_publish_offer, rtcp_range, match="collides with RTCP")
    unmapped = _drop(offer, rf"a=rtpmap:{first_video_pt} ")
    _refused(check_publish_offer, unmapped, match=f"dynamic payload type {first_video_pt} has no a=rtpmap")
    _refused(check_publish_offer, _sub(offer, r"^a=rtpmap:(\d+) VP8/90000", r"a=rtpmap:\1 VP8"),
             match="<codec>/<clock rate>")


async def test_an_answer_sent_as_an_offer_is_refused():
    _, answer = await _offer_and_answer()
    _refused(check_publish_offer, answer, match="setup:active is not valid in an offer")
    _refused(check_publish_offer, CHROMIUM_ANSWER, match="setup:active is not valid in an offer")
    # A renegotiation may keep the passive role, never take the SFU's active one.
    passive = _sub(await _aiortc_offer(), r"^a=setup:actpass", "a=setup:passive")
    _refused(check_publish_offer, passive, match="setup:passive is not valid in an offer")
    active = _sub(await _aiortc_offer(), r"^a=setup:actpass", "a=setup:active")
    _refused(check_publish_offer, active, renegotiating=True, match="setup:active")


async def test_missing_transport_attributes_are_refused():
    offer = await _aiortc_offer()
    _refused(check_publish_offer, _drop(offer, r"a=setup:"), match="no a=setup")
    _refused(check_publish_offer, _drop(offer, r"a=ice-ufrag:"), match="no a=ice-ufrag")
    _refused(check_publish_offer, _drop(offer, r"a=ice-pwd:"), match="no a=ice-ufrag and a=ice-pwd")
    _refused(check_publish_offer, _sub(offer, r"^a=ice-pwd:.*$", "a=ice-pwd:short"), match="ice-pwd must be")
    _refused(check_publish_offer, _sub(offer, r"^a=ice-ufrag:.*$", "a=ice-ufrag:a b!"), match="ice-ufrag must be")
    _refused(check_publish_offer, _drop(offer, r"a=rtcp-mux"), match="rtcp-mux")
    _refused(check_publish_offer, _sub(offer, r"UDP/TLS/RTP/SAVPF", "RTP/AVP"), match="not secure RTP")
    _refused(check_publish_offer, _sub(offer, r"^a=ssrc:(\d+) ", "a=ssrc:99999999999 "), match="SSRC")
    _refused(check_publish_offer, _sub(offer, r"^a=ssrc-group:FID (\d+)", "a=ssrc-group:FID x"), match="SSRC")
    _refused(check_publish_offer, _sub(offer, r"^a=extmap:\d+ ", "a=extmap:300 "), match="extmap id")


# -- answers ---------------------------------------------------------------------------


async def test_answers_must_answer_the_pending_offer():
    offer, answer = await _offer_and_answer()
    _refused(check_answer, offer, match="setup:actpass is not valid in an answer")
    _refused(check_answer, CHROMIUM_OFFER, match="setup:actpass is not valid in an answer")
    _refused(check_answer, _drop(answer, r"a=fingerprint:"), offer, match="no a=fingerprint")
    _refused(check_answer, _sub(answer, r"^a=mid:0", "a=mid:7"), offer, match="does not answer")
    only_first = answer[: answer.index("m=audio")]
    _refused(check_answer, only_first, offer, match="has 1 m-lines, the pending offer 2")
    _refused(check_answer, _sub(answer, r"^a=recvonly", "a=sendrecv"), offer, match="sendrecv does not answer sendonly")
    _refused(check_answer, _sub(answer, r"^(m=video \d+ \S+)", r"\1 0"), offer, match="payload type 0 was not in the offer")
    # An offer of ours that is passive (a renegotiation) wants an active answer.
    passive_offer = _sub(offer, r"^a=setup:actpass", "a=setup:passive")
    _refused(check_answer, _sub(answer, r"^a=setup:active", "a=setup:passive"), passive_offer,
             match="expected active")
    # Rejecting an m-line (port 0) is an answer's right; accepting one the
    # offer rejected is not.
    check_answer(_sub(answer, r"^m=audio \d+ ", "m=audio 0 "), offer)
    _refused(check_answer, answer, _sub(offer, r"^m=audio \d+ ", "m=audio 0 "), match="offer rejected")


# -- garbage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "hello",
        "v=0",  # nothing else: sends nothing
        "v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\n",
        "v=0\r\nthis is not sdp\r\n",
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video garbage\r\n",
        "v=0\r\nm=video 99999 UDP/TLS/RTP/SAVPF 96\r\n",
        "v=0\r\nm=text 9 UDP/TLS/RTP/SAVPF 96\r\n",
        "v=0\r\nm=video ٣ UDP/TLS/RTP/SAVPF 96\r\n",
        "v=0\r\na=x\x00y\r\n",
        "v=0\r\na=x\ry\r\n",
        "v=0\r\n\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
        "v=0\r\n" + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" * (MAX_SECTIONS + 1),
        "v=0\r\n" + "a=x\r\n" * 5000,
        bytes(range(256)).decode("latin-1"),
        b"v=0\r\n",
        None,
        12,
        ["v=0"],
    ],
    ids=lambda g: repr(g)[:30],
)
def test_garbage_is_an_sdp_error(garbage):
    with pytest.raises(SdpError):
        check_publish_offer(garbage)
    with pytest.raises(SdpError):
        check_answer(garbage)


async def test_mutated_sdp_gives_sdp_error_or_passes_never_anything_else():
    """Thousands of random cuts, deletions and byte flips of real SDP: each
    either passes or is an SdpError (anything else would be an `internal`)."""
    rng = random.Random(10)
    offer, answer = await _offer_and_answer()
    seeds = [CHROMIUM_OFFER, await _aiortc_offer(), answer]
    outcomes = {"passed": 0, "refused": 0}
    for _ in range(3000):
        text = rng.choice(seeds)
        how = rng.randrange(4)
        if how == 0:
            text = text[: rng.randrange(len(text))]
        elif how == 1:
            lines = text.split("\r\n")
            del lines[rng.randrange(len(lines))]
            text = "\r\n".join(lines)
        elif how == 2:
            at = rng.randrange(len(text))
            text = text[:at] + chr(rng.randrange(0x110000 if rng.random() < 0.2 else 128)) + text[at + 1:]
        else:
            at = rng.randrange(len(text))
            text = text[:at] + " " + text[at:]
        for check in (lambda t: check_publish_offer(t), lambda t: check_answer(t, offer)):
            try:
                check(text)
                outcomes["passed"] += 1
            except SdpError:
                outcomes["refused"] += 1
    assert outcomes["refused"] > 1000 and outcomes["passed"] > 100, outcomes


def test_parse_keeps_sections_and_attributes_in_order():
    sdp = parse(CHROMIUM_OFFER)
    assert [(s.kind, s.port > 0) for s in sdp.sections] == [("audio", True), ("video", True)]
    assert [sdp.mid(s) for s in sdp.sections] == ["0", "1"]
    assert [sdp.direction(s) for s in sdp.sections] == ["sendonly", "sendonly"]
    assert ("group", "BUNDLE 0 1") in sdp.session


# Captured from Debian's Chromium 156 (fake camera and mic): an offer with
# addTransceiver(track, {direction: "sendonly"}) for audio and video, and the
# answer of a receiving page to a sendonly video offer.  Candidates trimmed
# to the loopback UDP one.
CHROMIUM_OFFER = (
    "v=0\r\n"
    "o=- 8974064899809079490 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=audio 51932 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:3335235929 1 udp 2122194687 127.0.0.1 51932 typ host generation 0 network-id 3 network-cost 50\r\n"
    "a=ice-ufrag:SlDq\r\n"
    "a=ice-pwd:aPZhajeno13/JCA+PzaaZjIE\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 8D:6F:04:55:3B:F3:3B:F9:78:C2:84:6D:23:D3:95:3B:06:B3:E5:AA:BB:7C:EB:54:06:86:2F:C0:43:AD:E5:D6\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendonly\r\n"
    "a=msid:- 00747966-bc13-4e4d-83d9-99774a4581da\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtcp-xr:rcvr-rtt=all\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:842921491 cname:eWr+KlBYqDksE0NZ\r\n"
    "a=ssrc:842921491 msid:- 00747966-bc13-4e4d-83d9-99774a4581da\r\n"
    "m=video 37253 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120\r\n"
    "c=IN IP4 127.0.0.1\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:3335235929 1 udp 2122194687 127.0.0.1 37253 typ host generation 0 network-id 3 network-cost 50\r\n"
    "a=ice-ufrag:SlDq\r\n"
    "a=ice-pwd:aPZhajeno13/JCA+PzaaZjIE\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 8D:6F:04:55:3B:F3:3B:F9:78:C2:84:6D:23:D3:95:3B:06:B3:E5:AA:BB:7C:EB:54:06:86:2F:C0:43:AD:E5:D6\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:13 urn:3gpp:video-orientation\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n"
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n"
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
    "a=sendonly\r\n"
    "a=msid:- 8d67c009-0a5e-48eb-abcb-cb583f3b06fd\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtcp-xr:rcvr-rtt=all\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 goog-remb\r\n"
    "a=rtcp-fb:102 transport-cc\r\n"
    "a=rtcp-fb:102 ccm fir\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:104 H264/90000\r\n"
    "a=rtcp-fb:104 goog-remb\r\n"
    "a=rtcp-fb:104 transport-cc\r\n"
    "a=rtcp-fb:104 ccm fir\r\n"
    "a=rtcp-fb:104 nack\r\n"
    "a=rtcp-fb:104 nack pli\r\n"
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n"
    "a=rtpmap:107 rtx/90000\r\n"
    "a=fmtp:107 apt=104\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=rtcp-fb:108 goog-remb\r\n"
    "a=rtcp-fb:108 transport-cc\r\n"
    "a=rtcp-fb:108 ccm fir\r\n"
    "a=rtcp-fb:108 nack\r\n"
    "a=rtcp-fb:108 nack pli\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:109 rtx/90000\r\n"
    "a=fmtp:109 apt=108\r\n"
    "a=rtpmap:114 H264/90000\r\n"
    "a=rtcp-fb:114 goog-remb\r\n"
    "a=rtcp-fb:114 transport-cc\r\n"
    "a=rtcp-fb:114 ccm fir\r\n"
    "a=rtcp-fb:114 nack\r\n"
    "a=rtcp-fb:114 nack pli\r\n"
    "a=fmtp:114 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
    "a=rtpmap:115 rtx/90000\r\n"
    "a=fmtp:115 apt=114\r\n"
    "a=rtpmap:116 H264/90000\r\n"
    "a=rtcp-fb:116 goog-remb\r\n"
    "a=rtcp-fb:116 transport-cc\r\n"
    "a=rtcp-fb:116 ccm fir\r\n"
    "a=rtcp-fb:116 nack\r\n"
    "a=rtcp-fb:116 nack pli\r\n"
    "a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n"
    "a=rtpmap:117 rtx/90000\r\n"
    "a=fmtp:117 apt=116\r\n"
    "a=rtpmap:39 H264/90000\r\n"
    "a=rtcp-fb:39 goog-remb\r\n"
    "a=rtcp-fb:39 transport-cc\r\n"
    "a=rtcp-fb:39 ccm fir\r\n"
    "a=rtcp-fb:39 nack\r\n"
    "a=rtcp-fb:39 nack pli\r\n"
    "a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f\r\n"
    "a=rtpmap:40 rtx/90000\r\n"
    "a=fmtp:40 apt=39\r\n"
    "a=rtpmap:45 AV1/90000\r\n"
    "a=rtcp-fb:45 goog-remb\r\n"
    "a=rtcp-fb:45 transport-cc\r\n"
    "a=rtcp-fb:45 ccm fir\r\n"
    "a=rtcp-fb:45 nack\r\n"
    "a=rtcp-fb:45 nack pli\r\n"
    "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
    "a=rtpmap:46 rtx/90000\r\n"
    "a=fmtp:46 apt=45\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
    "a=rtcp-fb:98 goog-remb\r\n"
    "a=rtcp-fb:98 transport-cc\r\n"
    "a=rtcp-fb:98 ccm fir\r\n"
    "a=rtcp-fb:98 nack\r\n"
    "a=rtcp-fb:98 nack pli\r\n"
    "a=fmtp:98 profile-id=0\r\n"
    "a=rtpmap:99 rtx/90000\r\n"
    "a=fmtp:99 apt=98\r\n"
    "a=rtpmap:100 VP9/90000\r\n"
    "a=rtcp-fb:100 goog-remb\r\n"
    "a=rtcp-fb:100 transport-cc\r\n"
    "a=rtcp-fb:100 ccm fir\r\n"
    "a=rtcp-fb:100 nack\r\n"
    "a=rtcp-fb:100 nack pli\r\n"
    "a=fmtp:100 profile-id=2\r\n"
    "a=rtpmap:101 rtx/90000\r\n"
    "a=fmtp:101 apt=100\r\n"
    "a=rtpmap:118 red/90000\r\n"
    "a=rtpmap:119 rtx/90000\r\n"
    "a=fmtp:119 apt=118\r\n"
    "a=rtpmap:120 ulpfec/90000\r\n"
    "a=ssrc-group:FID 3480023309 1210861989\r\n"
    "a=ssrc:3480023309 cname:eWr+KlBYqDksE0NZ\r\n"
    "a=ssrc:3480023309 msid:- 8d67c009-0a5e-48eb-abcb-cb583f3b06fd\r\n"
    "a=ssrc:1210861989 cname:eWr+KlBYqDksE0NZ\r\n"
    "a=ssrc:1210861989 msid:- 8d67c009-0a5e-48eb-abcb-cb583f3b06fd\r\n"
)

CHROMIUM_ANSWER = (
    "v=0\r\n"
    "o=- 8431787362480959253 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:XFHK\r\n"
    "a=ice-pwd:0LhkxVdvNGaxQPDtF8vf1ysa\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 1A:75:97:24:52:45:76:40:20:F8:05:3A:1F:71:A2:BF:C3:94:DE:ED:21:C4:BC:44:13:42:DC:35:71:97:F6:7B\r\n"
    "a=setup:active\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:3 urn:3gpp:video-orientation\r\n"
    "a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n"
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n"
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n"
    "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtcp-xr:rcvr-rtt=all\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 goog-remb\r\n"
    "a=rtcp-fb:102 transport-cc\r\n"
    "a=rtcp-fb:102 ccm fir\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:104 H264/90000\r\n"
    "a=rtcp-fb:104 goog-remb\r\n"
    "a=rtcp-fb:104 transport-cc\r\n"
    "a=rtcp-fb:104 ccm fir\r\n"
    "a=rtcp-fb:104 nack\r\n"
    "a=rtcp-fb:104 nack pli\r\n"
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n"
    "a=rtpmap:107 rtx/90000\r\n"
    "a=fmtp:107 apt=104\r\n"
    "a=rtpmap:108 H264/90000\r\n"
    "a=rtcp-fb:108 goog-remb\r\n"
    "a=rtcp-fb:108 transport-cc\r\n"
    "a=rtcp-fb:108 ccm fir\r\n"
    "a=rtcp-fb:108 nack\r\n"
    "a=rtcp-fb:108 nack pli\r\n"
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=rtpmap:109 rtx/90000\r\n"
    "a=fmtp:109 apt=108\r\n"
    "a=rtpmap:114 H264/90000\r\n"
    "a=rtcp-fb:114 goog-remb\r\n"
    "a=rtcp-fb:114 transport-cc\r\n"
    "a=rtcp-fb:114 ccm fir\r\n"
    "a=rtcp-fb:114 nack\r\n"
    "a=rtcp-fb:114 nack pli\r\n"
    "a=fmtp:114 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
    "a=rtpmap:115 rtx/90000\r\n"
    "a=fmtp:115 apt=114\r\n"
    "a=rtpmap:116 H264/90000\r\n"
    "a=rtcp-fb:116 goog-remb\r\n"
    "a=rtcp-fb:116 transport-cc\r\n"
    "a=rtcp-fb:116 ccm fir\r\n"
    "a=rtcp-fb:116 nack\r\n"
    "a=rtcp-fb:116 nack pli\r\n"
    "a=fmtp:116 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n"
    "a=rtpmap:117 rtx/90000\r\n"
    "a=fmtp:117 apt=116\r\n"
    "a=rtpmap:39 H264/90000\r\n"
    "a=rtcp-fb:39 goog-remb\r\n"
    "a=rtcp-fb:39 transport-cc\r\n"
    "a=rtcp-fb:39 ccm fir\r\n"
    "a=rtcp-fb:39 nack\r\n"
    "a=rtcp-fb:39 nack pli\r\n"
    "a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f\r\n"
    "a=rtpmap:40 rtx/90000\r\n"
    "a=fmtp:40 apt=39\r\n"
    "a=rtpmap:45 AV1/90000\r\n"
    "a=rtcp-fb:45 goog-remb\r\n"
    "a=rtcp-fb:45 transport-cc\r\n"
    "a=rtcp-fb:45 ccm fir\r\n"
    "a=rtcp-fb:45 nack\r\n"
    "a=rtcp-fb:45 nack pli\r\n"
    "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
    "a=rtpmap:46 rtx/90000\r\n"
    "a=fmtp:46 apt=45\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
    "a=rtcp-fb:98 goog-remb\r\n"
    "a=rtcp-fb:98 transport-cc\r\n"
    "a=rtcp-fb:98 ccm fir\r\n"
    "a=rtcp-fb:98 nack\r\n"
    "a=rtcp-fb:98 nack pli\r\n"
    "a=fmtp:98 profile-id=0\r\n"
    "a=rtpmap:99 rtx/90000\r\n"
    "a=fmtp:99 apt=98\r\n"
    "a=rtpmap:100 VP9/90000\r\n"
    "a=rtcp-fb:100 goog-remb\r\n"
    "a=rtcp-fb:100 transport-cc\r\n"
    "a=rtcp-fb:100 ccm fir\r\n"
    "a=rtcp-fb:100 nack\r\n"
    "a=rtcp-fb:100 nack pli\r\n"
    "a=fmtp:100 profile-id=2\r\n"
    "a=rtpmap:101 rtx/90000\r\n"
    "a=fmtp:101 apt=100\r\n"
    "a=rtpmap:118 red/90000\r\n"
    "a=rtpmap:119 rtx/90000\r\n"
    "a=fmtp:119 apt=118\r\n"
    "a=rtpmap:120 ulpfec/90000\r\n"
)
