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
import functools
import math

import numpy as np

from asq_hw.config import WBITS_RANGE, PEConfig, _check_int, act_range
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
        return act_range(self.abits, self.act_signed)[0]

    @property
    def act_max(self) -> int:
        return act_range(self.abits, self.act_signed)[1]

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


@dataclasses.dataclass(frozen=True, eq=False)
class Term:
    """Part of an accumulator: slot += mult * sum_i op(x_i) * weight[c_i] << shift[c_i].

    operand: "x" (the activation codes), "lut" (LUT[x]) or "lutres" (LUT[x] - c * x, see
    lut_split). weight[c] is 0 for codes that do not feed this term; shift[c] >= 0.
    """

    name: str
    operand: str
    slot: int
    shift: np.ndarray
    weight: np.ndarray
    mult: int = 1

    def used(self) -> np.ndarray:
        return self.weight != 0


def layer_terms(arith: LayerArith) -> list[Term]:
    """The accumulators as sums of integer GEMM terms, as the PE forms them (spec 3.1,
    3.2): lut: even (x << F << sh) and odd (LUT[x] << sh) into one slot; dual: even and odd
    into slots 0 and 1; pot, int: one term of integer weights."""
    codes = np.arange(2**arith.wbits)
    if arith.scheme == "post":
        dec = _decode_tables(arith.wbits)
        sgn, sh, odd, nz = dec[:, 0], dec[:, 1], dec[:, 2], dec[:, 3]
        even_w = sgn * nz * (odd == 0)
        odd_w = sgn * nz * (odd == 1)
        if arith.variant == "lut":
            return [Term("even", "x", 0, sh + arith.frac_bits, even_w),
                    Term("odd", "lut", 0, sh.copy(), odd_w)]
        return [Term("even", "x", 0, sh.copy(), even_w), Term("odd", "x", 1, sh.copy(), odd_w)]
    big_m = arith.big_m
    s, m = codes >> (arith.wbits - 1), codes & big_m
    sgn = np.where(s == 1, -1, 1) * (m > 0)
    if arith.scheme == "pot":
        return [Term("w", "x", 0, np.where(m > 0, big_m - m, 0), sgn)]
    return [Term("w", "x", 0, np.zeros_like(codes), sgn * m)]


def lut_split(arith: LayerArith) -> tuple[int, np.ndarray]:
    """(c, res): LUT[x] = c * x + res[x - act_min] with c = round(2**F / sqrt 2) (exact
    integer math) and res small (|res| <= |x| / 2 + 1); for abits 4, F 8, res is all 0."""
    c = lut_entry(1, arith.frac_bits)
    cfg = arith.pe_config()
    xs = np.arange(cfg.act_min, cfg.act_max + 1, dtype=np.int64)
    return c, act_lut(cfg) - c * xs


def int8_terms(arith: LayerArith) -> list[Term]:
    """layer_terms with the lut variant's odd term split as LUT[x] = c * x + res[x]: an
    "x" term with output multiplier c (the same operand as the even term, so one GEMM) and
    a "lutres" term (left out when res is 0 over the activation range)."""
    terms = layer_terms(arith)
    if arith.scheme != "post" or arith.variant != "lut":
        return terms
    even, odd = terms
    c, res = lut_split(arith)
    out = [even, Term("odd_x", "x", 0, odd.shift, odd.weight, c)]
    if np.any(res != 0):
        out.append(Term("odd_res", "lutres", 0, odd.shift, odd.weight))
    return out


@dataclasses.dataclass(frozen=True)
class Block:
    """One group of GEMM outputs (K columns): accumulator `slot` += mult * (result << lo).
    terms[j] names the term whose weights face the part's operand j ("" for none); only
    codes with lo <= shift <= hi count, with weight << (shift - lo)."""

    slot: int
    lo: int
    hi: int
    mult: int
    terms: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class GemmPart:
    """One exact GEMM of the fast path: the activation rows of every operand in
    `operands` side by side, times the weights of every block side by side.

    dtype float32 / float64: a float GEMM, exact because every operand and weight is an
    integer and every partial sum, a sum over a subset of the products, is bounded by
    `bound` < 2**24 / 2**53 whatever the summation order. dtype int8: torch._int_mm (int8
    x int8 -> int32), exact because |operand| <= 128, |weight| <= 64 and `bound` (at most
    N * 255 * 64) < 2**31: int32 never overflows, and neither does the int16 pair sum
    2 * (127 + 128) * 64 of kernels that shift int8 operands to uint8 (vpmaddubsw).
    """

    operands: tuple[str, ...]
    blocks: tuple[Block, ...]
    dtype: type
    bound: int

    def describe(self) -> str:
        """One line: dtype, operands, outputs and the proven bound against its limit."""
        limit = {np.int8: 31, np.float32: 24, np.float64: 53}[self.dtype]
        outs = ", ".join(f"A{b.slot} += {'' if b.mult == 1 else f'{b.mult} * '}"
                         f"(. << {b.lo})" for b in self.blocks)
        return (f"{np.dtype(self.dtype).name} [{' | '.join(self.operands)}]: {outs}; "
                f"bound {self.bound} < 2**{limit}")


