"""Integer-only ASQ: from a layer's accumulators to the next layer's codes, per sample.

The fixed-point contract of docs/arithmetic.md, "Integer ASQ", one function per hardware
unit. Every function takes integer arrays and returns int64 arrays, checks its inputs
against the widths the contract gives them and checks its result against the width it
proves (ValueError naming the operand otherwise). Only `static_scale` and
`adapter_params`, which run once at export time, read floats.

Per compute layer and sample, with b_in the input's beta code (BETA_ONE without adapter):

    M     = sample_mult(C, b_in)              C * b_in, per output channel and slot
    u     = rescale(acc, M, D, shift, ubits)  the output in units of the next static step,
                                              U_FRAC fractional bits, saturated
    u     = relu / maxpool / flatten (u)      the integer ops between the layers
    p     = global_pool(u)                    mean over positions, U_FRAC fractional bits
    h     = adapter_layer(p, W, B, E)         Linear + ReLU, ADAPTER_FRAC fractional bits
    b_out = beta_code(h, W, B, E)             the last Linear, clamped to the beta range
    codes = requantize(u, reciprocal(b_out), lo, hi)

The last layer's logits are the unshifted `logits(acc, M, D)`. asq_hw.quant.asq models the
same steps in the fake-quant forward, so training sees the numbers the hardware computes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# u, the rescaled layer output, and every adapter activation carry 8 fractional bits.
U_FRAC = 8
ADAPTER_FRAC = 8
# Hidden adapter activations (after ReLU) saturate at this unsigned width (real < 256).
ADAPTER_ACT_BITS = 16
# Adapter weights: int8 in [-127, 127] times 2**-E, E in ADAPTER_EXP_RANGE per Linear layer.
ADAPTER_WMAX = 127
ADAPTER_EXP_RANGE = (0, 15)
# Adapter biases: int32 with the layer's accumulator fraction (input fraction + E).
ADAPTER_BIAS_BITS = 32
# beta = b / 2**BETA_FRAC with the unsigned BETA_BITS-bit code b in [BETA_MIN, BETA_MAX]:
# beta in [1/16, 1023/256]. The adapter's ReLU output 0 gives beta = 1/16.
BETA_FRAC = 8
BETA_BITS = 10
BETA_ONE = 1 << BETA_FRAC
BETA_MIN = 16
BETA_MAX = (1 << BETA_BITS) - 1
# reciprocal(b) = round(2**RECIP_SHIFT / b): 1 / beta with RECIP_SHIFT - BETA_FRAC
# fractional bits, 17 bits unsigned over the beta range.
RECIP_SHIFT = 20
RECIP_BITS = (((1 << RECIP_SHIFT) + BETA_MIN // 2) // BETA_MIN).bit_length()
# The static per-channel multiplier C has at most this many bits (two's complement).
SCALE_BITS_MAX = 24
SCALE_BITS_MIN = 8
# A non-power-of-two pool divisor is a multiplier of POOL_FRAC + 1 bits.
POOL_FRAC = 16
# int64 products and sums stay below this magnitude (one bit of headroom).
INT64_SAFE = 1 << 62


def u_bits(abits: int) -> int:
    """Width (two's complement) of u for a next layer with `abits`-bit codes: U_FRAC
    fractional bits and an integer part covering +-2**(abits + 3), at least 4x the largest
    code hi = 2**abits - 1 times the largest beta (< 4), so saturation never reaches a code
    below hi."""
    return U_FRAC + abits + 4


def _int64(name: str, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, not {a.dtype}")
    return a.astype(np.int64)


def check_width(name: str, a: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """a itself if every element fits `bits` bits (two's complement or unsigned)."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if a.size and (a.min() < lo or a.max() > hi):
        bad = a.min() if a.min() < lo else a.max()
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"{name} holds {int(bad)}, outside {bits}-bit {kind} [{lo}, {hi}]")
    return a


def _round_shift(a: np.ndarray, shift: int) -> np.ndarray:
    """floor(a / 2**shift + 1/2): add half, arithmetic shift (round half up)."""
    if shift == 0:
        return a
    return (a + (np.int64(1) << (shift - 1))) >> shift


# ---------------------------------------------------------------------------------------
# Static scale of a layer (export time).

@dataclasses.dataclass(frozen=True, eq=False)
class StaticScale:
    """C (K, slots) int64 and D (K,) int64: the layer output in units of the next static
    step is y / s_out ~= (sum_slots A_slot * C_slot * b_in + D) * 2**-(shift + BETA_FRAC).
    bits: the signed width of C."""

    mult: np.ndarray
    bias: np.ndarray
    shift: int
    bits: int


def scale_bits(acc_bound: int) -> int:
    """Signed width of C for a layer whose sum_slots |A_slot| <= acc_bound: the largest
    <= SCALE_BITS_MAX with acc_bound * 2**(bits - 1) * 2**BETA_BITS <= 2**61, so that
    |sum A * M| < 2**61 and, with |D| < 2**61, rescale's sum stays below 2**62."""
    bits = min(SCALE_BITS_MAX, 62 - BETA_BITS - acc_bound.bit_length())
    if bits < SCALE_BITS_MIN:
        raise ValueError(f"accumulator bound {acc_bound} leaves {bits} bits for the "
                         f"requantization multiplier; at least {SCALE_BITS_MIN} are needed")
    return bits


def static_scale(r, d, factors, acc_bound: int) -> StaticScale:
    """Export time: the integer C, D and shift of a layer from its real per-channel
    multiplier r (K,), offset d (K,) and slot factors f (float64): C = rint(r * f *
    2**shift) and D = rint(d * 2**(shift + BETA_FRAC)) (ldexp exact, rint half to even),
    shift the largest <= 62 - BETA_FRAC with every |C| < 2**(bits - 1) and |D| < 2**61."""
    r = np.asarray(r, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    f = np.asarray(factors, dtype=np.float64)
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(d))):
        raise ValueError("requantization scale and bias must be finite")
    bits = scale_bits(acc_bound)
    m = r[:, None] * f[None, :]
    m_max = float(np.abs(m).max()) if m.size else 0.0
    d_max = float(np.abs(d).max()) if d.size else 0.0
    # |v| < 2**e for frexp's e; v * 2**s < 2**61 is exact, and so stays rint's result.
    s_m = bits - 1 - int(np.frexp(m_max)[1]) if m_max > 0 else 62
    s_d = 61 - BETA_FRAC - int(np.frexp(d_max)[1]) if d_max > 0 else 62
    shift = min(s_m, s_d, 62 - BETA_FRAC)
    mult = np.rint(np.ldexp(m, shift)).astype(np.int64)
    if mult.size and np.abs(mult).max() >= 1 << (bits - 1):  # rint rounded up to 2**(bits-1)
        shift -= 1
        mult = np.rint(np.ldexp(m, shift)).astype(np.int64)
    if shift < 1:
        raise ValueError(f"requantization multiplier too large (largest |r f| {m_max:.3g}, "
                         f"|d| {d_max:.3g})")
    bias = np.rint(np.ldexp(d, shift + BETA_FRAC)).astype(np.int64)
    check_width("C", mult, bits)
    return StaticScale(mult, bias, shift, bits)


