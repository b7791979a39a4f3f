# amaranth: UnusedElaboratable=no
# (the bad-input test makes a PE that is never elaborated)
import numpy as np
import pytest
from stream_check import simulate

from asq_hw import PEConfig
from golden.baselines import baseline_acc_bits, range_width
from hw.baselines import IntPE, PotPE
from sim import workloads
from sim.bfm import (
    Scoreboard,
    latencies,
)


def test_range_width_is_amaranths():
    from amaranth.hdl import Shape
    for lo, hi in ((0, 1), (0, 255), (0, 256), (-1, 0), (-3, 1), (-128, 127), (-129, 5),
                   (-1, 128), (-7000, 123456)):
        assert range_width(lo, hi) == Shape.cast(range(lo, hi + 1)).width, (lo, hi)


@pytest.mark.parametrize("cls", [IntPE, PotPE])
@pytest.mark.parametrize("lanes,signed", [(1, False), (2, True), (3, False)])
def test_baseline_pe_streams_match_reference(cls, lanes, signed):
    cfg = PEConfig(wbits=4, abits=4, act_signed=signed, lanes=lanes, max_len=32)
    pe = cls(cfg)
    rng = np.random.default_rng(lanes)
    wl = workloads.random_dots(cfg, rng, count=30, max_terms=8, top=pe.top)
    wl = wl + workloads.exhaustive(cfg, rng, top=pe.top)
    _, mon, _ = simulate(pe, wl, rng=rng, p_gap=0.2, p_stall=0.3)
    sb = Scoreboard(wl.expected).check(mon.results)
    assert sb["mismatches"] == 0, sb
    assert pe.acc_bits == baseline_acc_bits(pe.top[:3], cfg)


def test_baseline_latency_is_the_post_latency():
    cfg = PEConfig(wbits=3, abits=3, lanes=4, max_len=32)
    pe = PotPE(cfg)
    rng = np.random.default_rng(9)
    wl = workloads.random_dots(cfg, rng, count=20, max_terms=10, top=pe.top)
    drv, mon, _ = simulate(pe, wl, rng=rng, p_gap=0.3)
    assert set(latencies(drv, mon)) == {pe.latency}


def test_explicit_acc_bits_wraps():
    cfg = PEConfig(wbits=4, abits=4, lanes=2, max_len=32)
    pe = IntPE(cfg, acc_bits=6)
    rng = np.random.default_rng(2)
    wl = workloads.random_dots(cfg, rng, count=30, max_terms=8, top=pe.top, acc_bits=6)
    _, mon, _ = simulate(pe, wl)
    assert Scoreboard(wl.expected).check(mon.results)["mismatches"] == 0


def test_bad_acc_bits_is_named():
    with pytest.raises(ValueError, match=r"^acc_bits must be an integer from 2 to 64, not 1$"):
        IntPE(PEConfig(), acc_bits=1)
