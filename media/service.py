"""MediaService: the API the signaling layer calls.

One Router per meeting, one Peer (two Transports) per client connection.
Every call names the participant and, optionally, the connection (the
signalling layer passes the Socket.IO sid); without one, the participant id
stands for its only connection (in-process tests, benches).  Keying by
connection means a reload's old connection can be torn down while the new
one negotiates, without either touching the other's peer.  All negotiation
for a connection is serialised by its peer's lock; nothing here runs per
packet."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aiortc import RTCRtpTransceiver, RTCSessionDescription
from aiortc.exceptions import InvalidStateError

from . import aiortc_hooks as hooks
from . import negotiation, sdp_checks
from .negotiation import DEFAULT_SOURCE, SOURCES
from .consumer import Consumer
from .forwarding_track import ForwardingTrack
from .peer import Peer, Want
from .pipe import DEAD_AFTER, KEEPALIVE_INTERVAL, PipeTransport
from .pipe_wire import PipedProducer, PipeInfo
from .producer import Producer
from .router import Router
from .transport import Transport

if TYPE_CHECKING:
    from aiortc.sdp import SessionDescription

logger = logging.getLogger(__name__)

# A pipe producer's header-extension ids are already the canonical ones.
_IDENTITY_REMAP = bytes(range(16))



@dataclass(frozen=True)
class TrackInfo:
    id: str
    participant_id: str
    kind: str  # "audio" | "video"
    source: str  # "camera" | "screen" | "mic"

    def to_dict(self) -> dict:
        return {"id": self.id, "participant_id": self.participant_id, "kind": self.kind, "source": self.source}


class MediaError(Exception):
    """code is "invalid" | "not_found" | "state" (the protocol's error codes)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MediaService:
    def __init__(
        self,
        *,
        ice_servers: list[dict] | None = None,
        allow_loopback: bool = False,
        # Behind a 1:1 NAT: "PUBLIC" or "PUBLIC/PRIVATE", the address the
        # host candidates announce (PLENARY_MEDIA_PUBLIC_ADDRESS).
        public_address: str | None = None,
        on_tracks_changed: Callable[[str], Awaitable[None]] | None = None,
        on_active_speaker: Callable[[str, str | None], Awaitable[None]] | None = None,
        # on_offer(meeting_id, participant_id, connection_id, sdp): deliver a
        # server-initiated offer to that connection only.
        on_offer: Callable[[str, str, str, str], Awaitable[None]] | None = None,
        # Pipes to other MediaService instances (see media/pipe.py): the
        # address pipe sockets bind, the one announced to the far end
        # (PLENARY_MEDIA_ADDRESS: bind 0.0.0.0, announce the host's address),
        # an inclusive port range for firewalls ((0, 0): any), SRTP or plain
        # RTP (trusted network only), and liveness timing.
        pipe_bind_host: str = "127.0.0.1",
        pipe_announced_host: str | None = None,
        pipe_ports: tuple[int, int] = (0, 0),
        pipe_srtp: bool = True,
        pipe_keepalive_interval: float = KEEPALIVE_INTERVAL,
        pipe_dead_after: float = DEAD_AFTER,
        # on_pipe_closed(meeting_id, remote_key, reason): a pipe died
        # ("timeout", "goodbye", "unconnected") or was closed ("closed").
        on_pipe_closed: Callable[[str, str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.ice_servers = self._check_ice_servers(ice_servers)
        if allow_loopback:
            hooks.enable_loopback_candidates()
        # ValueError for anything but IPv4 addresses: a typo must stop the
        # start, not leave clients with candidates they cannot reach.
        self.public_address = hooks.parse_public_address(public_address) if public_address else None
        self.on_tracks_changed = on_tracks_changed
        self.on_active_speaker = on_active_speaker
        self.on_offer = on_offer
        self._routers: dict[str, Router] = {}
        self._peers: dict[tuple[str, str], Peer] = {}  # (meeting id, connection id) -> peer
        # Cleanups started from aiortc's synchronous state callbacks; owned
        # here so close() can finish them.
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # meeting id -> audio allowlist, kept across router lifetimes.
        self._floor_memory: dict[str, set[str]] = {}
        # Counters of routers already closed, so service stats stay cumulative.
        self._retired: dict[str, int] = {}
        self._pipes: dict[tuple[str, str], PipeTransport] = {}  # (meeting id, remote key) -> pipe
        if pipe_bind_host in ("0.0.0.0", "::", "") and not pipe_announced_host:
            # The far end cannot send to a wildcard: say which address reaches us.
            raise ValueError("pipes bound to a wildcard address need pipe_announced_host (PLENARY_MEDIA_ANNOUNCED_ADDRESS)")
        self._pipe_options = {
            "bind_host": pipe_bind_host,
            "announced_host": pipe_announced_host,
            "ports": pipe_ports,
            "keepalive_interval": pipe_keepalive_interval,
            "dead_after": pipe_dead_after,
        }
        self.pipe_srtp = pipe_srtp
        self.on_pipe_closed = on_pipe_closed

    # -- lookups ---------------------------------------------------------------
    def router(self, meeting_id: str) -> Router | None:
        return self._routers.get(meeting_id)

    def set_audio_allowlist(self, meeting_id: str, participant_ids: set[str] | None) -> None:
        """Floor control for a meeting, whether or not its router exists yet."""
        router = self._routers.get(meeting_id)
        if router is not None:
            router.set_audio_allowlist(participant_ids)
            # Tell the far ends at once which piped streams are muted here,
            # so an unmuted speaker's audio is not held up till the next keepalive.
            for pipe in self._meeting_pipes(meeting_id):
                pipe.send_floor()
        elif participant_ids is None:
            self._floor_memory.pop(meeting_id, None)
        else:
            self._floor_memory[meeting_id] = set(participant_ids)

    def tracks(self, meeting_id: str, *, local_only: bool = False) -> list[TrackInfo]:
        """The meeting's producers here; `local_only` leaves out those piped
        in from other services (what this service may pipe out: piping a
        piped track on would forward it twice)."""
        router = self._routers.get(meeting_id)
        if router is None:
            return []
        piped: set[str] = set()
        if local_only:
            for pipe in self._meeting_pipes(meeting_id):
                piped.update(pipe.producers)
        return [
            TrackInfo(p.id, p.participant_id, p.kind, p.source) for p in router.producers.values() if p.id not in piped
        ]

    def meeting_ids(self) -> list[str]:
        """Meetings with a router here (someone publishes or subscribes)."""
        return list(self._routers)

    def local_producers(self, meeting_id: str) -> list[Producer]:
        """The producers published through this service (not piped in): what
        an observer such as the recorder taps, through `Producer.add_tap`."""
        router = self._routers.get(meeting_id)
        if router is None:
            return []
        piped: set[str] = set()
        for pipe in self._meeting_pipes(meeting_id):
            piped.update(pipe.producers)
        return [p for p in router.producers.values() if p.id not in piped and not p.closed]

    def wants(self, meeting_id: str) -> set[str] | Literal["all"]:
        """What this service's own subscribers of the meeting want: "all" if
        any follows every track, else the union of the track ids they named.
        Pipes do not count (a pipe is asked for by a subscriber's process)."""
        wanted: set[str] = set()
        for (meeting, _connection), peer in self._peers.items():
            if meeting != meeting_id or peer.gone:
                continue
            if peer.want == "all":
                return "all"
            wanted |= peer.want
        return wanted

    def consumers(self, meeting_id: str, participant_id: str, *, connection: str | None = None) -> list[dict]:
        """What the connection's receive transport carries, by mid: lets the
        client map each received transceiver to a track id."""
        peer = self._find(meeting_id, participant_id, connection)
        if peer is None:
            return []
        return [
            {
                "mid": mid,
                "track_id": c.producer.id,
                "participant_id": c.producer.participant_id,
                "kind": c.kind,
                "source": c.producer.source,
            }
            for mid, c in peer.consumers.items()
        ]

    def _router_for(self, meeting_id: str) -> Router:
        router = self._routers.get(meeting_id)
        if router is None:
            callback = None
            if self.on_active_speaker is not None:
                notify = self.on_active_speaker

                async def callback(pid: str | None) -> None:
                    await notify(meeting_id, pid)

            router = Router(meeting_id, on_active_speaker=callback, floor_memory=self._floor_memory)
            self._routers[meeting_id] = router
        return router

    def _find(self, meeting_id: str, participant_id: str, connection: str | None) -> Peer | None:
        """The connection's peer, if it has one and it is this participant's."""
        peer = self._peers.get((meeting_id, participant_id if connection is None else connection))
        if peer is None or peer.participant_id != participant_id:
            return None
        return peer

    def _peer(self, meeting_id: str, participant_id: str, connection: str | None) -> Peer:
        if self._closed:
            raise MediaError("state", "media service is closed")
        connection_id = participant_id if connection is None else connection
        key = (meeting_id, connection_id)
        peer = self._peers.get(key)
        if peer is None:
            peer = Peer(meeting_id, participant_id, connection_id)
            self._peers[key] = peer
            self._router_for(meeting_id)
        elif peer.participant_id != participant_id:
            raise MediaError("state", "this connection belongs to another participant")
        return peer

    def _new_transport(self, peer: Peer, role: Literal["send", "recv"]) -> Transport:
        return Transport(
            role=role,
            participant_id=peer.participant_id,
            ice_servers=self.ice_servers,
            public_address=self.public_address,
            on_connected=lambda tr: self._transport_connected(peer, tr),
            on_gone=lambda tr: self._transport_gone(peer, tr),
        )

    # -- publishing ---------------------------------------------------------------
    async def publish(
        self,
        meeting_id: str,
        participant_id: str,
        sdp: str,
        sources: dict[str, str] | None = None,
        *,
        connection: str | None = None,
    ) -> str:
        existing = self._find(meeting_id, participant_id, connection)
        try:
            sdp_checks.check_publish_offer(sdp, renegotiating=existing is not None and existing.send is not None)
        except sdp_checks.SdpError as exc:
            raise MediaError("invalid", f"bad offer: {exc}") from None
        description = self._parse(sdp)
        sources = dict(sources or {})
        for mid, source in sources.items():
            if source not in SOURCES:
                raise MediaError("invalid", f"unknown source {source!r} for mid {mid!r}")
        peer = self._peer(meeting_id, participant_id, connection)
        async with peer.lock:
            if peer.gone:
                raise MediaError("state", "the connection has left")
            created = peer.send is None
            if created:
                peer.send = self._new_transport(peer, "send")
            transport = peer.send
            pc = transport.pc
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                transport.hook()
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                if created:
                    peer.send = None
                    await transport.close()
                    await self._forget_if_empty(peer)
                code = "state" if isinstance(exc, InvalidStateError) else "invalid"
                raise MediaError(code, f"cannot apply the offer: {exc}") from None
            changed = self._sync_producers(peer, description, sources)
            answer = pc.localDescription.sdp
        if changed:
            await self._tracks_changed(meeting_id)
        return answer

    def _sync_producers(self, peer: Peer, description: SessionDescription, sources: dict[str, str]) -> bool:
        """Make the peer's producers match the offer just applied."""
        assert peer.send is not None
        transport = peer.send
        router = self._router_for(peer.meeting_id)
        by_mid = {m.rtp.muxId: m for m in description.media if m.kind in ("audio", "video")}
        changed = False
        seen: set[str] = set()
        for t in transport.pc.getTransceivers():
            if t.mid is None:
                continue
            m = by_mid.get(t.mid)
            publishing = m is not None and m.port != 0 and m.direction in ("sendonly", "sendrecv")
            existing = peer.producers.get(t.mid)
            if not publishing:
                if existing is not None:
                    self._close_producer(peer, existing)
                    changed = True
                continue
            seen.add(t.mid)
            ssrc, rtx_ssrc = negotiation.offered_ssrcs(m)
            if existing is not None:
                source = sources.get(t.mid, existing.source)
                if existing.ssrc != ssrc and ssrc is not None:  # track replaced upstream
                    transport.set_producer_ssrcs(existing, ssrc=ssrc, rtx_ssrc=rtx_ssrc)
                if source != existing.source:
                    existing.source = source
                    changed = True
                continue
            made = negotiation.producer_for(t, peer.participant_id, sources.get(t.mid, DEFAULT_SOURCE[t.kind]))
            if made is None:
                continue
            producer, mid_ext_id = made
            transport.set_mid_extension(mid_ext_id)
            transport.add_producer(producer, ssrc=ssrc, rtx_ssrc=rtx_ssrc)
            if transport.connected:
                producer.rtcp_out, producer.rtcp_ssrc = transport.send_rtcp, transport.rtcp_ssrc
            peer.producers[t.mid] = producer
            router.add_producer(producer)
            changed = True
        for mid in [mid for mid in peer.producers if mid not in seen]:
            self._close_producer(peer, peer.producers[mid])
            changed = True
        return changed

    def _close_producer(self, peer: Peer, producer: Producer) -> None:
        peer.producers.pop(producer.mid, None)
        if peer.send is not None:
            peer.send.remove_producer(producer)
        self._drop_producer(peer.meeting_id, producer)

    def _drop_producer(self, meeting_id: str, producer: Producer) -> None:
        """Close a producer in its router (a publisher's or a pipe's) and
        every consumer of it: subscribers' (renegotiated later) and pipe
        consumers (the far end is told by an RTCP BYE)."""
        router = self._routers.get(meeting_id)
        if router is None:
            return
        closed = router.close_producer(producer.id)
        if not closed:
            return
        # Consumers name their subscriber's participant, but a participant
        # may have several connections: find each consumer's own peer.
        owner = {
            c.id: p
            for p in self._peers.values()
            if p.meeting_id == meeting_id and p.consumers
            for c in p.consumers.values()
        }
        pipes = self._meeting_pipes(meeting_id)
        for consumer in closed:
            subscriber = owner.get(consumer.id)
            if subscriber is not None:
                self._release_consumer(subscriber, consumer)
                subscriber.dirty = True
                continue
            for pipe in pipes:
                if pipe.consumers.get(producer.id) is consumer:
                    pipe.remove_consumer(consumer)

    async def unpublish(self, meeting_id: str, participant_id: str, *, connection: str | None = None) -> None:
        peer = self._find(meeting_id, participant_id, connection)
        if peer is None or peer.send is None:
            return
        async with peer.lock:
            for producer in list(peer.producers.values()):
                self._close_producer(peer, producer)
            transport, peer.send = peer.send, None
            if transport is not None:
                await transport.close()
        await self._tracks_changed(meeting_id)
        await self._forget_if_empty(peer)

    # -- subscribing -------------------------------------------------------------
    async def subscribe(
        self,
        meeting_id: str,
        participant_id: str,
        track_ids: list[str] | Literal["all"],
        *,
        connection: str | None = None,
    ) -> str | None:
        """Return an offer for the receive transport, or None while there is
        nothing to receive yet (the first producer then triggers on_offer)."""
        if track_ids == "all":
            want: Want = "all"
        else:
            if not isinstance(track_ids, (list, tuple, set)) or not all(isinstance(x, str) for x in track_ids):
                raise MediaError("invalid", 'tracks must be a list of ids or "all"')
            router = self._routers.get(meeting_id)
            known = set(router.producers) if router is not None else set()
            unknown = [x for x in track_ids if x not in known]
            if unknown:
                raise MediaError("not_found", f"unknown track(s): {', '.join(unknown)}")
            want = set(track_ids)
        peer = self._peer(meeting_id, participant_id, connection)
        async with peer.lock:
            if peer.gone:
                raise MediaError("state", "the connection has left")
            peer.want = want
            if peer.recv is None and not self._desired(peer):
                # An offer without m= sections is one browsers refuse
                # ("BUNDLE group contains a MID='' matching no m= section").
                return None
            return await self._make_offer(peer)

    def _desired(self, peer: Peer) -> list[Producer]:
        router = self._routers.get(peer.meeting_id)
        if router is None:
            return []
        if peer.want == "all":
            return [p for p in router.producers.values() if p.participant_id != peer.participant_id]
        return [router.producers[i] for i in peer.want if i in router.producers]

    def _release_consumer(self, peer: Peer, consumer: Consumer) -> None:
        """Stop a consumer; keep its transceiver (inactive) for reuse."""
        router = self._routers.get(peer.meeting_id)
        if router is not None:
            router.close_consumer(consumer.id)
        consumer.close()
        if peer.consumers.get(consumer.mid) is consumer:
            del peer.consumers[consumer.mid]
        if peer.recv is not None:
            peer.recv.remove_consumer(consumer)
            for t in peer.recv.pc.getTransceivers():
                if t.mid == consumer.mid:
                    t.direction = "inactive"
                    peer.free[consumer.mid] = (t, consumer)
                    break

    async def _make_offer(self, peer: Peer) -> str:
        """Bring the receive transport in line with what the peer wants and
        return a fresh offer (call with peer.lock held)."""
        router = self._router_for(peer.meeting_id)
        if peer.recv is None:
            peer.recv = self._new_transport(peer, "recv")
        transport = peer.recv
        pc = transport.pc
        peer.dirty = False
        desired = {p.id: p for p in self._desired(peer)}
        for consumer in list(peer.consumers.values()):
            if consumer.producer.id not in desired or consumer.producer.closed:
                self._release_consumer(peer, consumer)
        have = {c.producer.id for c in peer.consumers.values()}
        added: list[tuple[RTCRtpTransceiver, Consumer | None, Producer]] = []
        for producer in desired.values():
            if producer.id in have:
                continue
            track = ForwardingTrack(producer.kind, producer.id)
            reuse = next((mid for mid, (t, _) in peer.free.items() if t.kind == producer.kind), None)
            if reuse is not None:
                t, previous = peer.free.pop(reuse)
                t.sender.replaceTrack(track)
                t.direction = "sendonly"
            else:
                t = pc.addTransceiver(track, direction="sendonly")
                previous = None
                hooks.silence_sender_rtcp(t.sender)
            hooks.set_sender_stream_id(t.sender, producer.participant_id)
            t.setCodecPreferences(negotiation.codec_preferences(producer))
            added.append((t, previous, producer))
        await pc.setLocalDescription(await pc.createOffer())
        transport.hook()
        for t, previous, producer in added:
            if producer.closed or peer.gone:
                # Closed while we awaited the offer: keep the m-line free and
                # offer again once this round is answered.
                t.direction = "inactive"
                peer.free[t.mid or ""] = (t, previous)
                peer.dirty = True
                continue
            ssrc, rtx_ssrc = hooks.sender_ssrcs(t.sender)
            consumer = Consumer(
                id=uuid.uuid4().hex[:16],
                producer=producer,
                participant_id=peer.participant_id,
                mid=t.mid or "",
                ssrc=ssrc,
                rtx_ssrc=rtx_ssrc,
                continue_from=previous,
                downlink=peer.connection_id,  # one weak-link verdict per receive transport
            )
            peer.consumers[consumer.mid] = consumer
            transport.add_consumer(consumer)
            router.add_consumer(consumer)
        return pc.localDescription.sdp

    async def answer(self, meeting_id: str, participant_id: str, sdp: str, *, connection: str | None = None) -> None:
        # Garbage is `invalid` whatever the state; only a well-formed answer
        # can be too early or too late.
        self._check_answer(sdp, None)
        peer = self._find(meeting_id, participant_id, connection)
        if peer is None or peer.recv is None:
            raise MediaError("state", "no offer is waiting for an answer")
        self._parse(sdp)
        async with peer.lock:
            transport = peer.recv
            if transport is None or transport.pc.signalingState != "have-local-offer":
                raise MediaError("state", "no offer is waiting for an answer")
            self._check_answer(sdp, transport.pc.localDescription.sdp)
            try:
                await transport.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except Exception as exc:
                code = "state" if isinstance(exc, InvalidStateError) else "invalid"
                raise MediaError(code, f"cannot apply the answer: {exc}") from None
            transport.hook()
            by_mid = {t.mid: t for t in transport.pc.getTransceivers()}
            for mid, consumer in list(peer.consumers.items()):
                t = by_mid.get(mid)
                primary, rtx_pt = negotiation.primary_codec(hooks.transceiver_codecs(t)) if t is not None else (None, None)
                if primary is None or (t is not None and t.currentDirection not in ("sendonly", "sendrecv")):
                    self._release_consumer(peer, consumer)  # subscriber rejected it
                    continue
                consumer.configure(primary.payloadType, rtx_pt, negotiation.has_nack(primary))
                if transport.connected:
                    consumer.set_sender(transport.send_rtp, transport.send_rtcp, transport.rtcp_ssrc, transport.link)
            dirty = peer.dirty
        if dirty:
            await self._renegotiate(peer)

    async def _renegotiate(self, peer: Peer) -> None:
        """Server-initiated offer (producers came or went)."""
        if self.on_offer is None or peer.gone:
            peer.dirty = True
            return
        async with peer.lock:
            if peer.gone:
                return
            if peer.recv is not None and peer.recv.pc.signalingState != "stable":
                peer.dirty = True  # offer again once the pending answer arrives
                return
            desired = {p.id for p in self._desired(peer)}
            current = {c.producer.id for c in peer.consumers.values()}
            if peer.recv is None and not desired:
                return  # subscribed to "all" before anyone published
            if desired == current and not peer.dirty:
                return
            sdp = await self._make_offer(peer)
        try:
            await self.on_offer(peer.meeting_id, peer.participant_id, peer.connection_id, sdp)
        except Exception:
            logger.exception("on_offer callback failed")

    async def _tracks_changed(self, meeting_id: str) -> None:
        for peer in [p for p in self._peers.values() if p.meeting_id == meeting_id]:
            if (peer.recv is not None or peer.want) and (peer.want == "all" or peer.dirty or peer.recv is None):
                await self._renegotiate(peer)
        if self.on_tracks_changed is not None:
            try:
                await self.on_tracks_changed(meeting_id)
            except Exception:
                logger.exception("on_tracks_changed callback failed")

    # -- transport events ---------------------------------------------------------
    def _transport_connected(self, peer: Peer, transport: Transport) -> None:
        if transport is peer.send:
            for producer in peer.producers.values():
                producer.rtcp_out, producer.rtcp_ssrc = transport.send_rtcp, transport.rtcp_ssrc
        elif transport is peer.recv:
            for consumer in peer.consumers.values():
                consumer.set_sender(transport.send_rtp, transport.send_rtcp, transport.rtcp_ssrc, transport.link)

    def _transport_gone(self, peer: Peer, transport: Transport) -> None:
        """ICE consent expired or DTLS closed/failed: the participant's media
        is gone.  Called synchronously by aiortc, so clean up in a task."""
        if peer.gone or self._closed:
            return
        task = asyncio.get_running_loop().create_task(
            self._leave_peer(peer), name=f"media-leave-{peer.participant_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- leaving / teardown ---------------------------------------------------------
    async def leave(self, meeting_id: str, participant_id: str, *, connection: str | None = None) -> None:
        """Tear down one connection's media; the participant's other
        connections (a reload's new one) keep theirs."""
        peer = self._find(meeting_id, participant_id, connection)
        if peer is not None:
            await self._leave_peer(peer)

    async def _leave_peer(self, peer: Peer) -> None:
        if peer.gone:
            return
        meeting_id = peer.meeting_id
        key = (meeting_id, peer.connection_id)
        had_producers = bool(peer.producers)
        try:
            async with peer.lock:
                peer.gone = True
                had_producers = bool(peer.producers)
                for producer in list(peer.producers.values()):
                    self._close_producer(peer, producer)
                for consumer in list(peer.consumers.values()):
                    self._release_consumer(peer, consumer)
                peer.free.clear()
                transports = peer.transports()
                peer.send = peer.recv = None
                # Shielded: a leave cancelled half-way (close() gives up after
                # 10 s) must still close every peer connection it took.
                await asyncio.shield(asyncio.gather(*(t.close() for t in transports)))
        finally:
            # Even if cancelled half-way, the connection's media is gone for good.
            peer.gone = True
            if self._peers.get(key) is peer:
                del self._peers[key]
        if had_producers:
            await self._tracks_changed(meeting_id)
        await self._close_router_if_idle(meeting_id)

    async def _forget_if_empty(self, peer: Peer) -> None:
        if peer.send is None and peer.recv is None and not peer.producers and not peer.consumers:
            key = (peer.meeting_id, peer.connection_id)
            if self._peers.get(key) is peer:
                del self._peers[key]
            await self._close_router_if_idle(peer.meeting_id)

    async def _close_router_if_idle(self, meeting_id: str) -> None:
        # A pipe keeps its router: the far end may pipe producers in, or
        # subscribe to ours, at any time; the signalling layer closes pipes.
        if any(p.meeting_id == meeting_id for p in self._peers.values()) or self._meeting_pipes(meeting_id):
            return
        router = self._routers.pop(meeting_id, None)
        if router is not None:
            await router.close()
            self._retire(router)

    def _retire(self, router: Router) -> None:
        for key, value in router.stats().items():
            if isinstance(value, int) and key not in ("producers", "consumers", "tasks"):
                self._retired[key] = self._retired.get(key, 0) + value

    async def close(self) -> None:
        self._closed = True
        # Let cleanups already under way finish (they close peer connections),
        # but do not hang shutdown on them.
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=10)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for pipe in list(self._pipes.values()):
            await self._teardown_pipe(pipe, "closed", goodbye=True)
        for peer in list(self._peers.values()):
            await self._leave_peer(peer)
        for meeting_id in list(self._routers):
            router = self._routers.pop(meeting_id)
            await router.close()
            self._retire(router)

    # -- pipes to other MediaService instances (media/pipe.py) -----------------------
    # Driven by the signalling layer with plain data: `remote_key` names the
    # far service (its process/instance id), PipeInfo and PipedProducer are
    # dicts on the wire.  Per meeting and far service there is one pipe;
    # per producer and far service one pipe consumer, however many
    # subscribers wait there.
    def _meeting_pipes(self, meeting_id: str) -> list[PipeTransport]:
        return [p for (m, _), p in self._pipes.items() if m == meeting_id]

    def _pipe(self, meeting_id: str, remote_key: str) -> PipeTransport:
        pipe = self._pipes.get((meeting_id, remote_key))
        if pipe is None:
            raise MediaError("not_found", f"no pipe to {remote_key} for meeting {meeting_id}")
        return pipe

    async def open_pipe(self, meeting_id: str, remote_key: str, *, srtp: bool | None = None) -> PipeInfo:
        """This end of the meeting's pipe to `remote_key` (made if needed):
        its address and the SRTP key it sends with, for the far end's
        connect_pipe.  Idempotent: both sides may open first."""
        if self._closed:
            raise MediaError("state", "media service is closed")
        pipe = self._pipes.get((meeting_id, remote_key))
        if pipe is None:
            self._router_for(meeting_id)
            try:
                pipe = PipeTransport(
                    meeting_id=meeting_id,
                    remote_key=remote_key,
                    srtp=self.pipe_srtp if srtp is None else srtp,
                    on_closed=self._pipe_closed,
                    on_producer_gone=self._pipe_producer_gone,
                    **self._pipe_options,  # type: ignore[arg-type]
                )
            except OSError as exc:
                raise MediaError("state", f"cannot open a pipe socket: {exc}") from None
            self._pipes[(meeting_id, remote_key)] = pipe
        return pipe.info

    async def connect_pipe(self, meeting_id: str, remote_key: str, remote: PipeInfo | dict) -> None:
        """Point this end at the far end's PipeInfo (its open_pipe result)."""
        pipe = self._pipe(meeting_id, remote_key)
        try:
            await pipe.connect(PipeInfo.from_dict(remote))
        except (ValueError, OSError) as exc:
            raise MediaError("invalid", f"cannot connect the pipe: {exc}") from None

    def pipe_producer_out(self, meeting_id: str, remote_key: str, producer_id: str) -> PipedProducer:
        """Send a local producer over the pipe (source side); returns what
        the far end's pipe_producer_in needs.  Once per producer and pipe:
        asking again returns the same parameters."""
        pipe = self._pipe(meeting_id, remote_key)
        router = self._routers.get(meeting_id)
        producer = router.producers.get(producer_id) if router is not None else None
        if router is None or producer is None:
            raise MediaError("not_found", f"unknown track {producer_id}")
        if pipe.producers.get(producer_id) is producer:
            raise MediaError("invalid", "that track comes from this pipe's far end")
        consumer = pipe.consumers.get(producer_id)
        if consumer is None:
            ssrc = random.getrandbits(32) or 1
            while pipe.ssrc_in_use(ssrc):
                ssrc = random.getrandbits(32) or 1
            consumer = Consumer(
                id=uuid.uuid4().hex[:16],
                producer=producer,
                participant_id=f"pipe:{remote_key}",
                mid=f"pipe:{producer_id}",
                ssrc=ssrc,
                rtx_ssrc=ssrc ^ 1,  # never sent: NACKs are answered in the stream
                continue_from=None,
            )
            # The producer's own payload type, no RTX (a NACK answer is the
            # packet again, which the far producer takes as a late arrival).
            consumer.configure(producer.payload_type, None, producer.nack_enabled)
            pipe.add_consumer(consumer)
            router.add_consumer(consumer)
        return PipedProducer(
            producer_id=producer.id,
            participant_id=producer.participant_id,
            kind=producer.kind,
            source=producer.source,
            mime_type=producer.mime_type,
            clock_rate=producer.clock_rate,
            payload_type=producer.payload_type,
            ssrc=consumer.ssrc,
            nack=producer.nack_enabled,
            codec_parameters=dict(producer.codec_parameters),
        )

    async def pipe_producer_in(self, meeting_id: str, remote_key: str, params: PipedProducer | dict) -> TrackInfo:
        """Make the far end's producer a producer of this router (destination
        side): same id, participant, kind and source; subscribers take it
        like any other (tracks(), subscribe, "all")."""
        pipe = self._pipe(meeting_id, remote_key)
        try:
            piped = PipedProducer.from_dict(params)
        except ValueError as exc:
            raise MediaError("invalid", str(exc)) from None
        router = self._router_for(meeting_id)
        existing = router.producers.get(piped.producer_id)
        if existing is not None:
            if pipe.producers.get(piped.producer_id) is existing:
                if existing.ssrc != piped.ssrc:  # re-piped by a far end that restarted the consumer
                    pipe.remove_producer(existing)
                    pipe.add_producer(existing, ssrc=piped.ssrc)
                return TrackInfo(existing.id, existing.participant_id, existing.kind, existing.source)
            raise MediaError("state", f"track {piped.producer_id} already exists here")
        if pipe.ssrc_in_use(piped.ssrc):
            raise MediaError("invalid", f"SSRC {piped.ssrc} is already used on this pipe")
        producer = Producer(
            id=piped.producer_id,
            participant_id=piped.participant_id,
            kind=piped.kind,
            source=piped.source,
            mid=f"pipe:{piped.producer_id}",
            mime_type=piped.mime_type,
            clock_rate=piped.clock_rate,
            payload_type=piped.payload_type,
            codec_parameters=dict(piped.codec_parameters),
            rtx_payload_type=None,
            nack=piped.nack,
            # The source already rewrote extension ids to the canonical ones.
            ext_remap=_IDENTITY_REMAP,
        )
        pipe.add_producer(producer, ssrc=piped.ssrc)
        router.add_producer(producer)
        if not producer.forwarding:
            pipe.send_floor()  # muted here from the start: the source need not send it
        await self._tracks_changed(meeting_id)
        return TrackInfo(producer.id, producer.participant_id, producer.kind, producer.source)

    async def unpipe_producer(self, meeting_id: str, remote_key: str, producer_id: str) -> None:
        """Stop piping one producer, on either side: the source stops sending
        it (no far consumer wants it any more); the destination closes its
        pipe producer (its subscribers lose the track).  Unknown: no-op."""
        pipe = self._pipes.get((meeting_id, remote_key))
        router = self._routers.get(meeting_id)
        if pipe is None or router is None:
            return
        consumer = pipe.consumers.get(producer_id)
        if consumer is not None:
            router.close_consumer(consumer.id)
            pipe.remove_consumer(consumer)
        producer = pipe.producers.get(producer_id)
        if producer is not None:
            pipe.remove_producer(producer)
            self._drop_producer(meeting_id, producer)
            await self._tracks_changed(meeting_id)

    async def close_pipe(self, meeting_id: str, remote_key: str) -> None:
        """Close this end (the far end hears a goodbye and closes its own)."""
        pipe = self._pipes.get((meeting_id, remote_key))
        if pipe is not None:
            await self._teardown_pipe(pipe, "closed", goodbye=True)

    def pipes(self, meeting_id: str) -> list[dict]:
        return [p.stats() for p in self._meeting_pipes(meeting_id)]

    def pipe_consumer_counts(self, meeting_id: str) -> dict[str, int]:
        """producer id -> pipe consumers of it (= far services it is piped to)."""
        counts: dict[str, int] = {}
        for pipe in self._meeting_pipes(meeting_id):
            for producer_id in pipe.consumers:
                counts[producer_id] = counts.get(producer_id, 0) + 1
        return counts

    def _pipe_closed(self, pipe: PipeTransport, reason: str) -> None:
        """The pipe died (silence, goodbye): called from its own task or
        read callback, so the teardown runs in a task of ours."""
        if self._pipes.get((pipe.meeting_id, pipe.remote_key)) is not pipe:
            pipe.close(goodbye=False)
            return
        self._spawn(self._teardown_pipe(pipe, reason, goodbye=False), f"pipe-down-{pipe.remote_key}")

    def _pipe_producer_gone(self, pipe: PipeTransport, producer: Producer) -> None:
        """The far end said BYE for a piped stream: its producer is gone."""
        self._spawn(self.unpipe_producer(pipe.meeting_id, pipe.remote_key, producer.id), "pipe-bye")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _teardown_pipe(self, pipe: PipeTransport, reason: str, *, goodbye: bool) -> None:
        key = (pipe.meeting_id, pipe.remote_key)
        if self._pipes.get(key) is not pipe:
            return
        del self._pipes[key]
        meeting_id = pipe.meeting_id
        router = self._routers.get(meeting_id)
        producers = list(pipe.producers.values())
        if router is not None:
            for consumer in list(pipe.consumers.values()):
                router.close_consumer(consumer.id)
        for producer in producers:
            pipe.remove_producer(producer)
            self._drop_producer(meeting_id, producer)
        pipe.close(goodbye=goodbye)
        if producers:
            await self._tracks_changed(meeting_id)
        if self.on_pipe_closed is not None:
            try:
                await self.on_pipe_closed(meeting_id, pipe.remote_key, reason)
            except Exception:
                logger.exception("on_pipe_closed callback failed")
        await self._close_router_if_idle(meeting_id)

    # -- stats ------------------------------------------------------------------------
    def stats(self) -> dict:
        routers = list(self._routers.values())
        router_stats = [r.stats() for r in routers]
        totals = {
            key: sum(s[key] for s in router_stats) + self._retired.get(key, 0)
            for key in (
                "packets_received",
                "packets_forwarded",
                "retransmissions",
                "nacks_received",
                "nacks_sent",
                "plis_received",
                "plis_sent",
                "keyframes",
            )
        }
        return {
            "routers": len(routers),
            "participants": len({(p.meeting_id, p.participant_id) for p in self._peers.values()}),
            "peers": len(self._peers),  # one per client connection with media
            "transports": sum(len(p.transports()) for p in self._peers.values()),
            "producers": sum(len(r.producers) for r in routers),
            "consumers": sum(len(r.consumers) for r in routers),
            # video consumers paused because their subscriber's downlink is weak
            "video_suspended": sum(r.video_suspended for r in routers),
            "tasks": sum(r.task_count for r in routers)
            + len([t for t in self._tasks if not t.done()])
            + sum(p.task_count for p in self._pipes.values()),
            "pipes": len(self._pipes),  # one UDP socket each
            "pipe_consumers": sum(len(p.consumers) for p in self._pipes.values()),
            "pipe_producers": sum(len(p.producers) for p in self._pipes.values()),
            **totals,
        }

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def _check_ice_servers(ice_servers: list[dict] | None) -> list[dict]:
        """Fail at start-up, not at the first join, on a bad STUN/TURN entry."""
        checked = []
        for entry in ice_servers or []:
            urls = entry.get("urls") if isinstance(entry, dict) else None
            url_list = [urls] if isinstance(urls, str) else urls
            if not url_list or not all(isinstance(u, str) and u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns") for u in url_list):
                raise ValueError(f"bad ICE server entry: {entry!r}")
            checked.append({"urls": urls, "username": entry.get("username"), "credential": entry.get("credential")})
        return checked

    @staticmethod
    def _check_answer(sdp: str, offer: str | None) -> None:
        try:
            sdp_checks.check_answer(sdp, offer)
        except sdp_checks.SdpError as exc:
            raise MediaError("invalid", f"bad answer: {exc}") from None

    @staticmethod
    def _parse(sdp: str) -> SessionDescription:
        if not isinstance(sdp, str) or "v=0" not in sdp:
            raise MediaError("invalid", "not an SDP")
        try:
            return hooks.parse_sdp(sdp)
        except Exception as exc:
            raise MediaError("invalid", f"unparseable SDP: {exc}") from None
