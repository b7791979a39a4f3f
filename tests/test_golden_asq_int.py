"""Integer-only ASQ units against a plain-Python reference in exact rational arithmetic.

The reference does not call golden: each step is written from docs/arithmetic.md ("Integer
ASQ") with Python integers and fractions (no overflow, no shifts), so an int64 overflow or
a rounding mistake in golden.asq_int shows up as a difference. Random and extreme inputs:
beta at its clamp, all-zero activations, the largest accumulator, negative biases, one
position; and the proven widths at their bounds.
"""

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from golden import asq_int as Q

HALF = Fraction(1, 2)


# ---------------------------------------------------------------------------------------
# The reference (plain Python, constants restated from the docs).

U_FRAC, BETA_FRAC, RECIP_SHIFT = 8, 8, 20
BETA_MIN, BETA_MAX = 16, 1023
ACT_MAX = 2**16 - 1


def rnd(q: Fraction) -> int:
    """Round half up."""
    return math.floor(q + HALF)


def sat(v: int, bits: int) -> int:
    return max(-(2 ** (bits - 1)), min(2 ** (bits - 1) - 1, v))


def ref_rescale(acc, c, d, b_in, shift, ubits):
    """acc: nested lists [B][K][P][slots]; c [K][slots]; d [K]; b_in [B]."""
    out = []
    for bi, rows in enumerate(acc):
        out.append([[sat(rnd(Fraction(sum(a * c[k][s] * b_in[bi] for s, a in enumerate(pos))
                                      + d[k], 2 ** (shift + BETA_FRAC - U_FRAC))), ubits)
                     for pos in rows[k]] for k in range(len(rows))])
    return out


def ref_pool(u, ubits):
    """u [B][C][P] -> [B][C]: the mean with U_FRAC fractional bits (a multiplier PM =
    round(2**PS / n) for n not a power of two, as documented)."""
    n = len(u[0][0])
    if n & (n - 1) == 0:
        scale = Fraction(1, n)
    else:
        ps = (n - 1).bit_length() + 15
        scale = Fraction(rnd(Fraction(2**ps, n)), 2**ps)
    return [[sat(rnd(sum(pos) * scale), ubits) for pos in ch] for ch in u]


def ref_linear(h, w, bias, e):
    """Real arithmetic: (sum w 2**-e * h 2**-8 + bias 2**-(8+e)) in units of 2**-8."""
    return [[rnd(Fraction(sum(wi * hi for wi, hi in zip(row, x, strict=True)) + bias[j], 2**e))
             for j, row in enumerate(w)] for x in h]


def ref_adapter(p, layers):
    h = p
    for i, (w, bias, e) in enumerate(layers):
        out = ref_linear(h, w, bias, e)
        if i < len(layers) - 1:
            h = [[min(max(v, 0), ACT_MAX) for v in row] for row in out]
        else:
            return [min(max(row[0], BETA_MIN), BETA_MAX) for row in out]


def ref_recip(b):
    return rnd(Fraction(2**RECIP_SHIFT, b))


def ref_requant(u, r, lo, hi):
    """u / beta = u 2**-8 * r 2**-(20-8), rounded half up, clamped."""
    return min(max(rnd(Fraction(u * r, 2 ** (U_FRAC + RECIP_SHIFT - BETA_FRAC))), lo), hi)


# ---------------------------------------------------------------------------------------

def test_constants_match_the_documented_contract():
    assert (Q.U_FRAC, Q.BETA_FRAC, Q.RECIP_SHIFT) == (U_FRAC, BETA_FRAC, RECIP_SHIFT)
    assert (Q.BETA_MIN, Q.BETA_MAX, Q.BETA_ONE) == (BETA_MIN, BETA_MAX, 256)
    assert Q.RECIP_BITS == 17 and ref_recip(BETA_MIN) == 2**16
    assert [Q.u_bits(a) for a in (2, 3, 4, 8)] == [14, 15, 16, 20]
    # u's integer part covers the largest code times the largest beta, with margin
    for a in range(2, 9):
        assert (2**a - 1) * BETA_MAX / 2**BETA_FRAC < 2 ** (Q.u_bits(a) - 1 - U_FRAC)


