"""ASQ activation quantizer: LSQ with a per-sample step scale beta from a small adapter.

An unsigned quantizer quantizes the output of a compute layer, which the integer network
requantizes with the fixed-point steps of golden.asq_int (docs/arithmetic.md, "Integer
ASQ"); its forward computes those same steps in floating point, exactly where it can:

    z    = x / s, rounded half up to U_FRAC fractional bits and saturated (u)
    beta = the adapter on the mean of z: int8 weights with a power-of-two scale per layer,
           activations rounded to ADAPTER_FRAC bits, beta a BETA_FRAC-bit code in
           [BETA_MIN, BETA_MAX] (beta >= 1/16: the adapter's ReLU output 0)
    q    = clamp(round_half_up(z * R(beta)), lo, hi), R = the reciprocal of golden.asq_int
    out  = q * s * beta

Every rounding is a straight-through estimator; the arithmetic after the input's float32
division runs in float64, where these integer-valued operands are exact. Without adapter
beta = 1 and R = 1. The signed quantizer (the network input) is plain LSQ in float32.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from asq_hw.quant.post import MIN_SCALE
from asq_hw.quant.ste import grad_scale, replace_ste, round_half_up_ste, round_ste
from golden import asq_int as Q


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


def _sat(t: torch.Tensor, bits: int, signed: bool = True) -> torch.Tensor:
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return t.clamp(lo, hi)


def adapter_code(adapter: nn.Sequential, u: torch.Tensor, ubits: int) -> torch.Tensor:
    """The beta code (B,) float64 (integer-valued) of golden.asq_int.adapter_beta for u
    (B, C, ...) float64, integer-valued in units of 2**-U_FRAC; differentiable (STE)."""
    if u.dim() > 2:
        pm, ps = Q.pool_params(math.prod(u.shape[2:]))
        h = _sat(round_half_up_ste(u.flatten(2).sum(2) * (pm * 2.0**-ps)), ubits)
    else:
        h = u
    linears = [m for m in adapter if isinstance(m, nn.Linear)]
    frac = Q.U_FRAC
    blim = 2 ** (Q.ADAPTER_BIAS_BITS - 1) - 1
    for j, lin in enumerate(linears):
        e = Q.adapter_exp(float(lin.weight.detach().abs().max()))
        w = round_ste(lin.weight * 2.0**e).clamp(-Q.ADAPTER_WMAX, Q.ADAPTER_WMAX).double()
        b = round_ste(lin.bias.double() * 2.0 ** (frac + e)).clamp(-blim, blim)
        out = round_half_up_ste((h @ w.T + b) * 2.0**-e)
        if j == len(linears) - 1:
            return out[:, 0].clamp(Q.BETA_MIN, Q.BETA_MAX)
        h = _sat(out, Q.ADAPTER_ACT_BITS, signed=False)
        frac = Q.ADAPTER_FRAC
    raise ValueError("an adapter needs at least one Linear layer")


def reciprocal(code: torch.Tensor) -> torch.Tensor:
    """golden.asq_int.reciprocal of integer-valued float64 beta codes: floor((2**RECIP_SHIFT
    + floor(b / 2)) / b), exact in float64 (the quotient of integers below 2**21 is never
    within rounding of an integer it does not equal); NaN stays NaN, so a diverged model
    reaches export's finiteness check."""
    return torch.floor((2.0**Q.RECIP_SHIFT + torch.floor(code / 2)) / code)


class ASQActivation(nn.Module):
    """b-bit activation quantizer x -> clamp(round(x / (s * beta)), lo, hi) * s * beta.

    Unsigned (lo = 0, hi = 2**b - 1) by default, in the fixed-point form above; `signed=True`
    gives two's complement (-2**(b-1) .. 2**(b-1) - 1) in float32 (round half to even),
    the network input's mode. s: a learned step (LSQ: gradient scaled by 1 / sqrt(numel
    per sample * hi), initialised on the first batch at 2 mean|x| / sqrt(hi)). beta: per
    sample, from the adapter on the global average pool of x / s; 1 with adapter=False.
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
        if signed and adapter:
            raise ValueError("the signed (network input) quantizer has no adapter")

    def step(self) -> torch.Tensor:
        """The learned step s as the forward uses it (float32 scalar)."""
        return self.step_raw.clamp_min(MIN_SCALE)

    @torch.no_grad()
    def init_from(self, x: torch.Tensor) -> None:
        self.step_raw.copy_((2 * x.abs().mean() / math.sqrt(self.hi)).clamp_min(MIN_SCALE))
        self.initialized.fill_(True)

    def _fixed_point(self, x: torch.Tensor, s: torch.Tensor):
        """(q (float64 integer-valued codes), beta (B,) float32) of the unsigned form."""
        ubits = Q.u_bits(self.abits)
        u = _sat(round_half_up_ste(x / s * 2.0**Q.U_FRAC), ubits).double()
        if self.adapter is None:
            code = torch.full((x.shape[0],), float(Q.BETA_ONE), dtype=torch.float64)
        else:
            code = adapter_code(self.adapter, u, ubits)
        beta = code * 2.0**-Q.BETA_FRAC
        inv = reciprocal(code.detach()) * 2.0 ** (Q.BETA_FRAC - Q.RECIP_SHIFT)
        inv = replace_ste(1.0 / beta, inv, torch.ones_like(inv))  # d(1/beta) backward
        shape = (-1,) + (1,) * (x.dim() - 1)
        t = u * 2.0**-Q.U_FRAC * inv.view(shape)
        return round_half_up_ste(torch.clamp(t, self.lo, self.hi)), beta.float()

    def scaled_step(self, x: torch.Tensor) -> torch.Tensor:
        """The step s for input x with LSQ's gradient scale (initialising it on the first
        call)."""
        if not bool(self.initialized):
            self.init_from(x)
        return grad_scale(self.step(), 1.0 / math.sqrt(x[0].numel() * self.hi))

    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(q, beta, s) of the unsigned form with gradients: q float64 integer-valued codes,
        beta (B,) float32 (its code is beta * 2**BETA_FRAC), s the step; the forward output
        is q * s * beta. A residual block's identity shortcut reads q and beta."""
        s = self.scaled_step(x)
        q, beta = self._fixed_point(x, s)
        return q, beta, s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if self.signed:
            s = self.scaled_step(x)
            q = round_ste(torch.clamp(x / s, self.lo, self.hi))  # LSQ: clip, then round
            return q * s
        q, beta, s = self.quantize(x)
        return q.float() * (s * beta).view((-1,) + (1,) * (x.dim() - 1))

    @torch.no_grad()
    def beta(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample beta (B,) float32 (1 without adapter): a BETA_FRAC-bit fixed-point
        value in [BETA_MIN, BETA_MAX] / 2**BETA_FRAC."""
        if self.signed:
            return torch.ones(x.shape[0])
        return self._fixed_point(x, self.step())[1]

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(integer codes as int64, per-sample beta (B,), 1 without adapter)."""
        s = self.step()
        if self.signed:
            return torch.clamp(torch.round(x / s), self.lo, self.hi).long(), \
                torch.ones(x.shape[0])
        q, beta = self._fixed_point(x, s)
        return q.long(), beta

    def extra_repr(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"abits={self.abits}, {kind}, adapter={self.adapter is not None}"
