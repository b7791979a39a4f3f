# amaranth: UnusedElaboratable=no
# (the bad-input test makes a generator that is never elaborated)
import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.accel.window import WindowGen
from tests.accel_bench import golden_rows, random_plan


def collect(gen, layers, advance):
    """Start each layer in turn; per layer, the beats the generator issued (at edges with
    `advance` high, which follows the pattern cyclically) and the idle cycles it took to
    accept the start."""
    sim = Simulator(gen)
    sim.add_clock(1e-8)
    out = []

    async def bench(ctx):
        cycle = 0
        for index in layers:
            ctx.set(gen.advance, 0)
            ctx.set(gen.start_valid, 1)
            ctx.set(gen.start_layer, index)
            assert ctx.get(gen.start_ready) and not ctx.get(gen.busy)
            await ctx.tick()
            ctx.set(gen.start_valid, 0)
            beats = []
            while ctx.get(gen.busy):
                assert not ctx.get(gen.start_ready)
                a = advance[cycle % len(advance)]
                ctx.set(gen.advance, a)
                if a:
                    beats.append(([ctx.get(gen.addr[q]) for q in range(gen.lanes)],
                                  ctx.get(gen.inside), ctx.get(gen.waddr),
                                  ctx.get(gen.last), ctx.get(gen.layer),
                                  ctx.get(gen.buffer)))
                await ctx.tick()
                cycle += 1
            out.append(beats)

    sim.add_testbench(bench)
    sim.run()
    return out


def expected(plan, x):
    """Per beat in stream order: the lanes' codes, the weight address, last."""
    d, q = plan.beats_per_dot, plan.lanes
    rows = np.zeros((plan.positions, d * q), dtype=np.int64)
    rows[:, :plan.fan_in] = golden_rows(plan, x)
    rows = rows.reshape(plan.positions, d, q)
    return [(rows[s, j].tolist(), t * d + j, int(j == d - 1))
            for t in range(plan.tiles) for s in range(plan.positions) for j in range(d)]


@pytest.mark.parametrize("seed", range(12))
def test_beats_read_golden_im2col_rows(seed):
    rng = np.random.default_rng(seed)
    rows, lanes = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    plans = [random_plan(rng, rows, lanes, i % 2, f"l{i}") for i in range(3)]
    gen = WindowGen(plans)
    order = [2, 0, 1, 0]
    advance = (rng.random(97) > 0.3).tolist() if seed % 2 else [True]
    for index, beats in zip(order, collect(gen, order, advance), strict=True):
        plan = plans[index]
        x = rng.integers(1, 100, (plan.channels,) + plan.in_hw)   # nonzero: a 0 is padding
        flat = x.reshape(-1)
        got = [([int(flat[a]) if (inside >> q) & 1 else 0 for q, a in enumerate(addrs)],
                waddr, last)
               for addrs, inside, waddr, last, _, _ in beats]
        assert got == expected(plan, x)
        assert {(b[4], b[5]) for b in beats} == {(index, plan.buffer)}


def test_mixed_lanes_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^every plan must have the same lanes, not \[2, 3\]$"):
        WindowGen([random_plan(rng, 2, 2), random_plan(rng, 2, 3)])
