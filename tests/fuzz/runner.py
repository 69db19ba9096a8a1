"""Send many cases over a few paced connections and say which broke the contract."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tests.fuzz.cases import Case
from tests.fuzz.world import ack_problem
from tests.fuzz.rawsio import Dropped, RawSocket

ACK_TIMEOUT_S = 15.0
SOLO_BYTES = 128 * 1024
GATE_HOLD_S = 1.0
IN_FLIGHT = 32  # cases awaiting their ack at once (per run, unless a shared gate is given)


@dataclass
class Failure:
    who: str
    case: Case
    problem: str

    def __str__(self) -> str:
        return f"{self.who}: {self.case} (expected {self.case.expect}) -> {self.problem}"


async def run_cases(
    who: str, cases: list[Case], connect: Callable[[], Awaitable[RawSocket]], connections: int,
    gate: asyncio.Semaphore | None = None,
) -> list[Failure]:
    """Every case once; a case whose connection dropped is re-sent alone on a
    fresh connection, so a drop is blamed on the case that caused it.

    `gate` bounds the cases in flight (shared by concurrent runs): the fuzz
    is about answers, not load, and a hub whose database pool is swamped
    would time out well-formed and malformed events alike."""
    gate = gate or asyncio.Semaphore(IN_FLIGHT)
    failures: list[Failure] = []
    dropped: list[Case] = []
    # A message near the hub's size limit goes alone from the start: if it
    # closes its connection, nothing else was in flight there.
    big = [c for c in cases if len(c.body) > SOLO_BYTES]
    queue = [c for c in reversed(cases) if len(c.body) <= SOLO_BYTES]

    async def one(sock: RawSocket, case: Case, solo: bool, release=lambda: None) -> None:
        call = asyncio.ensure_future(sock.call(case.event, case.body, timeout=ACK_TIMEOUT_S))
        # A case the hub never answers must not hold a slot for the whole
        # timeout: after GATE_HOLD_S it waits on outside the bound.
        await asyncio.wait({call}, timeout=GATE_HOLD_S)
        release()
        try:
            ack = await call
        except TimeoutError:
            failures.append(Failure(who, case, f"no ack within {ACK_TIMEOUT_S:.0f}s"))
            return
        except Dropped as exc:
            if solo:
                failures.append(Failure(who, case, f"connection dropped: {exc}"))
            else:
                dropped.append(case)
            return
        problem = ack_problem(ack, case.expect)
        if problem and "rate_limited" in problem:
            problem += f" ({sock.sent} sent in {time.monotonic() - sock.opened_at:.1f}s on this connection)"
        if problem:
            failures.append(Failure(who, case, problem))

    async def worker() -> None:
        sock = await connect()
        pending: set[asyncio.Task] = set()

        async def guarded(s: RawSocket, case: Case) -> None:
            released = False

            def release() -> None:
                nonlocal released
                if not released:
                    released = True
                    gate.release()

            try:
                await one(s, case, solo=False, release=release)
            finally:
                release()

        while queue:
            await gate.acquire()
            if not queue:
                gate.release()
                break
            if not sock.alive:
                sock = await connect()
            task = asyncio.create_task(guarded(sock, queue.pop()))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
        await check_alive(who, sock, failures)

    # Big cases, and bystanders of a drop, each alone on its own connection.
    solo_gate = asyncio.Semaphore(8)

    async def alone(case: Case) -> None:
        async with solo_gate, gate:
            try:
                sock = await connect()
            except (TimeoutError, Dropped, OSError) as exc:
                failures.append(Failure(who, case, f"could not connect to re-send it alone: {exc!r}"))
                return
            try:
                await one(sock, case, solo=True)
                await check_alive(who, sock, failures)
            finally:
                await sock.close()

    await asyncio.gather(*(worker() for _ in range(connections)), *(alone(case) for case in big))
    await asyncio.gather(*(alone(case) for case in dropped))
    return failures


async def check_alive(who: str, sock: RawSocket, failures: list[Failure]) -> None:
    """After the fuzz the connection is still there and `state:sync` still answers."""
    probe = Case("state:sync", "", "after the fuzz", "{}", "answered")
    if not sock.alive:
        return  # its drops are blamed on cases above
    try:
        ack = await sock.call("state:sync", "{}", timeout=ACK_TIMEOUT_S)
    except (TimeoutError, Dropped) as exc:
        failures.append(Failure(who, probe, f"state:sync after the fuzz: {exc!r} "
                                             f"({sock.sent} sent in {time.monotonic() - sock.opened_at:.1f}s)"))
        return
    if not (isinstance(ack, dict) and ack.get("ok") is True):
        failures.append(Failure(who, probe, f"state:sync after the fuzz answered {str(ack)[:200]}"))