def retarget(st: StaticScale, delta: int, acc_bound: int) -> StaticScale:
    """The static scale of the same layer when its accumulators are 2**delta times larger
    (the lut variant run at frac_bits F + delta), in integers only: shift + delta, and C
    rounded (half up) to the narrower scale_bits(acc_bound) when the larger accumulators
    need it, D rescaled to the new shift."""
    bits = scale_bits(acc_bound)
    drop = max(0, st.bits - bits)
    mult = _round_shift(_int64("C", st.mult), drop)
    if mult.size and np.abs(mult).max() >= 1 << (bits - 1):
        drop += 1
        mult = _round_shift(_int64("C", st.mult), drop)
    shift = st.shift + delta - drop
    if not 1 <= shift <= 62 - BETA_FRAC:
        raise ValueError(f"frac_bits change by {delta} moves the rescale shift to {shift}, "
                         f"outside 1..{62 - BETA_FRAC}")
    d = _int64("D", st.bias)
    dshift = delta - drop
    if dshift >= 0:
        if d.size and np.abs(d).max() >= 1 << (61 - dshift):
            raise ValueError(f"frac_bits change by {delta}: D would exceed 2**61")
        bias = d << dshift
    else:
        bias = _round_shift(d, -dshift)
    return StaticScale(mult, bias, shift, min(st.bits, bits))


