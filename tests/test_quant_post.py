"""POST weight quantizer: spec levels, codes identical to golden, STE and alpha gradients."""

import math

import numpy as np
import pytest
import torch

from asq_hw.quant import POSTWeightQuant
from golden.codes import encode, levels, thresholds


def _quant(wbits=4, channels=3, fan_in=8):
    return POSTWeightQuant(wbits, channels, fan_in)


@pytest.mark.parametrize("wbits", [2, 3, 4, 5, 6])
def test_levels_are_the_spec_levels(wbits):
    q = _quant(wbits, channels=1)
    assert np.array_equal(q.levels.double().numpy(), levels(wbits).astype(np.float32))
    assert len(set(q.levels.tolist())) == 2**wbits - 1  # sign + magnitude, +0 == -0


@pytest.mark.parametrize("wbits", [2, 3, 4, 5, 6])
def test_codes_equal_golden_encode_including_ties_and_clipping(wbits):
    q = _quant(wbits, channels=1, fan_in=1)
    t = thresholds(wbits)
    # Exact thresholds (ties go to the larger magnitude), neighbours, out of range, zero.
    vals = np.concatenate([t, -t, np.nextafter(t, 0), np.nextafter(t, 2), [0.0, -0.0, 1.0,
                           -1.0, 1.5, -7.0, 1e-30]], dtype=np.float64)
    u32 = vals.astype(np.float32)
    rng = np.random.default_rng(wbits)
    u32 = np.concatenate([u32, rng.normal(0, 0.6, 2000).astype(np.float32)])
    mine = q.encode(torch.from_numpy(u32)).numpy()
    assert np.array_equal(mine, encode(u32.astype(np.float64), wbits))
    assert not np.any(mine == 1 << (wbits - 1))  # zero is written as code 0


def test_codes_method_uses_alpha_per_channel_and_matches_forward():
    torch.manual_seed(0)
    w = torch.randn(3, 2, 3, 3)
    q = _quant(4, channels=3, fan_in=18)
    q.init_from(w)
    codes = q.codes(w)
    assert codes.dtype == torch.uint8 and codes.shape == w.shape
    u = (w / q.alpha().detach().view(-1, 1, 1, 1)).double().numpy()
    assert np.array_equal(codes.numpy(), encode(u, 4))
    wq = q(w)
    expect = torch.from_numpy(levels(4)).float()[codes.long()] * q.alpha().view(-1, 1, 1, 1)
    assert torch.equal(wq, expect)


def test_alpha_init_is_the_099_quantile_of_abs_w_per_channel():
    torch.manual_seed(1)
    w = torch.randn(4, 50) * torch.tensor([[0.1], [1.0], [3.0], [0.01]])
    q = _quant(4, channels=4, fan_in=50)
    q.init_from(w)
    expect = torch.quantile(w.abs(), 0.99, dim=1)
    assert torch.allclose(q.alpha(), expect)


def test_ste_passes_gradient_inside_clip_range_only():
    q = _quant(4, channels=1, fan_in=4)
    with torch.no_grad():
        q.alpha_raw.fill_(1.0)
    w = torch.tensor([[0.3, -0.9, 1.2, -2.0]], requires_grad=True)
    q(w).sum().backward()
    assert w.grad.tolist() == [[1.0, 1.0, 0.0, 0.0]]


def test_alpha_gradient_is_lsq_form_scaled_by_inverse_sqrt_fan_in():
    fan_in = 16
    q = _quant(4, channels=2, fan_in=fan_in)
    torch.manual_seed(2)
    w = torch.randn(2, fan_in) * 0.6
    with torch.no_grad():
        q.alpha_raw.copy_(torch.tensor([0.8, 1.1]))
    g_out = torch.randn(2, fan_in)
    (q(w) * g_out).sum().backward()
    # d w_q / d alpha = level - u inside [-1, 1], sign(u) outside; times 1/sqrt(fan_in).
    u = w / q.alpha().detach().view(-1, 1)
    lev = q.levels[q.encode(u)]
    d = torch.where(u.abs() <= 1, lev - u, torch.sign(u))
    expect = (g_out * d).sum(dim=1) / math.sqrt(fan_in)
    assert torch.allclose(q.alpha_raw.grad, expect, atol=1e-6)


def test_disabled_quantizer_is_identity():
    q = _quant()
    q.enabled = False
    w = torch.randn(3, 8)
    assert q(w) is w


def test_nan_weights_are_refused_by_codes():
    q = _quant(4, channels=1, fan_in=2)
    with pytest.raises(ValueError, match=r"^weights must be finite"):
        q.codes(torch.tensor([[0.5, float("nan")]]))
