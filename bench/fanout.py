"""The SFU's own cost per forwarded copy, without the loopback receive path.

bench/sfu.py charges the server for everything its sendto does on loopback,
including the subscriber's kernel receive path and wake-up, which both SFUs
pay alike.  This isolates what Plenary itself spends per copy: N subscriber
links (real pylibsrtp AES-GCM sessions, real UDP sockets nobody reads until
the batch is over) fed one packet at a time through

  * the compiled fan-out (media/fastpath.Table: rewrite, protect, sendto), and
  * a Python loop doing only protect + socket.sendto (less than the
    per-consumer Python path it replaced, which also rewrote headers),
  * a bare Python socket.sendto of a ready-made packet, for the kernel's share.

Prints the best of --repeat rounds, in µs of process CPU per copy.

    .venv/bin/python bench/fanout.py [--n 110] [--packets 300] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import socket
import sys
import time
from collections.abc import Callable

import pylibsrtp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from media import aiortc_hooks, fastpath  # noqa: E402


def _session() -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(
        key=os.urandom(28),
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,  # what browsers and aiortc pick
    )
    return pylibsrtp.Session(policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=110, help="subscribers")
    parser.add_argument("--packets", type=int, default=300, help="packets per round (each sent to every subscriber)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    receivers, senders = [], []
    for _ in range(args.n):
        for group in (receivers, senders):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            group.append(sock)
    addresses = [r.getsockname() for r in receivers]
    links = [fastpath.Link(_session(), senders[i], addresses[i]) for i in range(args.n)]
    outs = []
    for i, link in enumerate(links):
        out = fastpath.Out(1000 + i)
        out.attach(link)
        out.c.pt = 96
        outs.append(out)
    table = fastpath.Table(outs)
    protects = [aiortc_hooks.fast_protect(_session()) for _ in range(args.n)]
    packet = bytearray(b"\x90\x60\x00\x01" + bytes(8) + b"\xbe\xde\x00\x01\x22\x00\x00\x00" + os.urandom(1180))
    ready = bytes(packet)
    seq = [0]

    def drain() -> None:
        for sock in receivers:
            try:
                while True:
                    sock.recv(2048)
            except BlockingIOError:
                pass

    def compiled() -> None:
        for _ in range(args.packets):
            seq[0] += 1
            table.fanout(packet, 0, seq[0] & 0xFFFF, seq[0] * 3000, len(packet) - 20, seq[0])

    def python_path() -> None:
        for _ in range(args.packets):
            seq[0] += 1
            packet[2:4] = (seq[0] & 0xFFFF).to_bytes(2, "big")
            for i in range(args.n):
                protected = protects[i](packet)
                if protected is not None:
                    senders[i].sendto(protected, addresses[i])

    def bare_sendto() -> None:
        for _ in range(args.packets):
            for i in range(args.n):
                senders[i].sendto(ready, addresses[i])

    def best(run: Callable[[], None]) -> float:
        result = float("inf")
        for _ in range(args.repeat):
            drain()
            gc.collect()
            start = time.process_time()
            run()
            result = min(result, time.process_time() - start)
        drain()
        return result / (args.n * args.packets) * 1e6

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"Machine: {cpu} | {os.cpu_count()} cores | kernel {platform.release()} | Python {platform.python_version()}")
    print(f"N={args.n} subscribers, {args.packets} packets of {len(packet)} bytes per round, best of {args.repeat}")
    print(f"  compiled fan-out (rewrite + protect + sendto)  {best(compiled):6.2f} µs per copy")
    print(f"  Python loop: protect + sendto, no rewriting     {best(python_path):6.2f} µs per copy")
    print(f"  bare Python sendto of a ready packet           {best(bare_sendto):6.2f} µs per copy")
    for link in links:
        link.close()
    for sock in receivers + senders:
        sock.close()


if __name__ == "__main__":
    main()
