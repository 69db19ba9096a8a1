"""Plenary media: a selective forwarding unit on aiortc.

Encoded RTP is forwarded, never decoded: packets are taken where aiortc's
DTLS transport decrypts them, rewritten per subscriber and sent directly.

- service.MediaService   the API used by signaling (publish/subscribe/answer/leave)
- router.Router          one meeting: producers, consumers (it links and unlinks them), floor control, speaker, RTCP tick
- producer.Producer      one published track (parses each packet once, caches video for NACK)
- consumer.Consumer      one forwarded copy (SSRC/PT/seq/ts rewriting, RTX, SR)
- transport.Transport    one RTCPeerConnection with the SFU's packet hooks
- rtp_listener.RtpListener  a transport's table of who an SSRC/MID belongs to (only its transport uses it)
- negotiation            what an applied SDP means for forwarding (codecs, SSRCs, extensions)
- aiortc_hooks           every aiortc/aioice private name, checked by tests/media/test_aiortc_hooks.py
"""

from .consumer import Consumer
from .producer import Producer
from .router import Router
from .service import MediaError, MediaService, TrackInfo

__all__ = ["Consumer", "MediaError", "MediaService", "Producer", "Router", "TrackInfo"]
