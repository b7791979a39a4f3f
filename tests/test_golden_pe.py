import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_model import ref_dot

from asq_hw import PEConfig
from golden.codes import levels
from golden.pe import pe_dot, pe_matmul


def ref_rows(acts, codes, cfg):
    codes = np.broadcast_to(codes, acts.shape)
    out = [ref_dot(a, c, wbits=cfg.wbits, variant=cfg.variant, frac_bits=cfg.frac_bits,
                   acc_bits=cfg.acc_bits) for a, c in zip(acts.tolist(), codes.tolist(),
                                                           strict=True)]
    return np.array(out, dtype=np.int64)


def all_pairs(cfg):
    xs = np.arange(cfg.act_min, cfg.act_max + 1)
    cs = np.arange(cfg.code_max + 1)
    x, c = np.meshgrid(xs, cs, indexing="ij")
    return x.reshape(-1, 1), c.reshape(-1, 1).astype(np.uint8)


@pytest.mark.parametrize("wbits", range(2, 7))
@pytest.mark.parametrize("abits", range(2, 9))
@pytest.mark.parametrize("signed", [False, True])
def test_every_single_product_matches_reference(wbits, abits, signed):
    for variant, frac_bits in [("lut", 1), ("lut", 8), ("lut", 16), ("dual", 8)]:
        cfg = PEConfig(wbits=wbits, abits=abits, act_signed=signed, variant=variant,
                       frac_bits=frac_bits, max_len=1)
        acts, codes = all_pairs(cfg)
        np.testing.assert_array_equal(pe_dot(acts, codes, cfg), ref_rows(acts, codes, cfg))


configs = st.builds(
    PEConfig,
    wbits=st.integers(2, 6), abits=st.integers(2, 8), act_signed=st.booleans(),
    variant=st.sampled_from(["lut", "dual"]), frac_bits=st.integers(1, 16),
    max_len=st.integers(1, 2000))


@st.composite
def dot_inputs(draw, shared_codes=False):
    cfg = draw(configs)
    rows, n = draw(st.integers(1, 6)), draw(st.integers(0, 80))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    acts = rng.integers(cfg.act_min, cfg.act_max + 1, (rows, n))
    codes = rng.integers(0, cfg.code_max + 1, n if shared_codes else (rows, n))
    return cfg, acts, codes.astype(np.uint8)


@settings(max_examples=300, deadline=None)
@given(dot_inputs())
def test_dot_products_match_reference(case):
    cfg, acts, codes = case
    np.testing.assert_array_equal(pe_dot(acts, codes, cfg), ref_rows(acts, codes, cfg))


@settings(max_examples=100, deadline=None)
@given(dot_inputs(shared_codes=True))
def test_shared_code_row_broadcasts(case):
    cfg, acts, codes = case
    np.testing.assert_array_equal(pe_dot(acts, codes, cfg), ref_rows(acts, codes, cfg))


@settings(max_examples=200, deadline=None)
@given(dot_inputs(), st.integers(2, 20))
def test_wraps_modulo_acc_bits_like_the_hardware(case, acc_bits):
    cfg, acts, codes = case
    small = PEConfig(**{**cfg.to_dict(), "acc_bits": acc_bits})
    got = pe_dot(acts, codes, small)
    full = pe_dot(acts, codes, cfg.replace(max_len=2**20))  # wide enough never to wrap
    expect = (full + 2 ** (acc_bits - 1)) % 2**acc_bits - 2 ** (acc_bits - 1)
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(got, ref_rows(acts, codes, small))


@settings(max_examples=100, deadline=None)
@given(dot_inputs())
def test_results_approximate_the_real_dot_product(case):
    cfg, acts, codes = case
    cfg = cfg.replace(max_len=max(1, acts.shape[1]))
    exact = (acts * levels(cfg.wbits)[codes]).sum(-1)
    y = pe_dot(acts, codes, cfg)
    if cfg.variant == "dual":
        # Exact up to float rounding: sum x*w/alpha = 2**-J (A_even + A_odd / sqrt 2).
        got = (y[:, 0] + y[:, 1] / np.sqrt(2)) / 2**cfg.J
        assert np.all(np.abs(got - exact) <= 1e-9 * (1 + np.abs(exact)))
    else:
        # The only error is LUT rounding: at most 1/2 per term, times 2**sh <= 2**J.
        err = np.abs(y / 2 ** (cfg.J + cfg.frac_bits) - exact)
        assert np.all(err <= acts.shape[1] * 0.5 / 2**cfg.frac_bits + 1e-9)


@pytest.mark.parametrize("variant", ["lut", "dual"])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("wbits, abits", [(2, 2), (4, 4), (6, 8), (5, 3)])
def test_extreme_inputs_at_max_len(variant, signed, wbits, abits):
    """All terms at the largest magnitude, same sign: the sum the safe width is sized for."""
    max_len = 1000  # not a power of two: see docs/arithmetic.md, accumulator corner case
    cfg = PEConfig(wbits=wbits, abits=abits, act_signed=signed, variant=variant,
                   frac_bits=16, max_len=max_len)
    one, minus_one = 1, 1 | (1 << (wbits - 1))
    for x, code in itertools.product([cfg.act_min, cfg.act_max], [one, minus_one]):
        acts = np.full((1, max_len), x)
        codes = np.full(max_len, code, dtype=np.uint8)
        got = pe_dot(acts, codes, cfg)
        unwrapped = pe_dot(acts, codes, cfg.replace(max_len=2**20))
        np.testing.assert_array_equal(got, unwrapped)  # no overflow at the safe width
        np.testing.assert_array_equal(got, ref_rows(acts, codes, cfg))


