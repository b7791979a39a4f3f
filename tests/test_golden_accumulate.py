"""A layer's accumulators: the exact GEMM fast paths against pe_matmul (the golden PE), for
plain rows and for convolutions, at random inputs and at the bound's extremes."""

import numpy as np
import pytest
from layer_configs import CONFIGS, config_id, random_inputs

from golden.accumulate import accumulate, conv_accumulate
from golden.arith import LayerArith
from golden.gemm import plan_gemm
from golden.ops import conv_out_hw, im2col
from golden.pe import pe_dot, pe_matmul

RNG = np.random.default_rng(1234)


@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
@pytest.mark.parametrize("int8", [True, False], ids=["int8", "float"])
def test_fast_accumulate_equals_pe_matmul(cfg, int8):
    arith = LayerArith(*cfg)
    acts, codes = random_inputs(RNG, arith, 40, 6)
    plan = plan_gemm(arith, allow_int8=int8)
    assert plan is not None and (int8 or all(p.dtype != np.int8 for p in plan))
    got = accumulate(acts, codes, arith, allow_int8=int8)
    ref = accumulate(acts, codes, arith, fast=False)
    assert got.dtype == np.int64 and np.array_equal(got, ref)
    if arith.scheme == "post":
        assert np.array_equal(ref, pe_matmul(acts, codes, arith.pe_config()))
        assert np.array_equal(got[:, 2], pe_dot(acts, codes[2], arith.pe_config()))


@pytest.mark.parametrize("variant", ["lut", "dual"])
@pytest.mark.parametrize("stride,padding,kernel", [(1, 1, (3, 3)), (2, 1, (3, 3)),
                                                   (1, 0, (1, 1))])
def test_conv_accumulate_fast_equals_im2col_pe_matmul(variant, stride, padding, kernel):
    arith = LayerArith("post", 4, 4, False, variant, 8, 5 * kernel[0] * kernel[1])
    x = RNG.integers(0, 16, (3, 5, 9, 7))
    codes = RNG.integers(0, 16, (4, arith.n)).astype(np.uint8)
    fast = conv_accumulate(x, codes, kernel, stride, padding, arith)
    slow = conv_accumulate(x, codes, kernel, stride, padding, arith, fast=False)
    assert np.array_equal(fast, slow)
    floats = conv_accumulate(x, codes, kernel, stride, padding, arith, allow_int8=False)
    assert np.array_equal(floats, slow)
    ref = pe_matmul(im2col(x, kernel, stride, padding), codes, arith.pe_config())
    ho, wo = conv_out_hw(9, 7, kernel, stride, padding)
    assert np.array_equal(np.moveaxis(fast, 1, 3).reshape(ref.shape), ref)
    assert fast.shape[:4] == (3, 4, ho, wo)


def test_accumulate_rejects_out_of_range_inputs():
    arith = LayerArith("post", 4, 4, False, "lut", 8, 3)
    with pytest.raises(ValueError, match=r"^acts\[0, 1\] = 16 is out of range"):
        accumulate(np.array([[1, 16, 0]]), np.zeros((1, 3), np.uint8), arith)
    with pytest.raises(ValueError, match=r"^codes\[0, 2\] = 16 is out of range"):
        accumulate(np.array([[1, 1, 0]]), np.array([[0, 1, 16]]), arith)


@pytest.mark.parametrize("cfg", CONFIGS + [("post", 4, 8, True, "lut", 8, 16),
                                           ("post", 3, 6, True, "dual", 8, 64)],
                         ids=config_id)
def test_fast_path_exact_at_the_extremes(cfg):
    """Every weight row a single code, activations all at an extreme: the accumulators
    reach the bound, and the fast path still equals the reference."""
    arith = LayerArith(*cfg)
    codes = np.repeat(np.arange(2**arith.wbits, dtype=np.uint8)[:, None], arith.n, axis=1)
    acts = np.stack([np.full(arith.n, arith.act_max), np.full(arith.n, arith.act_min),
                     RNG.integers(arith.act_min, arith.act_max + 1, arith.n)])
    got = accumulate(acts, codes, arith)
    assert np.array_equal(got, accumulate(acts, codes, arith, fast=False))
    if arith.scheme == "post":  # including the spec's signed power-of-two wrap corner
        assert np.array_equal(got, pe_matmul(acts, codes, arith.pe_config()))
    assert np.abs(got).reshape(3, -1).max() <= arith.acc_bound()
