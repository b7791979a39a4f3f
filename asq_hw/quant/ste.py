"""Straight-through estimators as tiny autograd functions.

Each forward returns its value exactly (no `x + (f(x) - x).detach()` trick, whose float
rounding can move a quantized value off its grid), so the fake-quantized tensors are exact
multiples of their scales and the exported integers equal what the forward used.
"""

from __future__ import annotations

import torch


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)  # half to even, as numpy.rint

    @staticmethod
    def backward(ctx, g):
        return g


class _GradScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale: float):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.scale, None


class _Replace(torch.autograd.Function):
    """Forward `value`; backward the gradient to `x` where `mask` holds, else zero."""

    @staticmethod
    def forward(ctx, x, value, mask):
        ctx.save_for_backward(mask)
        return value.view_as(value)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None, None


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity gradient."""
    return _RoundSTE.apply(x)


def grad_scale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """x forward, gradient multiplied by `scale` (LSQ's step-size gradient scaling)."""
    return _GradScale.apply(x, float(scale))


def replace_ste(x: torch.Tensor, value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`value` forward (a quantized x), gradient passed straight to x where `mask` (the
    clipping range) holds and zero outside: the clipped straight-through estimator."""
    return _Replace.apply(x, value.detach(), mask.to(x.dtype).detach())


class _RoundHalfUpSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x + 0.5)  # the hardware's add-half-then-shift rounding

    @staticmethod
    def backward(ctx, g):
        return g


def round_half_up_ste(x: torch.Tensor) -> torch.Tensor:
    """floor(x + 1/2) forward (round half up, as `(v + 2**(s-1)) >> s`), identity gradient."""
    return _RoundHalfUpSTE.apply(x)
