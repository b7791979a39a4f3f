"""ASQ activation quantizer: LSQ with a per-sample step scale beta from a small adapter."""

from __future__ import annotations

import math

import torch
from torch import nn

from asq_hw.config import MIN_BETA  # beta >= MIN_BETA: the adapter's ReLU can output 0
from asq_hw.quant.post import MIN_SCALE
from asq_hw.quant.ste import grad_scale, round_ste


def make_adapter(channels: int) -> nn.Sequential:
    """GAP features (B, C) -> beta (B, 1): Linear(C, C//4) -> ReLU -> Linear(C//4, 1) -> ReLU
    for C >= 8, else Linear(C, 1) -> ReLU. The last Linear starts at weight 0, bias 1, so
    beta starts at exactly 1 (plain LSQ) and the adapter learns from there."""
    if channels >= 8:
        layers = [nn.Linear(channels, channels // 4), nn.ReLU(),
                  nn.Linear(channels // 4, 1), nn.ReLU()]
    else:
        layers = [nn.Linear(channels, 1), nn.ReLU()]
    last = layers[-2]
    nn.init.zeros_(last.weight)
    nn.init.ones_(last.bias)
    return nn.Sequential(*layers)


def global_pool(x: torch.Tensor) -> torch.Tensor:
    """(B, C, ...) -> (B, C): the mean over every dimension after the channel one."""
    return x.mean(dim=tuple(range(2, x.dim()))) if x.dim() > 2 else x


class ASQActivation(nn.Module):
    """b-bit activation quantizer x -> clamp(round(x / (s * beta)), lo, hi) * s * beta.

    Unsigned (lo = 0, hi = 2**b - 1) by default; `signed=True` gives two's complement
    (-2**(b-1) .. 2**(b-1) - 1), the network input's mode. s: a learned step (LSQ: gradient
    scaled by 1 / sqrt(numel per sample * hi), initialised on the first batch at 2 mean|x| /
    sqrt(hi)). beta: per sample, from the adapter on the global average pool of x, clamped
    to >= 1e-8; None (beta = 1) with adapter=False.
    """

    def __init__(self, abits: int, channels: int, adapter: bool = True, signed: bool = False):
        super().__init__()
        self.abits, self.channels, self.signed = abits, channels, signed
        self.lo = -(2 ** (abits - 1)) if signed else 0
        self.hi = 2 ** (abits - 1) - 1 if signed else 2**abits - 1
        self.enabled = True
        self.step_raw = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("initialized", torch.tensor(False))
        self.adapter = make_adapter(channels) if adapter else None

    def step(self) -> torch.Tensor:
        """The learned step s as the forward uses it (float32 scalar)."""
        return self.step_raw.clamp_min(MIN_SCALE)

    def beta(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-sample beta (B,), or None without adapter."""
        if self.adapter is None:
            return None
        return self.adapter(global_pool(x)).clamp_min(MIN_BETA).view(-1)

    @torch.no_grad()
    def init_from(self, x: torch.Tensor) -> None:
        self.step_raw.copy_((2 * x.abs().mean() / math.sqrt(self.hi)).clamp_min(MIN_SCALE))
        self.initialized.fill_(True)

    def scale(self, x: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """s * beta, shaped to broadcast against x."""
        beta = self.beta(x)
        if beta is None:
            return step
        return step * beta.view((-1,) + (1,) * (x.dim() - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if not bool(self.initialized):
            self.init_from(x)
        s = grad_scale(self.step(), 1.0 / math.sqrt(x[0].numel() * self.hi))
        scale = self.scale(x, s)
        q = round_ste(torch.clamp(x / scale, self.lo, self.hi))  # LSQ: clip, then round
        return q * scale

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(integer codes as int64, per-sample beta (B,) with 1 when there is no adapter)."""
        scale = self.scale(x, self.step())
        q = torch.clamp(torch.round(x / scale), self.lo, self.hi).long()
        beta = self.beta(x)
        return q, (torch.ones(x.shape[0]) if beta is None else beta)

    def extra_repr(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"abits={self.abits}, {kind}, adapter={self.adapter is not None}"
