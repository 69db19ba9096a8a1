"""RTCP packets the SFU builds and reads (control path, not the hot path).

Uses aiortc's public RTCP classes in aiortc.rtp for (de)serialisation."""

from __future__ import annotations

import time

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

__all__ = [
    "RTCP_PSFB_APP", "RTCP_PSFB_FIR", "RTCP_PSFB_PLI", "RTCP_RTPFB_NACK",
    "RtcpPsfbPacket", "RtcpRrPacket", "RtcpRtpfbPacket", "RtcpSrPacket",
    "parse", "pli", "nack", "sender_report", "receiver_report", "remb",
    "ntp_now", "unpack_remb_fci", "fir_ssrcs", "RtcpReceiverInfo",
]

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900 to 1970


def ntp_now() -> int:
    """Current wall time as a 64-bit NTP timestamp."""
    t = time.time()
    sec = int(t)
    return ((sec + NTP_EPOCH_OFFSET) << 32) | int((t - sec) * (1 << 32))


def parse(data: bytes) -> list[AnyRtcpPacket]:
    try:
        return RtcpPacket.parse(data)
    except (ValueError, IndexError):
        return []


def pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=sender_ssrc, media_ssrc=media_ssrc))


def nack(sender_ssrc: int, media_ssrc: int, lost: list[int]) -> bytes:
    packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=sender_ssrc, media_ssrc=media_ssrc)
    packet.lost = sorted(lost)
    return bytes(packet)


def sender_report(ssrc: int, ntp: int, rtp_ts: int, packets: int, octets: int) -> bytes:
    return bytes(
        RtcpSrPacket(
            ssrc=ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp & 0xFFFFFFFFFFFFFFFF,
                rtp_timestamp=rtp_ts & 0xFFFFFFFF,
                packet_count=packets & 0xFFFFFFFF,
                octet_count=octets & 0xFFFFFFFF,
            ),
        )
    )


def receiver_report(sender_ssrc: int, reports: list[RtcpReceiverInfo]) -> bytes:
    return bytes(RtcpRrPacket(ssrc=sender_ssrc, reports=reports))


def remb(sender_ssrc: int, bitrate: int, ssrcs: list[int]) -> bytes:
    return bytes(
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=sender_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs))
    )


def fir_ssrcs(packet: RtcpPsfbPacket) -> list[int]:
    """Target SSRCs of a FIR (RFC 5104: FCI entries of ssrc + seq + 3 reserved)."""
    fci = packet.fci
    return [int.from_bytes(fci[i : i + 4], "big") for i in range(0, len(fci) - 7, 8)]
