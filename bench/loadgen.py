"""Load generator shared by both SFUs under test.

Publisher
    An aiortc ``RTCPeerConnection`` (``iceServers=[]``) sending VP8 at
    640x360, 30 fps with the encoder bitrate pinned (default 1 Mbit/s), from
    synthetic moving frames whose ``pict_type`` is reset (otherwise libvpx
    would be asked for a keyframe every frame), plus Opus (a warbling tone,
    so consecutive packets differ).  Audio-only publishers are used for the
    "city-wide inquiry" workload.

Lean subscribers
    aiortc completes ICE and DTLS-SRTP; then the ICE socket's
    ``datagram_received`` callback is replaced: RTP datagrams are counted and
    dropped without decryption.  SRTP leaves the RTP header in clear, so the
    callback reads SSRC, sequence number and payload type from the encrypted
    datagram and keeps per-SSRC continuity (extended highest sequence,
    received count, late/duplicate packets).  STUN, DTLS and SRTCP still go
    to aiortc (consent freshness keeps working).

Added latency (how it is measured, and why it is sound)
    Both SFUs rewrite SSRC and sequence numbers per consumer and may add or
    strip RTP header extensions, so headers cannot be matched to what the
    publisher sent.  The RTP *payload*, however, is forwarded untouched by a
    selective forwarding unit (VP8 payload descriptor + VP8 partition, or the
    Opus frame).  So:

    * the publisher hooks ``RTCDtlsTransport._send_rtp`` (plaintext RTP just
      before SRTP protect and ``sendto``) and records
      ``crc32(payload)+len -> time.time()`` for every RTP packet it sends
      (publishers run in their own process, like real remote clients, so
      their encoder does not compete with the subscribers for the GIL);
    * each lean subscriber reads its socket itself with ``recvmsg`` and
      SO_TIMESTAMPNS, so every datagram carries the kernel's arrival time;
      it decrypts a deterministic sample (packets whose clear-text sequence
      number is a multiple of ``sample_mod``; ~1.5% for large N) with its
      own SRTP session, strips the RTP header (CSRCs, extension, padding)
      and looks the payload key up after the window; kernel arrival minus
      publisher send time is one latency sample.

    Both stamps are CLOCK_REALTIME (the clock of SO_TIMESTAMPNS), one clock
    for every process on the machine.  Payloads that occur twice at the
    publisher (none expected: encoded video and a warbling tone) are marked
    ambiguous and never matched.  The figure is publisher send hook ->
    kernel arrival at the subscriber: the SFU's added delay plus two
    loopback hops plus the publisher's protect+sendto (a few µs); the load
    generator's own read delay is excluded.

Window accounting
    Packets count toward the measurement window by their kernel arrival
    time, and the subscribers drain their sockets after the window closes,
    so a load generator that reads late still counts exactly what the SFU
    delivered in the window.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import aioice.ice
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import vpx
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription

VIDEO_W, VIDEO_H, VIDEO_FPS = 640, 360, 30
VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020


# --------------------------------------------------------------------------
# process-wide patches (this process only: the load generator)
# --------------------------------------------------------------------------
def pin_host_address(addr: str) -> None:
    """Make aioice gather exactly one host candidate: ``addr``."""

    def _addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [addr] if use_ipv4 else []

    aioice.ice.get_host_addresses = _addresses  # type: ignore[assignment]


def pin_vp8_bitrate(bps: int) -> None:
    """aiortc's VP8 encoder follows REMB; pin it for a steady offered load."""

    def _get(self: Any) -> int:
        return bps

    def _set(self: Any, value: int) -> None:
        return None

    vpx.Vp8Encoder.target_bitrate = property(_get, _set)  # type: ignore[assignment]


