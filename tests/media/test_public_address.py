"""Behind a 1:1 NAT (PLENARY_MEDIA_PUBLIC_ADDRESS): the SFU's host
candidates announce the configured public address, on the ports its sockets
really have, and media still flows when the mapping leads back to them."""

from __future__ import annotations

import pytest

from media import aiortc_hooks
from media.service import MediaService
from signaling.config import Settings
from tests.media.media_testkit import MovingVideo, Publisher, Subscriber, Tone, wait_for

PUBLIC = "203.0.113.7"  # TEST-NET-3: announced, never reached


def host_candidates(sdp: str, ipv6: bool = False) -> list[tuple[str, int]]:
    """(address, port) of every IPv4 (or IPv6) host candidate in an SDP."""
    found = []
    for media in aiortc_hooks.parse_sdp(sdp).media:
        found += [(c.ip, c.port) for c in media.ice_candidates if c.type == "host" and (":" in c.ip) == ipv6]
    return found


def sfu_sockets(service: MediaService, meeting: str, pid: str, role: str, ipv6: bool = False) -> list[tuple[str, int]]:
    """(bound address, port) of the IPv4 (or IPv6) ICE sockets of one SFU transport."""
    peer = service._peers[(meeting, pid)]
    transport = peer.send if role == "send" else peer.recv
    dtls = aiortc_hooks.pc_dtls_transport(transport.pc)
    bound = [p.transport.get_extra_info("sockname")[:2] for p in dtls.transport.iceGatherer._connection._protocols]
    return [(address, port) for address, port in bound if (":" in address) == ipv6]


@pytest.fixture
async def make_service():
    made: list[MediaService] = []

    def make(public_address: str) -> MediaService:
        offers: list[str] = []

        async def on_offer(meeting_id: str, participant_id: str, connection_id: str, sdp: str) -> None:
            offers.append(sdp)

        svc = MediaService(ice_servers=[], allow_loopback=True, public_address=public_address, on_offer=on_offer)
        svc.test_offers = offers  # type: ignore[attr-defined]
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.close()
    aiortc_hooks.disable_loopback_candidates()


async def test_answer_and_offer_announce_the_public_address(make_service) -> None:
    service = make_service(PUBLIC)
    pub = Publisher(service, "m", "alice")
    pub.add(Tone())
    sub = Subscriber(service, "m", "bob")
    try:
        answer = await pub.publish()
        announced = host_candidates(answer)
        bound = sfu_sockets(service, "m", "alice", "send")
        assert announced and {address for address, _ in announced} == {PUBLIC}, answer
        # The same ports as the sockets (a 1:1 NAT keeps ports), no private address.
        assert sorted(port for _, port in announced) == sorted(port for _, port in bound)
        for address, _ in bound:
            assert f" {address} " not in answer
        # IPv6 host candidates (a 1:1 NAT is IPv4) keep their own addresses.
        assert sorted(host_candidates(answer, ipv6=True)) == sorted(sfu_sockets(service, "m", "alice", "send", ipv6=True))
        # The publisher's own (in-process) peer connection is not touched.
        assert PUBLIC not in pub.pc.localDescription.sdp

        offer = await service.subscribe("m", "bob", "all")  # the recv transport offers
        assert offer is not None
        assert {address for address, _ in host_candidates(offer)} == {PUBLIC}
        assert sorted(p for _, p in host_candidates(offer)) == sorted(p for _, p in sfu_sockets(service, "m", "bob", "recv"))
    finally:
        await sub.close()
        await pub.close()


async def test_public_private_form_maps_only_that_interface(make_service) -> None:
    service = make_service(f"{PUBLIC}/127.0.0.1")
    pub = Publisher(service, "m", "alice")
    pub.add(Tone())
    try:
        answer = await pub.publish()
        bound = dict((port, address) for address, port in sfu_sockets(service, "m", "alice", "send"))
        for address, port in host_candidates(answer):
            assert address == (PUBLIC if bound[port] == "127.0.0.1" else bound[port])
        assert PUBLIC in answer
    finally:
        await pub.close()


async def test_media_flows_when_the_mapping_is_loopback(make_service) -> None:
    # Every host candidate, whatever interface its socket is on, is
    # announced as 127.0.0.1: the one bound there carries the media.
    service = make_service("127.0.0.1")
    pub = Publisher(service, "m", "alice")
    pub.add(Tone())
    pub.add(MovingVideo(), codec="VP8")
    sub = Subscriber(service, "m", "bob")
    try:
        answer = await pub.publish()
        assert {address for address, _ in host_candidates(answer)} == {"127.0.0.1"}
        offer = await sub.subscribe("all")
        assert offer is not None and {address for address, _ in host_candidates(offer)} == {"127.0.0.1"}
        await wait_for(lambda: sub.frames["audio"] >= 20 and sub.frames["video"] >= 10, 20, "decoded audio and video")
    finally:
        await sub.close()
        await pub.close()


def test_setting_is_read_and_checked(monkeypatch) -> None:
    monkeypatch.setenv("PLENARY_MEDIA_PUBLIC_ADDRESS", "198.51.100.4/10.0.0.11")
    assert Settings.from_env().media_public_address == "198.51.100.4/10.0.0.11"
    monkeypatch.setenv("PLENARY_MEDIA_PUBLIC_ADDRESS", "")
    assert Settings.from_env().media_public_address is None
    assert aiortc_hooks.parse_public_address("198.51.100.4") == ("198.51.100.4", None)
    assert aiortc_hooks.parse_public_address("198.51.100.4/10.0.0.11") == ("198.51.100.4", "10.0.0.11")
    for bad in ("turn.example.org", "2001:db8::1", "198.51.100.4/", "1.2.3.4/x"):
        with pytest.raises(ValueError):
            MediaService(public_address=bad)


def test_the_hub_hands_the_setting_to_its_sfu(tmp_path) -> None:
    from web.app import create_app
    from web.auth import HUB_KEY

    def hub_with(value: str):
        settings = Settings(data_dir=tmp_path / "data", secret="x" * 48, media_public_address=value)
        return create_app(settings)[HUB_KEY]

    assert hub_with("198.51.100.4/10.0.0.11").media.public_address == ("198.51.100.4", "10.0.0.11")
    with pytest.raises(ValueError):  # a typo stops the start
        hub_with("198.51.100.400")
