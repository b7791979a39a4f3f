"""Golden integer layers: im2col order, exact GEMM fast paths against pe_matmul, and
requantization against exact rational arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from golden import layers as L
from golden.codes import encode, levels
from golden.pe import pe_dot, pe_matmul

RNG = np.random.default_rng(1234)


def _rand(arith, rows, k):
    acts = RNG.integers(arith.act_min, arith.act_max + 1, (rows, arith.n))
    codes = RNG.integers(0, 2**arith.wbits, (k, arith.n)).astype(np.uint8)
    acts[0], acts[1] = arith.act_max, arith.act_min  # the bound's worst cases
    return acts, codes


def test_post_scheme_is_the_golden_codes():
    for w in range(2, 7):
        assert np.array_equal(L.weight_levels("post", w), levels(w))
        u = RNG.normal(0, 0.6, 500)
        assert np.array_equal(L.encode_weights(u, "post", w), encode(u, w))


@pytest.mark.parametrize("stride,padding,kernel", [(1, 1, (3, 3)), (2, 0, (3, 3)),
                                                   (2, 1, (1, 1)), (1, 2, (3, 2))])
def test_im2col_order_is_torch_weight_reshape_order(stride, padding, kernel):
    x = RNG.integers(0, 16, (2, 3, 7, 6))
    cols = L.im2col(x, kernel, stride, padding)
    ref = F.unfold(torch.from_numpy(x).double(), kernel, padding=padding, stride=stride)
    assert np.array_equal(cols, ref.transpose(1, 2).reshape(cols.shape).numpy())
    w = RNG.integers(-3, 4, (5, 3) + kernel)
    out = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), None,
                   stride, padding)
    mine = (cols @ w.reshape(5, -1).T).reshape(2, out.shape[2], out.shape[3], 5)
    assert np.array_equal(mine.transpose(0, 3, 1, 2), out.numpy())


CONFIGS = [
    # scheme, wbits, abits, signed, variant, frac_bits, n
    ("post", 4, 4, False, "lut", 8, 576),
    ("post", 4, 4, False, "dual", 8, 576),
    ("post", 2, 2, False, "lut", 8, 64),
    ("post", 3, 3, False, "dual", 8, 100),
    ("post", 4, 8, True, "lut", 8, 9),
    ("post", 4, 8, True, "dual", 8, 9),
    ("post", 6, 8, True, "lut", 16, 300),   # int8 per-shift groups + LUT residues
    ("post", 5, 8, False, "lut", 12, 200),  # unsigned 8-bit: float path
    ("post", 6, 8, False, "dual", 4, 4000),
    ("post", 4, 5, False, "lut", 1, 50),
    ("pot", 4, 4, False, "lut", 8, 144),
    ("pot", 6, 8, True, "dual", 8, 33),
    ("int", 4, 4, False, "lut", 8, 144),
    ("int", 3, 8, False, "lut", 8, 40),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
def test_fast_accumulate_equals_pe_matmul(cfg, int8):
    arith = L.LayerArith(*cfg)
    acts, codes = _rand(arith, 40, 6)
    plan = L.plan_gemm(arith, allow_int8=int8)
    assert plan is not None and (int8 or all(p.dtype != np.int8 for p in plan))
    got = L.accumulate(acts, codes, arith, allow_int8=int8)
    ref = L.accumulate(acts, codes, arith, fast=False)
    assert got.dtype == np.int64 and np.array_equal(got, ref)
    if arith.scheme == "post":
        assert np.array_equal(ref, pe_matmul(acts, codes, arith.pe_config()))
        assert np.array_equal(got[:, 2], pe_dot(acts, codes[2], arith.pe_config()))


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_plan_bounds_hold_for_the_worst_inputs(cfg):
    """Every part's bound is below its exactness limit and at least the largest |output|
    the part can produce (all activations at the extreme matching each weight's sign)."""
    arith = L.LayerArith(*cfg)
    for allow in (True, False):
        plan = L.plan_gemm(arith, allow_int8=allow)
        for p in plan:
            limit = 2**31 if p.dtype == np.int8 else L.FLOAT_LIMITS[p.dtype]
            assert p.bound < limit
            codes = np.arange(2**arith.wbits).reshape(1, 1, -1)
            w = L.part_weights(codes, arith, p).astype(np.int64)  # (blocks, ops * codes)
            if p.dtype == np.int8:
                assert np.abs(w).max() <= L.INT8_WEIGHT_MAX
            om = np.array([L._operand_max(arith, o) for o in p.operands])
            w = np.abs(w).reshape(len(p.blocks), len(p.operands), -1)
            worst = arith.n * (w * om[None, :, None]).sum(axis=1).max(axis=1)
            assert np.all(worst <= p.bound)


@pytest.mark.parametrize("variant", ["lut", "dual"])
@pytest.mark.parametrize("stride,padding,kernel", [(1, 1, (3, 3)), (2, 1, (3, 3)),
                                                   (1, 0, (1, 1))])
def test_conv_accumulate_fast_equals_im2col_pe_matmul(variant, stride, padding, kernel):
    arith = L.LayerArith("post", 4, 4, False, variant, 8, 5 * kernel[0] * kernel[1])
    x = RNG.integers(0, 16, (3, 5, 9, 7))
    codes = RNG.integers(0, 16, (4, arith.n)).astype(np.uint8)
    fast = L.conv_accumulate(x, codes, kernel, stride, padding, arith)
    slow = L.conv_accumulate(x, codes, kernel, stride, padding, arith, fast=False)
    assert np.array_equal(fast, slow)
    floats = L.conv_accumulate(x, codes, kernel, stride, padding, arith, allow_int8=False)
    assert np.array_equal(floats, slow)
    ref = pe_matmul(L.im2col(x, kernel, stride, padding), codes, arith.pe_config())
    ho, wo = L.conv_out_hw(9, 7, kernel, stride, padding)
    assert np.array_equal(np.moveaxis(fast, 1, 3).reshape(ref.shape), ref)
    assert fast.shape[:4] == (3, 4, ho, wo)


def test_accumulate_rejects_out_of_range_inputs():
    arith = L.LayerArith("post", 4, 4, False, "lut", 8, 3)
    with pytest.raises(ValueError, match=r"^acts\[0, 1\] = 16 is out of range"):
        L.accumulate(np.array([[1, 16, 0]]), np.zeros((1, 3), np.uint8), arith)
    with pytest.raises(ValueError, match=r"^codes\[0, 2\] = 16 is out of range"):
        L.accumulate(np.array([[1, 1, 0]]), np.array([[0, 1, 16]]), arith)


# ---- requantization ------------------------------------------------------------------------

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
    arith = L.LayerArith("post", 4, 4, False, variant, 8, 144)
    b, k = 3, 16
    scale = RNG.uniform(0.2, 3.0, k) * 2.0 ** (arith.slot_factors()[0] * 0)  # r_k
    bias = RNG.uniform(-4, 4, k)
    beta_in, beta_out = RNG.uniform(0.5, 2, b), RNG.uniform(0.5, 2, b)
    acc = RNG.integers(-arith.acc_bound() // 4, arith.acc_bound() // 4, (b, k, arith.slots))
    acc = acc[..., 0] if arith.slots == 1 else acc
    rq = L.requant_params(scale, bias, beta_in, beta_out, arith)
    assert np.all(np.abs(rq.mult) < 2**31) and np.all((rq.shift >= 1) & (rq.shift <= 62))
    codes = L.requantize(acc, rq, arith, 0, 15)
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
    arith = L.LayerArith("post", 6, 8, True, "lut", 16, 4096)
    bound = arith.acc_bound()
    acc = np.array([[bound, -bound, bound // 3]])
    rq = L.requant_params(np.array([1e-3, 5e-4, 2e-3]), np.array([1e3, -1e3, 0.0]),
                          np.ones(1), np.ones(1), arith, logits=True)
    out = L.output_logits(acc, rq, arith)
    exact = [int(a) * int(m) + int(o)
             for a, m, o in zip(acc[0], rq.mult[0, :, 0], rq.offset[0], strict=True)]
    assert out[0].tolist() == exact  # Python ints: no overflow anywhere
    with pytest.raises(ValueError, match=r"^accumulator magnitude \d+ exceeds the layer"):
        L.output_logits(acc + 1, rq, arith)


def test_logits_scale_back_to_the_real_value():
    arith = L.LayerArith("post", 4, 4, False, "dual", 8, 144)
    acc = RNG.integers(-5000, 5000, (2, 10, 2))
    scale, bias = RNG.uniform(1e-4, 1e-2, 10), RNG.uniform(-1, 1, 10)
    rq = L.requant_params(scale, bias, np.array([1.0, 1.3]), np.ones(2), arith, logits=True)
    out = L.output_logits(acc, rq, arith)
    f = arith.slot_factors()
    real = (acc[..., 0] * f[0] + acc[..., 1] * f[1]) * scale * np.array([[1.0], [1.3]]) + bias
    assert np.allclose(np.ldexp(out.astype(float), -rq.shift[:, None]), real, rtol=1e-8,
                       atol=1e-8)


def test_requant_params_rejects_bad_beta():
    arith = L.LayerArith("post", 4, 4, False, "lut", 8, 9)
    with pytest.raises(ValueError, match=r"^beta must be finite and positive$"):
        L.requant_params(np.ones(2), np.zeros(2), np.zeros(1), np.ones(1), arith)


def test_integer_ops():
    x = RNG.integers(0, 16, (2, 3, 5, 4))
    pooled = L.maxpool(x, 2, 2)
    ref = F.max_pool2d(torch.from_numpy(x).double(), 2).numpy()
    assert np.array_equal(pooled, ref) and pooled.shape == (2, 3, 2, 2)
    assert np.array_equal(L.flatten(x), torch.from_numpy(x).flatten(1).numpy())
    assert np.array_equal(L.relu(np.array([-3, 0, 4])), [0, 0, 4])


@pytest.mark.parametrize("cfg", CONFIGS + [("post", 4, 8, True, "lut", 8, 16),
                                           ("post", 3, 6, True, "dual", 8, 64)],
                         ids=lambda c: "-".join(map(str, c)))
def test_fast_path_exact_at_the_extremes(cfg):
    """Every weight row a single code, activations all at an extreme: the accumulators
    reach the bound, and the fast path still equals the reference."""
    arith = L.LayerArith(*cfg)
    codes = np.repeat(np.arange(2**arith.wbits, dtype=np.uint8)[:, None], arith.n, axis=1)
    acts = np.stack([np.full(arith.n, arith.act_max), np.full(arith.n, arith.act_min),
                     RNG.integers(arith.act_min, arith.act_max + 1, arith.n)])
    got = L.accumulate(acts, codes, arith)
    assert np.array_equal(got, L.accumulate(acts, codes, arith, fast=False))
    if arith.scheme == "post":  # including the spec's signed power-of-two wrap corner
        assert np.array_equal(got, pe_matmul(acts, codes, arith.pe_config()))
    assert np.abs(got).reshape(3, -1).max() <= arith.acc_bound()