# int8 tier limits (see GemmPart).
INT8_WEIGHT_MAX = 64
INT8_PAIR_OPERAND = 255  # |a| + 128 for int8 operands shifted to uint8
# Relative cost of one GEMM of the same shape, measured on an AVX-512 VNNI CPU:
# torch._int_mm ~350 GMAC/s, numpy float32 ~35 GMAC/s, float64 about half that.
DTYPE_COST = {np.int8: 0.25, np.float32: 1.0, np.float64: 2.0}


def _operand_max(arith: LayerArith, operand: str) -> int:
    x = arith.act_abs_max
    if operand == "x":
        return x
    if operand == "lut":
        return abs(lut_entry(x, arith.frac_bits))
    return int(np.abs(lut_split(arith)[1]).max())


def _masked(term: Term, lo: int, hi: int) -> np.ndarray:
    """|weight| << (shift - lo) per code for codes of the term with shift in [lo, hi]."""
    inside = term.used() & (term.shift >= lo) & (term.shift <= hi)
    return np.array([int(abs(w)) << int(s - lo) if ok else 0
                     for w, s, ok in zip(term.weight, term.shift, inside, strict=True)],
                    dtype=object)


def _bound(arith: LayerArith, terms: list[Term], lo: int, hi: int, operand_max=None) -> int:
    """N times the largest sum over `terms` of |operand * weight| one index can give, for
    codes with shift in [lo, hi]. A partial sum of a GEMM output is a sum over a subset of
    indices of such values, so it is bounded by this in any summation order."""
    per_code = np.zeros(2**arith.wbits, dtype=object)
    for t in terms:
        om = _operand_max(arith, t.operand) if operand_max is None else operand_max
        per_code = per_code + _masked(t, lo, hi) * om
    return arith.n * int(per_code.max())


def _greedy_groups(term: Term, fits) -> list[tuple[int, int]]:
    """Maximal runs [lo, hi] of the term's sorted distinct shifts with fits(lo, hi);
    [] if even a single shift does not fit."""
    shifts = sorted(set(term.shift[term.used()].tolist()))
    groups: list[tuple[int, int]] = []
    lo = hi = shifts[0]
    for s in shifts[1:] + [None]:
        if s is not None and fits(lo, s):
            hi = s
            continue
        if not fits(lo, hi):
            return []
        groups.append((lo, hi))
        if s is not None:
            lo = hi = s
    return groups


def _span(terms: list[Term]) -> tuple[int, int]:
    return (min(int(t.shift[t.used()].min()) for t in terms),
            max(int(t.shift[t.used()].max()) for t in terms))


def _plan_int8(arith: LayerArith) -> list[GemmPart] | None:
    """int8 GEMMs: per operand one GEMM with a block per term when every term fits in one
    shift group, else one GEMM per (term, group); None if the activations (or LUT
    residues) do not fit int8 or torch._int_mm is missing."""
    if arith.act_min < -128 or arith.act_max > 127:
        return None
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    if not hasattr(torch, "_int_mm"):
        return None
    terms = [t for t in int8_terms(arith) if t.used().any()]
    if any(t.operand == "lutres" for t in terms) and _operand_max(arith, "lutres") > 127:
        return None
    pm = INT8_PAIR_OPERAND

    def fits(lo, hi, t):
        return max(_masked(t, lo, hi)) <= INT8_WEIGHT_MAX and _bound(arith, [t], lo, hi,
                                                                      pm) < 2**31
    parts: list[GemmPart] = []
    for operand in dict.fromkeys(t.operand for t in terms):
        grouped = []
        for t in (t for t in terms if t.operand == operand):
            groups = _greedy_groups(t, functools.partial(fits, t=t))
            if not groups:
                return None
            grouped.append((t, groups))
        runs = [[(t, g) for g in gs] for t, gs in grouped]
        if all(len(r) == 1 for r in runs):
            runs = [[r[0] for r in runs]]  # one GEMM, a block per term
        else:
            runs = [[x] for r in runs for x in r]
        for run in runs:
            blocks = tuple(Block(t.slot, lo, hi, t.mult, (t.name,)) for t, (lo, hi) in run)
            bound = max(_bound(arith, [t], lo, hi, pm) for t, (lo, hi) in run)
            parts.append(GemmPart((operand,), blocks, np.int8, bound))
    return parts


