# amaranth: UnusedElaboratable=no
# (the bad-input test makes a PE that is never elaborated)
import numpy as np
import pytest
from stream_check import simulate

from asq_hw import PEConfig
from hw.baselines import IntPE, PotPE, baseline_acc_bits, baseline_dot
from sim import workloads
from sim.bfm import (
    Scoreboard,
    latencies,
)


def test_weights_of_codes():
    # int: two's complement; pot: sgn * 2**(M - m), m = 0 is zero (wbits 3: M = 3)
    cfg = PEConfig(wbits=3, abits=4, max_len=1)
    codes = np.arange(8)
    acts = np.ones((8, 1), dtype=np.int64)
    assert baseline_dot("int", acts, codes[:, None], cfg).tolist() == [0, 1, 2, 3, -4, -3,
                                                                       -2, -1]
    assert baseline_dot("pot", acts, codes[:, None], cfg).tolist() == [0, 4, 2, 1, 0, -4,
                                                                       -2, -1]


@pytest.mark.parametrize("kind", ["int", "pot"])
@pytest.mark.parametrize("signed", [False, True])
def test_safe_width_holds_the_extremes_and_is_tight(kind, signed):
    cfg = PEConfig(wbits=4, abits=5, act_signed=signed, max_len=100)
    bits = baseline_acc_bits(kind, cfg)
    codes = np.arange(16)
    sums = [baseline_dot(kind, np.full((1, 100), x), np.full(100, c), cfg, 64)[0]
            for x in (cfg.act_min, cfg.act_max) for c in codes]
    assert -(2 ** (bits - 1)) <= min(sums) and max(sums) < 2 ** (bits - 1)
    assert min(sums) < -(2 ** (bits - 2)) or max(sums) >= 2 ** (bits - 2)


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


def test_bad_acc_bits_and_kind_are_named():
    with pytest.raises(ValueError, match=r"^acc_bits must be an integer from 2 to 64, not 1$"):
        IntPE(PEConfig(), acc_bits=1)
    with pytest.raises(ValueError, match=r"^kind must be one of int, pot, not 'fp'$"):
        baseline_acc_bits("fp", PEConfig())
