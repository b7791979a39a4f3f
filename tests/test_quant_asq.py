"""ASQ activation quantizer: LSQ step gradient and init, adapter shape and start, modes, and
the fixed-point forward against golden.asq_int's integer units."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from asq_hw.quant import ASQActivation, make_adapter
from asq_hw.quant.asq import reciprocal
from golden import asq_int as Q


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
    x = torch.stack([torch.full((3, 2, 2), 0.1), torch.full((3, 2, 2), 0.5)])
    beta = q.beta(x)  # step 1: the adapter sees mean(x) directly
    assert beta[0].item() == Q.BETA_MIN / 2**Q.BETA_FRAC  # ReLU gave 0, clamped to 1/16
    assert beta[1].item() == 0.5  # 3 * 0.5 - 1, exact in the fixed point
    big = torch.full((1, 3, 2, 2), 100.0)
    assert q.beta(big).item() == Q.BETA_MAX / 2**Q.BETA_FRAC


def _integer_pipeline(q, x):
    """(codes, beta codes) of golden.asq_int for the quantizer's input x (float32): u from
    x / s as the forward rounds it, then the integer adapter and requantization."""
    ub = Q.u_bits(q.abits)
    with torch.no_grad():
        u = torch.floor(x / q.step() * 2.0**Q.U_FRAC + 0.5).clamp(-2 ** (ub - 1),
                                                                  2 ** (ub - 1) - 1)
    u = u.long().numpy()
    if q.adapter is None:
        b = np.full(u.shape[0], Q.BETA_ONE)
    else:
        lins = [m for m in q.adapter if isinstance(m, nn.Linear)]
        layers = [Q.adapter_params(m.weight.detach().numpy(), m.bias.detach().numpy(),
                                   Q.U_FRAC if j == 0 else Q.ADAPTER_FRAC)
                  for j, m in enumerate(lins)]
        b = Q.adapter_beta(u, layers, ub)
    return Q.requantize(u, Q.reciprocal(b), ub, q.lo, q.hi), b


@pytest.mark.parametrize("shape,abits,adapter", [((64, 16, 4, 4), 4, True),
                                                 ((64, 6, 3, 3), 3, True),
                                                 ((64, 128), 4, True),
                                                 ((64, 16, 2, 2), 2, False)],
                         ids=["conv", "small-adapter", "linear", "no-adapter"])
def test_forward_is_the_integer_pipeline(shape, abits, adapter):
    torch.manual_seed(7)
    q = ASQActivation(abits, shape[1], adapter=adapter)
    if adapter:
        with torch.no_grad():
            for m in q.adapter:
                if isinstance(m, nn.Linear):
                    m.weight.normal_(0, 0.3)
                    m.bias.uniform_(-0.5, 1.0)
    x = torch.relu(torch.randn(shape) * torch.rand(shape[0]).view((-1,) + (1,) * (
        len(shape) - 1)) * 3)
    y = q(x)  # initialises the step
    codes, beta = q.codes(x)
    ref_codes, ref_b = _integer_pipeline(q, x)
    assert np.array_equal(codes.numpy(), ref_codes)
    assert np.array_equal(beta.numpy(), (ref_b / 2**Q.BETA_FRAC).astype(np.float32))
    assert len(set(ref_b.tolist())) > (1 if adapter else 0)  # per-sample betas vary
    assert torch.equal(y, codes.float() * (q.step() * beta).view((-1,) + (1,) * (x.dim() - 1)))


def test_adapter_gradient_reaches_every_parameter():
    torch.manual_seed(1)
    q = ASQActivation(4, 16)
    with torch.no_grad():
        q.adapter[2].weight.normal_(0, 0.3)
    x = torch.relu(torch.randn(8, 16, 3, 3)) * 2
    q(x)
    (q(x) * torch.randn(8, 16, 3, 3)).sum().backward()
    for p in q.adapter.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


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


def test_reciprocal_is_golden_s_over_the_whole_beta_range():
    b = np.arange(Q.BETA_MIN, Q.BETA_MAX + 1)
    assert np.array_equal(reciprocal(torch.from_numpy(b).double()).long().numpy(),
                          Q.reciprocal(b))
    assert torch.isnan(reciprocal(torch.tensor([float("nan")]))).all()
