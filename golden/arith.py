"""The integer arithmetic of one compute layer: what its accumulators mean.

`LayerArith` is a layer's frozen configuration (weight scheme and width, input activation
format, POST MAC variant, fan-in); `slot_factors` and `acc_bound` say what an accumulator
stands for and how large it can get. `layer_terms` writes the accumulators as sums of
integer GEMM terms, the way the PE forms them (spec 3.1, 3.2): the GEMM planner
(golden.gemm) and the accumulator (golden.accumulate) build on them. numpy only.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from asq_hw.config import PEConfig, _check_int, act_range
from golden.codes import _decode_tables, act_lut, lut_entry
from golden.schemes import check_scheme


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
        check_scheme(self.scheme)
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
