"""Reference models of the INT and POT baseline PEs: the weight of each code, and the safe
accumulator width that holds the extremes and is tight."""

import numpy as np
import pytest

from asq_hw.config import PEConfig
from golden.baselines import baseline_acc_bits, baseline_dot, int_dot, pot_dot, range_width


def test_weights_of_codes():
    # int: two's complement; pot: sgn * 2**(M - m), m = 0 is zero (wbits 3: M = 3)
    cfg = PEConfig(wbits=3, abits=4, max_len=1)
    codes = np.arange(8)
    acts = np.ones((8, 1), dtype=np.int64)
    assert int_dot(acts, codes[:, None], cfg).tolist() == [0, 1, 2, 3, -4, -3, -2, -1]
    assert pot_dot(acts, codes[:, None], cfg).tolist() == [0, 4, 2, 1, 0, -4, -2, -1]


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


def test_range_width():
    assert [range_width(0, v) for v in (1, 2, 3, 4, 255, 256)] == [1, 2, 2, 3, 8, 9]
    assert [range_width(lo, hi) for lo, hi in ((-1, 0), (-2, 1), (-3, 1), (-128, 127),
                                               (-129, 0), (-1, 128))] == [1, 2, 3, 8, 9, 9]


def test_explicit_acc_bits_wraps():
    cfg = PEConfig(wbits=4, abits=4, max_len=4)
    acts = np.full((1, 4), 15)
    assert int_dot(acts, np.full(4, 7), cfg, acc_bits=64).tolist() == [420]
    assert int_dot(acts, np.full(4, 7), cfg, acc_bits=8).tolist() == [420 - 512]


def test_bad_kind_is_named():
    with pytest.raises(ValueError, match=r"^kind must be one of int, pot, not 'fp'$"):
        baseline_acc_bits("fp", PEConfig())
