"""POST weight codes and the activation LUT (spec sections 1 and 3.1).

Named after the hardware blocks: `decode` is the code decoder, `act_lut` the activation
LUT. Everything here is exact integer math; floats appear only in `levels` and `encode`,
which map between the real-valued weights and codes (the `post` rows of golden.schemes).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from asq_hw.config import WBITS_RANGE, PEConfig, _check_int
from golden.schemes import encode_weights, weight_levels, weight_magnitudes, weight_thresholds


def _m_max(wbits: int) -> int:
    return 2 ** (wbits - 1) - 1


def decode_tables(wbits: int) -> np.ndarray:
    """The code decoder as a table: row c is (sgn, shift, odd, nonzero) of code c.

    sgn is +1/-1, shift is J - e // 2, odd is e % 2, nonzero is 0 for m == 0 (sign ignored).
    Shape (2**wbits, 4), int64.
    """
    _check_int("wbits", wbits, *WBITS_RANGE)
    return _decode_tables(wbits).copy()


@functools.cache
def _decode_tables(wbits: int) -> np.ndarray:
    big_m = _m_max(wbits)
    j = (big_m - 1) // 2
    t = np.zeros((2**wbits, 4), dtype=np.int64)
    for code in range(2**wbits):
        s, m = code >> (wbits - 1), code & big_m
        t[code, 0] = -1 if s else 1
        if m:
            e = m - 1
            t[code, 1] = j - e // 2
            t[code, 2] = e % 2
            t[code, 3] = 1
    t.flags.writeable = False
    return t


def decode(code: int, wbits: int) -> tuple[int, int, int, int]:
    """(s, m, e, value of m==0) of one code; e is -1 for a zero code."""
    _check_int("wbits", wbits, *WBITS_RANGE)
    _check_int("code", code, 0, 2**wbits - 1)
    big_m = _m_max(wbits)
    s, m = code >> (wbits - 1), code & big_m
    return s, m, m - 1, int(m == 0)


def levels(wbits: int) -> np.ndarray:
    """Normalised weight value of every code (alpha = 1), indexed by code. float64."""
    return weight_levels("post", wbits)


def magnitudes(wbits: int) -> np.ndarray:
    """Normalised magnitudes for m = 0..M, m = 0 being 0. float64, descending after m=0."""
    return weight_magnitudes("post", wbits)


def thresholds(wbits: int) -> np.ndarray:
    """Decision thresholds on |u| in ascending order: |u| >= thresholds[k] means magnitude
    at least the (k+1)-th smallest level. Midpoints in the linear domain, so a tie goes to
    the larger magnitude (spec section 1)."""
    return weight_thresholds("post", wbits)


def encode(u, wbits: int) -> np.ndarray:
    """Codes (uint8) of normalised weights u = w / alpha: clip to [-1, 1], nearest level,
    ties to the larger magnitude, zero written as code 0 (spec section 1)."""
    return encode_weights(u, "post", wbits)


def lut_entry(x: int, frac_bits: int) -> int:
    """floor(x * 2**F / sqrt(2) + 1/2), exactly, for any integer x and F >= 1.

    x * 2**F / sqrt(2) = sign(x) * sqrt(x**2 * 2**(2F - 1)), irrational for x != 0, so the
    rounding has no ties and is odd-symmetric: LUT[-x] = -LUT[x]. With y = 2 * |v|,
    floor(|v| + 1/2) = (floor(y) + 1) // 2 and floor(y) = isqrt(x**2 * 2**(2F + 1)).
    """
    mag = (math.isqrt(x * x << (2 * frac_bits + 1)) + 1) // 2
    return -mag if x < 0 else mag


def act_lut(cfg: PEConfig) -> np.ndarray:
    """The activation LUT of the `lut` variant over the whole activation range, indexed by
    x - cfg.act_min. int64, read-only."""
    return _act_lut(cfg.act_min, cfg.act_max, cfg.frac_bits)


@functools.cache
def _act_lut(lo: int, hi: int, frac_bits: int) -> np.ndarray:
    t = np.array([lut_entry(x, frac_bits) for x in range(lo, hi + 1)], dtype=np.int64)
    t.flags.writeable = False
    return t
