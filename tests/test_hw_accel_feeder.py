# amaranth: UnusedElaboratable=no
# (the bad-input tests make feeders that are never elaborated)
import numpy as np
import pytest
from amaranth.sim import Simulator

from asq_hw import PEConfig
from asq_hw.mapper import LayerMap, beat_stream
from hw.accel.feeder import LayerFeeder
from hw.accel.plan import SETUP
from tests.accel_bench import fill, golden_rows, random_plan


def stream(feeder, jobs, ready):
    """Per job (layer index, input codes): the beats transferred on the feeder's output,
    out_ready following `ready` cyclically, and the edges from the start to the last beat."""
    sim = Simulator(feeder)
    sim.add_clock(1e-8)
    out = []

    async def bench(ctx):
        cycle = 0
        for index, x in jobs:
            await fill(ctx, feeder, feeder.plans[index].buffer, x)
            ctx.set(feeder.start_valid, 1)
            ctx.set(feeder.start_layer, index)
            await ctx.tick()
            ctx.set(feeder.start_valid, 0)
            beats, edge = [], 0
            while ctx.get(feeder.busy):
                r = ready[cycle % len(ready)]
                ctx.set(feeder.out_ready, r)
                if r and ctx.get(feeder.out_valid):
                    beats.append((ctx.get(feeder.out_act), ctx.get(feeder.out_code),
                                  ctx.get(feeder.out_last)))
                    last = edge + 1
                await ctx.tick()
                cycle += 1
                edge += 1
            out.append((beats, last))

    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("seed", range(8))
def test_beats_are_the_mappers_from_golden_rows(seed):
    rng = np.random.default_rng(seed)
    rows, lanes = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    cfg = PEConfig(wbits=3 + seed % 3, abits=4 + seed % 4, act_signed=bool(seed % 2),
                   lanes=lanes, max_len=64)
    plans = [random_plan(rng, rows, lanes, i % 2, f"l{i}") for i in range(3)]
    codes = [rng.integers(0, cfg.code_max + 1, (p.outputs, p.fan_in)) for p in plans]
    feeder = LayerFeeder(cfg, rows, plans, [p.weight_words(c, cfg.wbits)
                                            for p, c in zip(plans, codes, strict=True)])
    order = [0, 2, 1]
    xs = [rng.integers(cfg.act_min, cfg.act_max + 1, (plans[i].channels,) + plans[i].in_hw)
          for i in order]
    ready = (rng.random(61) > 0.4).tolist() if seed % 2 else [True]
    runs = stream(feeder, list(zip(order, xs, strict=True)), ready)
    for index, x, (beats, last) in zip(order, xs, runs, strict=True):
        p = plans[index]
        lm = LayerMap(p.name, "conv", p.outputs, p.fan_in, p.positions, rows, lanes)
        assert beats == list(beat_stream(lm, golden_rows(p, x), codes[index], cfg))
        if ready == [True]:
            # Beat k leaves at edge SETUP + k: the feeder keeps up with the array.
            assert last == SETUP + len(beats) - 1


def test_plans_for_another_array_are_refused():
    rng = np.random.default_rng(0)
    cfg = PEConfig(lanes=3, max_len=64)
    plan = random_plan(rng, 2, 3)
    with pytest.raises(ValueError, match=r"^every plan must be for 3 rows x 3 lanes$"):
        LayerFeeder(cfg, 3, [plan], [[0] * plan.weight_depth])
    with pytest.raises(ValueError, match=r"^weights must hold weight_depth words for every "):
        LayerFeeder(cfg, 2, [plan], [[0] * (plan.weight_depth + 1)])
