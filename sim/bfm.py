"""Stream bus-functional models for the PE's valid/ready ports (spec section 6).

`StreamDriver` presents precomputed beats (packed integers, so a cycle costs one or two
handle writes at most) with random idle gaps between them; once it raises valid, valid and
the payload hold until the beat is accepted. `StreamMonitor` drives `out_ready` from a random
back-pressure pattern and captures each transferred result. Both are plain state machines;
`run_cocotb` and `run_amaranth` are the two clock loops that connect them to a simulator, so
the Amaranth unit tests and the cocotb benches share one protocol model. `Scoreboard`
compares captured results with the reference, in order.

Sampling is race-free on every simulator: each cycle the loop writes its inputs after a
rising edge, waits until values settle (cocotb `ReadOnly`), and reads in_ready / out_valid /
results there. Nothing changes between that read and the next rising edge, so what it sees is
exactly what the DUT sees at that edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def random_gaps(rng: np.random.Generator, n: int, p_gap: float, max_gap: int = 3) -> list[int]:
    """Idle cycles before each of n beats: 0 with probability 1 - p_gap, else 1..max_gap."""
    if p_gap <= 0:
        return [0] * n
    has = rng.random(n) < p_gap
    return np.where(has, rng.integers(1, max_gap + 1, n), 0).tolist()


def random_ready(rng: np.random.Generator, p_stall: float, period: int = 4093) -> list[bool]:
    """An out_ready pattern, low with probability p_stall, repeated with a prime period."""
    if p_stall <= 0:
        return [True]
    return (rng.random(period) >= p_stall).tolist()


class StreamDriver:
    """Input side: presents beat k after gaps[k] idle cycles and holds it until accepted.

    Call `current()` once per cycle (the beat index presented this cycle, or -1 for idle)
    and `accept(edge)` when valid and ready were both high at that clock edge.
    `last_edges` collects the accepting edge of every beat with last = 1.
    """

    def __init__(self, act: Sequence[int], code: Sequence[int], last: Sequence[int],
                 gaps: Sequence[int]):
        if not len(act) == len(code) == len(last) == len(gaps):
            raise ValueError("act, code, last and gaps must have one entry per beat")
        self.act, self.code, self.last, self.gaps = list(act), list(code), list(last), \
            list(gaps)
        self.n = len(self.act)
        self.k = 0
        self.wait = self.gaps[0] if self.n else 0
        self.last_edges: list[int] = []

    @property
    def done(self) -> bool:
        return self.k >= self.n

    def current(self) -> int:
        if self.k >= self.n:
            return -1
        if self.wait:
            self.wait -= 1
            return -1
        return self.k

    def accept(self, edge: int) -> None:
        if self.last[self.k]:
            self.last_edges.append(edge)
        self.k += 1
        if self.k < self.n:
            self.wait = self.gaps[self.k]


class StreamMonitor:
    """Output side: out_ready follows `ready` (cyclically); `capture` records a result and
    the edge it moved on. `done` once `expected` results have been seen."""

    def __init__(self, ready: Sequence[bool], expected: int):
        self.pattern = [bool(r) for r in ready] or [True]
        self.period = len(self.pattern)
        self.expected = expected
        self.results: list[tuple[int, ...]] = []
        self.edges: list[int] = []

    @property
    def done(self) -> bool:
        return len(self.results) >= self.expected

    def ready(self, cycle: int) -> bool:
        # After the expected results, hold ready high so a spurious extra result shows.
        return True if self.done else self.pattern[cycle % self.period]

    def capture(self, values: tuple[int, ...], edge: int) -> None:
        self.results.append(values)
        self.edges.append(edge)


class Scoreboard:
    """In-order comparison of captured results with the reference."""

    def __init__(self, expected: Sequence[tuple[int, ...]]):
        self.expected = [tuple(int(v) for v in e) for e in expected]

    def check(self, got: Sequence[tuple[int, ...]]) -> dict:
        """{"verified", "mismatches", "missing", "extra", "first": [(index, expected, got)]}.
        A missing or extra result counts as a mismatch."""
        n = min(len(got), len(self.expected))
        bad = [i for i in range(n) if tuple(got[i]) != self.expected[i]]
        missing = max(0, len(self.expected) - len(got))
        extra = max(0, len(got) - len(self.expected))
        return {
            "verified": n - len(bad),
            "mismatches": len(bad) + missing + extra,
            "missing": missing,
            "extra": extra,
            "first": [(i, self.expected[i], tuple(got[i])) for i in bad[:5]],
        }


def latencies(drv: StreamDriver, mon: StreamMonitor) -> list[int]:
    """Edges from each dot product's last-beat acceptance to its result's transfer."""
    return [b - a for a, b in zip(drv.last_edges, mon.edges, strict=False)]


async def reset_cocotb(dut, out_ready: int = 0, cycles: int = 2) -> None:
    """Synchronous reset with the inputs idle and out_ready at `out_ready`."""
    from cocotb.triggers import ClockCycles

    dut.in_valid.value = 0
    dut.in_last.value = 0
    dut.out_ready.value = out_ready
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)


def _countdown(tail: int, cycle: int, drv: StreamDriver, mon: StreamMonitor,
               max_cycles: int) -> int:
    """The clock loops' drain counter after `cycle` cycles: one less once the driver and
    the monitor are both done; TimeoutError past `max_cycles`."""
    if cycle > max_cycles:
        raise TimeoutError(f"no progress: {len(mon.results)} of {mon.expected} results "
                           f"after {cycle} cycles")
    return tail - 1 if mon.done and drv.done else tail


async def run_cocotb(dut, drv: StreamDriver, mon: StreamMonitor, out_names: Sequence[str],
                     max_cycles: int, drain: int = 16) -> int:
    """Clock loop for cocotb: drive `drv`, serve `mon` until it is done and `drain` cycles
    more (to catch extra results). The clock must be running and reset released.
    Returns the number of cycles simulated; raises TimeoutError past `max_cycles`."""
    from cocotb.triggers import ReadOnly, RisingEdge

    rising, settled = RisingEdge(dut.clk), ReadOnly()
    in_valid, in_act, in_code, in_last = dut.in_valid, dut.in_act, dut.in_code, dut.in_last
    in_ready, out_valid, out_ready = dut.in_ready, dut.out_valid, dut.out_ready
    outs = [getattr(dut, n) for n in out_names]
    act, code, last = drv.act, drv.code, drv.last
    shown, valid_now, ready_now = -1, False, None
    cycle, tail = 0, drain
    while tail:
        await rising
        k = drv.current()
        if k != shown:
            if k >= 0:
                in_act.value, in_code.value, in_last.value = act[k], code[k], last[k]
            if (k >= 0) != valid_now:
                valid_now = k >= 0
                in_valid.value = int(valid_now)
            shown = k
        r = mon.ready(cycle)
        if r != ready_now:
            out_ready.value = int(r)
            ready_now = r
        await settled
        if valid_now and in_ready.value:
            drv.accept(cycle + 1)
        if r and out_valid.value:
            mon.capture(tuple(o.value.to_signed() for o in outs), cycle + 1)
        cycle += 1
        tail = _countdown(tail, cycle, drv, mon, max_cycles)
    await rising                  # leave the read-only phase, so the caller may write
    return cycle


async def run_amaranth(ctx, dut, drv: StreamDriver, mon: StreamMonitor,
                       out_names: Sequence[str], max_cycles: int, drain: int = 16) -> int:
    """The same loop for an Amaranth `add_testbench` process (`ctx` its context)."""
    outs = [getattr(dut, n) for n in out_names]
    cycle, tail = 0, drain
    while tail:
        k = drv.current()
        ctx.set(dut.in_valid, k >= 0)
        if k >= 0:
            ctx.set(dut.in_act, drv.act[k])
            ctx.set(dut.in_code, drv.code[k])
            ctx.set(dut.in_last, drv.last[k])
        r = mon.ready(cycle)
        ctx.set(dut.out_ready, r)
        if k >= 0 and ctx.get(dut.in_ready):
            drv.accept(cycle + 1)
        if r and ctx.get(dut.out_valid):
            mon.capture(tuple(ctx.get(o) for o in outs), cycle + 1)
        await ctx.tick()
        cycle += 1
        tail = _countdown(tail, cycle, drv, mon, max_cycles)
    return cycle


def simulate_amaranth(pe, drv: StreamDriver, mon: StreamMonitor, out_names: Sequence[str],
                      max_cycles: int = 1_000_000, vcd: str | None = None) -> int:
    """Run `drv` and `mon` against the Amaranth component `pe` in Amaranth's simulator;
    returns the cycles simulated. `vcd` names a waveform file to write."""
    from amaranth.sim import Simulator

    sim = Simulator(pe)
    sim.add_clock(1e-8)
    cycles = []

    async def bench(ctx):
        cycles.append(await run_amaranth(ctx, pe, drv, mon, out_names, max_cycles))

    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return cycles[0]
