"""cocotb bench of the accelerator (`asq_accel`, hw/accel/top.py): it touches only the two
streams, so the simulator runs free while the network computes. It runs on the design in
its free-running-clock wrapper (sim/clocked.py): cocotb drives no clock, so between the
beats it touches the simulator never calls back into Python.

The job (JSON at $ASQ_HW_STREAM_JOB, written by sim/accelsim.py) gives the port names by
role, the clock (the wrapper's manifest `clock`), the images' input beats (ints, the
manifest's packing) and per image a mode: "clean" (input back to back, out_ready high: its
cycles are the manifest's `cycles_per_image`) or "rough" (a random gap before each input
beat and random out_ready, from the job's seed and probabilities). "probe" lists images
whose requantization-unit writes (probe_* ports) are recorded, one cycle at a time (slow;
for locating a mismatch).

Per image it reports the output beats (ints) and its cycles: from the edge accepting its
first input beat to the edge transferring its last output beat, both included (times from
the simulator clock, no counting in Python). The next image's beats are offered from the
falling edge after the previous image's last logit.

One FallingEdge per handshake: inputs written there are sampled at the next rising edge,
and ready/valid read there say whether a beat moves at that edge (they change only at
rising edges), as in sim/tb_accel.py.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge, Timer
from cocotb.utils import get_sim_time

JOB_ENV = "ASQ_HW_STREAM_JOB"


def _edge(period: int) -> int:
    """The number of the next rising edge (called at a falling edge, which the clock of
    sim/clocked.py makes at whole periods)."""
    return int(get_sim_time(unit="ns")) // period + 1


async def _image(dut, clk, p: dict, beats: list[int], out_beats: int, rough: bool,
                 rng: random.Random, job: dict, probe: list | None) -> dict:
    falling = FallingEdge(clk)
    period = job["clock"]["period_ns"]
    in_valid, in_data, in_last, in_ready = (getattr(dut, p[r]) for r in (
        "in_valid", "in_data", "in_last", "in_ready"))
    out_valid, out_ready, out_data, out_last = (getattr(dut, p[r]) for r in (
        "out_valid", "out_ready", "out_data", "out_last"))
    first = None
    out_ready.value = 1
    for k, word in enumerate(beats):
        if rough:
            in_valid.value = 0
            for _ in range(rng.randrange(job["max_gap"] + 1)
                           if rng.random() < job["gap_p"] else 0):
                await falling
        in_valid.value, in_data.value, in_last.value = 1, word, int(k == len(beats) - 1)
        while not in_ready.value:
            await falling
        if first is None:
            first = _edge(period)
        await falling
    in_valid.value, in_last.value = 0, 0
    out, lasts, last_edge = [], [], None
    ready = 1
    while len(out) < out_beats:
        if probe is None and not out_valid.value:
            # Let the simulator run the network (a hung design ends at the time limit).
            if await First(RisingEdge(out_valid), Timer(job["max_cycles"] * period,
                                                         unit="ns")) is not None \
                    and not out_valid.value and _edge(period) - first > job["max_cycles"]:
                raise TimeoutError(f"no logit {len(out)} within {job['max_cycles']} cycles")
            await falling
            continue
        if probe is not None and dut.probe_valid.value:
            probe.append([int(dut.probe_layer.value), int(dut.probe_addr.value),
                          int(dut.probe_data.value)])
        # out_ready written now is what the next rising edge samples, with out_valid and
        # out_data as they are now (they change only at rising edges).
        if rough:
            ready = int(rng.random() >= job["stall_p"])
            out_ready.value = ready
        if out_valid.value and ready:
            out.append(int(out_data.value))
            lasts.append(int(out_last.value))
            last_edge = _edge(period)
        await falling
    out_ready.value = 1
    return {"out": out, "lasts": lasts, "cycles": last_edge - first + 1}


@cocotb.test()
async def stream_images(dut):
    job = json.loads(Path(os.environ[JOB_ENV]).read_text(encoding="utf-8"))
    p = job["ports"]
    clk = getattr(dut, job["clock"]["name"])
    for role in ("in_valid", "in_last", "in_data"):
        getattr(dut, p[role]).value = 0
    getattr(dut, p["out_ready"]).value = 1
    rst = getattr(dut, p["rst"])
    rst.value = 1
    await ClockCycles(clk, 2)
    rst.value = 0
    await FallingEdge(clk)
    rng = random.Random(job["seed"])
    probes = set(job.get("probe", []))
    out, t0 = [], time.perf_counter()
    for i, beats in enumerate(job["images"]):
        trace = [] if i in probes else None
        rep = await _image(dut, clk, p, beats, job["out_beats"], job["modes"][i] == "rough", rng,
                           job, trace)
        if trace is not None:
            rep["probe"] = trace
        out.append(rep)
    framing = int(getattr(dut, p["status_framing"]).value) if "status_framing" in p else 0
    Path(job["result"]).write_text(json.dumps({
        "images": out, "status_framing": framing,
        "bench_s": time.perf_counter() - t0}), encoding="utf-8")
