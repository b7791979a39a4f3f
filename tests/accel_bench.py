"""Amaranth simulation bench of hw.accel.core.LayerCore, shared by the accelerator tests:
fill an activation buffer with a layer's input codes, start the layer, collect every result
beat under an out_ready pattern, and count the layer's cycles."""

from __future__ import annotations

import dataclasses

import numpy as np
from amaranth.sim import Simulator


@dataclasses.dataclass
class LayerRun:
    acc: np.ndarray          # golden's PE row layout (positions, K[, 2])
    cycles: int              # start edge .. last result edge, both included
    results: int             # result beats seen
    extra: int               # result beats after the last expected one


def unpack(word: int, count: int, bits: int) -> list[int]:
    vals = [(word >> (k * bits)) & ((1 << bits) - 1) for k in range(count)]
    return [v - (1 << bits) if v >> (bits - 1) else v for v in vals]


def to_rows(res: np.ndarray, plan) -> np.ndarray:
    """Result beats (tiles * positions, P[, slots]) -> (positions, K[, slots])."""
    extra = res.shape[2:]
    r = res.reshape((plan.tiles, plan.positions, plan.rows) + extra)
    r = np.moveaxis(r, 0, 1).reshape((plan.positions, plan.tiles * plan.rows) + extra)
    return r[:, :plan.outputs]


async def fill(ctx, core, buffer: int, codes) -> None:
    """Write codes (flat, the buffer's address order) into `buffer`, one per cycle."""
    mask = (1 << core.cfg.abits) - 1
    ctx.set(core.wr_buf, buffer)
    ctx.set(core.wr_en, 1)
    for a, v in enumerate(np.asarray(codes).reshape(-1).tolist()):
        ctx.set(core.wr_addr, a)
        ctx.set(core.wr_data, int(v) & mask)
        await ctx.tick()
    ctx.set(core.wr_en, 0)


async def run_layer(ctx, core, index: int, ready=(True,), max_cycles=1_000_000) -> LayerRun:
    """Start layer `index` and collect its results; out_ready follows `ready` cyclically."""
    plan = core.plans[index]
    ctx.set(core.start_valid, 1)
    ctx.set(core.start_layer, index)
    while not ctx.get(core.start_ready):
        await ctx.tick()
    await ctx.tick()                                     # edge 0 accepts the start
    ctx.set(core.start_valid, 0)
    got, edge, last_edge = [], 0, None
    while len(got) < plan.dots:
        r = ready[edge % len(ready)]
        ctx.set(core.out_ready, r)
        if r and ctx.get(core.out_valid):
            got.append([ctx.get(getattr(core, n)) for n in core.acc_ports])
            last_edge = edge + 1
        await ctx.tick()
        edge += 1
        if edge > max_cycles:
            raise TimeoutError(f"{len(got)} of {plan.dots} results after {edge} cycles")
    ctx.set(core.out_ready, 1)
    extra = 0
    for _ in range(core.latency + 2):                    # no extra result may follow
        extra += ctx.get(core.out_valid)
        await ctx.tick()
    p, bits = core.rows, core.cfg.acc_bits
    res = np.array([[unpack(int(w), p, bits) for w in beat] for beat in got], dtype=np.int64)
    res = np.moveaxis(res, 1, -1)                        # (dots, P, slots)
    if res.shape[-1] == 1:
        res = res[..., 0]
    return LayerRun(to_rows(res, plan), last_edge + 1, len(got), extra)


def simulate(core, jobs, ready=(True,)) -> list[LayerRun]:
    """Run jobs [(layer index, input codes)] one after another in one simulation: each
    fills the layer's buffer, then runs the layer."""
    sim = Simulator(core)
    sim.add_clock(1e-8)
    runs = []

    async def bench(ctx):
        for index, codes in jobs:
            await fill(ctx, core, core.plans[index].buffer, codes)
            runs.append(await run_layer(ctx, core, index, ready))

    sim.add_testbench(bench)
    sim.run()
    return runs


def random_plan(rng: np.random.Generator, rows: int, lanes: int, buffer: int = 0,
                name: str = "l"):
    """A small random conv layer (kernel 1..3 x 1..3, stride 1..3, padding 0..2, input up
    to 3 x 6 x 6) or, one time in five, a linear layer, for `rows` x `lanes`."""
    from hw.accel.plan import LayerPlan

    k = int(rng.integers(1, 9))
    if rng.random() < 0.2:
        return LayerPlan(name, k, int(rng.integers(1, 20)), (1, 1), (1, 1), 1, 0, rows, lanes,
                         buffer)
    while True:
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        padding = int(rng.integers(0, 3))
        hw = (int(rng.integers(1, 7)), int(rng.integers(1, 7)))
        if all(h + 2 * padding >= kk for h, kk in zip(hw, kernel, strict=True)):
            return LayerPlan(name, k, int(rng.integers(1, 4)), hw, kernel,
                             int(rng.integers(1, 4)), padding, rows, lanes, buffer)


def golden_rows(plan, x: np.ndarray) -> np.ndarray:
    """golden's PE input rows (positions, N) of one image's input codes x (C, H, W)."""
    from golden.ops import im2col

    return im2col(np.asarray(x).reshape((1, plan.channels) + plan.in_hw), plan.kernel,
                  plan.stride, plan.padding)
