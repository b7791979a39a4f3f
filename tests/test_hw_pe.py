# amaranth: UnusedElaboratable=no
# (the bad-input test makes a PE that is never elaborated)
import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module, Shape
from amaranth.sim import Simulator
from stream_check import check

from asq_hw import PEConfig
from golden.pe import pe_dot
from hw.gen import manifest
from hw.pe import PostPE, pe_latency
from sim import workloads
from sim.bfm import (
    latencies,
)

MATRIX = [(variant, lanes, signed) for variant in ("lut", "dual") for lanes in (1, 2, 3, 4)
          for signed in (False, True)]


@pytest.mark.parametrize("variant,lanes,signed", MATRIX)
def test_random_dot_products_with_gaps_and_back_pressure(variant, lanes, signed):
    cfg = PEConfig(wbits=2 + lanes, abits=3 + lanes, act_signed=signed, variant=variant,
                   frac_bits=3 + 2 * lanes, lanes=lanes, max_len=64)
    rng = np.random.default_rng(lanes)
    wl = workloads.random_dots(cfg, rng, count=40, max_terms=3 * lanes + 2)
    check(PostPE(cfg), wl, seed=lanes, p_gap=0.3, p_stall=0.4)


@pytest.mark.parametrize("variant", ["lut", "dual"])
@pytest.mark.parametrize("signed", [False, True])
def test_every_activation_code_pair(variant, signed):
    cfg = PEConfig(wbits=4, abits=4, act_signed=signed, variant=variant, frac_bits=5)
    wl = workloads.exhaustive(cfg, np.random.default_rng(0))
    assert wl.dots == 16 * 16
    check(PostPE(cfg), wl)


@pytest.mark.parametrize("lanes", [1, 4, 5, 16])
def test_measured_latency_is_the_manifest_latency(lanes):
    cfg = PEConfig(wbits=3, abits=3, lanes=lanes, max_len=64)
    pe = PostPE(cfg)
    wl = workloads.random_dots(cfg, np.random.default_rng(1), count=25, max_terms=3 * lanes)
    drv, mon, _ = check(pe, wl, seed=2, p_gap=0.5)      # input gaps, no back-pressure
    assert set(latencies(drv, mon)) == {pe.latency}
    assert manifest(pe)["latency"] == pe.latency == pe_latency(cfg)


def test_one_beat_per_cycle_when_not_stalled():
    cfg = PEConfig(lanes=4, max_len=64)
    pe = PostPE(cfg)
    wl = workloads.random_dots(cfg, np.random.default_rng(3), count=60, max_terms=9)
    drv, mon, cycles = check(pe, wl)
    # Beat k is accepted at edge k + 1: never a wasted cycle, including between dot products.
    assert drv.last_edges[-1] == wl.beats
    assert mon.edges[-1] == wl.beats + pe.latency


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_accumulator_wraps_like_golden(variant):
    cfg = PEConfig(wbits=4, abits=5, variant=variant, lanes=2, acc_bits=9, max_len=64)
    assert cfg.wraps
    wl = workloads.random_dots(cfg, np.random.default_rng(4), count=40, max_terms=12,
                               p_extreme=0.5)
    check(PostPE(cfg), wl, seed=5, p_gap=0.2, p_stall=0.2)
    # The workload does reach past 9 bits: with the safe width some results differ.
    wide = workloads.reference("post_pe", cfg.replace(acc_bits=None), *_rows(wl, cfg))
    assert wide != wl.expected


def _rows(wl, cfg):
    """Unpack a workload back into padded (B, N) rows, to recompute its reference."""
    q = cfg.lanes
    acts, codes, rows_a, rows_c = [], [], [], []
    for a, c, last in zip(wl.act, wl.code, wl.last, strict=True):
        for i in range(q):
            x = (a >> (i * cfg.abits)) & ((1 << cfg.abits) - 1)
            if cfg.act_signed and x >> (cfg.abits - 1):
                x -= 1 << cfg.abits
            acts.append(x)
            codes.append((c >> (i * cfg.wbits)) & ((1 << cfg.wbits) - 1))
        if last:
            rows_a.append(acts)
            rows_c.append(codes)
            acts, codes = [], []
    n = max(len(r) for r in rows_a)
    pa = np.array([r + [0] * (n - len(r)) for r in rows_a])
    pc = np.array([r + [0] * (n - len(r)) for r in rows_c])
    return pa, pc


