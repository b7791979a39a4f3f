"""cocotb bench of the PE array (`post_array`): runs one batch job (sim/arrayjob.py).

The host writes the job folder and starts the simulator once (sim.runner.run_array); this
test reads the job, streams every layer's images, then every general stream, writes the
results next to the job and ends. Everything numeric (beats, golden, requantization) happens
in the host, so this process stays light and spends its time on the clock loop.

- A layer: the mapper's beat stream (asq_hw/mapper.py) of each image, one stream per image:
  in_valid high and a new beat on every edge where in_ready is high, out_ready held high.
  Per image: its cycles (from the edge accepting its first beat to the edge transferring
  its last result, both counted) and the latencies of its results (edges from a dot
  product's last beat to its result); per layer the results on every result port.
- A general stream: input gaps and output back-pressure through sim/bfm.run_cocotb (the PE's
  driver and monitor). Report: results (packed ints per port), the accepting edges of last
  beats, the transfer edges of results, cycles.

The fast loop. One trigger per cycle, a FallingEdge: at the falling edge between rising
edges n and n+1 the loop reads out_valid (a result there moves at edge n+1, out_ready being
high) and in_ready, and if in_ready is high writes the next beat, which edge n+1 accepts.
Nothing samples at a falling edge, so immediate (no-delay) writes and plain reads are
race-free on every simulator. This relies on in_ready not depending combinationally on
in_valid or the payload in the same cycle, which holds for the PE and the array
(in_ready = ~out_valid | out_ready). Port access goes through cocotb's simulator handles
(`_handle`): the public setter validates each binary string in Python, which costs more
than the whole rest of a cycle; cocotb is pinned to < 2.2 in pyproject.toml.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from sim.arrayjob import JOB_ENV, ResultWriter, image_acts, read_job
from sim.bfm import StreamDriver, StreamMonitor, reset_cocotb, run_cocotb

NO_DELAY = 3      # cocotb.handle._GPISetAction.NO_DELAY: write now, readable at once


class Ports:
    """Fast accessors of the array's ports (see the module docstring)."""

    def __init__(self, dut, out_names: list[str]):
        self.dut = dut
        self.falling = FallingEdge(dut.clk)
        raw = {n: getattr(dut, n)._handle for n in
               ("in_valid", "in_ready", "in_act", "in_code", "in_last", "out_valid",
                "out_ready")}
        self.set_valid = raw["in_valid"].set_signal_val_int
        self.set_last = raw["in_last"].set_signal_val_int
        self.set_ready = raw["out_ready"].set_signal_val_int
        self.set_act = raw["in_act"].set_signal_val_binstr
        self.set_code = raw["in_code"].set_signal_val_binstr
        self.in_ready = raw["in_ready"].get_signal_val_long
        self.out_valid = raw["out_valid"].get_signal_val_long
        self.outs = [getattr(dut, n)._handle.get_signal_val_binstr for n in out_names]
        self.out_names = out_names


async def reset(dut) -> None:
    """Synchronous reset, then out_ready high (the fast loop's state)."""
    await reset_cocotb(dut, out_ready=1)


async def stream_image(p: Ports, acts: list[str], codes: list[str], tiles: int,
                       positions: int, d: int, results: list[list[str]]) -> tuple[int, int, int]:
    """One image of a layer (the fast loop); appends its results, returns (cycles,
    latency min, latency max)."""
    falling, in_ready, out_valid, outs = p.falling, p.in_ready, p.out_valid, p.outs
    set_act, set_code, set_last = p.set_act, p.set_code, p.set_last
    lasts: deque[int] = deque()
    lats: list[int] = []          # latency of every result taken so far
    n = 0                         # falling edges so far; the next rising edge is n + 1
    first = -1
    shown_last = -1
    expected = tiles * positions

    def capture(n: int) -> None:
        """Take the results on the outputs at falling edge n."""
        for r, get in zip(results, outs, strict=True):
            r.append(get())
        lats.append(n + 1 - lasts.popleft())

    guard = 64 * (expected * d + 16)     # cycles; a DUT that never takes a beat ends here
    for t in range(tiles):
        ct = codes[t * d:(t + 1) * d]
        for s in range(positions):
            at = acts[s * d:(s + 1) * d]
            for j in range(d):
                while True:
                    await falling
                    n += 1
                    if out_valid():
                        capture(n)
                    if in_ready():
                        break
                    if n > guard:
                        raise TimeoutError(f"in_ready low for {n} cycles")
                set_act(NO_DELAY, at[j])
                set_code(NO_DELAY, ct[j])
                is_last = int(j == d - 1)
                if is_last != shown_last:
                    set_last(NO_DELAY, is_last)
                    shown_last = is_last
                if is_last:
                    lasts.append(n + 1)
                if first < 0:         # valid rises with the first beat's payload
                    p.set_valid(NO_DELAY, 1)
                    first = n + 1
    valid = True
    end = first
    guard = n + 64 * (expected + 16)     # a DUT that never delivers its results ends here
    while len(lats) < expected:
        await falling
        n += 1
        if out_valid():
            capture(n)
            end = n + 1
        if valid and in_ready():
            p.set_valid(NO_DELAY, 0)
            valid = False
        if n > guard:
            raise TimeoutError(f"{len(lats)} of {expected} results after {n} cycles")
    if valid:                      # the last result left before the last beat's edge
        await falling
        p.set_valid(NO_DELAY, 0)
    return end - first + 1, min(lats), max(lats)


async def run_layer(p: Ports, lay: dict, out: ResultWriter) -> dict:
    """Every image of one layer of the job; its results go to `out` image by image."""
    out.layer(lay["stem"])
    cycles, lats = [], []
    t0 = time.perf_counter()
    for b in range(lay["images"]):
        results: list[list[str]] = [[] for _ in p.outs]
        c, lo, hi = await stream_image(p, image_acts(lay, b), lay["codes"], lay["tiles"],
                                       lay["positions"], lay["beats_per_dot"], results)
        out.results(results)
        cycles.append(c)
        lats += [lo, hi]
    return {"cycles": cycles, "latency_min": min(lats, default=None),
            "latency_max": max(lats, default=None), "wall_s": time.perf_counter() - t0}


async def run_stream(dut, p: Ports, s: dict) -> dict:
    """A general stream (gaps, back-pressure) through the PE bench's driver and monitor."""
    drv = StreamDriver(s["act"], s["code"], s["last"], s["gaps"])
    mon = StreamMonitor(s["ready"], s["dots"])
    t0 = time.perf_counter()
    cycles = await run_cocotb(dut, drv, mon, p.out_names,
                              max_cycles=20 * (len(s["act"]) + 16) + 1000)
    dut.out_ready.value = 1
    dut.in_valid.value = 0
    await FallingEdge(dut.clk)
    return {"results": [list(r) for r in mon.results], "last_edges": drv.last_edges,
            "edges": mon.edges, "cycles": cycles, "wall_s": time.perf_counter() - t0}


@cocotb.test()
async def run_job(dut):
    """The job in $ASQ_TB_ARRAY_JOB: every layer, then every general stream."""
    path = Path(os.environ[JOB_ENV])
    job = read_job(path)
    Clock(dut.clk, 10, unit="ns").start()
    p = Ports(dut, job["out_names"])
    await reset(dut)
    out = ResultWriter(path.parent, job["out_names"])
    try:
        layers = [await run_layer(p, lay, out) for lay in job["layers"]]
        streams = [await run_stream(dut, p, s) for s in job["streams"]]
    finally:
        out.close()
    out.done(layers, streams)
