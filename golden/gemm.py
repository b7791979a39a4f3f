"""The GEMM planner of the accumulators' fast path.

A POST accumulator is a sum of integer GEMMs (spec section 3.2's even/odd split): for
`lut`, A = (X @ W_even) << F + LUT[X] @ W_odd with W_even[k, i] = sgn * 2**sh on
even-exponent codes; for `dual`, A_even = X @ W_even and A_odd = X @ W_odd. A float GEMM
whose inputs are integers and whose every partial sum stays below 2**24 (float32) or 2**53
(float64) in magnitude is exact in any summation order, because every partial sum is the
sum of a subset of the products, so it is bounded by sum |x_i| |w_i|. `plan_gemm` proves
that bound from the configuration and N alone (worst case: every activation at its largest
magnitude and every weight at its largest shift in the group), splits the shifts into
groups when one GEMM would exceed it, and returns None, meaning "use the Numba kernel
pe_matmul", when no split is enough. `part_weights` builds a planned GEMM's weight matrix.
numpy only; the int8 tier is offered when torch provides torch._int_mm (looked up on
first use, so importing this module does not load torch).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from golden.arith import LayerArith, Term, int8_terms, layer_terms, lut_split
from golden.codes import lut_entry

# Exactness limits of float GEMMs: every integer of magnitude below these is representable
# and so is every partial sum bounded by them.
FLOAT_LIMITS = {np.float32: 2**24, np.float64: 2**53}


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