@pytest.mark.parametrize("slots", [1, 2])
def test_rescale_random_and_extreme(slots):
    rng = random.Random(slots)
    acc_bound = 144 * 15 * 2**11
    bits = Q.scale_bits(acc_bound)
    k, b, pos = 3, 4, 5
    cmax = 2 ** (bits - 1) - 1
    c = [[rng.randint(-cmax, cmax) for _ in range(slots)] for _ in range(k)]
    c[0] = [cmax] * slots  # the widest multiplier
    c[1] = [-cmax] * slots
    d = [rng.randint(-2**40, 2**40) for _ in range(k)]
    d[2] = -(2**40)  # negative bias
    b_in = [BETA_MAX, BETA_MIN, 256, rng.randint(BETA_MIN, BETA_MAX)]
    acc = [[[[rng.randint(-acc_bound // slots, acc_bound // slots) for _ in range(slots)]
             for _ in range(pos)] for _ in range(k)] for _ in range(b)]
    # the largest accumulator, both signs, at the widest multiplier and largest beta
    acc[0][0][0] = [acc_bound - (slots - 1) * (acc_bound // slots)] + \
        [acc_bound // slots] * (slots - 1)
    acc[0][1][1] = list(acc[0][0][0])  # times -C: the most negative
    acc[1][0][2] = [0] * slots  # all-zero accumulators give the rounded bias
    shift = 30
    m = Q.sample_mult(np.array(c), np.array(b_in))
    a = np.array(acc)  # (B, K, P, slots)
    a_in = a[..., 0] if slots == 1 else a
    for ubits in (16, 62):  # saturating, and wide enough to see the unsaturated value
        got = Q.rescale(a_in, m, np.array(d), shift, ubits, acc_bound)
        assert got.tolist() == ref_rescale(acc, c, d, b_in, shift, ubits)
    assert got[0, 0, 0] > 2**20 and got[0, 1, 1] < -(2**20)  # no wrap at the bound


def test_rescale_refuses_accumulators_beyond_the_bound_and_wide_multipliers():
    m = Q.sample_mult(np.array([[5]]), np.array([256]))
    with pytest.raises(ValueError, match=r"^accumulator magnitude 11 exceeds the layer's "
                                         r"bound 10$"):
        Q.rescale(np.array([[[11]]]), m, np.array([0]), 10, 16, acc_bound=10)
    with pytest.raises(ValueError, match=r"^b_in must be beta codes from 16 to 1023, not 15$"):
        Q.sample_mult(np.array([[5]]), np.array([15]))
    with pytest.raises(ValueError, match=r"^accumulators must be an integer array"):
        Q.rescale(np.array([[[1.0]]]), m, np.array([0]), 10, 16, acc_bound=10)


def test_scale_bits_keep_every_product_in_int64():
    for bound in (1, 2**20, 144 * 15 * 2**11, 2**43 - 1):
        bits = Q.scale_bits(bound)
        assert bound * 2 ** (bits - 1) * 2**10 <= 2**61
        assert bits == 24 or bound * 2**bits * 2**10 > 2**61
    with pytest.raises(ValueError, match=r"^accumulator bound \d+ leaves 7 bits"):
        Q.scale_bits(2**44)


def test_static_scale_fits_its_width_and_rounds():
    r = np.array([0.3, -1.7, 2.0**-20])
    d = np.array([3.5, -0.25, 0.0])
    f = (2.0**-11,)
    st = Q.static_scale(r, d, f, 144 * 15 * 2**11)
    assert np.abs(st.mult).max() < 2 ** (st.bits - 1)
    assert np.abs(st.mult).max() >= 2 ** (st.bits - 2)  # the largest shift that fits
    for k in range(3):
        assert st.mult[k, 0] == round(Fraction(r[k]) * Fraction(f[0]) * 2**st.shift)
        assert st.bias[k] == round(Fraction(d[k]) * 2 ** (st.shift + BETA_FRAC))
    # a largest |r f| exactly at a power of two rounds up to 2**(bits-1): one shift less
    st2 = Q.static_scale(np.array([1.0 - 2.0**-40]), np.zeros(1), (1.0,), 2**20)
    assert st2.mult[0, 0] < 2 ** (st2.bits - 1)


@pytest.mark.parametrize("shape", [(3, 4, 8, 8), (2, 5, 3, 3), (2, 6, 4), (3, 7)],
                         ids=["64-positions", "9-positions", "4-positions", "one-position"])
def test_global_pool(shape):
    rng = np.random.default_rng(len(shape))
    ub = 16
    u = rng.integers(-(2**15), 2**15, size=shape)
    u[0] = 2**15 - 1  # every position at the top: the mean must not wrap
    u[1] = 0          # all-zero activations: pool 0
    got = Q.global_pool(u, ub)
    flat = u.reshape(shape[0], shape[1], -1).tolist()
    assert got.tolist() == ref_pool(flat, ub)
    assert np.all(got[0] == 2**15 - 1) and np.all(got[1] == 0)
    if len(shape) == 2:
        assert np.array_equal(got, u)


def _random_adapter(rng, c, hidden, neg_bias=False):
    layers = []
    widths = [c] + ([hidden] if hidden else []) + [1]
    for i in range(len(widths) - 1):
        w = rng.integers(-127, 128, size=(widths[i + 1], widths[i]))
        bias = rng.integers(-(2**20), 2**20, size=widths[i + 1])
        if neg_bias:
            bias = -np.abs(bias) - 2**25
        layers.append(Q.AdapterLayer(w, bias, int(rng.integers(0, 16))))
    return layers


@pytest.mark.parametrize("hidden", [0, 4])
def test_adapter_against_reference(hidden):
    rng = np.random.default_rng(hidden)
    ub = 16
    u = rng.integers(-(2**12), 2**12, size=(6, 8, 4, 4))
    u[1] = 0  # all-zero activations: beta from the biases alone
    u[2] = 2**15 - 1  # the largest u everywhere
    layers = _random_adapter(rng, 8, hidden)
    got = Q.adapter_beta(u, layers, ub)
    p = ref_pool(u.reshape(6, 8, -1).tolist(), ub)
    ref = ref_adapter(p, [(lay.weight.tolist(), lay.bias.tolist(), lay.exp) for lay in layers])
    assert got.tolist() == ref


def test_beta_at_its_clamps():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 2**12, size=(4, 8, 2, 2))
    low = _random_adapter(rng, 8, 4, neg_bias=True)  # ReLU output 0 -> BETA_MIN
    assert Q.adapter_beta(u, low, 16).tolist() == [BETA_MIN] * 4
    w = np.full((1, 8), 127)
    high = [Q.AdapterLayer(w, np.array([2**31 - 1]), 0)]
    assert Q.adapter_beta(u, high, 16).tolist() == [BETA_MAX] * 4
    one = [Q.AdapterLayer(np.zeros((1, 8), dtype=np.int64), np.array([256 << 5]), 5)]
    assert Q.adapter_beta(u, one, 16).tolist() == [256] * 4  # beta = 1 exactly


def test_adapter_width_bounds():
    # the largest inputs, weights and bias: the accumulator's proven width holds
    c = 512
    h = np.full((2, c), 2**15 - 1)
    h[1] = -(2**15)
    lay = Q.AdapterLayer(np.full((3, c), 127), np.full(3, 2**31 - 1), 15)
    out = Q.adapter_layer(h, lay, 16, True)
    ref = ref_linear(h.tolist(), lay.weight.tolist(), lay.bias.tolist(), 15)
    assert out.tolist() == [[min(max(v, 0), ACT_MAX) for v in row] for row in ref]
    with pytest.raises(ValueError, match=r"^adapter input holds 32768, outside 16-bit signed"):
        Q.adapter_layer(h + 1, lay, 16, True)
    with pytest.raises(ValueError, match=r"^adapter weights must be in \[-127, 127\]$"):
        Q.adapter_layer(h, Q.AdapterLayer(np.full((3, c), -128), lay.bias, 0), 16, True)


def test_reciprocal_over_the_whole_beta_range():
    b = np.arange(BETA_MIN, BETA_MAX + 1)
    assert Q.reciprocal(b).tolist() == [ref_recip(v) for v in b.tolist()]
    assert Q.reciprocal(np.array([256])).tolist() == [2**12]  # 1 / beta = 1 exactly
    assert int(Q.reciprocal(b).max()).bit_length() == Q.RECIP_BITS
    with pytest.raises(ValueError, match=r"^beta must be beta codes from 16 to 1023, not 1024$"):
        Q.reciprocal(np.array([1024]))


@pytest.mark.parametrize("abits", [2, 4, 8])
def test_requantize_random_and_extreme(abits):
    rng = np.random.default_rng(abits)
    ub = Q.u_bits(abits)
    hi = 2**abits - 1
    b = np.array([BETA_MIN, BETA_MAX, 256, 300])
    r = Q.reciprocal(b)
    u = rng.integers(-(2 ** (ub - 1)), 2 ** (ub - 1), size=(4, 3, 5))
    u[:, 0, 0] = 2 ** (ub - 1) - 1  # largest u at every reciprocal: no overflow
    u[:, 0, 1] = -(2 ** (ub - 1))
    u[:, 1, :] = 0
    got = Q.requantize(u, r, ub, 0, hi)
    ref = [[[ref_requant(v, int(r[i]), 0, hi) for v in row] for row in u[i].tolist()]
           for i in range(4)]
    assert got.tolist() == ref
    # at the largest beta the largest code is still reached before u saturates
    top = (hi * 2 + 1) * BETA_MAX * 2**U_FRAC // (2 * 2**BETA_FRAC) + 2**U_FRAC
    assert top < 2 ** (ub - 1)
    assert Q.requantize(np.array([[top]]), Q.reciprocal(np.array([BETA_MAX])), ub, 0,
                        hi).item() == hi


def test_logits_are_unshifted_and_exact_at_the_bound():
    bound = 128 * 15 * 2**11
    bits = Q.scale_bits(bound)
    c = np.array([[2 ** (bits - 1) - 1], [-(2 ** (bits - 1) + 1)]])
    m = Q.sample_mult(c, np.array([BETA_MAX]))
    acc = np.array([[bound, bound]])
    got = Q.logits(acc, m, np.array([-(2**60), 2**60]), bound)
    ref = [bound * int(c[k, 0]) * BETA_MAX + (-(2**60) if k == 0 else 2**60) for k in range(2)]
    assert got.tolist() == [ref]


def test_check_width_names_the_operand():
    with pytest.raises(ValueError, match=r"^u holds -9, outside 4-bit signed \[-8, 7\]$"):
        Q.check_width("u", np.array([-9]), 4)
    with pytest.raises(ValueError, match=r"^u must be an integer array, not float64$"):
        Q.global_pool(np.zeros((1, 2)), 16)


@pytest.mark.parametrize("delta", [-3, 0, 4, 8])
def test_retarget_follows_the_accumulator_scale(delta):
    r = np.array([0.37, -0.11, 0.2])
    d = np.array([1.25, -3.5, 0.01])
    bound = 144 * 15 * 2**11  # lut at F = 8
    st = Q.static_scale(r, d, (2.0**-11,), bound)
    new_bound = bound << delta if delta >= 0 else bound >> -delta
    rt = Q.retarget(st, delta, new_bound)
    ref = Q.static_scale(r, d, (2.0 ** -(11 + delta),), new_bound)
    assert rt.bits == min(st.bits, ref.bits)
    # the same real multiplier and offset, to the precision of the narrower C
    for k in range(3):
        got = Fraction(int(rt.mult[k, 0]), 2**rt.shift)
        assert abs(got - Fraction(r[k]) * Fraction(2.0 ** -(11 + delta))) \
            <= Fraction(1, 2**rt.shift)
        assert abs(Fraction(int(rt.bias[k]), 2 ** (rt.shift + 8)) - Fraction(d[k])) \
            <= Fraction(1, 2 ** (min(rt.shift, st.shift) + 8))
    if delta == 0:
        assert np.array_equal(rt.mult, st.mult) and np.array_equal(rt.bias, st.bias)
        assert rt.shift == st.shift
