"""Reference models of the baseline PEs (hw.baselines.IntPE / PotPE), wrapped like the
hardware.

- `int`: uniform INT quantization, the weight code is a two's complement `wbits` integer w
  and each term is x * w.
- `pot`: power-of-two quantization with the POST code format (sign bit, magnitude m, m = 0
  is zero) but whole-power levels 2**-(m-1); the integer term is sgn * (x << (M - m)).

Their accumulator defaults to their own safe width for `max_len` terms
(`baseline_acc_bits`). numpy only.
"""

from __future__ import annotations

import numpy as np

from asq_hw.config import PEConfig
from asq_hw.designs import DESIGN_KINDS

# The baseline PEs of asq_hw.designs.DESIGN_KINDS.
KINDS = tuple(k for k in DESIGN_KINDS if k != "post")


def baseline_weights(kind: str, codes, wbits: int) -> np.ndarray:
    """Integer weight of each code: two's complement (int) or sgn * 2**(M - m) (pot)."""
    c = np.asarray(codes, dtype=np.int64)
    if kind == "int":
        return np.where(c >= 1 << (wbits - 1), c - (1 << wbits), c)
    big_m = 2 ** (wbits - 1) - 1
    s, m = c >> (wbits - 1), c & big_m
    return np.where(m == 0, 0, np.where(s == 1, -1, 1) << (big_m - np.maximum(m, 1)))


def _weight_range(kind: str, wbits: int) -> tuple[int, int]:
    w = baseline_weights(kind, np.arange(1 << wbits), wbits)
    return int(w.min()), int(w.max())


def range_width(lo: int, hi: int) -> int:
    """Fewest bits of a two's complement (lo < 0) or unsigned register holding lo .. hi:
    the width of amaranth's Shape.cast(range(lo, hi + 1))."""
    if lo < 0:
        return 1 + max((-lo - 1).bit_length(), hi.bit_length())
    return hi.bit_length()


def baseline_acc_bits(kind: str, cfg: PEConfig) -> int:
    """Smallest two's complement width that holds any sum of `max_len` terms."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    wlo, whi = _weight_range(kind, cfg.wbits)
    prods = [a * w for a in (cfg.act_min, cfg.act_max) for w in (wlo, whi)]
    n = cfg.max_len
    return range_width(n * min(prods), n * max(prods))


def _wrap(a: np.ndarray, bits: int) -> np.ndarray:
    if bits >= 64:
        return a
    r = a & ((1 << bits) - 1)
    return np.where(r >= 1 << (bits - 1), r - (1 << bits), r)


def baseline_dot(kind: str, acts, codes, cfg: PEConfig, acc_bits: int | None = None):
    """Reference dot products of a baseline PE: acts (B, N), codes (B, N) or (N,) ->
    int64 (B,), wrapped to `acc_bits` (default `baseline_acc_bits`)."""
    acc_bits = baseline_acc_bits(kind, cfg) if acc_bits is None else acc_bits
    acts = np.asarray(acts, dtype=np.int64)
    w = baseline_weights(kind, codes, cfg.wbits)
    return _wrap((acts * w).sum(axis=-1), acc_bits)


def int_dot(acts, codes, cfg: PEConfig, acc_bits: int | None = None):
    return baseline_dot("int", acts, codes, cfg, acc_bits)


def pot_dot(acts, codes, cfg: PEConfig, acc_bits: int | None = None):
    return baseline_dot("pot", acts, codes, cfg, acc_bits)