# ---------------------------------------------------------------------------------------
# Rescale: accumulators -> u (per position), or the logits.

def check_beta(name: str, b) -> np.ndarray:
    b = _int64(name, b)
    if b.size and (b.min() < BETA_MIN or b.max() > BETA_MAX):
        raise ValueError(f"{name} must be beta codes from {BETA_MIN} to {BETA_MAX}, not "
                         f"{int(b.min() if b.min() < BETA_MIN else b.max())}")
    return b


def sample_mult(mult, b_in) -> np.ndarray:
    """Per-sample multipliers M = C * b_in: C (K, slots), b_in (B,) -> (B, K, slots),
    width bits(C) + BETA_BITS (b_in is unsigned BETA_BITS)."""
    c = _int64("C", mult)
    b = check_beta("b_in", b_in)
    return c[None] * b[:, None, None]


def _affine(acc, m, bias, acc_bound: int) -> np.ndarray:
    """sum_slots A_slot * M_slot + D as int64: acc (B, K, *spatial[, slots]) with the slot
    axis last when M has more than one slot."""
    a = _int64("accumulators", acc)
    m = _int64("M", m)
    d = _int64("D", bias)
    b, k, slots = m.shape
    if slots == 1:
        a = a[..., None]
    if a.shape[:2] != (b, k) or a.shape[-1] != slots:
        raise ValueError(f"accumulators of shape {tuple(acc.shape)} do not fit M of shape "
                         f"{m.shape}")
    total_abs = np.abs(a).sum(axis=-1)
    if total_abs.size and total_abs.max() > acc_bound:
        raise ValueError(f"accumulator magnitude {int(total_abs.max())} exceeds the layer's "
                         f"bound {acc_bound}")
    m_abs = np.abs(m).max() if m.size else 0
    if acc_bound * int(m_abs) + (int(np.abs(d).max()) if d.size else 0) >= INT64_SAFE:
        raise ValueError("rescale products would exceed 2**62: C too wide for this layer")
    expand = (slice(None), slice(None)) + (None,) * (a.ndim - 3)
    total = np.broadcast_to(d[None, :][expand], a.shape[:-1]).copy()
    for s in range(slots):
        total += a[..., s] * m[:, :, s][expand]
    return total


def rescale(acc, m, bias, shift: int, ubits: int, acc_bound: int) -> np.ndarray:
    """u = sat_ubits((sum_slots A_slot * M_slot + D + 2**(S-1)) >> S) with S = shift +
    BETA_FRAC - U_FRAC: the layer output in units of the next layer's static step with
    U_FRAC fractional bits, one rounding (half up), saturated to `ubits` signed bits."""
    s = shift + BETA_FRAC - U_FRAC
    if s < 1:
        raise ValueError(f"rescale shift {s} must be at least 1")
    v = _round_shift(_affine(acc, m, bias, acc_bound), s)
    lim = 1 << (ubits - 1)
    return np.clip(v, -lim, lim - 1)


def logits(acc, m, bias, acc_bound: int) -> np.ndarray:
    """The last layer's integer logits sum_slots A_slot * M_slot + D (real logit = value
    * 2**-(shift + BETA_FRAC)); no rounding, no saturation: |.| < 2**62."""
    return _affine(acc, m, bias, acc_bound)


# ---------------------------------------------------------------------------------------
# The adapter: pool, Linear + ReLU layers, beta.

