"""Integer layers of the golden network: im2col, accumulate, requantize (docs/arithmetic.md,
"Integer network pipeline").

Named after the hardware blocks: `im2col` forms the PE's input rows, `accumulate` runs the
PE over every (row, weight row) pair, `requantize` turns accumulators into the next layer's
activation codes with an integer multiply, add and arithmetic shift, and `output_logits`
does the same without the shift for the last layer.

Weight schemes. All three share the sign-magnitude code layout of the spec (section 1):
`code = (s << (wbits-1)) | m`, m = 0 is zero. Only the magnitude of m differs:

    post: 2**(-(m-1)/2)    (the spec; runs on the POST PE, golden.pe)
    pot : 2**(-(m-1))      (power-of-two baseline)
    int : m / M            (uniform symmetric baseline, M = 2**(wbits-1) - 1)

`post` accumulators are pe_matmul's, bit for bit. `pot` and `int` have no POST PE; their
accumulator is the exact integer dot product with integer weights `sgn * 2**(M-m)` (pot) and
`sgn * m` (int).

The fast path. A POST accumulator is a sum of integer GEMMs (spec section 3.2's even/odd
split): for `lut`, A = (X @ W_even) << F + LUT[X] @ W_odd with W_even[k, i] = sgn * 2**sh on
even-exponent codes; for `dual`, A_even = X @ W_even and A_odd = X @ W_odd. A float GEMM
whose inputs are integers and whose every partial sum stays below 2**24 (float32) or 2**53
(float64) in magnitude is exact in any summation order, because every partial sum is the
sum of a subset of the products, so it is bounded by sum |x_i| |w_i|. `plan_gemm` proves
that bound from the configuration and N alone (worst case: every activation at its largest
magnitude and every weight at its largest shift in the group), splits the shifts into
groups when one GEMM would exceed it, and returns None, meaning "use the Numba kernel
pe_matmul", when no split is enough.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from asq_hw.config import WBITS_RANGE, PEConfig, _check_int
from golden.codes import _decode_tables, act_lut, encode, lut_entry
from golden.pe import _as_int_array, check_range, pe_matmul

SCHEMES = ("post", "pot", "int")

# Exactness limits of float GEMMs: every integer of magnitude below these is representable
# and so is every partial sum bounded by them.
FLOAT_LIMITS = {np.float32: 2**24, np.float64: 2**53}


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"weight_quant must be one of {', '.join(SCHEMES)}, not {scheme!r}")


# ---------------------------------------------------------------------------------------
# Weight schemes: levels, thresholds, encode (the PyTorch quantizers use the same tables).

def weight_magnitudes(scheme: str, wbits: int) -> np.ndarray:
    """Normalised magnitude of every m = 0..M (alpha = 1), m = 0 being 0. float64."""
    _check_scheme(scheme)
    _check_int("wbits", wbits, *WBITS_RANGE)
    big_m = 2 ** (wbits - 1) - 1
    if scheme == "post":
        mags = [2.0 ** (-e / 2) for e in range(big_m)]
    elif scheme == "pot":
        mags = [2.0 ** (-e) for e in range(big_m)]
    else:
        mags = [m / big_m for m in range(1, big_m + 1)]
    return np.array([0.0] + mags)


def weight_levels(scheme: str, wbits: int) -> np.ndarray:
    """Normalised weight value of every code, indexed by code. float64."""
    mags = weight_magnitudes(scheme, wbits)
    big_m = 2 ** (wbits - 1) - 1
    codes = np.arange(2**wbits)
    sign = np.where(codes >> (wbits - 1), -1.0, 1.0)
    return sign * mags[codes & big_m]


def rank_to_m(scheme: str, wbits: int) -> np.ndarray:
    """m of the r-th smallest magnitude (r = 0 is zero): the inverse of sorting magnitudes."""
    return np.argsort(weight_magnitudes(scheme, wbits), kind="stable")


def weight_thresholds(scheme: str, wbits: int) -> np.ndarray:
    """Decision thresholds on |u| in ascending order, midpoints in the linear domain: |u| >=
    thresholds[r-1] means at least the r-th smallest magnitude (ties go to the larger)."""
    mags = np.sort(weight_magnitudes(scheme, wbits))
    return (mags[:-1] + mags[1:]) / 2


def encode_weights(u, scheme: str, wbits: int) -> np.ndarray:
    """uint8 codes of normalised weights u = w / alpha: clip to [-1, 1], nearest level in the
    linear domain, a tie to the larger magnitude, zero written as code 0. For `post` this is
    golden.codes.encode (spec section 1); the baselines apply the same rule to their levels."""
    _check_scheme(scheme)
    if scheme == "post":
        return encode(u, wbits)
    u = np.asarray(u, dtype=np.float64)
    if not np.all(np.isfinite(u)):
        raise ValueError("weights must be finite, not NaN or inf")
    a = np.minimum(np.abs(u), 1.0)
    rank = np.searchsorted(weight_thresholds(scheme, wbits), a, side="right")
    m = rank_to_m(scheme, wbits)[rank]
    s = (u < 0) & (m > 0)
    return ((s.astype(np.int64) << (wbits - 1)) | m).astype(np.uint8)


# ---------------------------------------------------------------------------------------
# Layer arithmetic: what an accumulator means.

@dataclasses.dataclass(frozen=True)
class LayerArith:
    """The integer arithmetic of one compute layer.

    scheme/wbits: the weight codes; abits/act_signed: the input activation codes;
    variant/frac_bits: the POST MAC variant (ignored by pot and int, which have one exact
    accumulator). n: the dot-product length (fan-in).
    """

    scheme: str
    wbits: int
    abits: int
    act_signed: bool
    variant: str
    frac_bits: int
    n: int

    def __post_init__(self):
        _check_scheme(self.scheme)
        _check_int("n", self.n, 1, 1 << 24)
        # PEConfig validates the shared fields with the contract's messages.
        PEConfig(wbits=self.wbits, abits=self.abits, act_signed=self.act_signed,
                 variant=self.variant, frac_bits=self.frac_bits, max_len=self.n)

    @property
    def big_m(self) -> int:
        return 2 ** (self.wbits - 1) - 1

    @property
    def slots(self) -> int:
        """Accumulators per output: 2 for POST dual, else 1."""
        return 2 if self.scheme == "post" and self.variant == "dual" else 1

    def pe_config(self) -> PEConfig:
        """The POST PE running this layer: max_len = N, acc_bits the safe width."""
        if self.scheme != "post":
            raise ValueError(f"weight_quant {self.scheme!r} has no POST PE configuration; "
                             "only 'post' layers run on the PE")
        return PEConfig(wbits=self.wbits, abits=self.abits, act_signed=self.act_signed,
                        variant=self.variant, frac_bits=self.frac_bits, max_len=self.n)

    @property
    def act_min(self) -> int:
        return -(2 ** (self.abits - 1)) if self.act_signed else 0

    @property
    def act_max(self) -> int:
        return 2 ** (self.abits - 1) - 1 if self.act_signed else 2**self.abits - 1

    @property
    def act_abs_max(self) -> int:
        return max(-self.act_min, self.act_max)

    def slot_factors(self) -> tuple[float, ...]:
        """Per slot, the factor f with sum_i x_i * level_i = sum_slots f * A_slot, exactly
        for dual, pot and int, up to the LUT rounding for lut. float64."""
        if self.scheme == "post":
            j = (self.big_m - 1) // 2
            if self.variant == "lut":
                return (2.0 ** -(j + self.frac_bits),)
            return (2.0**-j, 2.0**-j / math.sqrt(2.0))
        if self.scheme == "pot":
            return (2.0 ** -(self.big_m - 1),)
        return (1.0 / self.big_m,)

    def acc_bound(self) -> int:
        """Largest possible sum over slots of |A_slot| for any inputs in range: the bound
        requantization relies on for int64 safety."""
        x = self.act_abs_max
        if self.scheme == "post":
            j = (self.big_m - 1) // 2
            if self.variant == "lut":
                per = max(x << self.frac_bits, abs(lut_entry(x, self.frac_bits))) << j
            else:
                per = x << j
        elif self.scheme == "pot":
            per = x << (self.big_m - 1)
        else:
            per = x * self.big_m
        return self.n * per


def layer_terms(arith: LayerArith) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    """The accumulator as a sum of integer GEMMs, grouped by (operand, slot).

    Returns [(operand, slot, shift, weight)] with operand "x" (the activation codes) or
    "lut" (LUT[x]), and per code c: weight[c] an integer multiplier (0 if the code does not
    feed this operand and slot) and shift[c] >= 0, so that
    A_slot = sum_terms sum_i op(x_i) * weight[c_i] << shift[c_i].
    """
    codes = np.arange(2**arith.wbits)
    if arith.scheme == "post":
        dec = _decode_tables(arith.wbits)
        sgn, sh, odd, nz = dec[:, 0], dec[:, 1], dec[:, 2], dec[:, 3]
        even_w = sgn * nz * (odd == 0)
        odd_w = sgn * nz * (odd == 1)
        if arith.variant == "lut":
            return [("x", 0, sh + arith.frac_bits, even_w), ("lut", 0, sh.copy(), odd_w)]
        return [("x", 0, sh.copy(), even_w), ("x", 1, sh.copy(), odd_w)]
    big_m = arith.big_m
    s, m = codes >> (arith.wbits - 1), codes & big_m
    sgn = np.where(s == 1, -1, 1) * (m > 0)
    if arith.scheme == "pot":
        return [("x", 0, np.where(m > 0, big_m - m, 0), sgn)]
    return [("x", 0, np.zeros_like(codes), sgn * m)]


@dataclasses.dataclass(frozen=True)
class GemmPart:
    """One exact float GEMM of the fast path: op(X) @ W.T with W[k, i] = weight[c] <<
    (shift[c] - lo) for codes whose shift lies in [lo, hi]; the result is shifted left by
    `lo` and added to accumulator `slot`. `bound` is the proven worst-case |partial sum|,
    below FLOAT_LIMITS[dtype]."""

    operand: str
    slot: int
    lo: int
    hi: int
    dtype: type
    bound: int


def _operand_max(arith: LayerArith, operand: str) -> int:
    x = arith.act_abs_max
    return x if operand == "x" else abs(lut_entry(x, arith.frac_bits))


def _greedy_groups(shifts: list[int], n_opmax_w: int, limit: int) -> list[tuple[int, int]]:
    """Maximal runs [lo, hi] of the sorted distinct shifts with n_opmax_w << (hi - lo) <
    limit; [] if even a single shift exceeds it."""
    if n_opmax_w >= limit:
        return []
    groups, lo, hi = [], shifts[0], shifts[0]
    for s in shifts[1:]:
        if n_opmax_w << (s - lo) < limit:
            hi = s
        else:
            groups.append((lo, hi))
            lo = hi = s
    groups.append((lo, hi))
    return groups


def plan_gemm(arith: LayerArith) -> list[GemmPart] | None:
    """The cheapest set of exact float GEMMs forming the layer's accumulators, or None.

    For each (operand, slot) term, the candidates are one float32 GEMM, one float64 GEMM,
    or per-shift groups in either; a float64 GEMM is counted as twice a float32 one. Each
    candidate's bound is N * max|operand| * max|weight| << (hi - lo); only candidates whose
    bound is below the dtype's exactness limit are kept. None if a term has none (then
    pe_matmul, or int64 numpy for the baselines, computes the layer).
    """
    parts: list[GemmPart] = []
    for operand, slot, shift, weight in layer_terms(arith):
        used = weight != 0
        if not used.any():
            continue
        shifts = sorted(set(shift[used].tolist()))
        base = arith.n * _operand_max(arith, operand) * int(np.abs(weight).max())
        best = None
        for dtype, cost in ((np.float32, 1), (np.float64, 2)):
            groups = _greedy_groups(shifts, base, FLOAT_LIMITS[dtype])
            if groups and (best is None or cost * len(groups) < best[0]):
                best = (cost * len(groups), dtype, groups)
        if best is None:
            return None
        _, dtype, groups = best
        parts += [GemmPart(operand, slot, lo, hi, dtype, base << (hi - lo))
                  for lo, hi in groups]
    return parts


def part_weights(codes: np.ndarray, arith: LayerArith, part: GemmPart) -> np.ndarray:
    """The float weight matrix (K, N) of one GEMM part for codes (K, N)."""
    for operand, slot, shift, weight in layer_terms(arith):
        if (operand, slot) == (part.operand, part.slot):
            inside = (shift >= part.lo) & (shift <= part.hi) & (weight != 0)
            table = np.where(inside, weight * (2.0 ** (shift - part.lo)), 0.0)
            return table.astype(part.dtype)[codes]
    raise AssertionError("part does not belong to this layer")


def _wrap_array(a: np.ndarray, acc_bits: int) -> np.ndarray:
    """Two's complement wrap to acc_bits, vectorised (golden.pe._wrap)."""
    if acc_bits >= 64:
        return a
    mask = (1 << acc_bits) - 1
    r = a & mask
    return np.where(r >> (acc_bits - 1) != 0, r - (mask + 1), r)


