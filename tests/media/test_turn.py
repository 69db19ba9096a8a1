"""A relay-only connection through a private coturn carries media (issue 13).

A coturn (Debian's `turnserver`, installed by scripts/services) runs on a free
loopback port with a static user. The hub is given it in its ICE servers
(as PLENARY_ICE_SERVERS would), the clients take it from `state:sync` and
connect with iceTransportPolicy "relay": their only candidates are relayed
addresses on the coturn, so every packet between them and the SFU goes
through it. A publisher sends VP8 and Opus, a subscriber decodes both; the
selected pair of each client is a relayed one and coturn logged the
allocations.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from pathlib import Path

import aioice.stun
import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from media import aiortc_hooks
from sessions.identity import TokenService
from tests.conftest import SECRET, HubUnderTest, make_settings
from tests.helpers import wait_until
from tests.media.media_testkit import MovingVideo, Tone
from web.app import create_app

pytestmark = pytest.mark.turn

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
USER, PASSWORD, REALM = "plenary", "relay-only-" + "y" * 20, "plenary.test"


def free_udp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def stun_answers(port: int) -> bool:
    """Whether a STUN Binding request to 127.0.0.1:port gets an answer."""
    request = aioice.stun.Message(message_method=aioice.stun.Method.BINDING, message_class=aioice.stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(bytes(request), ("127.0.0.1", port))
            data = s.recv(2048)
        except OSError:
            return False
    return aioice.stun.parse_message(data).transaction_id == request.transaction_id


def tail(directory: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in sorted(directory.glob("turnserver*"))
    )


@pytest.fixture
async def coturn(tmp_path: Path):
    """A private coturn on loopback: (port, path of its log)."""
    if not os.access(TURNSERVER, os.X_OK):
        pytest.skip("coturn's turnserver is not installed (scripts/services installs the Debian package coturn)")
    port = free_udp_port()
    log = tmp_path / "turnserver.log"
    argv = [
        TURNSERVER, "-n",  # no configuration file: only these flags
        "--no-cli", "--no-tls", "--no-dtls", "--verbose",  # verbose: it logs each allocation
        "--listening-ip", "127.0.0.1", "--listening-port", str(port),
        "--relay-ip", "127.0.0.1", "--min-port", "49152", "--max-port", "65535",
        "--allow-loopback-peers",  # the SFU is on 127.0.0.1 too
        "--lt-cred-mech", "--user", f"{USER}:{PASSWORD}", "--realm", REALM,
        "--userdb", str(tmp_path / "turndb"), "--pidfile", str(tmp_path / "turnserver.pid"),
        # Its own log file (flushed per line; stdout to a file is buffered);
        # --simple-log: that very name, no date added.
        "--log-file", str(log), "--simple-log",
    ]
    with (tmp_path / "turnserver.out").open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        loop = asyncio.get_running_loop()
        for _ in range(100):
            if proc.poll() is not None:
                raise AssertionError(f"turnserver exited with {proc.returncode}:\n{tail(tmp_path)}")
            if await loop.run_in_executor(None, stun_answers, port):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"turnserver did not answer STUN on {port}:\n{tail(tmp_path)}")
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def relay_configuration(ice_servers: list[dict]) -> RTCConfiguration:
    """What a browser does with state:sync's ice_servers, relay only."""
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in ice_servers]
    return RTCConfiguration(
        iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
    )


def candidate_types(sdp: str) -> set[str]:
    return {c.type for m in aiortc_hooks.parse_sdp(sdp).media for c in m.ice_candidates}


def selected_local_candidate(pc: RTCPeerConnection):
    """The local candidate of the pc's nominated ICE pair (aioice's)."""
    dtls = aiortc_hooks.pc_dtls_transport(pc)
    pair = dtls.transport.iceGatherer._connection._nominated.get(1)
    return None if pair is None else pair.local_candidate


async def test_relay_only_clients_carry_media_through_coturn(coturn, aiohttp_client, tmp_path: Path, clients):
    port, log = coturn
    ice_servers = [{"urls": f"turn:127.0.0.1:{port}?transport=udp", "username": USER, "credential": PASSWORD}]
    settings = make_settings(tmp_path)
    settings.ice_servers = ice_servers  # PLENARY_ICE_SERVERS
    hub = HubUnderTest(await aiohttp_client(create_app(settings)), TokenService(SECRET))
    mid = await hub.meeting()
    chair = await hub.participant(mid, "主任", "chair")
    station = await hub.participant(mid, "联络站", "deputy")
    pub = await hub.connect(chair["token"])
    sub = await hub.connect(station["token"])
    clients += [pub, sub]

    pcs: list[RTCPeerConnection] = []
    readers: list[asyncio.Task] = []
    try:
        sync = await pub.call("state:sync")
        assert sync["ice_servers"] == ice_servers
        tx = RTCPeerConnection(relay_configuration(sync["ice_servers"]))
        pcs.append(tx)
        video = tx.addTransceiver(MovingVideo(), direction="sendonly")
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() in ("video/vp8", "video/rtx")]
        video.setCodecPreferences(vp8)
        tx.addTransceiver(Tone(), direction="sendonly")
        await tx.setLocalDescription(await tx.createOffer())
        assert candidate_types(tx.localDescription.sdp) == {"relay"}, tx.localDescription.sdp
        ack = await pub.call("media:publish", {"sdp": tx.localDescription.sdp})
        assert ack["ok"], ack
        await tx.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))

        tracks = await sub.wait_for("media:tracks", lambda m: len(m["tracks"]) == 2)
        assert {t["kind"] for t in tracks["tracks"]} == {"audio", "video"}
        sub_sync = await sub.call("state:sync")
        rx = RTCPeerConnection(relay_configuration(sub_sync["ice_servers"]))
        pcs.append(rx)
        frames = {"audio": 0, "video": 0}
        codecs: dict[str, str] = {}

        async def read(track):
            while True:
                await track.recv()
                frames[track.kind] += 1

        rx.on("track", lambda track: readers.append(asyncio.ensure_future(read(track))))
        assert (await sub.call("media:subscribe", {"tracks": "all"})) == {"ok": True}
        offer = await sub.wait_for("media:offer")
        await rx.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await rx.setLocalDescription(await rx.createAnswer())
        assert candidate_types(rx.localDescription.sdp) == {"relay"}, rx.localDescription.sdp
        assert (await sub.call("media:answer", {"sdp": rx.localDescription.sdp}))["ok"]

        await wait_until(lambda: frames["video"] >= 20 and frames["audio"] >= 20, timeout=40)
        for t in rx.getTransceivers():
            codecs[t.kind] = aiortc_hooks.transceiver_codecs(t)[0].mimeType
        assert codecs.get("video", "").lower() == "video/vp8" and codecs.get("audio", "").lower() == "audio/opus", codecs

        # Both clients' media goes through coturn: their nominated pairs are relayed.
        for pc in (tx, rx):
            local = selected_local_candidate(pc)
            assert local is not None and local.type == "relay", local
            assert (local.host, local.port) != ("127.0.0.1", port)  # a relayed address, not the listener
        text = log.read_text(errors="replace")
        assert text.count("ALLOCATE processed, success") >= 2, text[-3000:]
        assert f"username=<{USER}>" in text
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for pc in pcs:
            await pc.close()