def pool_params(positions: int) -> tuple[int, int]:
    """(PM, PS) with mean ~= (sum * PM) >> PS: (1, log2 n) for a power of two n, else PS
    = ceil(log2 n) + POOL_FRAC - 1 and PM = round(2**PS / n) (POOL_FRAC + 1 bits)."""
    if positions < 1:
        raise ValueError(f"positions must be at least 1, not {positions}")
    if positions & (positions - 1) == 0:
        return 1, positions.bit_length() - 1
    ps = (positions - 1).bit_length() + POOL_FRAC - 1
    return ((1 << ps) + positions // 2) // positions, ps


def global_pool(u, ubits: int) -> np.ndarray:
    """(B, C, *spatial) -> (B, C): sat_ubits((sum over positions * PM + 2**(PS-1)) >> PS),
    the mean with U_FRAC fractional bits; a (B, C) input is its own mean (one position).
    The sum has ubits + ceil(log2 n) bits, the product that plus PM's bits."""
    u = check_width("u", _int64("u", u), ubits)
    if u.ndim == 2:
        return u.copy()
    n = math.prod(u.shape[2:])
    pm, ps = pool_params(n)
    s = u.reshape(u.shape[0], u.shape[1], -1).sum(axis=2)
    lim = 1 << (ubits - 1)
    return np.clip(_round_shift(s * pm, ps), -lim, lim - 1)


@dataclasses.dataclass(frozen=True, eq=False)
class AdapterLayer:
    """One integer Linear layer of the adapter: weight (out, in) int in [-127, 127], bias
    (out,) int32, exponent E: real weight = weight * 2**-E, real bias = bias *
    2**-(in_frac + E), in_frac the input's fractional bits (U_FRAC or ADAPTER_FRAC)."""

    weight: np.ndarray
    bias: np.ndarray
    exp: int


def adapter_exp(max_abs: float) -> int:
    """Export time: the largest E in ADAPTER_EXP_RANGE with max|W| * 2**E < 127.5, so that
    rint(W * 2**E) stays within [-127, 127] (the smallest E when none fits: saturate)."""
    lo, hi = ADAPTER_EXP_RANGE
    for e in range(hi, lo - 1, -1):
        if max_abs * 2.0**e < ADAPTER_WMAX + 0.5:
            return e
    return lo


def adapter_params(weight, bias, in_frac: int) -> AdapterLayer:
    """Export time: quantize a float32 Linear layer (weight (out, in), bias (out,)) to the
    integer form. Every step is exact in float32 (scaling by powers of two) or an IEEE
    rint, so torch and numpy give the same integers."""
    w = np.asarray(weight, dtype=np.float32)
    b = np.asarray(bias, dtype=np.float32)
    e = adapter_exp(float(np.abs(w).max()) if w.size else 0.0)
    wi = np.clip(np.rint(w * np.float32(2.0**e)), -ADAPTER_WMAX, ADAPTER_WMAX)
    blim = (1 << (ADAPTER_BIAS_BITS - 1)) - 1
    bi = np.clip(np.rint(b.astype(np.float64) * 2.0 ** (in_frac + e)), -blim, blim)
    return AdapterLayer(wi.astype(np.int64), bi.astype(np.int64), e)


def adapter_acc_bits(fan_in: int, in_bits: int, in_signed: bool) -> int:
    """Signed width of an adapter Linear layer's accumulator: every input, weight and the
    bias at its largest magnitude, |acc| <= fan_in * 127 * in_max + 2**31."""
    in_max = 1 << (in_bits - 1) if in_signed else (1 << in_bits) - 1
    bound = fan_in * ADAPTER_WMAX * in_max + (1 << (ADAPTER_BIAS_BITS - 1))
    return bound.bit_length() + 1


def _linear(h, layer: AdapterLayer, in_bits: int, in_signed: bool) -> tuple[np.ndarray, int]:
    """sum_i W * h + B as int64 and its proven signed width."""
    h = check_width("adapter input", _int64("adapter input", h), in_bits, in_signed)
    w = check_width("adapter weight", _int64("adapter weight", layer.weight), 8)
    if np.abs(w).max(initial=0) > ADAPTER_WMAX:
        raise ValueError(f"adapter weights must be in [-{ADAPTER_WMAX}, {ADAPTER_WMAX}]")
    b = check_width("adapter bias", _int64("adapter bias", layer.bias), ADAPTER_BIAS_BITS)
    lo, hi = ADAPTER_EXP_RANGE
    if not lo <= layer.exp <= hi:
        raise ValueError(f"adapter exponent must be from {lo} to {hi}, not {layer.exp}")
    if w.shape[1] != h.shape[1] or b.shape != (w.shape[0],):
        raise ValueError(f"adapter layer of shape {w.shape} does not fit input {h.shape}")
    bits = adapter_acc_bits(w.shape[1], in_bits, in_signed)
    acc = h @ w.T + b[None, :]  # |.| < 2**(bits-1) <= 2**62
    return acc, bits


def adapter_layer(h, layer: AdapterLayer, in_bits: int, in_signed: bool) -> np.ndarray:
    """A hidden Linear + ReLU: min(max((acc + 2**(E-1)) >> E, 0), 2**ADAPTER_ACT_BITS - 1)
    with acc = sum W * h + B; in and out carry ADAPTER_FRAC (= U_FRAC) fractional bits, so
    the shift is E. Output: unsigned ADAPTER_ACT_BITS."""
    acc, bits = _linear(h, layer, in_bits, in_signed)
    check_width("adapter accumulator", acc, bits)
    out = _round_shift(acc, layer.exp)
    return np.clip(out, 0, (1 << ADAPTER_ACT_BITS) - 1)


def beta_code(h, layer: AdapterLayer, in_bits: int, in_signed: bool) -> np.ndarray:
    """The last Linear + ReLU as a beta code: clamp((acc + 2**(E-1)) >> E, BETA_MIN,
    BETA_MAX) (B,); the ReLU is inside the clamp (BETA_MIN > 0). BETA_FRAC = ADAPTER_FRAC
    fractional bits, so the shift is E."""
    acc, bits = _linear(h, layer, in_bits, in_signed)
    check_width("adapter accumulator", acc, bits)
    if acc.shape[1] != 1:
        raise ValueError(f"the adapter's last layer must have one output, not {acc.shape[1]}")
    return np.clip(_round_shift(acc[:, 0], layer.exp), BETA_MIN, BETA_MAX)


def adapter_beta(u, layers: list[AdapterLayer], ubits: int) -> np.ndarray:
    """beta codes (B,) of the adapter on u (B, C, *spatial): pool, hidden layers, beta."""
    h = global_pool(u, ubits)
    bits, signed = ubits, True
    for layer in layers[:-1]:
        h = adapter_layer(h, layer, bits, signed)
        bits, signed = ADAPTER_ACT_BITS, False
    return beta_code(h, layers[-1], bits, signed)


# ---------------------------------------------------------------------------------------
# Reciprocal and requantization.

def reciprocal(b) -> np.ndarray:
    """round(2**RECIP_SHIFT / b) = (2**RECIP_SHIFT + b // 2) // b for beta codes b: 1 / beta
    with RECIP_SHIFT - BETA_FRAC fractional bits, RECIP_BITS unsigned. One value per image
    and layer: a ROM of BETA_MAX - BETA_MIN + 1 words or a RECIP_BITS-cycle serial divider."""
    b = check_beta("beta", b)
    return ((np.int64(1) << RECIP_SHIFT) + (b >> 1)) // b


def requantize(u, recip, ubits: int, lo: int, hi: int) -> np.ndarray:
    """Next-layer codes clamp((u * R + 2**(T-1)) >> T, lo, hi), T = U_FRAC + RECIP_SHIFT -
    BETA_FRAC: u / beta rounded half up. u (B, ...) signed ubits, R (B,) unsigned
    RECIP_BITS; the product has ubits + RECIP_BITS bits."""
    u = check_width("u", _int64("u", u), ubits)
    r = check_width("reciprocal", _int64("reciprocal", recip), RECIP_BITS, signed=False)
    t = U_FRAC + RECIP_SHIFT - BETA_FRAC
    prod = u * r.reshape((-1,) + (1,) * (u.ndim - 1))
    return np.clip(_round_shift(prod, t), lo, hi)
