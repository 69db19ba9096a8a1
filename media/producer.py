"""A Producer is one published track: it receives the publisher's decrypted
RTP, parses each packet once, and hands it to its consumers.

Also owns the uplink side of RTCP: loss statistics for receiver reports,
NACKs for gaps, keyframe requests (PLI), and the NTP<->RTP mapping from the
publisher's sender reports that consumers need for lip-sync."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from . import rtcp
from .fastpath import EMPTY, Out, Table
from .rtp_parse import (
    HEADER,
    h264_is_keyframe_start,
    header_length,
    payload_length,
    rewrite_extensions,
    unwrap_rtx,
    vp8_is_keyframe_start,
)

logger = logging.getLogger(__name__)

CACHE_SIZE = 1024  # power of two; ~10 s of 640x360 video for NACK answers
CACHE_MASK = CACHE_SIZE - 1
KEYFRAME_REQUEST_INTERVAL = 1.0  # s between PLIs to one publisher
MAX_NACK_GAP = 256  # bigger jumps are a restart, not loss
NACK_RETRIES = 3

Tap = Callable[["Producer", bytes], None]
# (seq, ts, buf, header length, payload length, marker bit)
CacheEntry = tuple[int, int, bytearray, int, int, int]


class Sink(Protocol):
    """What a producer forwards to: a media.consumer.Consumer, seen only
    through this so that the producer does not depend on the consumer
    (the consumer reads the producer's cache and clock; nothing goes back)."""

    steady: bool

    @property
    def fanout_entry(self) -> Out: ...

    def forward(
        self, buf: bytearray, marker: int, seq: int, ts: int, plen: int, keyframe: bool, now_ms: int
    ) -> None: ...


class Producer:
    def __init__(
        self,
        *,
        id: str,
        participant_id: str,
        kind: str,
        source: str,
        mid: str,
        mime_type: str,
        clock_rate: int,
        payload_type: int,
        codec_parameters: dict,
        rtx_payload_type: int | None,
        nack: bool,
        ext_remap: bytes,
    ) -> None:
        self.id = id
        self.participant_id = participant_id
        self.kind = kind
        self.source = source
        self.mid = mid
        self.mime_type = mime_type
        self.clock_rate = clock_rate
        self.payload_type = payload_type
        self.codec_parameters = codec_parameters
        self.rtx_payload_type = rtx_payload_type
        self.nack_enabled = nack
        self.ssrc: int | None = None
        self.rtx_ssrc: int | None = None
        self.closed = False
        # Floor control: False while the router's audio allowlist excludes us.
        self.forwarding = True

        self._remap = ext_remap
        name = mime_type.lower()
        self._keyframe_fn: Callable[[bytes | bytearray, int], bool] | None = (
            vp8_is_keyframe_start if name == "video/vp8" else h264_is_keyframe_start if name == "video/h264" else None
        )
        self._consumers: list[Sink] = []
        # Steady consumers get each packet from C; the rest go through Python.
        self._table: Table = EMPTY
        self._unsteady: list[Sink] = []
        self._taps: list[Tap] = []
        # Consumers holding video until a keyframe (see hold_for_keyframe).
        self.waiting_keyframe = 0
        self._cache: list[CacheEntry | None] | None = [None] * CACHE_SIZE if kind == "video" else None

        # RTCP toward the publisher; set by the send transport once connected.
        self.rtcp_out: Callable[[bytes], None] | None = None
        self.rtcp_ssrc = 0
        self._last_pli = -1e9
        # Test hook: return True to drop an incoming packet (uplink loss).
        self.drop_hook: Callable[[int], bool] | None = None
        # Off only in tests that prove keyframe-on-join depends on it.
        self.keyframe_requests = True

        # uplink statistics (RFC 3550 A.1/A.8)
        self._base_seq = -1
        self._max_seq = -1
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_transit: int | None = None
        self._missing: dict[int, list[int]] = {}  # seq -> [first_ms, tries]

        # publisher sender report: NTP / RTP pair and when it arrived
        self.sr_ntp = 0
        self.sr_rtp = 0
        self.sr_mono = 0.0
        self._lsr = 0

        # audio level accumulator, drained by the router each tick
        self.level_sum = 0
        self.level_count = 0

        # counters
        self.packets = 0
        self.octets = 0
        self.keyframes = 0
        self.plis_sent = 0
        self.nacks_sent = 0
        self.rtx_received = 0
        self.remb_bps: int | None = None  # last REMB sent to the publisher
        self.remb_changed = 0.0

    # -- consumers and taps ----------------------------------------------
    @property
    def consumers(self) -> list[Sink]:
        return list(self._consumers)

    def attach_consumer(self, consumer: Sink) -> None:
        """Hand `consumer` this producer's packets.  The Router's job
        (Router.add_consumer / switch_consumer); nothing else links them."""
        self._consumers.append(consumer)
        self.regroup()

    def detach_consumer(self, consumer: Sink) -> None:
        """Stop handing `consumer` packets, from C or Python (the Router's job)."""
        try:
            self._consumers.remove(consumer)
        except ValueError:
            pass
        self.regroup()

    def regroup(self) -> None:
        """Split consumers into the C table and the Python list; called when
        one joins, leaves or changes state, e.g. a consumer becoming steady
        (never per packet).  Both are replaced, not mutated, so a loop over
        the old ones stays valid."""
        steady = [c for c in self._consumers if c.steady]
        self._table = Table([c.fanout_entry for c in steady]) if steady else EMPTY
        self._unsteady = [c for c in self._consumers if not c.steady]

    def hold_for_keyframe(self, waiting: bool) -> None:
        """A consumer starts (True) or stops (False) holding its video until
        a keyframe: while any does, packets are checked for keyframe starts
        and the router's tick keeps asking the publisher for one."""
        self.waiting_keyframe += 1 if waiting else -1

    def add_tap(self, callback: Tap) -> Callable[[], None]:
        """Observe every packet as published (decrypted, before per-consumer
        rewriting).  `callback(producer, packet_bytes)` runs on the event loop
        and must be quick.  Returns a function that removes the tap."""
        self._taps.append(callback)

        def remove() -> None:
            if callback in self._taps:
                self._taps.remove(callback)

        return remove

    # -- hot path ----------------------------------------------------------
    def receive(self, data: bytes, arrival_ms: int) -> None:
        """One decrypted RTP packet from the publisher, on its media SSRC."""
        hdr_len = header_length(data)
        if not hdr_len:
            return
        b0, b1, seq, ts, _ = HEADER.unpack_from(data)
        if self.drop_hook is not None and self.drop_hook(seq):
            return

        # Uplink statistics and gap detection.
        if self._max_seq < 0:
            self._base_seq = self._max_seq = seq
        else:
            delta = (seq - self._max_seq) & 0xFFFF
            if delta == 0:
                return  # duplicate
            if delta < 0x8000:
                if seq < self._max_seq:
                    self._cycles += 0x10000
                if delta > 1 and self.nack_enabled and delta < MAX_NACK_GAP:
                    self._on_gap(self._max_seq, delta, arrival_ms)
                self._max_seq = seq
                # jitter from in-order packets only
                transit = (arrival_ms * self.clock_rate) // 1000 - ts
                if self._last_transit is not None:
                    d = transit - self._last_transit
                    if d < 0:
                        d = -d
                    self._jitter += (d - self._jitter) / 16.0
                self._last_transit = transit
            else:
                # Late: a repair, or a second copy (RTX answering both a NACK
                # and its retry). A seq already cached was forwarded once.
                if self._cache is not None:
                    held = self._cache[seq & CACHE_MASK]
                    if held is not None and held[0] == seq:
                        return
                if self._missing:
                    self._missing.pop(seq, None)  # a repair arrived
        self._received += 1

        buf = bytearray(data)
        level = rewrite_extensions(buf, self._remap) if b0 & 0x10 else -1
        if level >= 0:
            self.level_sum += level & 0x7F
            self.level_count += 1
        plen = payload_length(data, hdr_len)
        self.packets += 1
        self.octets += plen
        marker = b1 & 0x80
        if self._cache is not None:
            self._cache[seq & CACHE_MASK] = (seq, ts, buf, hdr_len, plen, marker)
        if self._taps:
            self._run_taps(data)
        if not self.forwarding:
            return
        if self._table.size:
            self._table.fanout(buf, marker, seq, ts, plen, arrival_ms)
        if self._unsteady:
            keyframe = False
            if self.waiting_keyframe and self._keyframe_fn is not None:
                keyframe = self._keyframe_fn(buf, hdr_len)
                if keyframe:
                    self.keyframes += 1
            for consumer in self._unsteady:
                consumer.forward(buf, marker, seq, ts, plen, keyframe, arrival_ms)

    def _run_taps(self, data: bytes) -> None:
        # A broken observer (e.g. a recorder) must not stop the forwarding.
        for tap in list(self._taps):
            try:
                tap(self, data)
            except Exception:
                logger.exception("tap on producer %s failed; removed", self.id)
                self._taps.remove(tap)

    def receive_rtx(self, data: bytes, arrival_ms: int) -> None:
        """A retransmission on the RTX SSRC: unwrap and treat as original."""
        hdr_len = header_length(data)
        if not hdr_len or self.ssrc is None:
            return
        original = unwrap_rtx(data, hdr_len, self.payload_type, self.ssrc)
        if original is not None:
            self.rtx_received += 1
            self.receive(bytes(original), arrival_ms)

    def cached(self, seq: int) -> CacheEntry | None:
        if self._cache is None:
            return None
        entry = self._cache[seq & CACHE_MASK]
        if entry is None or entry[0] != seq:
            return None
        return entry

    # -- uplink RTCP -------------------------------------------------------
    def _on_gap(self, last_seq: int, delta: int, now_ms: int) -> None:
        lost = [(last_seq + i) & 0xFFFF for i in range(1, delta)]
        for s in lost:
            self._missing[s] = [now_ms, 1]
        if len(self._missing) > MAX_NACK_GAP:
            for s in list(self._missing)[: len(self._missing) - MAX_NACK_GAP]:
                del self._missing[s]
        self._send_nack(lost)

    def _send_nack(self, lost: list[int]) -> None:
        if self.rtcp_out is not None and self.ssrc is not None and lost:
            self.rtcp_out(rtcp.nack(self.rtcp_ssrc, self.ssrc, lost))
            self.nacks_sent += 1

    def retry_nacks(self, now_ms: int) -> None:
        """Called by the router's tick: NACK again what is still missing,
        give up after a few tries or a second."""
        if not self._missing:
            return
        again = []
        for s, state in list(self._missing.items()):
            if now_ms - state[0] > 1000 or state[1] >= NACK_RETRIES:
                del self._missing[s]
            elif now_ms - state[0] >= 50 * state[1]:
                state[1] += 1
                again.append(s)
        self._send_nack(again)

    def request_keyframe(self, force: bool = False) -> bool:
        """Ask the publisher for a keyframe (PLI), at most once per second."""
        if self.kind != "video" or self.rtcp_out is None or self.ssrc is None or not self.keyframe_requests:
            return False
        now = time.monotonic()
        if not force and now - self._last_pli < KEYFRAME_REQUEST_INTERVAL:
            return False
        self._last_pli = now
        self.rtcp_out(rtcp.pli(self.rtcp_ssrc, self.ssrc))
        self.plis_sent += 1
        return True

    def on_sender_report(self, ntp: int, rtp_ts: int) -> None:
        self.sr_ntp = ntp
        self.sr_rtp = rtp_ts
        self.sr_mono = time.monotonic()
        self._lsr = (ntp >> 16) & 0xFFFFFFFF

    def receiver_info(self) -> rtcp.RtcpReceiverInfo | None:
        if self.ssrc is None or self._max_seq < 0:
            return None
        ext_max = self._cycles + self._max_seq
        expected = ext_max - self._base_seq + 1
        lost = max(0, expected - self._received)
        exp_int = expected - self._expected_prior
        rec_int = self._received - self._received_prior
        self._expected_prior, self._received_prior = expected, self._received
        lost_int = exp_int - rec_int
        fraction = 0 if exp_int <= 0 or lost_int <= 0 else min(255, (lost_int << 8) // exp_int)
        dlsr = 0
        if self._lsr:
            dlsr = int((time.monotonic() - self.sr_mono) * 65536) & 0xFFFFFFFF
        return rtcp.RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=min(lost, 0x7FFFFF),
            highest_sequence=ext_max & 0xFFFFFFFF,
            jitter=int(self._jitter),
            lsr=self._lsr,
            dlsr=dlsr,
        )

    def close(self) -> None:
        """Detach everything; consumers are closed by the router."""
        self.closed = True
        self._taps.clear()
        self._cache = None
        self._table = EMPTY
        self._unsteady = []
        self.rtcp_out = None

    def stats(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "packets": self.packets,
            "octets": self.octets,
            "keyframes": self.keyframes,
            "plis_sent": self.plis_sent,
            "nacks_sent": self.nacks_sent,
            "rtx_received": self.rtx_received,
            "consumers": len(self._consumers),
        }
