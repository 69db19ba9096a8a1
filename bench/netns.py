"""Private network namespace for the SFU benchmark.

Janus 1.1 (libnice) never gathers ICE candidates on loopback interfaces and
pins its sockets to the candidate's interface, so on a machine where the only
allowed traffic is loopback it cannot do ICE on ``lo``.  The benchmark
therefore re-executes itself under ``unshare --net`` (as root) and builds a
private layout that never touches the host's network:

* ``lo`` up (127.0.0.1: HTTP signalling for Janus and for Plenary's server);
* a veth pair ``bv0``/``bv1`` created *inside* the namespace, with
  127.0.0.2/32 (server media: Janus ``ice_enforce_list``) and 127.0.0.3/32
  (the aiortc load generator's only ICE candidate) on ``bv0``.

Everything stays inside 127.0.0.0/8 in a namespace we created ourselves; the
namespace disappears when the benchmark's processes exit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

ENV_FLAG = "PLENARY_BENCH_NETNS"
SERVER_MEDIA_ADDR = "127.0.0.2"
PEER_ADDR = "127.0.0.3"
HTTP_ADDR = "127.0.0.1"
VETH = "bv0"
VETH_PEER = "bv1"


def in_private_netns() -> bool:
    return os.environ.get(ENV_FLAG) == "1"


def reexec_in_netns(argv: list[str] | None = None) -> None:
    """Replace this process by itself running under ``unshare --net``.

    Returns only if we already run inside the namespace.
    """
    if in_private_netns():
        return
    if os.geteuid() != 0:
        sys.exit("bench: needs root for `unshare --net` (private network namespace)")
    unshare = shutil.which("unshare")
    if unshare is None:
        sys.exit("bench: `unshare` (util-linux) not found")
    env = dict(os.environ)
    env[ENV_FLAG] = "1"
    args = argv if argv is not None else sys.argv
    os.execve(unshare, [unshare, "--net", "--", sys.executable, *args], env)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, timeout=10)


def setup_netns() -> None:
    """Configure lo and the veth pair. Must run inside the private namespace."""
    if not in_private_netns():
        raise RuntimeError("refusing to touch interfaces outside the private namespace")
    # Safety: a fresh namespace has only `lo`. If we see anything else we are
    # not where we think we are.
    links = subprocess.run(
        ["ip", "-o", "link", "show"], check=True, capture_output=True, text=True, timeout=10
    ).stdout
    names = {line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if line.strip()}
    if names - {"lo", VETH, VETH_PEER}:
        raise RuntimeError(f"unexpected interfaces in namespace: {sorted(names)}")
    _ip("link", "set", "lo", "up")
    if VETH not in names:
        _ip("link", "add", VETH, "type", "veth", "peer", "name", VETH_PEER)
        _ip("addr", "add", f"{SERVER_MEDIA_ADDR}/32", "dev", VETH)
        _ip("addr", "add", f"{PEER_ADDR}/32", "dev", VETH)
        _ip("link", "set", VETH, "up")
        _ip("link", "set", VETH_PEER, "up")
    # IPv6 off in the namespace (Janus is configured without IPv6 as well).
    for path in ("/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"):
        try:
            with open(path, "w") as fh:
                fh.write("1")
        except OSError:
            pass


def udp_counters() -> dict[str, int]:
    """Kernel UDP counters of this namespace (/proc/net/snmp)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/net/snmp") as fh:
            lines = [line.split() for line in fh if line.startswith("Udp:")]
        if len(lines) >= 2:
            out = {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:])}
    except OSError:
        pass
    return out


def udp_sockets() -> dict[int, dict[str, int]]:
    """UDP sockets of this namespace by inode: rx/tx queue bytes and drops."""
    out: dict[int, dict[str, int]] = {}
    try:
        with open("/proc/net/udp") as fh:
            next(fh)
            for line in fh:
                f = line.split()
                if len(f) < 13:
                    continue
                tx, rx = (int(x, 16) for x in f[4].split(":"))
                out[int(f[9])] = {"tx_queue": tx, "rx_queue": rx, "drops": int(f[12])}
    except (OSError, StopIteration, ValueError):
        pass
    return out


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets open in process ``pid``."""
    inodes: set[int] = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def socket_totals(pids: list[int]) -> dict[str, Any]:
    """rx_queue bytes and per-inode drop counters over the UDP sockets of ``pids``."""
    socks = udp_sockets()
    inodes: set[int] = set()
    for pid in pids:
        inodes |= socket_inodes(pid)
    tot: dict[str, Any] = {"rx_queue": 0, "drops_by_inode": {}, "sockets": 0}
    for ino in inodes:
        s = socks.get(ino)
        if s is not None:
            tot["rx_queue"] += s["rx_queue"]
            tot["drops_by_inode"][ino] = s["drops"]
            tot["sockets"] += 1
    return tot


def drops_delta(a: dict[str, Any], b: dict[str, Any]) -> int:
    """Datagrams dropped between two :func:`socket_totals` snapshots
    (sockets that appeared in between count from zero; closed ones are ignored)."""
    before = a["drops_by_inode"]
    return sum(max(0, d - before.get(ino, 0)) for ino, d in b["drops_by_inode"].items())


def die_with_parent() -> None:
    """``preexec_fn`` for children: SIGTERM when the benchmark process dies,
    so a killed run leaves no server behind (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except OSError:
        pass
