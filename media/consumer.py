"""A Consumer is one producer's stream forwarded to one subscriber.

It owns the per-subscriber rewriting (SSRC, payload type, sequence number,
timestamp) so that whatever happens upstream — waiting for a keyframe,
pause/resume, floor control muting, the transceiver being recycled for
another source — the subscriber sees one continuous RTP stream."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import rtcp
from .fastpath import Link, Out
from .rtp_parse import SEQ_TS_SSRC, U16

# Packets one NACK may have retransmitted (the rest wait for the next NACK).
MAX_RETRANSMIT_PER_NACK = 64

if TYPE_CHECKING:
    from .producer import Producer

# Takes the packet as bytes or bytearray; must not keep a reference to it.
SendFn = Callable[[bytes | bytearray], None]


def _in_struct(field: str, *, writable: bool = False, doc: str | None = None) -> property:
    """A Consumer attribute kept in its C struct (fastpath.Out), which the
    compiled fan-out reads and updates in place."""

    def get(self: Consumer) -> int:
        return int(getattr(self._o, field))

    def put(self: Consumer, value: int) -> None:
        setattr(self._o, field, value)

    return property(get, put if writable else None, doc=doc)


class Consumer:
    def __init__(
        self,
        *,
        id: str,
        producer: Producer,
        participant_id: str,
        mid: str,
        ssrc: int,
        rtx_ssrc: int,
        continue_from: Consumer | None = None,
        downlink: str | None = None,
    ) -> None:
        self.id = id
        self.producer = producer
        self.participant_id = participant_id  # the subscriber
        self.mid = mid
        self.kind = producer.kind
        # The subscriber transport this consumer goes out on, for the weak-link
        # policy (media/downlink.py); None (pipes): not watched.
        self.downlink = downlink
        self.rtx_ssrc = rtx_ssrc
        # The rewriting state and counters live in a C struct that the
        # compiled fan-out updates in place (see media/fastpath.py).
        self._out = Out(ssrc)
        self._o = self._out.c
        # Negotiated with the subscriber; set by configure() after the answer.
        self.rtx_pt: int | None = None
        self.nack_enabled = False
        self._configured = False
        self.closed = False
        # Why it is paused (the floor over a pipe, a weak downlink...): it
        # forwards again only when every reason is gone.  `paused` is what
        # the packet path reads.
        self._pauses: set[str] = set()
        self.paused = False
        self.suspended: str | None = None  # weak downlink: why video is not forwarded
        # Sending is possible only once negotiated and the DTLS is connected.
        # Retransmissions go through _send; forwarding through the link (C),
        # or through _send where no link could be made.
        self._send: SendFn | None = None
        self.rtcp_out: SendFn | None = None
        self.rtcp_ssrc = 0
        self._drop_hook: Callable[[int], bool] | None = None
        # True while the producer hands this consumer its packets from C.
        self.steady = False

        self.waiting_keyframe = False
        self._need_sync = True
        if continue_from is not None and continue_from.last_seq >= 0:
            # Same SSRC on a recycled transceiver: continue its numbering.
            self.last_seq = continue_from.last_seq
            self.last_ts = continue_from.last_ts
            self.last_ms = continue_from.last_ms
            self.rtx_seq = continue_from.rtx_seq
        else:
            self.last_ts = random.getrandbits(32)
            self.rtx_seq = random.getrandbits(15)
        self.sync_seq = 0  # first output seq since the last resync
        # (first output seq, seq_off, ts_off, producer) of recent segments, newest last,
        # so NACKs for packets sent before a resync can still be answered.
        self._segments: list[tuple[int, int, int, Producer]] = []

        # counters kept in Python (the per-packet ones are in the C struct)
        self.dropped = 0
        self.retransmissions = 0
        self.nacks_received = 0
        self._last_nack: list[int] = []  # output seqs the newest NACK asked for
        self.plis_received = 0
        self.remb_bps: int | None = None
        self.remb_mono = 0.0
        self.fraction_lost = 0  # from the subscriber's receiver reports (/256)
        self.rr_mono = 0.0  # when the last one arrived

    # -- state shared with the compiled fan-out ------------------------------
    @property
    def fanout_entry(self) -> Out:
        """This consumer's entry in its producer's compiled fan-out table,
        which the producer puts there only while the consumer is steady."""
        return self._out

    ssrc = _in_struct("ssrc")
    pt = _in_struct("pt")
    seq_off = _in_struct("seq_off")
    ts_off = _in_struct("ts_off")
    packets = _in_struct("packets")
    octets = _in_struct("octets")
    last_seq = _in_struct("last_seq", writable=True, doc="Output seq of the newest packet sent, -1 before the first.")
    last_ts = _in_struct("last_ts", writable=True)
    last_ms = _in_struct("last_ms", writable=True)

    @property
    def drop_hook(self) -> Callable[[int], bool] | None:
        """Test hook: return True to drop the packet with this output seq.
        Its packets take the Python path, where the hook can see them."""
        return self._drop_hook

    @drop_hook.setter
    def drop_hook(self, hook: Callable[[int], bool] | None) -> None:
        self._drop_hook = hook
        self._steady_changed()

    # -- lifecycle ----------------------------------------------------------
    def configure(self, pt: int, rtx_pt: int | None, nack: bool) -> None:
        self._o.pt = pt
        self.rtx_pt = rtx_pt
        self.nack_enabled = nack
        self._configured = True

    @property
    def active(self) -> bool:
        return self._send is not None and not self.paused and not self.closed

    def set_sender(
        self, send_rtp: SendFn | None, send_rtcp: SendFn | None, rtcp_ssrc: int, link: Link | None = None
    ) -> None:
        """Enable sending (transport connected and answer applied) or stop it.
        `link` lets the compiled fan-out send for this consumer."""
        was_active = self.active
        self._send = send_rtp if self._configured else None
        self._out.attach(link if self._send is not None else None)
        self.rtcp_out = send_rtcp
        self.rtcp_ssrc = rtcp_ssrc
        if self.active and not was_active:
            self._start_sync()
        self._steady_changed()

    def pause(self, reason: str = "paused") -> None:
        self._pauses.add(reason)
        if not self.paused:
            self.paused = True
            self._set_waiting(False)
            self._steady_changed()

    def resume(self, reason: str = "paused") -> None:
        self._pauses.discard(reason)
        if self.paused and not self._pauses:
            self.paused = False
            if self.active:
                self._start_sync()  # video: held until a keyframe, one requested
            self._steady_changed()

    def suspend(self, reason: str) -> None:
        """The subscriber's downlink cannot carry this (video) stream
        (media/downlink.py): stop forwarding it; `reason` shows in stats."""
        self.suspended = reason
        self.pause("downlink")

    def unsuspend(self) -> None:
        """The downlink recovered: forward again, from a keyframe.  What the
        subscriber last NACKed goes again first: its answers may have been
        lost on the weak link, and a receiver that NACKs only on a new gap
        (aiortc) would otherwise keep that hole in its jitter buffer, with
        every later frame stuck behind it, since the stream resumes
        without a gap."""
        if self.suspended is not None:
            self.suspended = None
            self.resume("downlink")
            if self.active:
                self._retransmit(self._last_nack)

    def resync(self) -> None:
        """Upstream discontinuity (floor regained, source switched): start a
        fresh segment that continues this consumer's numbering."""
        if self.active:
            self._start_sync()
            self._steady_changed()

    def _start_sync(self) -> None:
        self._need_sync = True
        if self.kind == "video":
            # A decoder cannot start mid-GOP: hold until a keyframe arrives.
            self._set_waiting(True)
            self.producer.request_keyframe()

    def _set_waiting(self, waiting: bool) -> None:
        if waiting != self.waiting_keyframe:
            self.waiting_keyframe = waiting
            self.producer.hold_for_keyframe(waiting)

    def _steady_changed(self) -> None:
        """Steady: synced, sending, nothing to look at per packet.  Only then
        may the producer hand this consumer its packets from C."""
        steady = (
            self.active
            and not self._need_sync
            and self._drop_hook is None
            and self._out.link is not None
        )
        if steady != self.steady:
            self.steady = steady
            self.producer.regroup()

    def close(self) -> None:
        """Stop sending; the Router detaches it from its producer."""
        if self.closed:
            return
        self._set_waiting(False)
        self.closed = True
        self._send = None
        self.rtcp_out = None
        self._out.attach(None)
        self._steady_changed()  # out of the compiled table at once

    def set_producer(self, producer: Producer) -> None:
        """Take packets from `producer` from now on (Router.switch_consumer
        moves the link); a keyframe hold on the old one is given up."""
        self._set_waiting(False)
        self.producer = producer

    # -- per-packet path outside steady state --------------------------------
    def forward(
        self, buf: bytearray, marker: int, seq: int, ts: int, plen: int, keyframe: bool, now_ms: int
    ) -> None:
        """A packet for a consumer not (yet) in its producer's C table:
        wait for a keyframe, start a segment, apply the test hook."""
        send = self._send
        if send is None or self.paused:
            return
        if self._need_sync:
            if self.waiting_keyframe:
                if not keyframe:
                    return
                self._set_waiting(False)
            self._sync(seq, ts, now_ms)
        if self._drop_hook is not None:
            oseq = (seq + self._o.seq_off) & 0xFFFF
            if self._drop_hook(oseq):
                # Counted as sent (lost on the wire), so NACKs can ask for it.
                self._advance(oseq, (ts + self._o.ts_off) & 0xFFFFFFFF, plen, now_ms)
                self.dropped += 1
                return
        if self._out.link is not None:
            self._out.send(buf, marker, seq, ts, plen, now_ms)
            if not self.steady:
                self._steady_changed()
        else:
            self._rewrite(buf, marker, seq, ts, plen, now_ms)
            send(buf)

    def _rewrite(self, buf: bytearray, marker: int, seq: int, ts: int, plen: int, now_ms: int) -> None:
        """What media/fanout.c does to a packet, for consumers without a link."""
        o = self._o
        oseq = (seq + o.seq_off) & 0xFFFF
        ots = (ts + o.ts_off) & 0xFFFFFFFF
        buf[1] = marker | o.pt
        SEQ_TS_SSRC.pack_into(buf, 2, oseq, ots, o.ssrc)
        self._advance(oseq, ots, plen, now_ms)

    def _advance(self, oseq: int, ots: int, plen: int, now_ms: int) -> None:
        o = self._o
        if o.last_seq < 0 or ((oseq - o.last_seq) & 0xFFFF) < 0x8000:
            o.last_seq = oseq
            o.last_ts = ots
            o.last_ms = now_ms
        o.packets += 1
        o.octets += plen

    def _sync(self, seq: int, ts: int, now_ms: int) -> None:
        o = self._o
        if o.last_seq < 0:
            next_seq = random.getrandbits(15)
            next_ts = o.last_ts
        else:
            next_seq = (o.last_seq + 1) & 0xFFFF
            # Advance the timestamp by the wall time of the gap so players
            # keep their clock; at least one tick so it never repeats.
            gap = max(1, (now_ms - o.last_ms) * self.producer.clock_rate // 1000)
            next_ts = (o.last_ts + gap) & 0xFFFFFFFF
        o.seq_off = (next_seq - seq) & 0xFFFF
        o.ts_off = (next_ts - ts) & 0xFFFFFFFF
        self.sync_seq = next_seq
        self._segments.append((next_seq, o.seq_off, o.ts_off, self.producer))
        if len(self._segments) > 4:
            del self._segments[0]
        o.last_seq = (next_seq - 1) & 0xFFFF
        self._need_sync = False

    # -- RTCP from the subscriber -------------------------------------------
    def on_nack(self, lost: list[int]) -> None:
        """Answer a NACK from the producer's packet cache, rewritten for this
        consumer; RTX if negotiated, else plain retransmission."""
        self.nacks_received += 1
        self._last_nack = lost[:MAX_RETRANSMIT_PER_NACK]
        self._retransmit(self._last_nack)

    def _retransmit(self, lost: list[int]) -> None:
        send = self._send
        if send is None:
            return
        segments = self._segments
        # One compound NACK may name ~1000 packets; answering them all in the
        # datagram callback would stall the loop for every other site.
        for oseq in lost:
            if ((self.last_seq - oseq) & 0xFFFF) >= 0x8000:
                continue  # not sent yet
            # The newest segment starting at or before oseq holds its offsets.
            for first, seq_off, ts_off, producer in reversed(segments):
                if ((oseq - first) & 0xFFFF) < 0x8000:
                    break
            else:
                continue
            entry = producer.cached((oseq - seq_off) & 0xFFFF)
            if entry is None:
                continue
            _, ts, cached_buf, hdr_len, _, marker = entry
            ots = (ts + ts_off) & 0xFFFFFFFF
            if self.rtx_pt is not None:
                out = bytearray(cached_buf[:hdr_len])
                out[1] = marker | self.rtx_pt
                SEQ_TS_SSRC.pack_into(out, 2, self.rtx_seq, ots, self.rtx_ssrc)
                self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
                out += U16.pack(oseq)
                out += cached_buf[hdr_len:]
            else:
                out = bytearray(cached_buf)
                out[1] = marker | self.pt
                SEQ_TS_SSRC.pack_into(out, 2, oseq, ots, self.ssrc)
            self.retransmissions += 1
            send(out)

    def on_keyframe_request(self) -> None:
        self.plis_received += 1
        self.producer.request_keyframe()

    def on_remb(self, bitrate: int, now: float) -> None:
        self.remb_bps = bitrate
        self.remb_mono = now

    def on_receiver_report(self, fraction_lost: int, now: float) -> None:
        self.fraction_lost = fraction_lost
        self.rr_mono = now

    def sender_report(self, now_mono: float) -> bytes | None:
        """SR with this consumer's true counts and the publisher's NTP<->RTP
        mapping shifted into this consumer's timestamp space (lip sync)."""
        p = self.producer
        if not p.sr_ntp or self.packets == 0 or self._need_sync:
            return None
        elapsed = now_mono - p.sr_mono
        ntp = p.sr_ntp + int(elapsed * (1 << 32))
        rtp_ts = p.sr_rtp + int(elapsed * p.clock_rate) + self.ts_off
        return rtcp.sender_report(self.ssrc, ntp, rtp_ts, self.packets, self.octets)

    def stats(self) -> dict:
        return {
            "id": self.id,
            "producer_id": self.producer.id,
            "kind": self.kind,
            "packets": self.packets,
            "octets": self.octets,
            "dropped": self.dropped,
            "retransmissions": self.retransmissions,
            "nacks_received": self.nacks_received,
            "plis_received": self.plis_received,
            "waiting_keyframe": self.waiting_keyframe,
            "fraction_lost": self.fraction_lost,
            "paused": self.paused,
            # not forwarded because the subscriber's downlink is weak ("loss"/"bandwidth")
            "video_suspended": self.suspended is not None,
            "suspend_reason": self.suspended,
            # packets the compiled fan-out could not protect or send on this subscriber's link
            "link_errors": self._out.link.errors if self._out.link is not None else 0,
        }
