"""Requantization against exact rational arithmetic: rounding, int64 safety at the
accumulator bound, logits and bad betas."""

from fractions import Fraction

import numpy as np
import pytest

from golden.arith import LayerArith
from golden.requant import output_logits, requant_params, requantize

RNG = np.random.default_rng(1234)



def _exact(acc, rq_real, arith, b):
    """v = sum_slots A * m + e exactly, from the float64 real parameters."""
    m, e = rq_real
    a = acc if arith.slots == 2 else acc[..., None]
    v = [[sum(Fraction(int(a[b, k, s])) * Fraction(float(m[b, k, s]))
              for s in range(arith.slots)) + Fraction(float(e[b, k]))
          for k in range(acc.shape[1])]]
    return v[0]


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_requantize_rounds_half_up_within_multiplier_precision(variant):
    arith = LayerArith("post", 4, 4, False, variant, 8, 144)
    b, k = 3, 16
    scale = RNG.uniform(0.2, 3.0, k) * 2.0 ** (arith.slot_factors()[0] * 0)  # r_k
    bias = RNG.uniform(-4, 4, k)
    beta_in, beta_out = RNG.uniform(0.5, 2, b), RNG.uniform(0.5, 2, b)
    acc = RNG.integers(-arith.acc_bound() // 4, arith.acc_bound() // 4, (b, k, arith.slots))
    acc = acc[..., 0] if arith.slots == 1 else acc
    rq = requant_params(scale, bias, beta_in, beta_out, arith)
    assert np.all(np.abs(rq.mult) < 2**31) and np.all((rq.shift >= 1) & (rq.shift <= 62))
    codes = requantize(acc, rq, arith, 0, 15)
    f = np.array(arith.slot_factors())
    m = scale[None, :, None] * f[None, None, :] * (beta_in / beta_out)[:, None, None]
    e = bias[None, :] / beta_out[:, None]
    for i in range(b):
        v = _exact(acc, (m, e), arith, i)
        for j in range(k):
            frac = float(v[j] + Fraction(1, 2)) % 1.0
            if 1e-6 < frac < 1 - 1e-6:  # not at a rounding boundary
                want = min(max(int(np.floor(v[j] + Fraction(1, 2))), 0), 15)
                assert codes[i, j] == want


def test_requantize_is_exact_int64_at_the_accumulator_bound():
    arith = LayerArith("post", 6, 8, True, "lut", 16, 4096)
    bound = arith.acc_bound()
    acc = np.array([[bound, -bound, bound // 3]])
    rq = requant_params(np.array([1e-3, 5e-4, 2e-3]), np.array([1e3, -1e3, 0.0]),
                          np.ones(1), np.ones(1), arith, logits=True)
    out = output_logits(acc, rq, arith)
    exact = [int(a) * int(m) + int(o)
             for a, m, o in zip(acc[0], rq.mult[0, :, 0], rq.offset[0], strict=True)]
    assert out[0].tolist() == exact  # Python ints: no overflow anywhere
    with pytest.raises(ValueError, match=r"^accumulator magnitude \d+ exceeds the layer"):
        output_logits(acc + 1, rq, arith)


def test_logits_scale_back_to_the_real_value():
    arith = LayerArith("post", 4, 4, False, "dual", 8, 144)
    acc = RNG.integers(-5000, 5000, (2, 10, 2))
    scale, bias = RNG.uniform(1e-4, 1e-2, 10), RNG.uniform(-1, 1, 10)
    rq = requant_params(scale, bias, np.array([1.0, 1.3]), np.ones(2), arith, logits=True)
    out = output_logits(acc, rq, arith)
    f = arith.slot_factors()
    real = (acc[..., 0] * f[0] + acc[..., 1] * f[1]) * scale * np.array([[1.0], [1.3]]) + bias
    assert np.allclose(np.ldexp(out.astype(float), -rq.shift[:, None]), real, rtol=1e-8,
                       atol=1e-8)


def test_requant_params_rejects_bad_beta():
    arith = LayerArith("post", 4, 4, False, "lut", 8, 9)
    with pytest.raises(ValueError, match=r"^beta must be finite and positive$"):
        requant_params(np.ones(2), np.zeros(2), np.zeros(1), np.ones(1), arith)
