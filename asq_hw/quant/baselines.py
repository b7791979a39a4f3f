"""Baseline weight quantizers on the POST interface and code layout, for comparison:
power-of-two (POT, base 2) and uniform symmetric integers trained LSQ-style (INT)."""

from __future__ import annotations

import math

import torch
from torch import nn

from asq_hw.quant.post import MIN_SCALE, POSTWeightQuant, SignMagnitudeWeightQuant
from golden.schemes import check_scheme


class POTWeightQuant(POSTWeightQuant):
    """Power-of-two weights +-alpha * 2**(-(m-1)), same code layout and training as POST."""

    scheme = "pot"


class INTWeightQuant(SignMagnitudeWeightQuant):
    """Uniform symmetric weights s * q, q in [-M, M] (M = 2**(wbits-1) - 1), LSQ: the step s
    is learned per output channel, initialised at 2 * mean|w| / sqrt(M), its gradient scaled
    by 1 / sqrt(fan_in * M). Exported as alpha = s * M with sign-magnitude codes (m = |q|)."""

    scheme = "int"

    def __init__(self, wbits: int, channels: int, fan_in: int):
        super().__init__(wbits, channels, fan_in)
        self.step = nn.Parameter(torch.ones(channels))

    def alpha(self) -> torch.Tensor:
        return self.step.clamp_min(MIN_SCALE) * self.big_m

    def alpha_grad_scale(self) -> float:
        # d alpha = M d step: scaling alpha's gradient scales the step's the same way.
        return 1.0 / math.sqrt(self.fan_in * self.big_m)

    @torch.no_grad()
    def init_from(self, weight: torch.Tensor) -> None:
        mean = weight.detach().abs().reshape(self.channels, -1).mean(dim=1)
        self.step.copy_((2 * mean / math.sqrt(self.big_m)).clamp_min(MIN_SCALE))


# The quantizer of each scheme of asq_hw.config.SCHEMES, in that order.
WEIGHT_QUANTS = {q.scheme: q for q in (POSTWeightQuant, POTWeightQuant, INTWeightQuant)}


def make_weight_quant(scheme: str, wbits: int, channels: int, fan_in: int) -> nn.Module:
    """The weight quantizer of `scheme` (one of asq_hw.config.SCHEMES)."""
    check_scheme(scheme)
    return WEIGHT_QUANTS[scheme](wbits, channels, fan_in)