def _plan_float(arith: LayerArith) -> tuple[float, list[GemmPart]] | None:
    """(cost, parts) of the cheapest float plan, or None."""
    terms = [t for t in layer_terms(arith) if t.used().any()]
    operands = tuple(dict.fromkeys(t.operand for t in terms))
    slots = sorted({t.slot for t in terms})
    blocks, bounds = [], []
    for s in slots:
        st = [t for t in terms if t.slot == s]
        lo, hi = _span(st)
        names = tuple(next((t.name for t in st if t.operand == o), "") for o in operands)
        blocks.append(Block(s, lo, hi, 1, names))
        bounds.append(_bound(arith, st, lo, hi))
    for dtype in (np.float32, np.float64):
        if max(bounds) < FLOAT_LIMITS[dtype]:
            return (DTYPE_COST[dtype] * len(operands),
                    [GemmPart(operands, tuple(blocks), dtype, max(bounds))])
    total, parts = 0.0, []
    for t in terms:
        best = None
        for dtype in (np.float32, np.float64):
            def fits(lo, hi, t=t, dtype=dtype):
                return _bound(arith, [t], lo, hi) < FLOAT_LIMITS[dtype]
            groups = _greedy_groups(t, fits)
            cost = DTYPE_COST[dtype] * len(groups)
            if groups and (best is None or cost < best[0]):
                best = (cost, dtype, groups)
        if best is None:
            return None
        total += best[0]
        parts += [GemmPart((t.operand,), (Block(t.slot, lo, hi, t.mult, (t.name,)),),
                           best[1], _bound(arith, [t], lo, hi)) for lo, hi in best[2]]
    return total, parts


def plan_gemm(arith: LayerArith, allow_int8: bool = True) -> list[GemmPart] | None:
    """The cheapest set of exact GEMMs forming the layer's accumulators, or None (cached
    per configuration; see _plan_gemm)."""
    plan = _plan_gemm(arith, allow_int8)
    return None if plan is None else list(plan)


@functools.lru_cache(maxsize=256)
def _plan_gemm(arith: LayerArith, allow_int8: bool) -> tuple[GemmPart, ...] | None:
    """The cheapest set of exact GEMMs forming the layer's accumulators, or None.

    Candidates: int8 GEMMs (activations and per-shift-group weights fit int8; the lut
    variant's LUT[x] as c * x + res[x]); one float GEMM with every operand stacked along N
    and every accumulator along K (lut: [X | LUT[X]] @ [W_even << F ; W_odd]; dual: X @
    [W_even | W_odd]) in float32 or float64; or per term, one float GEMM or per-shift
    groups. Each is proven exact by its bound (GemmPart); None if nothing is (then
    pe_matmul, or int64 numpy for the baselines, computes the layer).
    """
    if not any(t.used().any() for t in layer_terms(arith)):
        return None
    cands = []
    if allow_int8:
        p8 = _plan_int8(arith)
        if p8 is not None:
            cands.append((DTYPE_COST[np.int8] * len(p8), p8))
    pf = _plan_float(arith)
    if pf is not None:
        cands.append(pf)
    if not cands:
        return None
    return tuple(min(cands, key=lambda c: c[0])[1])


