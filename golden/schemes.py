"""Weight schemes: the normalised level of every code, the decision thresholds and encode.

All three schemes (asq_hw.config.SCHEMES) share the sign-magnitude code layout of the spec
(section 1): `code = (s << (wbits-1)) | m`, m = 0 is zero. Only the magnitude of m differs:

    post: 2**(-(m-1)/2)    (the spec; runs on the POST PE, golden.pe)
    pot : 2**(-(m-1))      (power-of-two baseline)
    int : m / M            (uniform symmetric baseline, M = 2**(wbits-1) - 1)

These tables are the one definition: golden.codes' POST levels, thresholds and encode and
the PyTorch quantizers (asq_hw.quant) read them. numpy only.
"""

from __future__ import annotations

import numpy as np

from asq_hw.config import SCHEMES, WBITS_RANGE, _check_int


def check_scheme(scheme: str) -> None:
    """ValueError naming the allowed schemes unless `scheme` is one of them."""
    if scheme not in SCHEMES:
        raise ValueError(f"weight_quant must be one of {', '.join(SCHEMES)}, not {scheme!r}")


def weight_magnitudes(scheme: str, wbits: int) -> np.ndarray:
    """Normalised magnitude of every m = 0..M (alpha = 1), m = 0 being 0. float64."""
    check_scheme(scheme)
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
    linear domain, a tie to the larger magnitude, zero written as code 0 (spec section 1 for
    `post`; the baselines apply the same rule to their levels)."""
    check_scheme(scheme)
    u = np.asarray(u, dtype=np.float64)
    if not np.all(np.isfinite(u)):
        raise ValueError("weights must be finite, not NaN or inf")
    a = np.minimum(np.abs(u), 1.0)
    rank = np.searchsorted(weight_thresholds(scheme, wbits), a, side="right")
    m = rank_to_m(scheme, wbits)[rank]
    s = (u < 0) & (m > 0)
    return ((s.astype(np.int64) << (wbits - 1)) | m).astype(np.uint8)
