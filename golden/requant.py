"""Per-sample integer requantization: the host's fixed-point multipliers
(`requant_params`) and their application to accumulators (`requantize`, `output_logits`).

`requantize` turns accumulators into the next layer's activation codes with an integer
multiply, add and arithmetic shift; `output_logits` does the same without the shift for
the last layer (docs/arithmetic.md, "Integer network pipeline"). numpy only.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from golden.arith import LayerArith
from golden.checks import as_int_array


@dataclasses.dataclass(frozen=True)
class Requant:
    """Per-sample integer requantization of one layer.

    mult: int64 (B, K, slots); offset: int64 (B, K); shift: int64 (B,). For activations,
    code = clamp((sum_slots A_slot * mult + offset) >> shift, act_min, act_max) with offset
    already holding the rounding constant 2**(shift-1); for logits, out = sum_slots
    A_slot * mult + offset and logit = out * 2**-shift. Every intermediate fits int64 for
    accumulators within the layer's bound (`requant_params` proves it).
    """

    mult: np.ndarray
    offset: np.ndarray
    shift: np.ndarray


def mult_bits(acc_bound: int) -> int:
    """Multiplier width: the largest |mult| is below 2**mult_bits, at most 31, and
    acc_bound * 2**mult_bits <= 2**62 so the products fit int64 with room for the offset."""
    bits = min(31, 62 - acc_bound.bit_length())
    if bits < 8:
        raise ValueError(f"accumulator bound {acc_bound} leaves {bits} multiplier bits; "
                         "requantization needs at least 8")
    return bits


def requant_params(scale, bias, beta_in, beta_out, arith: LayerArith,
                   logits: bool = False) -> Requant:
    """The host-side fixed-point requantization of a layer for a batch.

    scale (K,): real per-channel multiplier r_k = s_in * alpha_k * g_k / s_out; bias (K,):
    real offset d_k = b_k / s_out (float64; see export.requant_real). beta_in, beta_out
    (B,): the ASQ adapters' betas of the layer's input and output (1 without adapter). The
    real value the codes approximate is v = sum_slots A_slot * m_slot + e with, in float64,

        m_slot = r_k * f_slot * (beta_in / beta_out),   e = d_k / beta_out

    (f_slot = arith.slot_factors()). Per sample the shift is the largest R <= 62 with
    max_k |m| * 2**R < 2**mult_bits and max_k |e| * 2**R < 2**61; then mult =
    rint(m * 2**R), offset = rint(e * 2**R) + 2**(R-1) (activations) or rint(e * 2**R)
    (logits). np.rint rounds half to even; ldexp is exact.
    """
    scale = np.asarray(scale, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    beta_in = np.asarray(beta_in, dtype=np.float64)
    beta_out = np.asarray(beta_out, dtype=np.float64)
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(bias))):
        raise ValueError("requantization scale and bias must be finite")
    if not (np.all(beta_in > 0) and np.all(beta_out > 0)
            and np.all(np.isfinite(beta_in)) and np.all(np.isfinite(beta_out))):
        raise ValueError("beta must be finite and positive")
    factors = np.array(arith.slot_factors())
    ratio = beta_in / beta_out
    m = scale[None, :, None] * factors[None, None, :] * ratio[:, None, None]  # (B, K, S)
    e = bias[None, :] * (1.0 / beta_out)[:, None]                              # (B, K)
    bits = mult_bits(arith.acc_bound())
    # floor(log2 |v|) = frexp exponent - 1, exactly.
    m_max = np.abs(m).reshape(m.shape[0], -1).max(axis=1)
    e_max = np.abs(e).max(axis=1) if e.shape[1] else np.zeros(m.shape[0])
    r_m = np.where(m_max > 0, bits - np.frexp(m_max)[1], 62)
    r_e = np.where(e_max > 0, 61 - np.frexp(e_max)[1], 62)
    shift = np.minimum(np.minimum(r_m, r_e), 62).astype(np.int64)
    if np.any(shift < 1):
        raise ValueError("requantization multiplier too large for a shift of at least 1 "
                         f"(largest |m| {m_max.max():.3g}, |e| {e_max.max():.3g})")
    mult = np.rint(np.ldexp(m, shift[:, None, None])).astype(np.int64)
    offset = np.rint(np.ldexp(e, shift[:, None])).astype(np.int64)
    if not logits:
        offset = offset + (np.int64(1) << (shift - 1))[:, None]
    return Requant(mult, offset, shift)


def _as_slots(acc: np.ndarray, arith: LayerArith) -> np.ndarray:
    """acc (B, K, ...) or (B, K, ..., 2) -> (B, K, ..., slots)."""
    return acc[..., None] if arith.slots == 1 else acc


def _check_acc(acc: np.ndarray, arith: LayerArith) -> None:
    total = np.abs(acc).sum(axis=-1)
    bound = arith.acc_bound()
    if total.size and total.max() > bound:
        raise ValueError(f"accumulator magnitude {int(total.max())} exceeds the layer's bound "
                         f"{bound}: not an accumulator of this layer")


def _affine(acc: np.ndarray, rq: Requant, arith: LayerArith) -> np.ndarray:
    """sum_slots A_slot * mult + offset as int64, acc (B, K, *spatial[, 2])."""
    acc = as_int_array("accumulators", acc)
    b, k = acc.shape[:2]
    if rq.mult.shape[:2] != (b, k):
        raise ValueError(f"requantization parameters are for (B, K) = {rq.mult.shape[:2]}, "
                         f"accumulators have {(b, k)}")
    a = _as_slots(acc.astype(np.int64), arith)
    _check_acc(a, arith)
    spatial = a.ndim - 3
    expand = (slice(None), slice(None)) + (None,) * spatial
    total = rq.offset[expand].copy()
    total = np.broadcast_to(total, a.shape[:-1]).copy()
    for s in range(arith.slots):
        total += a[..., s] * rq.mult[..., s][expand]  # |.| <= bound * 2**mult_bits <= 2**62
    return total


def requantize(acc: np.ndarray, rq: Requant, arith: LayerArith, act_min: int,
               act_max: int) -> np.ndarray:
    """Next-layer activation codes from accumulators (B, K, *spatial[, 2]):
    clamp((sum_slots A * mult + offset) >> shift, act_min, act_max), int64. The shift is
    arithmetic (floor), so with offset's 2**(shift-1) this is round half up of v."""
    total = _affine(acc, rq, arith)
    sh = rq.shift.reshape((-1,) + (1,) * (total.ndim - 1))
    return np.clip(total >> sh, act_min, act_max)


def output_logits(acc: np.ndarray, rq: Requant, arith: LayerArith) -> np.ndarray:
    """Integer logits sum_slots A * mult + offset (B, K) int64; real logits are these times
    2**-shift (per sample), so argmax over the integers is the prediction."""
    return _affine(acc, rq, arith)