def test_workload_rows_round_trip_through_golden():
    cfg = PEConfig(wbits=3, abits=4, act_signed=True, lanes=3, max_len=64)
    wl = workloads.random_dots(cfg, np.random.default_rng(6), count=20, max_terms=7)
    pa, pc = _rows(wl, cfg)
    assert [tuple([int(v)]) for v in pe_dot(pa, pc, cfg)] == wl.expected


def test_synthetic_network_layer():
    cfg = PEConfig(wbits=4, abits=4, lanes=4, max_len=64)
    wl = workloads.network(cfg, np.random.default_rng(7), batch=2, n_out=4, n_in=32)
    assert wl.dots == 8 and wl.terms == 8 * 32
    check(PostPE(cfg), wl, seed=8, p_gap=0.1, p_stall=0.1)


def test_stalled_output_holds_and_stops_input():
    cfg = PEConfig(wbits=4, abits=4, lanes=1, max_len=16)
    pe = PostPE(cfg)
    want = int(pe_dot(np.array([[7]]), np.array([[1]]), cfg)[0])     # 7 * 2**(J+F)

    async def bench(ctx):
        ctx.set(pe.out_ready, 0)
        ctx.set(pe.in_act, 7)
        ctx.set(pe.in_code, 1)
        ctx.set(pe.in_last, 1)
        ctx.set(pe.in_valid, 1)
        await ctx.tick()                                  # accepted (out_valid low)
        ctx.set(pe.in_act, 1)                             # a second dot product
        for _ in range(pe.latency - 1):
            assert ctx.get(pe.in_ready)
            await ctx.tick()
        for _ in range(5):                                # stalled: hold, accept nothing
            assert ctx.get(pe.out_valid) and ctx.get(pe.out_acc) == want
            assert not ctx.get(pe.in_ready)
            await ctx.tick()
        ctx.set(pe.out_ready, 1)
        assert ctx.get(pe.in_ready)
        await ctx.tick()                                  # first result moves
        ctx.set(pe.in_valid, 0)
        while not ctx.get(pe.out_valid):
            await ctx.tick()
        assert ctx.get(pe.out_acc) == want // 7

    sim = Simulator(pe)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


class WithReset(Elaboratable):
    """The PE in an explicit `sync` domain, so a testbench can drive its reset."""

    def __init__(self, pe):
        self.pe = pe
        self.sync = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        m.submodules.pe = self.pe
        return m


def test_reset_drops_a_partial_dot_product():
    cfg = PEConfig(wbits=4, abits=4, lanes=2, max_len=16)
    pe = PostPE(cfg)
    top = WithReset(pe)
    want = int(pe_dot(np.array([[3, 5]]), np.array([[2, 9]]), cfg)[0])

    async def bench(ctx):
        ctx.set(pe.out_ready, 1)
        ctx.set(pe.in_valid, 1)
        ctx.set(pe.in_act, 15 | 15 << 4)
        ctx.set(pe.in_code, 1 | 1 << 4)
        for _ in range(3):                                # three beats, no last
            await ctx.tick()
        ctx.set(pe.in_valid, 0)
        await ctx.tick()
        ctx.set(top.sync.rst, 1)
        await ctx.tick()
        ctx.set(top.sync.rst, 0)
        assert not ctx.get(pe.out_valid)
        ctx.set(pe.in_valid, 1)
        ctx.set(pe.in_act, 3 | 5 << 4)
        ctx.set(pe.in_code, 2 | 9 << 4)
        ctx.set(pe.in_last, 1)
        await ctx.tick()
        ctx.set(pe.in_valid, 0)
        for _ in range(pe.latency - 1):
            assert not ctx.get(pe.out_valid)
            await ctx.tick()
        assert ctx.get(pe.out_valid) and ctx.get(pe.out_acc) == want

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_ports_follow_the_spec():
    lut = PostPE(PEConfig(wbits=5, abits=6, lanes=3, max_len=100))
    dual = PostPE(PEConfig(wbits=5, abits=6, lanes=3, variant="dual", max_len=100))
    assert lut.acc_ports == ("out_acc",)
    assert dual.acc_ports == ("out_acc_even", "out_acc_odd")
    for pe in (lut, dual):
        members = pe.signature.members
        assert Shape.cast(members["in_act"].shape).width == 18
        assert Shape.cast(members["in_code"].shape).width == 15
        for name in pe.acc_ports:
            assert members[name].shape.width == pe.cfg.acc_bits
            assert members[name].shape.signed


def test_not_a_config_is_rejected():
    with pytest.raises(ValueError, match=r"^cfg must be a PEConfig, not dict$"):
        PostPE({"wbits": 4})
