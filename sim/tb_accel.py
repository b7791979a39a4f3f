"""cocotb bench of the accelerator's layer half (`accel_layer_core`, hw/accel/core.py).

The job (JSON at $ASQ_HW_ACCEL_JOB, written by sim/accelrun.py) lists runs: a layer number,
its buffer and the input codes to write there (bit patterns, the buffer's address order).
Per run the bench writes the codes through the buffer's write port (one per cycle), starts
the layer, holds out_ready high and collects every result beat; it reports, per run, the
result words of every result port (hex) and the layer's cycles (from the edge accepting
the start to the edge transferring its last result, both counted).

One FallingEdge per cycle: inputs written there are sampled at the next rising edge, and
out_valid read there (out_ready being high) says a result moves at that edge, as in
sim/tb_array.py; nothing samples at a falling edge, so this is race-free.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

JOB_ENV = "ASQ_HW_ACCEL_JOB"


async def run_layer(dut, falling, run: dict, out_names: list[str], max_cycles: int) -> dict:
    dut.wr_buf.value = run["buffer"]
    dut.wr_en.value = 1
    for a, v in enumerate(run["codes"]):
        dut.wr_addr.value = a
        dut.wr_data.value = v
        await falling
    dut.wr_en.value = 0
    while dut.busy.value:
        await falling
    dut.start_layer.value = run["layer"]
    dut.start_valid.value = 1
    await falling                      # the rising edge before this one (edge 0) starts it
    dut.start_valid.value = 0
    words: list[list[str]] = [[] for _ in out_names]
    edge, last = 0, None
    while len(words[0]) < run["dots"]:
        if dut.out_valid.value:
            for w, n in zip(words, out_names, strict=True):
                w.append(format(getattr(dut, n).value.to_unsigned(), "x"))
            last = edge + 1
        await falling
        edge += 1
        if edge > max_cycles:
            break
    return {"layer": run["layer"], "words": words,
            "cycles": None if last is None else last + 1}


@cocotb.test()
async def accel_layers(dut):
    job = json.loads(Path(os.environ[JOB_ENV]).read_text(encoding="utf-8"))
    Clock(dut.clk, 10, unit="ns").start()
    dut.start_valid.value = 0
    dut.wr_en.value = 0
    dut.out_ready.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    falling = FallingEdge(dut.clk)
    await falling
    out = [await run_layer(dut, falling, run, job["out_names"], job["max_cycles"])
           for run in job["runs"]]
    Path(job["result"]).write_text(json.dumps(out), encoding="utf-8")
