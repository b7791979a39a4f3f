"""ASQ activation quantizer: LSQ step gradient and init, adapter shape and start, modes."""

import math

import pytest
import torch
from torch import nn

from asq_hw.config import MIN_BETA
from asq_hw.quant import ASQActivation, make_adapter


def test_adapter_shapes_follow_the_channel_rule():
    big = make_adapter(32)
    assert [type(m) for m in big] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU]
    assert (big[0].in_features, big[0].out_features, big[2].out_features) == (32, 8, 1)
    small = make_adapter(3)
    assert [type(m) for m in small] == [nn.Linear, nn.ReLU]
    assert (small[0].in_features, small[0].out_features) == (3, 1)


@pytest.mark.parametrize("channels", [3, 16])
def test_beta_starts_at_one(channels):
    q = ASQActivation(4, channels)
    x = torch.rand(5, channels, 4, 4) * 3
    assert torch.equal(q.beta(x), torch.ones(5))


def test_beta_is_clamped_and_per_sample():
    q = ASQActivation(4, 3)
    with torch.no_grad():
        q.adapter[0].weight.fill_(1.0)
        q.adapter[0].bias.fill_(-1.0)
    x = torch.stack([torch.full((3, 2, 2), 0.1), torch.full((3, 2, 2), 2.0)])
    beta = q.beta(x)
    assert beta[0].item() == pytest.approx(MIN_BETA)  # ReLU gave 0, clamped
    assert beta[1].item() == pytest.approx(5.0)


def test_forward_is_codes_times_scale_and_matches_codes_method():
    torch.manual_seed(0)
    q = ASQActivation(4, 16)
    with torch.no_grad():
        q.adapter[2].weight.normal_(0, 0.2)
    x = torch.randn(6, 16, 3, 3).abs() * 2
    y = q(x)  # first call initialises the step
    codes, beta = q.codes(x)
    assert codes.min() >= 0 and codes.max() <= 15
    scale = (q.step() * beta).view(-1, 1, 1, 1)
    assert torch.equal(y, codes.float() * scale)


def test_step_init_is_lsq():
    q = ASQActivation(4, 2, adapter=False)
    x = torch.rand(8, 2, 5, 5)
    q(x)
    assert q.step().item() == pytest.approx((2 * x.abs().mean() / math.sqrt(15)).item())


def test_step_gradient_is_lsq_with_gradient_scale():
    q = ASQActivation(3, 2, adapter=False)
    with torch.no_grad():
        q.step_raw.fill_(0.3)
    q.initialized.fill_(True)
    torch.manual_seed(4)
    x = torch.randn(4, 2, 3, 3) * 1.5
    g = torch.randn_like(x)
    (q(x) * g).sum().backward()
    v = x / 0.3
    d = torch.where(v < 0, torch.zeros_like(v),
                    torch.where(v > 7, torch.full_like(v, 7.0), torch.round(v) - v))
    expect = (g * d).sum() / math.sqrt(2 * 3 * 3 * 7)
    assert q.step_raw.grad.item() == pytest.approx(expect.item(), rel=1e-5)


def test_signed_mode_range_and_no_adapter():
    q = ASQActivation(8, 1, adapter=False, signed=True)
    assert (q.lo, q.hi, q.adapter) == (-128, 127, None)
    with torch.no_grad():
        q.step_raw.fill_(0.01)
    q.initialized.fill_(True)
    codes, beta = q.codes(torch.tensor([[-5.0, -1.0, 0.004, 0.006, 9.0]]))
    assert codes.tolist() == [[-128, -100, 0, 1, 127]]
    assert beta.tolist() == [1.0]


def test_disabled_is_identity():
    q = ASQActivation(4, 3)
    q.enabled = False
    x = torch.randn(2, 3)
    assert q(x) is x
