"""cocotb bench for a generated PE (`post_pe`, or the baselines `int_pe` / `pot_pe`).

Driver, monitor, reference and scoreboard: the driver (sim/bfm.StreamDriver) streams a
workload's beats with random gaps, the monitor (StreamMonitor) applies random back-pressure
and captures results, and the scoreboard compares them in order with the reference's
expected results: `golden.pe_dot` for post_pe (baselines: `golden.baselines`), computed with the
stimulus by sim/workloads.phase_vectors in the process that starts the simulator, so this
one stays light (no numba) and spends its time on the clock loop.

The test reads a job file (JSON, path in $ASQ_TB_JOB, written by sim/runner.py): the
manifest's "top", "latency" and "ports", and a list of phases, each the vectors of
phase_vectors. The PE is reset before each phase. The per-phase report (dot products and
terms verified, mismatches, cycles, measured latencies, wall time) goes to the job's
"result" path. A phase without back-pressure must also see every result exactly the
manifest's latency after its dot product's last beat was accepted.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock

from asq_hw.outputs import write_text
from sim.bfm import Scoreboard, StreamDriver, StreamMonitor, latencies, reset_cocotb, run_cocotb

JOB_ENV = "ASQ_TB_JOB"


async def run_phase(dut, ph: dict, out_names: list[str], latency: int) -> dict:
    """Stream one phase through the DUT and score it."""
    drv = StreamDriver(ph["act"], ph["code"], ph["last"], ph["gaps"])
    mon = StreamMonitor(ph["ready"], ph["dots"])
    await reset_cocotb(dut)
    t0 = time.perf_counter()
    cycles = await run_cocotb(dut, drv, mon, out_names,
                              max_cycles=20 * (len(ph["act"]) + latency) + 1000)
    wall = time.perf_counter() - t0
    sb = Scoreboard(ph["expected"]).check(mon.results)
    lats = latencies(drv, mon)
    for i, want, got in sb["first"]:
        dut._log.error("%s: dot product %d: expected %s, got %s", ph["name"], i, want, got)
    return {
        "name": ph["name"], "workload": ph["workload"], "dots": ph["dots"],
        "terms": ph["terms"], "beats": len(ph["act"]), "cycles": cycles, "wall_s": wall,
        "p_gap": ph["p_gap"], "p_stall": ph["p_stall"],
        "verified": sb["verified"], "mismatches": sb["mismatches"],
        "first_mismatches": sb["first"],
        "latency_min": min(lats) if lats else None,
        "latency_max": max(lats) if lats else None,
    }


@cocotb.test()
async def stream_phases(dut):
    """Every phase of the job: stream, capture, compare with the reference."""
    job = json.loads(Path(os.environ[JOB_ENV]).read_text(encoding="utf-8"))
    latency = job["latency"]
    out_names = [p["name"] for p in job["ports"] if p["role"].startswith("out_acc")]
    Clock(dut.clk, 10, unit="ns").start()
    report = []
    for ph in job["phases"]:
        report.append(await run_phase(dut, ph, out_names, latency))
        write_text(job["result"], json.dumps(report, indent=1))
    for entry in report:
        assert entry["mismatches"] == 0, f"{entry['name']}: {entry['mismatches']} mismatches"
        if entry["p_stall"] == 0 and entry["dots"]:
            assert entry["latency_min"] == entry["latency_max"] == latency, \
                f"{entry['name']}: measured latency {entry['latency_min']}.." \
                f"{entry['latency_max']}, manifest says {latency}"
