import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.sim import Simulator

from hw.datapath import (
    TREE_LEVELS_PER_STAGE,
    Accumulator,
    AdderTree,
    MacBackend,
    ShiftSign,
    term_width,
    tree_stages,
)


def wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def run(dut, bench, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("value_shape,max_shift", [
    (unsigned(3), 0), (unsigned(3), 3), (signed(3), 1), (signed(4), 7)])
def test_shift_sign_forms_every_term(value_shape, max_shift):
    width = term_width(value_shape, max_shift, 64)
    dut = ShiftSign(value_shape, max_shift, width)
    lo = -(2 ** (value_shape.width - 1)) if value_shape.signed else 0
    hi = 2 ** (value_shape.width - value_shape.signed) - 1

    async def bench(ctx):
        for v in range(lo, hi + 1):
            for sh in range(max_shift + 1):
                for neg in (0, 1):
                    for nz in (0, 1):
                        ctx.set(dut.value, v)
                        ctx.set(dut.shift, sh)
                        ctx.set(dut.neg, neg)
                        ctx.set(dut.nonzero, nz)
                        want = nz * (-1 if neg else 1) * (v << sh)
                        term, carry = ctx.get(dut.term), ctx.get(dut.carry)
                        assert carry == (nz & neg)
                        assert wrap(term + carry, width) == want, (v, sh, neg, nz)
                        # the negation is a ones' complement: no carry chain here
                        assert term == (wrap(~(v << sh), width) if neg and nz else want)

    run(dut, bench, clock=False)


def test_shift_sign_truncates_to_width_modulo():
    dut = ShiftSign(unsigned(4), 3, 5)

    async def bench(ctx):
        ctx.set(dut.value, 15)
        ctx.set(dut.shift, 3)
        ctx.set(dut.nonzero, 1)
        ctx.set(dut.neg, 1)
        assert ctx.get(dut.carry) == 1
        assert wrap(ctx.get(dut.term) + 1, 5) == wrap(-(15 << 3), 5)

    run(dut, bench, clock=False)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9, 16, 17])
def test_adder_tree_sums_after_its_stages_and_holds_without_en(n):
    rng = np.random.default_rng(n)
    in_w, out_w = 6, 8                       # out_w < in_w + log2(n): the sum wraps
    dut = AdderTree(n, in_w, out_w)
    levels = int(np.ceil(np.log2(n))) if n > 1 else 0
    assert dut.stages == tree_stages(n) == max(1, -(-levels // TREE_LEVELS_PER_STAGE))
    vecs = rng.integers(-32, 32, (20, n))
    cins = rng.integers(0, 2, (20, n))
    seen = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for t in range(len(vecs) + dut.stages):
            k = min(t, len(vecs) - 1)
            ctx.set(dut.terms, [int(v) for v in vecs[k]])
            ctx.set(dut.carries, int(sum(int(c) << i for i, c in enumerate(cins[k]))))
            await ctx.tick()
            seen.append(wrap(ctx.get(dut.sum) + ctx.get(dut.carry), out_w))
        held = (ctx.get(dut.sum), ctx.get(dut.carry))
        ctx.set(dut.en, 0)
        ctx.set(dut.terms, [0] * n)
        ctx.set(dut.carries, 0)
        for _ in range(dut.stages + 1):
            await ctx.tick()
        assert (ctx.get(dut.sum), ctx.get(dut.carry)) == held

    run(dut, bench)
    want = [wrap(int(v.sum() + c.sum()), out_w) for v, c in zip(vecs, cins, strict=True)]
    assert seen[dut.stages - 1:dut.stages - 1 + len(vecs)] == want


def test_accumulator_sums_clears_on_last_and_wraps():
    dut = Accumulator(6)
    beats = [(5, 0), (30, 0), (31, 1), (-3, 1), (1, 0), (0, 0), (-30, 0), (-20, 1)]

    async def bench(ctx):
        ctx.set(dut.en, 1)
        total = 0
        for k, (add, last) in enumerate(beats):
            ctx.set(dut.valid, 1)
            ctx.set(dut.add, add)
            ctx.set(dut.carry, k % 2)
            ctx.set(dut.last, last)
            await ctx.tick()
            total += add + k % 2
            if last:
                assert ctx.get(dut.result) == wrap(total, 6)
                total = 0
        # invalid or disabled beats change nothing
        ctx.set(dut.add, 9)
        ctx.set(dut.carry, 0)
        ctx.set(dut.last, 1)
        ctx.set(dut.valid, 0)
        await ctx.tick()
        ctx.set(dut.valid, 1)
        ctx.set(dut.en, 0)
        await ctx.tick()
        assert ctx.get(dut.result) == wrap(1 + 0 - 30 - 20 + 1 + 1, 6)
        ctx.set(dut.en, 1)
        await ctx.tick()
        assert ctx.get(dut.result) == 9

    run(dut, bench)


@pytest.mark.parametrize("lanes,slots", [(1, 1), (3, 2), (5, 1)])
def test_backend_latency_and_results(lanes, slots):
    dut = MacBackend(lanes, slots, 7, 10)
    assert dut.latency == 2 + tree_stages(lanes)
    rng = np.random.default_rng(lanes)
    beats = [(rng.integers(-64, 64, (slots, lanes)), rng.integers(0, 2, (slots, lanes)),
              int(last)) for last in rng.random(30) < 0.3]
    beats.append((np.zeros((slots, lanes), int), np.zeros((slots, lanes), int), 1))
    expected, acc, valid_at = [], np.zeros(slots, int), []

    for t, (terms, cins, last) in enumerate(beats):
        acc += terms.sum(axis=1) + cins.sum(axis=1)
        if last:
            expected.append([wrap(int(a), 10) for a in acc])
            valid_at.append(t + dut.latency)
            acc[:] = 0
    got, got_at = [], []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for t in range(len(beats) + dut.latency + 2):
            if t < len(beats):
                terms, cins, last = beats[t]
                ctx.set(dut.valid, 1)
                ctx.set(dut.last, last)
                ctx.set(dut.terms, [[int(v) for v in row] for row in terms])
                ctx.set(dut.carries, [int(sum(int(c) << i for i, c in enumerate(row)))
                                      for row in cins])
            else:
                ctx.set(dut.valid, 0)
            if ctx.get(dut.out_valid):
                got.append([ctx.get(dut.acc[s]) for s in range(slots)])
                got_at.append(t)
            await ctx.tick()

    run(dut, bench)
    assert got == expected
    assert got_at == valid_at