def test_signed_power_of_two_corner_wraps_in_spec_width():
    """The spec's safe width is one short for signed activations when max_len is a power
    of two and every term is (-2**(abits-1)) * (-alpha): golden wraps exactly as the
    hardware register does (documented in docs/arithmetic.md)."""
    cfg = PEConfig(wbits=4, abits=4, act_signed=True, variant="dual", max_len=8)
    acts = np.full((1, 8), -8)
    codes = np.full(8, 0b1001, dtype=np.uint8)  # -alpha
    true_sum = 8 * 8 << cfg.J
    assert true_sum == 2 ** (cfg.acc_bits - 1)
    assert pe_dot(acts, codes, cfg)[0, 0] == -true_sum
    assert pe_dot(acts[:, :7], codes[:7], cfg)[0, 0] == 7 * 8 << cfg.J


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_matmul_equals_rowwise_pe_dot(variant):
    rng = np.random.default_rng(1)
    cfg = PEConfig(wbits=5, abits=6, act_signed=True, variant=variant, max_len=300)
    acts = rng.integers(cfg.act_min, cfg.act_max + 1, (7, 300))
    codes = rng.integers(0, 32, (5, 300)).astype(np.uint8)
    y = pe_matmul(acts, codes, cfg)
    for k in range(5):
        np.testing.assert_array_equal(y[:, k], pe_dot(acts, codes[k], cfg))


def test_empty_dot_product_is_zero():
    cfg = PEConfig(variant="dual")
    np.testing.assert_array_equal(pe_dot(np.zeros((3, 0), int), np.zeros(0, np.uint8), cfg),
                                  np.zeros((3, 2)))


def test_input_dtypes_are_accepted():
    cfg = PEConfig(abits=8)
    acts = np.array([[255, 3, 0]], dtype=np.uint8)
    codes = np.array([1, 2, 3], dtype=np.int32)
    ref = ref_rows(acts.astype(int), codes, cfg)
    np.testing.assert_array_equal(pe_dot(acts, codes, cfg), ref)
    np.testing.assert_array_equal(pe_dot(acts.tolist(), codes.tolist(), cfg), ref)


CFG = PEConfig(wbits=4, abits=4)
SIGNED = PEConfig(wbits=3, abits=5, act_signed=True)


@pytest.mark.parametrize("fn", [pe_dot, pe_matmul])
@pytest.mark.parametrize("cfg, acts, codes, message", [
    (CFG, [[0, 16]], [[1, 1]], "acts[0, 1] = 16 is out of range: activations must be "
                              "integers from 0 to 15 (abits=4, unsigned)"),
    (CFG, [[0, 1], [-1, 0]], [[1, 1], [1, 1]],
     "acts[1, 0] = -1 is out of range: activations must be integers from 0 to 15 "
     "(abits=4, unsigned)"),
    (SIGNED, [[-17]], [[0]], "acts[0, 0] = -17 is out of range: activations must be "
                            "integers from -16 to 15 (abits=5, signed)"),
    (CFG, [[1, 2, 3]], [[0, 16, 0]], "codes[0, 1] = 16 is out of range: codes must be "
                                    "integers from 0 to 15 (wbits=4)"),
    (SIGNED, [[1, 2]], [[0, -1]], "codes[0, 1] = -1 is out of range: codes must be "
                                 "integers from 0 to 7 (wbits=3)"),
    (CFG, [[0.5]], [[1]], "acts must be an integer array, not float64"),
    (CFG, [[1]], [[True]], "codes must be an integer array, not bool"),
])
def test_bad_inputs_raise_one_clear_value_error(fn, cfg, acts, codes, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        fn(np.array(acts), np.array(codes), cfg)


def test_bad_shapes():
    with pytest.raises(ValueError, match=re.escape("acts must have shape (B, N), not (3,)")):
        pe_dot(np.zeros(3, int), np.zeros(3, int), CFG)
    with pytest.raises(ValueError, match=re.escape(
            "codes must have shape (2, 3) or (3,), not (2, 4)")):
        pe_dot(np.zeros((2, 3), int), np.zeros((2, 4), int), CFG)
    with pytest.raises(ValueError, match=re.escape(
            "acts (B, N) and codes (K, N) must agree in N, not (2, 3) and (4, 2)")):
        pe_matmul(np.zeros((2, 3), int), np.zeros((4, 2), int), CFG)
    with pytest.raises(ValueError, match="^cfg must be a PEConfig, not dict$"):
        pe_dot(np.zeros((2, 3), int), np.zeros(3, int), {"wbits": 4})
