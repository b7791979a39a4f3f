"""POST weight quantizer (spec section 1) and the sign-magnitude machinery it shares with the
power-of-two and uniform baselines (asq_hw.quant.baselines).

Codes come from the golden tables (golden.schemes.weight_thresholds / rank_to_m, numpy
only; for `post` they are golden.codes' levels and thresholds): u = w / alpha is compared in
float64 with the float64 thresholds exactly as golden.codes.encode does, so the codes the
forward pass uses are the codes export writes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from asq_hw.quant.ste import grad_scale, replace_ste
from golden.schemes import rank_to_m, weight_levels, weight_thresholds

# alpha and steps never reach zero: a zero scale would make u = w / alpha infinite.
MIN_SCALE = 1e-8


class SignMagnitudeWeightQuant(nn.Module):
    """Per-output-channel weight quantizer onto the spec's sign-magnitude code layout.

    Forward: u = w / alpha (per output channel), clipped to [-1, 1], nearest level of the
    scheme in the linear domain (a tie to the larger magnitude), times alpha. Gradient:
    straight through to w inside the clipping range, zero outside; to alpha the LSQ
    gradient (level - u inside, sign(u) outside) scaled by `alpha_grad_scale()`.
    Subclasses choose the scheme, the parameter and its initialisation.
    """

    scheme = "post"

    def __init__(self, wbits: int, channels: int, fan_in: int):
        super().__init__()
        self.wbits, self.channels, self.fan_in = wbits, channels, fan_in
        self.big_m = 2 ** (wbits - 1) - 1
        self.enabled = True
        self.register_buffer("thresholds", torch.from_numpy(
            weight_thresholds(self.scheme, wbits)), persistent=False)
        self.register_buffer("rank_to_m", torch.from_numpy(
            rank_to_m(self.scheme, wbits)), persistent=False)
        self.register_buffer("levels", torch.from_numpy(
            weight_levels(self.scheme, wbits)).float(), persistent=False)

    # -- to be provided by subclasses
    def alpha(self) -> torch.Tensor:
        """The clipping scale per output channel (K,), float32, as the forward uses it."""
        raise NotImplementedError

    def alpha_grad_scale(self) -> float:
        raise NotImplementedError

    def init_from(self, weight: torch.Tensor) -> None:
        raise NotImplementedError

    # -- shared
    def normalized(self, weight: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return weight / alpha.view((-1,) + (1,) * (weight.dim() - 1))

    def encode(self, u: torch.Tensor) -> torch.Tensor:
        """int64 codes of normalised weights u, identical to golden encode_weights(u)."""
        a = u.detach().double().abs().clamp(max=1.0)
        rank = torch.searchsorted(self.thresholds, a.reshape(-1), right=True).view(a.shape)
        m = self.rank_to_m[rank]
        s = ((u.detach() < 0) & (m > 0)).long()
        return (s << (self.wbits - 1)) | m

    @torch.no_grad()
    def codes(self, weight: torch.Tensor) -> torch.Tensor:
        """uint8 codes (K, ...) of `weight`, as the forward pass quantizes it."""
        u = self.normalized(weight, self.alpha())
        if not torch.isfinite(u).all():
            raise ValueError("weights must be finite, not NaN or inf")
        return self.encode(u).to(torch.uint8)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return weight
        alpha = grad_scale(self.alpha(), self.alpha_grad_scale())
        u = self.normalized(weight, alpha)
        q = replace_ste(u, self.levels[self.encode(u)], u.abs() <= 1)
        return q * alpha.view((-1,) + (1,) * (weight.dim() - 1))

    def extra_repr(self) -> str:
        return f"{self.scheme}, wbits={self.wbits}, channels={self.channels}"


class POSTWeightQuant(SignMagnitudeWeightQuant):
    """POST weights +-alpha * 2**(-e/2): alpha learned per output channel, initialised at the
    0.99 quantile of |w| in the channel, its gradient scaled by 1 / sqrt(fan_in)."""

    scheme = "post"

    def __init__(self, wbits: int, channels: int, fan_in: int):
        super().__init__(wbits, channels, fan_in)
        self.alpha_raw = nn.Parameter(torch.ones(channels))

    def alpha(self) -> torch.Tensor:
        return self.alpha_raw.clamp_min(MIN_SCALE)

    def alpha_grad_scale(self) -> float:
        return 1.0 / math.sqrt(self.fan_in)

    @torch.no_grad()
    def init_from(self, weight: torch.Tensor) -> None:
        q = torch.quantile(weight.detach().abs().reshape(self.channels, -1), 0.99, dim=1)
        self.alpha_raw.copy_(q.clamp_min(MIN_SCALE))
