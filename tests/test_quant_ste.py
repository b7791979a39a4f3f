"""Straight-through estimators: exact forward values, the documented gradients."""

import torch

from asq_hw.quant.ste import grad_scale, replace_ste, round_ste


def test_round_ste_forward_is_round_half_even_and_gradient_identity():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, 0.49, 2.51], requires_grad=True)
    y = round_ste(x)
    assert y.tolist() == [0.0, 2.0, 2.0, -0.0, 0.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0] * 6


def test_grad_scale_keeps_value_bit_exact_and_scales_gradient():
    # x - x*g + x*g is not always x in float; grad_scale must return x itself.
    x = torch.tensor([0.1, 1e-7, 3.3333333, 12345.678], requires_grad=True)
    y = grad_scale(x, 0.37)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert torch.allclose(x.grad, 0.37 * torch.tensor([1.0, 2.0, 3.0, 4.0]))


def test_replace_ste_forwards_value_and_masks_gradient():
    x = torch.tensor([0.2, 1.7, -3.0], requires_grad=True)
    value = torch.tensor([0.25, 1.0, -1.0])
    y = replace_ste(x, value, x.abs() <= 1)
    assert torch.equal(y, value)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0]
