"""Amaranth simulation bench of hw.accel.pipeline.LayerPipeline (and of a bare
hw.accel.requant.RequantUnit): load a layer's input through the external write port,
start it with a beta code, record every buffer write and logit, count the cycles."""

from __future__ import annotations

import dataclasses

import numpy as np
from amaranth.sim import Simulator


@dataclasses.dataclass
class PipeRun:
    writes: list          # [(buffer, address, code pattern)] in order
    logits: list          # [(value, last)]
    beta_out: int
    cycles: int           # the start edge .. the next edge that can accept a start


async def load(ctx, dut, buffer: int, codes, abits: int) -> None:
    mask = (1 << abits) - 1
    ctx.set(dut.ext_wr_buf, buffer)
    ctx.set(dut.ext_wr_en, 1)
    for a, v in enumerate(np.asarray(codes).reshape(-1).tolist()):
        ctx.set(dut.ext_wr_addr, a)
        ctx.set(dut.ext_wr_data, int(v) & mask)
        await ctx.tick()
    ctx.set(dut.ext_wr_en, 0)


async def run_layer(ctx, dut, index: int, beta: int, ready=(True,),
                    max_cycles=30_000) -> PipeRun:
    core = dut.core
    ctx.set(dut.start_valid, 1)
    ctx.set(dut.start_layer, index)
    ctx.set(dut.start_beta, beta)
    while not ctx.get(dut.start_ready):
        await ctx.tick()
    await ctx.tick()                                   # edge 0 accepts the start
    ctx.set(dut.start_valid, 0)
    writes, logits, edge = [], [], 1
    while True:
        r = ready[edge % len(ready)]
        ctx.set(dut.logit_ready, r)
        if ctx.get(core.wr_en):
            writes.append((ctx.get(core.wr_buf), ctx.get(core.wr_addr), ctx.get(core.wr_data)))
        if r and ctx.get(dut.logit_valid):
            logits.append((ctx.get(dut.logit_data), ctx.get(dut.logit_last)))
        if ctx.get(dut.start_ready):
            break
        await ctx.tick()
        edge += 1
        if edge > max_cycles:
            raise TimeoutError(f"layer {index} not done after {edge} cycles")
    ctx.set(dut.logit_ready, 1)
    return PipeRun(writes, logits, ctx.get(dut.beta_out), edge)


def simulate(dut, jobs, ready=(True,)) -> list[PipeRun]:
    """jobs [(layer index, input codes, beta_in)], one simulation: each loads its codes
    into the layer's buffer, then runs the layer."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    runs = []

    async def bench(ctx):
        for index, codes, beta in jobs:
            await load(ctx, dut, dut.plans[index].buffer, codes, dut.cfg.abits)
            runs.append(await run_layer(ctx, dut, index, beta, ready))

    sim.add_testbench(bench)
    sim.run()
    return runs