def part_weights(codes: np.ndarray, arith: LayerArith, part: GemmPart) -> np.ndarray:
    """The weight matrix of one GEMM part for codes (K, T, C) (T taps of C channels;
    T = 1 for a plain (K, N) layer): (blocks * K, T * operands * C) in the part's dtype.
    Row b * K + k is output channel k of block b; the operands are stacked per tap along
    the columns, matching the stacked activations."""
    terms = {t.name: t for t in int8_terms(arith) + layer_terms(arith)}
    per_block = []
    for blk in part.blocks:
        per_op = []
        for name in blk.terms:
            table = np.zeros(2**arith.wbits, dtype=np.int64)
            if name:
                t = terms[name]
                inside = t.used() & (t.shift >= blk.lo) & (t.shift <= blk.hi)
                table = np.where(inside, t.weight << np.where(inside, t.shift - blk.lo, 0), 0)
            per_op.append(table.astype(part.dtype)[codes])
        w = np.concatenate(per_op, axis=-1)
        per_block.append(w.reshape(w.shape[0], -1))
    return np.concatenate(per_block, axis=0)


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
    """im2col of an NHWC array with column order (i, j, c), the fast path's layout (weights
    are permuted to match): per kernel row i, one copy whose runs are kw * C contiguous
    values when stride is 1."""
    b, h, w, c = x_hwc.shape
    kh, kw = kernel
    xp = np.zeros((b, h + 2 * padding, w + 2 * padding, c), dtype=x_hwc.dtype)
    xp[:, padding:padding + h, padding:padding + w, :] = x_hwc
    cols = np.empty((b, ho, wo, kh, kw, c), dtype=x_hwc.dtype)
    sb, sh, sw, sc = xp.strides
    for i in range(kh):
        # window[b, oh, ow, j, c] = xp[b, oh * stride + i, ow * stride + j, c]
        window = np.lib.stride_tricks.as_strided(
            xp[:, i:], shape=(b, ho, wo, kw, c),
            strides=(sb, sh * stride, sw * stride, sw, sc), writeable=False)
        cols[:, :, :, i, :, :] = window
    return cols.reshape(b * ho * wo, kh * kw * c)


def _baseline_matmul(acts: np.ndarray, codes: np.ndarray, arith: LayerArith) -> np.ndarray:
    """Exact int64 accumulators of pot/int layers (no POST PE): sum x * (weight << shift)."""
    (term,) = layer_terms(arith)
    w_int = (term.weight << term.shift)[codes]  # (K, N) int64
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


def _operand_values(x: np.ndarray, operand: str, arith: LayerArith, dtype) -> np.ndarray:
    """The activation codes ("x"), their LUT entries ("lut") or LUT residues ("lutres",
    see lut_split) as `dtype`."""
    if operand == "x":
        return x.astype(dtype)
    cfg = arith.pe_config()
    table = act_lut(cfg) if operand == "lut" else lut_split(arith)[1]
    return table.astype(dtype)[x.astype(np.int64) - cfg.act_min]


