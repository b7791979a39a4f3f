# amaranth: UnusedElaboratable=no
# (the bad-input tests make memories that are never elaborated)
import numpy as np
import pytest
from amaranth.sim import Simulator

from hw.accel.memories import ActBuffers, WeightMemories
from hw.accel.plan import LayerPlan


def run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_weight_roms_hold_every_layers_words_and_hold_without_enable():
    rng = np.random.default_rng(1)
    plans = [LayerPlan("a", 5, 2, (4, 4), (3, 3), 1, 1, 2, 3),
             LayerPlan("b", 3, 7, (1, 1), (1, 1), 1, 0, 2, 3)]
    contents = [p.weight_words(rng.integers(0, 8, (p.outputs, p.fan_in)), 3) for p in plans]
    mems = WeightMemories(contents, 2 * 3 * 3)
    seen = []

    async def bench(ctx):
        for k, words in enumerate(contents):
            for a in rng.permutation(len(words)).tolist():
                ctx.set(mems.layer, k)
                ctx.set(mems.addr, a)
                ctx.set(mems.en, 1)
                await ctx.tick()
                ctx.set(mems.en, 0)
                ctx.set(mems.layer, 1 - k)        # neither layer nor address matter now
                ctx.set(mems.addr, 0)
                await ctx.tick()
                seen.append((ctx.get(mems.data), words[a]))

    run(mems, bench)
    assert len(seen) == sum(len(c) for c in contents)
    assert all(got == want for got, want in seen)


def test_buffers_read_q_addresses_per_cycle_from_the_selected_buffer():
    rng = np.random.default_rng(2)
    depths, lanes, abits = [13, 7], 4, 5
    bufs = ActBuffers(depths, abits, lanes, 4)
    data = [rng.integers(0, 1 << abits, d).tolist() for d in depths]
    checks = []

    async def bench(ctx):
        ctx.set(bufs.wr_en, 1)
        for b, words in enumerate(data):
            for a, v in enumerate(words):
                ctx.set(bufs.wr_buf, b)
                ctx.set(bufs.wr_addr, a)
                ctx.set(bufs.wr_data, v)
                await ctx.tick()
        ctx.set(bufs.wr_en, 0)
        for _ in range(30):
            b = int(rng.integers(0, 2))
            addrs = rng.integers(0, depths[b], lanes).tolist()
            ctx.set(bufs.rd_buf, b)
            for q, a in enumerate(addrs):
                ctx.set(bufs.rd_addr[q], a)
            ctx.set(bufs.rd_en, 1)
            await ctx.tick()
            ctx.set(bufs.rd_en, 0)
            ctx.set(bufs.rd_buf, 1 - b)
            await ctx.tick()                     # held while rd_en is low
            checks.append(([ctx.get(bufs.rd_data[q]) for q in range(lanes)],
                           [data[b][a] for a in addrs]))
        # A write to one buffer leaves the other alone.
        ctx.set(bufs.wr_en, 1)
        ctx.set(bufs.wr_buf, 1)
        ctx.set(bufs.wr_addr, 3)
        ctx.set(bufs.wr_data, (data[1][3] + 1) % (1 << abits))
        await ctx.tick()
        ctx.set(bufs.wr_en, 0)
        for b in (0, 1):
            ctx.set(bufs.rd_buf, b)
            ctx.set(bufs.rd_addr[0], 3)
            ctx.set(bufs.rd_en, 1)
            await ctx.tick()
            checks.append(([ctx.get(bufs.rd_data[0])],
                           [data[0][3] if b == 0 else (data[1][3] + 1) % (1 << abits)]))

    run(bufs, bench)
    assert len(checks) == 32
    for got, want in checks:
        assert got == want


def test_bad_memories_are_refused():
    with pytest.raises(ValueError, match=r"^contents must hold at least one word for every "):
        WeightMemories([[1], []], 4)
    with pytest.raises(ValueError, match=r"^depths must be 2 positive numbers, not \[3\]$"):
        ActBuffers([3], 4, 2, 4)
    with pytest.raises(ValueError, match=r"^addr_bits 2 cannot address 5 words$"):
        ActBuffers([5, 2], 4, 2, 2)