# --------------------------------------------------------------------------
# synthetic media
# --------------------------------------------------------------------------
class SyntheticVideo(MediaStreamTrack):
    """Moving window over a noisy texture, 640x360 yuv420p at 30 fps."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(7)
        # Smooth-ish random texture (so the encoder sees motion, not pure noise).
        base = rng.integers(0, 256, size=(VIDEO_H // 4 + 64, VIDEO_W // 4 + 64), dtype=np.uint8)
        tex = np.kron(base, np.ones((4, 4), dtype=np.uint8))
        noise = rng.integers(0, 24, size=tex.shape, dtype=np.uint8)
        self._tex = (tex // 2 + noise).astype(np.uint8)
        self._uv = np.full((VIDEO_H // 2, VIDEO_W), 128, dtype=np.uint8)
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._n / VIDEO_FPS - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        n = self._n
        self._n += 1
        dx = (n * 3) % 256
        dy = int(64 + 60 * math.sin(n / 20.0)) % 256
        dy = min(dy, self._tex.shape[0] - VIDEO_H)
        dx = min(dx, self._tex.shape[1] - VIDEO_W)
        y = self._tex[dy : dy + VIDEO_H, dx : dx + VIDEO_W]
        # a bright bar sweeping across makes every frame different
        y = y.copy()
        bar = (n * 8) % VIDEO_W
        y[:, bar : bar + 16] = 235
        img = np.concatenate([y, self._uv], axis=0)
        frame = av.VideoFrame.from_ndarray(img, format="yuv420p")
        frame.pict_type = av.video.frame.PictureType.NONE  # never ask for I
        frame.pts = n * (VIDEO_CLOCK // VIDEO_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class ToneAudio(MediaStreamTrack):
    """48 kHz mono s16 warbling tone + a little noise, 20 ms frames."""

    kind = "audio"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._rng = np.random.default_rng(seed + 11)
        self._n = 0
        self._start: float | None = None
        self._phase = 0.0
        self._base = 330.0 + 110.0 * seed

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._n * AUDIO_PTIME - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        n = self._n
        self._n += 1
        freq = self._base + 80.0 * math.sin(n / 13.0)
        t = np.arange(self._samples) / AUDIO_RATE
        wave = np.sin(self._phase + 2 * math.pi * freq * t) * 6000 + self._rng.normal(0, 300, self._samples)
        self._phase = (self._phase + 2 * math.pi * freq * self._samples / AUDIO_RATE) % (2 * math.pi)
        frame = av.AudioFrame.from_ndarray(wave.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def rtp_payload(pkt: bytes) -> bytes | None:
    """Payload of a plaintext RTP packet (after CSRCs, extension, padding)."""
    if len(pkt) < 12:
        return None
    b0 = pkt[0]
    off = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(pkt) < off + 4:
            return None
        off += 4 + 4 * int.from_bytes(pkt[off + 2 : off + 4], "big")
    end = len(pkt)
    if b0 & 0x20:
        end -= pkt[-1]
    if off > end:
        return None
    return pkt[off:end]


def _is_rtcp(second_byte: int) -> bool:
    return 192 <= second_byte <= 223


def payload_key(payload: bytes) -> int:
    """Deterministic across processes (unlike ``hash``): crc32 and length."""
    return zlib.crc32(payload) | (len(payload) << 32)


class SendLog:
    """Publisher side: send time (time.time = CLOCK_REALTIME) per payload key."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.ambiguous = 0

    def record_send(self, payload: bytes, t: float) -> None:
        k = payload_key(payload)
        if k in self.sent:
            self.sent[k] = -1.0
            self.ambiguous += 1
        else:
            self.sent[k] = t

    def between(self, t0: float, t1: float) -> dict[int, float]:
        return {k: t for k, t in self.sent.items() if t < 0 or t0 <= t <= t1}

    def count_between(self, t0: float, t1: float) -> int:
        return sum(1 for t in self.sent.values() if t0 <= t < t1)


class Window:
    """The measurement window, shared by all subscribers (CLOCK_REALTIME).

    Packets are attributed to the window by their *kernel* arrival timestamp
    (SO_TIMESTAMPNS), not by when the Python loop got round to reading them,
    so a subscriber process that lags behind on a busy machine still counts
    exactly what the SFU delivered during the window (it is read later, during
    the drain after the window closes).
    """

    def __init__(self) -> None:
        self.t0 = math.inf
        self.t1 = math.inf


class LatencyProbe:
    """Subscriber side: (payload key, arrival time) samples in the window.

    Matching against the publishers' :class:`SendLog` happens after the
    window, so the publishers can live in another process.  Both sides use
    CLOCK_REALTIME (the kernel's SO_TIMESTAMPNS clock), one clock for every
    process on the machine.
    """

    def __init__(self) -> None:
        self.arrivals: list[tuple[int, float]] = []

    def match(self, payload: bytes, t_arrival: float) -> None:
        self.arrivals.append((payload_key(payload), t_arrival))

    def reset_window(self) -> None:
        self.arrivals = []

    def resolve(self, sent: dict[int, float]) -> tuple[list[float], int]:
        """Latency samples (seconds) and the number of unmatched arrivals."""
        out: list[float] = []
        unmatched = 0
        for k, t in self.arrivals:
            t0 = sent.get(k)
            if t0 is None or t0 < 0:
                unmatched += 1
            else:
                out.append(t - t0)
        return out, unmatched


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    idx = min(len(v) - 1, max(0, int(math.ceil(q / 100.0 * len(v))) - 1))
    return v[idx]


