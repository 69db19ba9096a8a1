"""SFU benchmark for issue 3: Plenary's MediaService vs Janus 1.1 VideoRoom.

Both SFUs are driven by the same load generator (bench/loadgen.py) in the
same run, inside a private network namespace (bench/netns.py; the script
re-executes itself under ``unshare --net``, so it needs root).

Workloads
  fanout N   one publisher (VP8 640x360 30 fps pinned ~1 Mbit/s + Opus),
             N lean subscribers each receiving both tracks;
  inquiry    the "city-wide inquiry": one video-only publisher and three
             audio-only publishers, 110 subscribers each receiving all four.

Figures (per SFU, over a ``--seconds`` window after warm-up)
  µs/pkt     server process CPU (user+system, all threads, plus any child
             processes) / RTP packets all subscribers received;
  pkt/s/core 1e6 / µs/pkt;
  cpu%       server CPU share of one core over the window;
  loss       per subscriber & SSRC: (extended highest seq span) - received,
             summed; "late" counts duplicates/reordered;
  lat p50/p99  publisher send hook -> subscriber socket callback, matched by
             payload hash on a decrypted sample (see loadgen.py docstring).

Usage (from the repo root, as root):
  .venv/bin/python bench/sfu.py --n 1,10,40 --seconds 5
  .venv/bin/python bench/sfu.py --n 1,10,40,80,110 --seconds 10 --inquiry
  .venv/bin/python bench/sfu.py --servers janus --n 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
import traceback
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import netns  # noqa: E402

# Everything below imports lazily after the namespace exists.


def machine_info() -> dict[str, Any]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import psutil

    return {
        "cpu_model": model,
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def tree_cpu(pid: int) -> float:
    """user+system seconds of ``pid`` (all threads) and its live children."""
    import psutil

    total = 0.0
    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    for q in procs:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_cpu_split(pid: int) -> tuple[float, float]:
    import psutil

    u = s = 0.0
    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    for q in procs:
        try:
            t = q.cpu_times()
            u += t.user
            s += t.system
        except psutil.NoSuchProcess:
            pass
    return u, s


def sched_wait(pid: int) -> dict[int, int]:
    """Run-queue wait (ns) per thread of ``pid`` and its children, from
    /proc/<pid>/task/<tid>/schedstat: time the thread was runnable but not
    running, i.e. starved by the scheduler (other tenants of the machine)."""
    import psutil

    out: dict[int, int] = {}
    try:
        pids = [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return out
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/schedstat") as fh:
                    out[int(tid)] = int(fh.read().split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return out


def sched_wait_delta(a: dict[int, int], b: dict[int, int]) -> float:
    """Seconds of run-queue wait between two :func:`sched_wait` snapshots."""
    return sum(max(0, w - a.get(tid, 0)) for tid, w in b.items()) / 1e9


# Plenary with every published track recorded (bench/recording.py).
RECORDING = "plenary+rec"


def is_cluster(kind: str) -> bool:
    return kind.startswith("plenary") and kind.endswith("p") and kind[len("plenary"):-1].isdigit()


def make_server(kind: str, args: argparse.Namespace) -> Any:
    if kind == "janus":
        from janus_peer import JanusServer

        return JanusServer(event_loops=args.janus_event_loops or os.cpu_count())
    if kind == "plenary":
        from plenary_peer import PlenaryServer

        return PlenaryServer(port=args.plenary_port)
    if kind == RECORDING:
        import tempfile

        from plenary_peer import PlenaryServer

        # The same server recording every producer it forwards (bench/recording.py).
        folder = tempfile.mkdtemp(prefix="bench-recording-")
        return PlenaryServer(port=args.plenary_port, extra_args=["--record", folder])
    if is_cluster(kind):
        from plenary_peer import PlenaryCluster

        return PlenaryCluster(int(kind[len("plenary"):-1]), port=args.plenary_port, plain_pipes=args.plain_pipes)
    raise ValueError(kind)


def server_pids(server: Any) -> list[int]:
    """Every process whose CPU is the server's: one, or a cascade's nodes and its Redis."""
    return list(getattr(server, "pids", [server.pid]))


def cpu_split(pids: list[int]) -> tuple[float, float]:
    u = s = 0.0
    for pid in pids:
        pu, ps = tree_cpu_split(pid)
        u += pu
        s += ps
    return u, s


def sched_wait_all(pids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for pid in pids:
        out.update(sched_wait(pid))
    return out


def plenary_available() -> tuple[bool, str]:
    try:
        import importlib

        mod = importlib.import_module("media.service")
        getattr(mod, "MediaService")
        return True, ""
    except Exception as exc:  # pragma: no cover - depends on the colleague's work
        return False, f"{type(exc).__name__}: {exc}"


async def run_case(kind: str, workload: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    import loadgen
    from janus_peer import check_sockets

    res: dict[str, Any] = {"server": kind, "workload": workload, "n": n, "ok": False}
    server = make_server(kind, args)
    probe = loadgen.LatencyProbe()
    pubs = loadgen.RemotePublishers(netns.PEER_ADDR, args.bitrate, max_seconds=args.max_minutes * 60)
    subs: list[loadgen.LeanSubscriber] = []
    try:
        await asyncio.wait_for(server.start(), 40)
        res["server_info"] = server.extra_stats()
        await pubs.start()
        # publishers (own process, like remote clients)
        if workload == "fanout":
            specs = [("pub-video", True, True, 0)]
        else:
            specs = [("pub-video", True, False, 0)] + [(f"pub-audio{i}", False, True, i + 1) for i in range(3)]
        for name, video, audio, seed in specs:
            offer = await pubs.offer(name, video=video, audio=audio, seed=seed)
            answer = await asyncio.wait_for(server.publish(name, offer), 30)
            await pubs.accept(name, answer)
        pub_names = [name for name, *_ in specs]
        await asyncio.sleep(1.0)
        # subscribers (bounded concurrency)
        mod = 1 if n <= 2 else (8 if n <= 10 else 64)
        res["latency_sample_mod"] = mod
        window = loadgen.Window()
        subs = [loadgen.LeanSubscriber(f"sub{i:03d}", window, probe=probe, sample_mod=mod, drain=not args.no_drain)
                for i in range(n)]
        sem = asyncio.Semaphore(args.join_concurrency)

        async def add(s: loadgen.LeanSubscriber) -> None:
            async with sem:
                offer = await server.subscribe(s.name, pub_names)
                answer = await s.answer_offer(offer)
                await server.answer(s.name, answer)
                await s.wait_connected(30)

        t_join = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(add(s) for s in subs)), args.join_timeout)
        res["join_s"] = round(time.monotonic() - t_join, 2)
        await asyncio.sleep(args.warmup)
        pids = server_pids(server)
        ok_sock, sock_info = True, []
        for pid in pids:
            ok_one, info_one = check_sockets(pid)
            ok_sock = ok_sock and ok_one
            sock_info += info_one
        res["sockets_loopback_only"] = ok_sock
        res["sockets"] = sock_info if not ok_sock else len(sock_info)
        res["socket_local_ips"] = sorted({x.split(":")[1] for x in sock_info if x.count(":") >= 2})
        # ---- measurement window ----
        import psutil

        psutil.cpu_percent(None)
        udp0 = netns.udp_counters()
        pc0, tp0 = await pubs.counters()
        pub_cpu0 = tree_cpu(pubs.pid)
        self0 = psutil.Process().cpu_times()
        srv_pids = pids
        sub_pids = [os.getpid()]
        srv_sock0 = netns.socket_totals(srv_pids)
        sub_sock0 = netns.socket_totals(sub_pids)
        probe.reset_window()
        # server CPU and the window bounds are read back to back; packets are
        # attributed to the window by their kernel arrival time
        sw_srv0, sw_sub0, sw_pub0 = sched_wait_all(pids), sched_wait(os.getpid()), sched_wait(pubs.pid)
        per_pid0 = [sum(tree_cpu_split(pid)) for pid in pids]
        u0, s0 = cpu_split(pids)
        t0 = window.t0 = time.time()
        await asyncio.sleep(args.seconds)
        t1 = window.t1 = time.time()
        u1, s1 = cpu_split(pids)
        per_pid1 = [sum(tree_cpu_split(pid)) for pid in pids]
        sw_srv1, sw_sub1, sw_pub1 = sched_wait_all(pids), sched_wait(os.getpid()), sched_wait(pubs.pid)
        self1 = psutil.Process().cpu_times()
        srv_sock1 = netns.socket_totals(srv_pids)
        sub_sock1 = netns.socket_totals(sub_pids)
        # drain: let the subscribers read what the kernel already queued for them
        t_drain = time.monotonic()
        while netns.socket_totals(sub_pids)["rx_queue"] > 0 and time.monotonic() - t_drain < 5:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        res["drain_s"] = round(time.monotonic() - t_drain, 2)
        pc1, tp1 = await pubs.counters()
        pub_cpu1 = tree_cpu(pubs.pid)
        # publisher rates over the publisher's own read times (the IPC round
        # trip may be late on a busy machine)
        pdt = tp1 - tp0
        pub_rates = {
            k: {"pps": round((pc1[k][0] - pc0[k][0]) / pdt, 1),
                "kbps": round(8 * (pc1[k][1] - pc0[k][1]) / pdt / 1000, 1),
                "markers/s": round((pc1[k][2] - pc0[k][2]) / pdt, 1),
                "kf_req_total": pc1[k][3], "kf_forced_total": pc1[k][4], "kf_forced_in_window": pc1[k][4] - pc0[k][4]}
            for k in pc1
        }
        sent_log, ambiguous, sent_in_window = await pubs.sends(t0, t1)
        lat_samples, lat_unmatched = probe.resolve(sent_log)
        udp1 = netns.udp_counters()
        sys_busy = psutil.cpu_percent(None)
        # ---- figures ----
        dt = t1 - t0
        cpu = (u1 - u0) + (s1 - s0)
        per_sub = [s.window_stats() for s in subs]
        pkts = sum(d["rtp"] for d in per_sub)
        expected = sum(d["expected"] for d in per_sub)
        lost = sum(d["lost"] for d in per_sub)
        late = sum(d["late"] for d in per_sub)
        kinds: dict[str, int] = {}
        for d in per_sub:
            for k, v in d["by_kind"].items():
                kinds[k] = kinds.get(k, 0) + v
        # RTP packets the publishers sent inside the window (their send log;
        # the rate from counters is the fallback)
        pub_pps = sent_in_window / dt if sent_in_window else sum(v["pps"] for v in pub_rates.values())
        starved = sum(1 for d in per_sub if d["rtp"] == 0)
        res.update(
            ok=True,
            window_s=round(dt, 2),
            server_cpu_s=round(cpu, 3),
            # per process (a cascade: its nodes, then its Redis), share of one core
            server_cpu_shares=[round((b - a) / dt, 3) for a, b in zip(per_pid0, per_pid1)],
            server_user_s=round(u1 - u0, 3),
            server_sys_s=round(s1 - s0, 3),
            cpu_core_share=cpu / dt,
            pkts=pkts,
            pkts_per_s=pkts / dt,
            pub_pps=pub_pps,
            pub_rates=pub_rates,
            expected_pps_all=pub_pps * n,
            us_per_pkt=(cpu / pkts * 1e6) if pkts else None,
            pkts_per_s_per_core=(pkts / cpu) if cpu > 0 else None,
            kinds_per_s={k: round(v / dt / max(n, 1), 1) for k, v in kinds.items()},
            lost=lost,
            expected=expected,
            loss_pct=(100.0 * lost / expected) if expected else None,
            late=late,
            starved_subscribers=starved,
            lat_samples=len(lat_samples),
            lat_unmatched=lat_unmatched,
            lat_ambiguous_at_publisher=ambiguous,
            lat_p50_ms=loadgen.percentile(lat_samples, 50) * 1e3 if lat_samples else None,
            lat_p99_ms=loadgen.percentile(lat_samples, 99) * 1e3 if lat_samples else None,
            lat_max_ms=max(lat_samples) * 1e3 if lat_samples else None,
            publisher_cpu_share=(pub_cpu1 - pub_cpu0) / dt,
            decrypt_errors=sum(s.decrypt_errors for s in subs),
            kernel_timestamps=all(s.kernel_ts for s in subs),
            sub0_streams={f"{ssrc:08x}": {"kind": st.kind, "w_count": st.w_count, "w_span": st.w_max - st.w_min + 1, "w_late": st.w_late}
                          for ssrc, st in subs[0].streams.items()} if subs else {},
            per_sub_lost=[d["lost"] for d in per_sub][:120],
            udp_rcvbuf_errors=udp1.get("RcvbufErrors", 0) - udp0.get("RcvbufErrors", 0),
            udp_in_errors=udp1.get("InErrors", 0) - udp0.get("InErrors", 0),
            udp_sndbuf_errors=udp1.get("SndbufErrors", 0) - udp0.get("SndbufErrors", 0),
            server_sock_drops=netns.drops_delta(srv_sock0, srv_sock1),
            server_rxq_end=srv_sock1["rx_queue"],
            sub_sock_drops=netns.drops_delta(sub_sock0, sub_sock1),
            sub_rxq_start=sub_sock0["rx_queue"],
            sub_rxq_end=sub_sock1["rx_queue"],
            pub_sent_in_window=sent_in_window,
            # share of the window the processes' threads spent runnable but
            # not running (scheduler starvation), summed over threads
            server_runq_wait_share=sched_wait_delta(sw_srv0, sw_srv1) / dt,
            sub_runq_wait_share=sched_wait_delta(sw_sub0, sw_sub1) / dt,
            pub_runq_wait_share=sched_wait_delta(sw_pub0, sw_pub1) / dt,
            loadgen_cpu_share=((self1.user - self0.user) + (self1.system - self0.system)) / dt,
            system_busy_pct=sys_busy,
        )
        # A row is valid when every subscriber kept up with what was sent:
        # nothing dropped at the subscribers' sockets and >= 97% of N x the
        # publishers' send rate counted (a backlog means the load generator,
        # not the SFU, was the bottleneck, e.g. on a busy shared machine).
        why = []
        ratio = res["pkts_per_s"] / res["expected_pps_all"] if res["expected_pps_all"] else 0.0
        if not 0.97 <= ratio <= 1.03:
            why.append(f"rx {res['pkts_per_s']:.0f}/s is {100 * ratio:.0f}% of N x sent {res['expected_pps_all']:.0f}/s")
        if (res["loss_pct"] or 0) > 0.5:
            why.append(f"loss {res['loss_pct']:.1f}%")
        vid = res["pub_rates"].get("pub-video", {}).get("kbps", 0)
        if vid < 0.8 * args.bitrate / 1000:
            why.append(f"publisher video only {vid:.0f} kbit/s")
        if res["sub_sock_drops"] > 0:
            why.append(f"{res['sub_sock_drops']} drops at subscriber sockets")
        if res["server_sock_drops"] > 0:
            why.append(f"{res['server_sock_drops']} drops at server sockets")
        res["valid"] = not why
        res["invalid_reason"] = "; ".join(why)
        if kind.startswith("plenary") and hasattr(server, "fetch_stats"):
            await server.fetch_stats()
            res["server_info"] = server.extra_stats()
        res["server_log_tail"] = server.log_tail()[-1500:]
    except Exception as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"
        res["traceback"] = traceback.format_exc()
        try:
            res["server_log_tail"] = server.log_tail()
        except Exception:
            pass
    finally:
        for s in subs:
            try:
                await asyncio.wait_for(s.close(), 5)
            except Exception:
                pass
        try:
            await asyncio.wait_for(pubs.stop(), 15)
        except Exception:
            pass
        try:
            await asyncio.wait_for(server.stop(), 30)
        except Exception as exc:
            res.setdefault("stop_error", repr(exc))
    return res


def _f(v: Any, fmt: str) -> str:
    if v is None:
        return "-"
    try:
        return format(v, fmt)
    except (TypeError, ValueError):
        return str(v)


def median_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (workload, N, server): the run with the median µs/pkt."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    order: list[tuple[str, int, str]] = []
    for r in results:
        key = (r["workload"], r["n"], r["server"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    out = []
    for key in order:
        ok = [r for r in groups[key] if r.get("ok") and r.get("us_per_pkt")]
        valid = [r for r in ok if r.get("valid")]
        if valid:
            ok = valid
        if not ok:
            out.append(groups[key][0])
            continue
        ok.sort(key=lambda r: r["us_per_pkt"])
        med = dict(ok[(len(ok) - 1) // 2])
        med["runs"] = len(groups[key])
        med["us_per_pkt_all"] = [round(r["us_per_pkt"], 1) for r in ok]
        med["valid_runs"] = len(valid)
        out.append(med)
    return out


def print_table(results: list[dict[str, Any]]) -> None:
    hdr = (
        f"{'workload':<9} {'N':>4} {'server':<10} {'µs/pkt':>7} {'pkt/s/core':>10} {'cpu%1core':>9} "
        f"{'rx pkt/s':>9} {'exp pkt/s':>9} {'loss%':>6} {'late':>5} {'lat p50':>8} {'lat p99':>8} {'samples':>7} {'sub cpu%':>8} {'pub cpu%':>8} {'sys%':>5} {'srv rq%':>7} {'drops s/c':>9} ok"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        if not r.get("ok"):
            print(f"{r['workload']:<9} {r['n']:>4} {r['server']:<10} FAILED: {r.get('error', '?')}")
            continue
        print(
            f"{r['workload']:<9} {r['n']:>4} {r['server']:<10} {_f(r['us_per_pkt'], '7.1f')} "
            f"{_f(r['pkts_per_s_per_core'], '10.0f')} {_f(100 * r['cpu_core_share'], '9.1f')} "
            f"{_f(r['pkts_per_s'], '9.0f')} {_f(r['expected_pps_all'], '9.0f')} {_f(r['loss_pct'], '6.2f')} {r['late']:>5} "
            f"{_f(r['lat_p50_ms'], '6.2f') + 'ms':>8} {_f(r['lat_p99_ms'], '6.2f') + 'ms':>8} {r['lat_samples']:>7} "
            f"{_f(100 * r['loadgen_cpu_share'], '8.1f')} {_f(100 * r['publisher_cpu_share'], '8.1f')} {_f(r['system_busy_pct'], '5.0f')} {_f(100 * r.get('server_runq_wait_share', 0), '7.0f')} "
            f"{str(r.get('server_sock_drops', '-')) + '/' + str(r.get('sub_sock_drops', '-')):>9} {'yes' if r.get('valid') else 'NO*'}"
        )
    bad = [r for r in results if r.get("ok") and not r.get("valid")]
    for r in bad:
        print(f"  * {r['workload']} N={r['n']} {r['server']}: {r['invalid_reason']}")


def print_ratios(results: list[dict[str, Any]]) -> None:
    by_all = {(r["workload"], r["n"], r["server"]): r for r in results if r.get("ok")}
    by = {k: r for k, r in by_all.items() if r.get("valid")}
    keys = sorted({(w, n) for (w, n, _) in by_all}, key=lambda k: (k[0] != "fanout", k[1]))
    lines = []
    for w, n in keys:
        p, j = by_all.get((w, n, "plenary")), by_all.get((w, n, "janus"))
        if (p and not p.get("valid")) or (j and not j.get("valid")):
            lines.append(f"{w:<9} N={n:<4} no valid pair (load generator or server fell behind; see *)")
            continue
        if p and j and p["us_per_pkt"] and j["us_per_pkt"]:
            lines.append(
                f"{w:<9} N={n:<4} Plenary/Janus µs/pkt = {p['us_per_pkt'] / j['us_per_pkt']:.2f}x"
                f"   (Plenary {p['us_per_pkt']:.1f} µs, Janus {j['us_per_pkt']:.1f} µs)"
            )
    for w, n in keys:
        one = by_all.get((w, n, "plenary"))
        for (w2, n2, srv), r in sorted(by_all.items()):
            if (w2, n2) != (w, n) or not is_cluster(srv):
                continue
            j = by_all.get((w, n, "janus"))
            parts = [f"{srv} µs/pkt {r['us_per_pkt']:.1f}, CPU per process {r.get('server_cpu_shares')} of a core"]
            if one and one.get("us_per_pkt"):
                parts.append(f"/ one process {r['us_per_pkt'] / one['us_per_pkt']:.2f}x")
                processes = int(srv[len("plenary"):-1])
                piped_pps = r["pub_pps"] * (processes - 1)  # each producer crosses once per other process
                extra = r["cpu_core_share"] - one["cpu_core_share"]
                if piped_pps:
                    parts.append(f"cascade overhead ≈ {extra * 1e6 / piped_pps:.1f} µs per piped packet "
                                 f"(extra CPU {100 * extra:+.1f}% of a core over one process, the other processes' fixed costs included; {piped_pps:.0f} piped pkt/s)")
            if j and j.get("us_per_pkt"):
                parts.append(f"/ Janus {r['us_per_pkt'] / j['us_per_pkt']:.2f}x")
            lines.append(f"{w:<9} N={n:<4} " + "; ".join(parts))
    # marginal cost between the smallest N >= 40 and the largest N (removes
    # each server's fixed cost: timers, RTCP, publisher leg)
    ns = sorted({n for (w, n, _) in by if w == "fanout" and n >= 40})
    if len(ns) >= 2:
        lo, hi = ns[0], ns[-1]
        marg = {}
        for srv in ("plenary", "janus"):
            a, b = by.get(("fanout", lo, srv)), by.get(("fanout", hi, srv))
            if a and b and b["pkts"] != a["pkts"]:
                marg[srv] = (b["server_cpu_s"] / b["window_s"] - a["server_cpu_s"] / a["window_s"]) / (
                    b["pkts_per_s"] - a["pkts_per_s"]) * 1e6
        parts = [f"{k} {v:.1f} µs" for k, v in marg.items()]
        if len(marg) == 2 and marg["janus"] > 0:
            parts.append(f"ratio {marg['plenary'] / marg['janus']:.2f}x")
        if parts:
            lines.append(f"marginal N={lo}->{hi}: " + ", ".join(parts))
    if lines:
        print("\nRatios (same run, same load generator):")
        for line in lines:
            print("  " + line)
    inq = [r for r in results if r.get("ok") and r["workload"] == "inquiry"]
    if inq:
        print(f"\nCity-wide inquiry (1 video ~1 Mbit/s + 3 audio publishers, {inq[0]['n']} subscribers x 4 tracks):")
        for r in inq:
            share = r["cpu_core_share"]
            verdict = "< 1 core: OK" if share < 1.0 else ">= 1 core: over budget"
            projected = (r["us_per_pkt"] or 0) * r["expected_pps_all"] / 1e6
            print(
                f"  {r['server']:<10} CPU = {100 * share:.1f}% of one core ({verdict}; "
                f"µs/pkt x full rate {r['expected_pps_all']:.0f} pkt/s = {100 * projected:.1f}%); "
                f"{r['pkts_per_s']:.0f} pkt/s delivered, loss {_f(r['loss_pct'], '.2f')}%"
                + ("" if r.get("valid") else f"  [INVALID run: {r.get('invalid_reason')}]")
            )


async def amain(args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    servers = [s for s in args.servers.split(",") if s]
    if args.processes > 1 and "plenary" in servers:
        servers.insert(servers.index("plenary") + 1, f"plenary{args.processes}p")
    if "plenary" in servers:
        ok, why = plenary_available()
        if not ok:
            print(f"!! Plenary MediaService not importable ({why}); skipping the Plenary half", flush=True)
            servers = [s for s in servers if s != "plenary"]
    cases: list[tuple[str, int]] = [("fanout", n) for n in args.n]
    if args.inquiry:
        cases.append(("inquiry", args.inquiry_n))
    runs = [(rep, workload, n) for rep in range(args.repeat) for workload, n in cases]
    for rep, workload, n in runs:
        # alternate which server goes first, so neither always runs on a
        # "fresher" machine
        for kind in (servers if rep % 2 == 0 else list(reversed(servers))):
            print(f"-- {workload} N={n} {kind} (run {rep + 1}/{args.repeat}) ...", flush=True)
            r = await run_case(kind, workload, n, args)
            r["rep"] = rep
            results.append(r)
            report_run(r)
            await asyncio.sleep(1.0)
    if args.capacity:
        results += await climb(servers, args)
    return results


def report_run(r: dict[str, Any]) -> None:
    if r.get("ok"):
        print(
            f"   µs/pkt={_f(r['us_per_pkt'], '.1f')} cpu={100 * r['cpu_core_share']:.1f}% "
            f"per process={r.get('server_cpu_shares')} "
            f"rx={r['pkts_per_s']:.0f}/s (pub {r['pub_pps']:.0f}/s x N={r['n']}) loss={_f(r['loss_pct'], '.2f')}% "
            f"lat p50/p99={_f(r['lat_p50_ms'], '.2f')}/{_f(r['lat_p99_ms'], '.2f')} ms "
            f"sub cpu={100 * r['loadgen_cpu_share']:.0f}% sys={r['system_busy_pct']:.0f}% "
            f"sockets-loopback-only={r.get('sockets_loopback_only')} kinds/sub/s={r['kinds_per_s']} "
            f"drops srv/sub={r['server_sock_drops']}/{r['sub_sock_drops']} sub rxq end={r['sub_rxq_end']}B "
            f"{'VALID' if r['valid'] else 'INVALID: ' + r['invalid_reason']}\n   pubs={r['pub_rates']}",
            flush=True,
        )
    else:
        print(f"   FAILED: {r.get('error')}\n{r.get('traceback', '')}\n{r.get('server_log_tail', '')[-1500:]}", flush=True)


def carries(r: dict[str, Any]) -> bool:
    """Issue 12's capacity rule: under 0.1% loss and p99 under 100 ms, with
    every subscriber served (>= 97% of N x the publishers' rate arrived)."""
    if not r.get("ok") or r.get("loss_pct") is None or r.get("lat_p99_ms") is None:
        return False
    delivered = r["pkts_per_s"] / r["expected_pps_all"] if r["expected_pps_all"] else 0.0
    return r["loss_pct"] < 0.1 and r["lat_p99_ms"] < 100 and delivered >= 0.97 and not r["starved_subscribers"]


async def climb(servers: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The city-wide inquiry with more and more subscribers: each server climbs
    until the median of its --repeat runs at some N no longer carries it."""
    steps = sorted(int(x) for x in args.capacity.split(",") if x.strip())
    results: list[dict[str, Any]] = []
    climbing = list(servers)
    carried: dict[str, int] = {kind: 0 for kind in servers}
    for n in steps:
        verdicts: dict[str, list[bool]] = {kind: [] for kind in climbing}
        for rep in range(args.repeat):
            for kind in (climbing if rep % 2 == 0 else list(reversed(climbing))):
                print(f"-- capacity N={n} {kind} (run {rep + 1}/{args.repeat}) ...", flush=True)
                r = await run_case(kind, "inquiry", n, args)
                r.update(rep=rep, workload="capacity", carried=carries(r))
                results.append(r)
                report_run(r)
                verdicts[kind].append(r["carried"])
                await asyncio.sleep(1.0)
        for kind, seen in verdicts.items():
            ok = sum(seen) * 2 > len(seen)  # the median run carried it
            print(f"   capacity N={n} {kind}: {sum(seen)}/{len(seen)} runs carried -> {'yes' if ok else 'no'}", flush=True)
            if ok:
                carried[kind] = n
        climbing = [k for k in climbing if carried[k] == n]
        if not climbing:
            break
    print("\nCapacity (city-wide inquiry, loss < 0.1% and p99 < 100 ms in the median run; steps "
          f"{steps}):")
    for kind in servers:
        top = carried[kind]
        print(f"  {kind:<10} carries {top if top else '< ' + str(steps[0])} subscribers"
              + ("" if kind not in climbing else f" (still carried at the last step, {steps[-1]})"))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="1,10,40,80,110", help="subscriber counts, e.g. 1,10,40")
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds after the last subscriber connected")
    ap.add_argument("--servers", default="plenary,janus")
    ap.add_argument("--processes", type=int, default=1,
                    help="also run Plenary as this many processes joined by the cascade (subscribers spread over them)")
    ap.add_argument("--plain-pipes", action="store_true", help="plain RTP between processes instead of SRTP")
    ap.add_argument("--capacity", default="",
                    help="inquiry subscriber counts to climb, e.g. 110,160,220,300: per server, the largest N "
                         "carried with loss < 0.1%% and p99 < 100 ms (median of --repeat runs)")
    ap.add_argument("--inquiry", action="store_true", help="also run the city-wide inquiry workload")
    ap.add_argument("--inquiry-n", type=int, default=110)
    ap.add_argument("--bitrate", type=int, default=1_000_000, help="pinned VP8 bitrate")
    ap.add_argument("--janus-event-loops", type=int, default=0, help="default: core count")
    ap.add_argument("--plenary-port", type=int, default=8765)
    ap.add_argument("--join-concurrency", type=int, default=8)
    ap.add_argument("--join-timeout", type=float, default=120)
    ap.add_argument("--no-drain", action="store_true", help="lean subscribers: one recvfrom per wake-up (asyncio default)")
    ap.add_argument("--nice", type=int, default=0, help="nice value for the whole benchmark (servers and load generator alike); negative = priority boost on a shared machine")
    ap.add_argument("--repeat", type=int, default=1, help="run every case this many times (interleaved); medians are reported")
    ap.add_argument("--max-minutes", type=float, default=30, help="hard stop for the whole run")
    ap.add_argument("--json", default="", help="also write results as JSON to this path")
    args = ap.parse_args()
    args.n = [int(x) for x in args.n.split(",") if x.strip()]  # "" runs no fan-out case

    netns.reexec_in_netns()
    netns.setup_netns()
    if args.nice:
        # inherited by every child: Janus, Plenary's server, the publishers
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)

    # Hard stop: the whole run ends by itself.
    def _timeout(*_: Any) -> None:
        print("!! --max-minutes reached, aborting", flush=True)
        os._exit(3)

    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(int(args.max_minutes * 60))

    import loadgen

    loadgen.pin_host_address(netns.PEER_ADDR)
    loadgen.pin_vp8_bitrate(args.bitrate)

    info = machine_info()
    print("=" * 100)
    print(f"Machine: {info['cpu_model']} | {info['cores_logical']} logical cores ({info['cores_physical']} physical) | "
          f"kernel {info['kernel']} | Python {info['python']} | {info['mem_gb']} GiB")
    print(f"Workload: VP8 640x360 30fps pinned {args.bitrate / 1e6:.2f} Mbit/s + Opus; window {args.seconds}s; "
          f"N={args.n}; inquiry={'yes' if args.inquiry else 'no'}; servers={args.servers}")
    print("Network: private netns; server media 127.0.0.2, peers 127.0.0.3, HTTP 127.0.0.1"
          + (f"; nice {args.nice} for all benchmark processes" if args.nice else ""))
    print(f"Load average at start: {os.getloadavg()}")
    print("=" * 100, flush=True)

    results = asyncio.run(amain(args))
    print()
    print("=" * 100)
    print(f"Machine: {info['cpu_model']} | {info['cores_logical']} cores | kernel {info['kernel']}")
    if args.repeat > 1:
        print("All runs:")
        print_table(results)
        results_med = median_results(results)
        print(f"\nMedian run of {args.repeat} per case (by µs/pkt; all µs/pkt values listed below):")
        print_table(results_med)
        for r in results_med:
            if r.get("us_per_pkt_all"):
                print(f"  {r['workload']:<8} N={r['n']:<4} {r['server']:<10} µs/pkt of {'valid' if r.get('valid_runs') else 'all (none valid)'} runs: {r['us_per_pkt_all']}")
    else:
        results_med = results
        print_table(results)
    print_ratios(results_med)
    print("\nµs/pkt = server CPU (user+sys, all threads) / RTP packets received by all subscribers; "
          "lat = publisher send hook -> kernel arrival at the subscriber socket (SO_TIMESTAMPNS; payload-hash match);\n"
          "sub cpu% / pub cpu% = load generator's subscriber / publisher process; sys% = whole machine busy during window;\n"
          "srv rq% = server threads' run-queue wait (runnable, not running) as % of the window;\n"
          "drops s/c = datagrams dropped at server / subscriber sockets in the window; ok = subscribers kept up (see *).")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "args": {k: v for k, v in vars(args).items()}, "results": results}, fh, indent=1, default=str)
    signal.alarm(0)


if __name__ == "__main__":
    main()
