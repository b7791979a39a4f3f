"""cocotb bench of the accelerator (`asq_accel`, hw/accel/top.py) in its stream wrapper
(sim/stream_bfm.py): the wrapper drives both streams from Verilog, so the bench hands it one
image at a time and the simulator runs free while the network computes.

The job (JSON at $ASQ_HW_STREAM_JOB, written by sim/accelsim.py) gives the wrapper's
`bfm` (manifest), the images' input beats (ints, the manifest's packing) and per image a
mode: "clean" (input back to back, out_ready high: its cycles are the manifest's
`cycles_per_image`) or "rough" (before each input beat, with probability gap_p, a gap of
1 .. max_gap cycles; out_ready low on each cycle with probability stall_p, from a pattern
of the wrapper's stall_len cycles drawn per image; all from the job's seed). "probe" lists
images whose requantization-unit writes (probe_* ports) are recorded, one cycle at a time
(slow; for locating a mismatch).

Per image it reports the output beats (ints), their out_last bits and its cycles: from the
edge accepting its first input beat to the edge transferring its last output beat, both
included, counted by the wrapper. `extra_beats`: output beats the design sent after the
last one it owed an image (a fault), over the whole run.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from hw.packing import pack_lanes

JOB_ENV = "ASQ_HW_STREAM_JOB"


def _pack(values: list[int], width: int) -> int:
    """One packed vector of the wrapper: element k at bits [k*width, (k+1)*width)."""
    return pack_lanes([values], width)[0]


def _stimulus(beats: int, rough: bool, rng: random.Random, job: dict) -> tuple[int, int]:
    """(packed gaps, stall pattern) of one image."""
    bfm = job["bfm"]
    if not rough:
        return 0, 0
    gaps = [rng.randint(1, job["max_gap"]) if rng.random() < job["gap_p"] else 0
            for _ in range(beats)]
    stall = [int(rng.random() < job["stall_p"]) for _ in range(bfm["stall_len"])]
    return _pack(gaps, bfm["gap_bits"]), _pack(stall, 1)


async def _image(dut, clk, go: int, beats: list[int], rough: bool, rng: random.Random,
                 job: dict, probe: list | None) -> dict:
    bfm = job["bfm"]
    gaps, stall = _stimulus(len(beats), rough, rng, job)
    dut.bench_in.value = _pack(beats, bfm["in_bits"])
    dut.bench_gap.value = gaps
    dut.bench_stall.value = stall
    dut.bench_go.value = go
    limit = job["max_cycles"] * bfm["period_ns"]
    if probe is None:
        # The simulator runs the image; a hung design ends at the time limit.
        await First(RisingEdge(dut.bench_done), Timer(limit, unit="ns"))
    else:
        falling = FallingEdge(clk)
        for _ in range(job["max_cycles"]):
            await falling
            if dut.probe_valid.value:
                probe.append([int(dut.probe_layer.value), int(dut.probe_addr.value),
                              int(dut.probe_data.value)])
            if dut.bench_done.value:
                break
    if not dut.bench_done.value:
        raise TimeoutError(f"{int(dut.bench_count.value)} of {bfm['out_beats']} output "
                           f"beats within {job['max_cycles']} cycles")
    width = bfm["out_bits"] + 1
    word = dut.bench_out.value.to_unsigned()
    fields = [(word >> (k * width)) & ((1 << width) - 1) for k in range(bfm["out_beats"])]
    data_mask = (1 << bfm["out_bits"]) - 1
    return {"out": [f & data_mask for f in fields],
            "lasts": [f >> bfm["out_bits"] for f in fields],
            "cycles": int(dut.bench_end.value) - int(dut.bench_first.value) + 1}


@cocotb.test()
async def stream_images(dut):
    job = json.loads(Path(os.environ[JOB_ENV]).read_text(encoding="utf-8"))
    bfm = job["bfm"]
    clk = getattr(dut, bfm["clock"])
    for _ in range(bfm["reset_cycles"] + 1):     # the wrapper's reset, then one more edge
        await RisingEdge(clk)
    rng = random.Random(job["seed"])
    probes = set(job.get("probe", []))
    out, t0 = [], time.perf_counter()
    for i, beats in enumerate(job["images"]):
        trace = [] if i in probes else None
        rep = await _image(dut, clk, (i + 1) % 256, beats, job["modes"][i] == "rough", rng,
                           job, trace)
        if trace is not None:
            rep["probe"] = trace
        out.append(rep)
    await Timer(8 * bfm["period_ns"], unit="ns")        # room for a late extra beat
    p = job["ports"]
    framing = int(getattr(dut, p["status_framing"]).value) if "status_framing" in p else 0
    Path(job["result"]).write_text(json.dumps({
        "images": out, "status_framing": framing,
        "extra_beats": int(dut.bench_extra.value),
        "bench_s": time.perf_counter() - t0}), encoding="utf-8")