async def _wait_state(pc: RTCPeerConnection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed"):
            raise ConnectionError(f"peer connection {pc.connectionState}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"peer connection stuck in {pc.connectionState}")
        await asyncio.sleep(0.05)


def _config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


# --------------------------------------------------------------------------
# publisher
# --------------------------------------------------------------------------
class Publisher:
    def __init__(self, name: str, *, video: bool = True, audio: bool = True, probe: SendLog | None = None, seed: int = 0):
        self.name = name
        self.pc = RTCPeerConnection(_config())
        self.probe = probe
        self.tracks: list[MediaStreamTrack] = []
        if video:
            self.tracks.append(SyntheticVideo())
        if audio:
            self.tracks.append(ToneAudio(seed))
        self.sent_rtp = 0
        self.sent_bytes = 0
        self.sent_frames = 0  # RTP packets with the marker bit (video: end of frame)
        self.kf_requests = 0  # PLI/FIR received
        self.kf_forced = 0  # keyframes actually requested from the encoder
        self._hooked = False

    async def offer(self) -> str:
        for t in self.tracks:
            self.pc.addTransceiver(t, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self._hook_send()
        self._throttle_keyframes()
        return self.pc.localDescription.sdp

    def _throttle_keyframes(self, min_interval: float = 1.0) -> None:
        """Honour at most one PLI/FIR per ``min_interval`` (as browsers do).

        Every SFU asks the publisher for a keyframe when a subscriber joins;
        110 joins would otherwise mean ~110 keyframes in a few seconds, which
        drains libvpx's CBR buffer and leaves the encoder undershooting
        (~0.6 instead of 1 Mbit/s) for many seconds afterwards.
        """
        pub = self
        for sender in self.pc.getSenders():
            if sender.track is None or sender.track.kind != "video":
                continue
            orig = sender._send_keyframe
            last = [-1e9]

            def send_keyframe(orig: Callable[[], None] = orig, last: list[float] = last) -> None:
                pub.kf_requests += 1
                now = time.monotonic()
                if now - last[0] >= min_interval:
                    last[0] = now
                    pub.kf_forced += 1
                    orig()

            sender._send_keyframe = send_keyframe  # type: ignore[method-assign]

    def _hook_send(self) -> None:
        if self._hooked:
            return
        self._hooked = True
        dtls = self.pc.getSenders()[0].transport
        orig = dtls._send_rtp
        probe = self.probe
        pub = self

        async def send_rtp(data: bytes) -> None:
            if len(data) > 1 and not _is_rtcp(data[1]):
                pub.sent_rtp += 1
                pub.sent_bytes += len(data)
                if data[1] & 0x80:
                    pub.sent_frames += 1
                if probe is not None:
                    payload = rtp_payload(data)
                    if payload:
                        probe.record_send(payload, time.time())
            await orig(data)

        dtls._send_rtp = send_rtp  # type: ignore[method-assign]

    async def accept(self, answer_sdp: str, timeout: float = 20) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        await _wait_state(self.pc, timeout)

    async def close(self) -> None:
        for t in self.tracks:
            t.stop()
        await self.pc.close()


# --------------------------------------------------------------------------
# lean subscriber
# --------------------------------------------------------------------------
@dataclass
class StreamStat:
    kind: str
    count: int = 0
    last_seq: int = -1
    ext_max: int = 0  # extended highest sequence number relative to the first
    late: int = 0  # duplicates / reordered / older than highest
    # inside the window
    w_count: int = 0
    w_min: int = 1 << 62
    w_max: int = -1
    w_late: int = 0


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value
_TS = struct.Struct("qq")


@dataclass
class LeanSubscriber:
    name: str
    window: Window
    probe: LatencyProbe | None = None
    sample_mod: int = 64
    drain: bool = True
    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(_config()))
    streams: dict[int, StreamStat] = field(default_factory=dict)
    rtp: int = 0
    rtcp: int = 0
    decrypt_errors: int = 0
    kernel_ts: bool = False
    _pt_kind: dict[int, str] = field(default_factory=dict)
    _srtp: Any = None
    _sockets: list[Any] = field(default_factory=list)

    async def answer_offer(self, offer_sdp: str) -> str:
        desc = SessionDescription.parse(offer_sdp)
        for m in desc.media:
            for c in m.rtp.codecs:
                name = c.mimeType.split("/")[-1].lower()
                self._pt_kind[c.payloadType] = "rtx" if name == "rtx" else m.kind
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def wait_connected(self, timeout: float = 30) -> None:
        await _wait_state(self.pc, timeout)
        self._install_hook()

    def _install_hook(self) -> None:
        dtls = self.pc.getTransceivers()[0].receiver.transport
        self._srtp = dtls._rx_srtp
        conn = dtls.transport._connection  # aioice.Connection
        loop = asyncio.get_running_loop()
        for proto in list(conn._protocols):
            cb = self._make_cb(proto.datagram_received)
            proto.datagram_received = lambda data, addr, cb=cb: cb(data, addr, None)  # type: ignore[method-assign]
            sock = proto.transport.get_extra_info("socket")
            if sock is None:
                continue
            self._sockets.append(sock)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            except OSError:
                pass
            if self.drain:
                self._install_drain_reader(loop, proto, sock, cb)

    def _install_drain_reader(self, loop: asyncio.AbstractEventLoop, proto: Any, sock: Any,
                              cb: Callable[[bytes, Any, float | None], None]) -> None:
        """Own the socket's reads: up to 64 datagrams per wake-up, with the
        kernel's arrival timestamp (SO_TIMESTAMPNS) for each.

        asyncio's datagram transport does one ``recvfrom`` per epoll wake-up;
        draining the socket in one callback cuts the subscriber process's
        per-packet overhead.  The transport still owns the fd: its
        ``close()`` removes whatever reader is registered.
        """
        fd = sock.fileno()
        raw = sock._sock if hasattr(sock, "_sock") else sock  # asyncio TransportSocket wrapper
        try:
            raw.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.kernel_ts = True
        except OSError:
            self.kernel_ts = False
        recvmsg = raw.recvmsg
        unpack = _TS.unpack_from
        sol = socket.SOL_SOCKET
        anc_size = socket.CMSG_SPACE(_TS.size)

        def read_ready() -> None:
            for _ in range(64):
                try:
                    data, anc, _flags, addr = recvmsg(4096, anc_size)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError as exc:
                    proto.error_received(exc)
                    return
                ts = None
                for level, kind, cdata in anc:
                    if level == sol and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
                        sec, nsec = unpack(cdata)
                        ts = sec + nsec * 1e-9
                cb(data, addr, ts)

        # the private variants: the public ones refuse fds owned by a transport
        loop._remove_reader(fd)  # type: ignore[attr-defined]
        loop._add_reader(fd, read_ready)  # type: ignore[attr-defined]

    def _make_cb(self, orig: Callable[[bytes, Any], None]) -> Callable[[bytes, Any, float | None], None]:
        streams = self.streams
        pt_kind = self._pt_kind
        probe = self.probe
        mod = self.sample_mod
        win = self.window
        now = time.time

        def cb(data: bytes, addr: Any, ts: float | None) -> None:
            b0 = data[0]
            if 127 < b0 < 192 and len(data) >= 12:
                b1 = data[1]
                if 192 <= b1 <= 223:
                    self.rtcp += 1
                    return  # drop SRTCP (sender reports) as well: lean
                t = ts if ts is not None else now()
                self.rtp += 1
                seq = (data[2] << 8) | data[3]
                ssrc = int.from_bytes(data[8:12], "big")
                st = streams.get(ssrc)
                late = False
                if st is None:
                    st = streams[ssrc] = StreamStat(pt_kind.get(b1 & 0x7F, "?"))
                    st.last_seq = seq
                    ext = 0
                else:
                    d = (seq - st.last_seq) & 0xFFFF
                    if 0 < d < 0x8000:
                        st.ext_max += d
                        st.last_seq = seq
                        ext = st.ext_max
                    else:
                        st.late += 1
                        late = True
                        ext = st.ext_max - ((st.last_seq - seq) & 0xFFFF)
                st.count += 1
                if win.t0 <= t < win.t1:
                    st.w_count += 1
                    if ext < st.w_min:
                        st.w_min = ext
                    if ext > st.w_max:
                        st.w_max = ext
                    if late:
                        st.w_late += 1
                    if probe is not None and seq % mod == 0:
                        try:
                            plain = self._srtp.unprotect(data)
                        except Exception:
                            self.decrypt_errors += 1
                            return
                        payload = rtp_payload(plain)
                        if payload:
                            probe.match(payload, t)
                return
            orig(data, addr)

        return cb

    def window_stats(self) -> dict[str, Any]:
        """What arrived (kernel time) inside the window."""
        by_kind: dict[str, int] = {}
        rtp = expected = lost = late = 0
        for st in self.streams.values():
            if st.w_count == 0:
                continue
            by_kind[st.kind] = by_kind.get(st.kind, 0) + st.w_count
            rtp += st.w_count
            exp = st.w_max - st.w_min + 1
            expected += exp
            lost += max(0, exp - st.w_count)
            late += st.w_late
        return {"rtp": rtp, "by_kind": by_kind, "expected": expected, "lost": lost, "late": late}

    async def close(self) -> None:
        await self.pc.close()


# --------------------------------------------------------------------------
# publishers in their own process (JSON lines over stdin/stdout)
# --------------------------------------------------------------------------
async def _publisher_process(host_addr: str, bitrate: int, max_seconds: float) -> None:
    """``python loadgen.py publishers``: serve offer/accept/counters/sends/stop."""
    import json
    import os
    import sys
    import threading

    pin_host_address(host_addr)
    pin_vp8_bitrate(bitrate)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to stderr
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=reader, daemon=True).start()
    log = SendLog()
    pubs: dict[str, Publisher] = {}
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline:
            try:
                line = await asyncio.wait_for(lines.get(), timeout=max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if line is None:
                break
            cmd = json.loads(line)
            op = cmd["op"]
            reply: dict[str, Any] = {"id": cmd.get("id")}
            try:
                if op == "offer":
                    p = Publisher(cmd["name"], video=cmd["video"], audio=cmd["audio"], probe=log, seed=cmd.get("seed", 0))
                    pubs[p.name] = p
                    reply["sdp"] = await p.offer()
                elif op == "accept":
                    await pubs[cmd["name"]].accept(cmd["sdp"])
                elif op == "counters":
                    reply["counters"] = {n: [p.sent_rtp, p.sent_bytes, p.sent_frames, p.kf_requests, p.kf_forced] for n, p in pubs.items()}
                    reply["t"] = time.time()
                elif op == "sends":
                    reply["sent"] = [[k, t] for k, t in log.between(cmd["t0"] - 5.0, cmd["t1"]).items()]
                    reply["count"] = log.count_between(cmd["t0"], cmd["t1"])
                    reply["ambiguous"] = log.ambiguous
                elif op == "stop":
                    out.write(json.dumps(reply) + "\n")
                    out.flush()
                    break
                else:
                    reply["error"] = f"unknown op {op}"
            except Exception as exc:  # reported to the orchestrator
                reply["error"] = f"{type(exc).__name__}: {exc}"
            out.write(json.dumps(reply) + "\n")
            out.flush()
    finally:
        for p in pubs.values():
            try:
                await asyncio.wait_for(p.close(), 5)
            except Exception:
                pass


class RemotePublishers:
    """Orchestrator-side handle on the publisher process."""

    def __init__(self, host_addr: str, bitrate: int, max_seconds: float = 600) -> None:
        self.args = (host_addr, bitrate, max_seconds)
        self.proc: asyncio.subprocess.Process | None = None
        self._id = 0
        self._lock = asyncio.Lock()
        self.names: list[str] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        import os
        import sys

        host, bitrate, max_s = self.args
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "publishers", host, str(bitrate), str(max_s),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 24,
        )

    async def _call(self, op: str, timeout: float = 30, **kw: Any) -> dict[str, Any]:
        import json

        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        async with self._lock:
            self._id += 1
            msg = {"op": op, "id": self._id, **kw}
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise ConnectionError("publisher process exited")
        reply = json.loads(line)
        if reply.get("error"):
            raise RuntimeError(f"publisher {op}: {reply['error']}")
        return reply

    async def offer(self, name: str, *, video: bool, audio: bool, seed: int = 0) -> str:
        self.names.append(name)
        return (await self._call("offer", name=name, video=video, audio=audio, seed=seed))["sdp"]

    async def accept(self, name: str, sdp: str) -> None:
        await self._call("accept", name=name, sdp=sdp, timeout=30)

    async def counters(self) -> tuple[dict[str, list[int]], float]:
        """Per-publisher counters and the publisher process's clock when read."""
        r = await self._call("counters")
        return r["counters"], float(r["t"])

    async def sends(self, t0: float, t1: float) -> tuple[dict[int, float], int, int]:
        """Send log around [t0, t1), ambiguous payloads, RTP packets sent in [t0, t1)."""
        r = await self._call("sends", t0=t0, t1=t1, timeout=30)
        return {int(k): float(t) for k, t in r["sent"]}, int(r["ambiguous"]), int(r["count"])

    async def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.returncode is None:
                await self._call("stop", timeout=10)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


if __name__ == "__main__":
    import sys as _sys

    if len(_sys.argv) == 5 and _sys.argv[1] == "publishers":
        asyncio.run(_publisher_process(_sys.argv[2], int(_sys.argv[3]), float(_sys.argv[4])))
    else:
        _sys.exit("usage: loadgen.py publishers HOST_ADDR BITRATE MAX_SECONDS  (started by bench/sfu.py)")