def _gemm(lhs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """lhs @ w.T: torch._int_mm for int8 (int32 result), numpy BLAS for floats."""
    if lhs.dtype == np.int8:
        import torch
        rhs = torch.from_numpy(np.ascontiguousarray(w.T))
        return torch._int_mm(torch.from_numpy(lhs), rhs).numpy()
    return lhs @ w.T


def _run_parts(lhs_for, codes_ktc: np.ndarray, arith: LayerArith, parts: list[GemmPart],
               n_rows: int) -> np.ndarray:
    """Sum of the planned GEMMs as int64 (n_rows, K) or (n_rows, K, 2) (dual).
    lhs_for(operands, dtype) gives the stacked activation rows in the column order of
    part_weights(codes_ktc).

    A POST layer's PE has max_len = N and the spec's safe accumulator width, which holds
    every sum except one corner (signed activations, N a power of two, every term
    (-2**(abits-1)) * (-alpha): docs/arithmetic.md section 4); where the bound reaches
    past the register the sums are wrapped to acc_bits exactly as the PE wraps them."""
    k = codes_ktc.shape[0]
    # Each block adds at most bound * mult << lo in magnitude; when the sum over a slot's
    # blocks stays below 2**31, int32 arithmetic is exact and halves the memory traffic.
    worst = [0] * arith.slots
    for p in parts:
        for blk in p.blocks:
            worst[blk.slot] += p.bound * (abs(blk.mult) << blk.lo)
    acc_dtype = np.int32 if max(worst) < 2**31 else np.int64
    out: list = [None] * arith.slots
    for p in parts:
        res = _gemm(lhs_for(p.operands, p.dtype), part_weights(codes_ktc, arith, p))
        for b, blk in enumerate(p.blocks):
            r = res[:, b * k:(b + 1) * k]
            factor = blk.mult << blk.lo
            r = r.astype(acc_dtype) if factor == 1 else r.astype(acc_dtype) * factor
            s = blk.slot
            if out[s] is None:
                out[s] = r
            else:
                out[s] += r
    out = [np.zeros((n_rows, k), dtype=np.int64) if o is None else o.astype(np.int64)
           for o in out]
    if arith.scheme == "post":
        acc_bits = arith.pe_config().acc_bits
        if arith.acc_bound() >= 1 << (acc_bits - 1):
            out = [_wrap_array(o, acc_bits) for o in out]
    return out[0] if arith.slots == 1 else np.stack(out, axis=-1)


def _wrap_array(a: np.ndarray, acc_bits: int) -> np.ndarray:
    """Two's complement wrap of int64 values to acc_bits (golden.pe._wrap, vectorised)."""
    if acc_bits >= 64:
        return a
    mask = (1 << acc_bits) - 1
    r = a & mask
    return np.where(r >> (acc_bits - 1) != 0, r - (mask + 1), r)


def accumulate(acts, codes, arith: LayerArith, fast: bool = True,
               allow_int8: bool = True) -> np.ndarray:
    """The layer's accumulators for PE input rows acts (R, N) and weight codes (K, N).

    Returns int64 (R, K) (lut, pot, int) or (R, K, 2) [A_even, A_odd] (dual); for post,
    bit-identical to golden.pe.pe_matmul (wrapped to the safe accumulator width, which for
    max_len = N never wraps). fast=False forces pe_matmul (or int64 numpy for pot/int);
    allow_int8=False restricts the fast path to float GEMMs.
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
    parts = plan_gemm(arith, allow_int8) if fast else None
    if parts is None:
        if arith.scheme == "post":
            return pe_matmul(acts, codes, arith.pe_config())
        return _baseline_matmul(acts, codes, arith)

    def lhs_for(operands, dtype):
        vals = [_operand_values(acts, o, arith, dtype) for o in operands]
        return vals[0] if len(vals) == 1 else np.concatenate(vals, axis=1)

    codes_ktc = codes.reshape(codes.shape[0], 1, -1)
    return _run_parts(lhs_for, codes_ktc, arith, parts, acts.shape[0])


def conv_accumulate(x: np.ndarray, codes: np.ndarray, kernel: tuple[int, int], stride: int,
                    padding: int, arith: LayerArith, fast: bool = True,
                    allow_int8: bool = True) -> np.ndarray:
    """Accumulators of a convolution over integer codes x (B, C, H, W) with weight codes
    (K, C*kh*kw) in im2col order. Returns int64 (B, K, Ho, Wo) or (B, K, Ho, Wo, 2) (dual).

    Equal to accumulate(im2col(x, ...), codes, arith) reshaped. The fast path stacks the
    operands as channels of NHWC data and builds rows in (i, j, operand, c) column order,
    with the weights permuted to match, so every copy is contiguous.
    """
    x = _as_int_array("x", x)
    codes = _as_int_array("codes", codes)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), not {x.shape}")
    b, c, h, w = x.shape
    kh, kw = kernel
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    if codes.ndim != 2 or codes.shape[1] != c * kh * kw:
        raise ValueError(f"codes must have shape (K, {c * kh * kw}), not {codes.shape}")
    parts = plan_gemm(arith, allow_int8) if fast else None
    if parts is None:
        acc = accumulate(im2col(x, kernel, stride, padding), codes, arith, fast=False)
    else:
        _check_acts(x.reshape(b, -1), arith)
        _check_codes(codes, arith)
        k = codes.shape[0]
        codes_ktc = codes.reshape(k, c, kh, kw).transpose(0, 2, 3, 1).reshape(k, kh * kw, c)
        x_hwc = x.transpose(0, 2, 3, 1)

        def lhs_for(operands, dtype):
            vals = [_operand_values(x_hwc, o, arith, dtype) for o in operands]
            stacked = vals[0] if len(vals) == 1 else np.concatenate(vals, axis=-1)
            return _im2col_hwc(stacked, kernel, stride, padding, ho, wo)

        acc = _run_parts(lhs_for, codes_ktc, arith, parts, b * ho * wo)
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