# ---------------------------------------------------------------------------------------
# im2col and accumulate.

def conv_out_hw(h: int, w: int, kernel: tuple[int, int], stride: int, padding: int):
    return ((h + 2 * padding - kernel[0]) // stride + 1,
            (w + 2 * padding - kernel[1]) // stride + 1)


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int, padding: int) -> np.ndarray:
    """The PE input rows of a convolution: x (B, C, H, W) integer codes, zero padded.

    Returns (B * Ho * Wo, C * kh * kw) in x's dtype; row b * Ho * Wo + oh * Wo + ow holds the
    receptive field of output (oh, ow) of image b, column c * kh * kw + i * kw + j the input
    (c, oh * stride + i - padding, ow * stride + j - padding): the order of torch's
    weight.reshape(K, -1), so row . codes[k] is output channel k.
    """
    b, c, h, w = x.shape
    kh, kw = kernel
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((b, ho, wo, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = xp[:, :, i:i + stride * ho:stride,
                                        j:j + stride * wo:stride].transpose(0, 2, 3, 1)
    return cols.reshape(b * ho * wo, c * kh * kw)


def _im2col_hwc(x_hwc: np.ndarray, kernel, stride: int, padding: int, ho: int, wo: int):
    """im2col of an NHWC array with column order (i, j, c): contiguous copies of C values,
    the fast path's layout (weights are permuted to match)."""
    b, h, w, c = x_hwc.shape
    kh, kw = kernel
    xp = np.zeros((b, h + 2 * padding, w + 2 * padding, c), dtype=x_hwc.dtype)
    xp[:, padding:padding + h, padding:padding + w, :] = x_hwc
    cols = np.empty((b, ho, wo, kh, kw, c), dtype=x_hwc.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride]
    return cols.reshape(b * ho * wo, kh * kw * c)


def _baseline_matmul(acts: np.ndarray, codes: np.ndarray, arith: LayerArith) -> np.ndarray:
    """Exact int64 accumulators of pot/int layers (no POST PE): sum x * (weight << shift)."""
    (_, _, shift, weight), = layer_terms(arith)
    w_int = (weight << shift)[codes]  # (K, N) int64
    return acts.astype(np.int64) @ w_int.T


def _check_codes(codes: np.ndarray, arith: LayerArith) -> None:
    if codes.size and (codes.min() < 0 or codes.max() > 2**arith.wbits - 1):
        idx = np.argwhere((codes < 0) | (codes > 2**arith.wbits - 1))[0]
        where = ", ".join(str(int(i)) for i in idx)
        raise ValueError(f"codes[{where}] = {int(codes[tuple(idx)])} is out of range: codes "
                         f"must be integers from 0 to {2**arith.wbits - 1} "
                         f"(wbits={arith.wbits})")


def _check_acts(acts: np.ndarray, arith: LayerArith) -> None:
    # PEConfig carries the same activation range and message for every scheme.
    check_range(PEConfig(wbits=arith.wbits, abits=arith.abits, act_signed=arith.act_signed,
                         max_len=arith.n), "acts", acts)


def _gemm_accumulate(op_rows: dict, codes_kn: np.ndarray, arith: LayerArith,
                     parts: list[GemmPart], n_rows: int) -> np.ndarray:
    """Sum of the planned float GEMMs as int64 (n_rows, K, slots); op_rows maps operand ->
    (n_rows, N) array already in the column order of codes_kn."""
    k = codes_kn.shape[0]
    out = np.zeros((n_rows, k, arith.slots), dtype=np.int64)
    # Parts sharing an operand and dtype run as one GEMM with their weights side by side.
    groups: dict = {}
    for p in parts:
        groups.setdefault((p.operand, p.dtype), []).append(p)
    for (operand, dtype), ps in groups.items():
        w = np.concatenate([part_weights(codes_kn, arith, p) for p in ps], axis=0)
        lhs = op_rows[operand]
        lhs = lhs if lhs.dtype == dtype else lhs.astype(dtype)
        res = lhs @ w.T  # exact: integers with every partial sum below FLOAT_LIMITS[dtype]
        for idx, p in enumerate(ps):
            out[:, :, p.slot] += res[:, idx * k:(idx + 1) * k].astype(np.int64) << p.lo
    return out


def accumulate(acts, codes, arith: LayerArith, fast: bool = True) -> np.ndarray:
    """The layer's accumulators for PE input rows acts (R, N) and weight codes (K, N).

    Returns int64 (R, K) (lut, pot, int) or (R, K, 2) [A_even, A_odd] (dual); for post,
    bit-identical to golden.pe.pe_matmul (wrapped to the safe accumulator width, which for
    max_len = N never wraps). fast=False forces pe_matmul (or int64 numpy for pot/int).
    """
    acts = _as_int_array("acts", acts)
    codes = _as_int_array("codes", codes)
    if acts.ndim != 2 or codes.ndim != 2 or acts.shape[1] != codes.shape[1]:
        raise ValueError(f"acts (R, N) and codes (K, N) must agree in N, not "
                         f"{acts.shape} and {codes.shape}")
    if acts.shape[1] != arith.n:
        raise ValueError(f"acts has {acts.shape[1]} columns, the layer's N is {arith.n}")
    _check_acts(acts, arith)
    _check_codes(codes, arith)
    parts = plan_gemm(arith) if fast else None
    if parts is None:
        if arith.scheme == "post":
            return pe_matmul(acts, codes, arith.pe_config())
        return _baseline_matmul(acts, codes, arith)
    ops = {"x": acts.astype(np.float32 if all(p.dtype == np.float32 for p in parts)
                            else np.float64)}
    if any(p.operand == "lut" for p in parts):
        cfg = arith.pe_config()
        ops["lut"] = act_lut(cfg)[acts.astype(np.int64) - cfg.act_min]
    out = _gemm_accumulate(ops, codes, arith, parts, acts.shape[0])
    if arith.scheme == "post":
        out = _wrap_array(out, arith.pe_config().acc_bits)
    return out[..., 0] if arith.slots == 1 else out


def conv_accumulate(x: np.ndarray, codes: np.ndarray, kernel: tuple[int, int], stride: int,
                    padding: int, arith: LayerArith, fast: bool = True) -> np.ndarray:
    """Accumulators of a convolution over integer codes x (B, C, H, W) with weight codes
    (K, C*kh*kw) in im2col order. Returns int64 (B, K, Ho, Wo) or (B, K, Ho, Wo, 2) (dual).

    Equal to accumulate(im2col(x, ...), codes, arith) reshaped; the fast path builds the
    rows in (i, j, c) column order from NHWC data, with the weight columns permuted to
    match, so its copies are contiguous.
    """
    x = _as_int_array("x", x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), not {x.shape}")
    b, c, h, w = x.shape
    kh, kw = kernel
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    if codes.shape != (codes.shape[0], c * kh * kw):
        raise ValueError(f"codes must have shape (K, {c * kh * kw}), not {codes.shape}")
    parts = plan_gemm(arith) if fast else None
    if parts is None:
        acc = accumulate(im2col(x, kernel, stride, padding), codes, arith, fast=False)
    else:
        _check_acts(x.reshape(b, -1), arith)
        _check_codes(codes, arith)
        k = codes.shape[0]
        codes_hwc = codes.reshape(k, c, kh, kw).transpose(0, 2, 3, 1).reshape(k, -1)
        all32 = all(p.dtype == np.float32 for p in parts)
        x_hwc = x.transpose(0, 2, 3, 1).astype(np.float32 if all32 else np.float64)
        ops = {"x": _im2col_hwc(x_hwc, kernel, stride, padding, ho, wo)}
        if any(p.operand == "lut" for p in parts):
            cfg = arith.pe_config()
            lut = act_lut(cfg).astype(x_hwc.dtype)
            ops["lut"] = _im2col_hwc(lut[x.transpose(0, 2, 3, 1).astype(np.int64)
                                         - cfg.act_min], kernel, stride, padding, ho, wo)
        acc = _gemm_accumulate(ops, codes_hwc, arith, parts, b * ho * wo)
        if arith.scheme == "post":
            acc = _wrap_array(acc, arith.pe_config().acc_bits)
        acc = acc[..., 0] if arith.slots == 1 else acc
    acc = acc.reshape((b, ho, wo) + acc.shape[1:])
    return np.moveaxis(acc, 3, 1)


# ---------------------------------------------------------------------------------------
# Requantization.

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
    acc = _as_int_array("accumulators", acc)
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


# ---------------------------------------------------------------------------------------
# Non-compute ops on integer codes.

def maxpool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Max over kernel x kernel windows of (B, C, H, W), no padding."""
    b, c, h, w = x.shape
    ho, wo = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = None
    for i in range(kernel):
        for j in range(kernel):
            v = x[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            out = v.copy() if out is None else np.maximum(out, v)
    return out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def flatten(x: np.ndarray) -> np.ndarray:
    """(B, C, H, W) -> (B, C*H*W) in torch.flatten(x, 1) order."""
    return x.reshape(x.shape[0], -1)

