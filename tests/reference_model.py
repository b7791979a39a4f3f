"""A plain-Python reading of the spec, written apart from golden/ to check it.

Deliberately different methods: the LUT entry is found by an integer inequality search
from a float estimate (not isqrt), levels are decoded arithmetically per term, and the
accumulator wraps by modulo at the end. Slow; for tests only.
"""

from __future__ import annotations


def ref_decode(code: int, wbits: int):
    """(sign, m, e) per spec section 1."""
    half = 1 << (wbits - 1)
    return (1 if code >= half else 0), code % half, (code % half) - 1


def ref_lut(x: int, frac_bits: int) -> int:
    """round(x * 2**F / sqrt(2)): k with (2k-1)**2 < 2 * (x * 2**F)**2 < (2k+1)**2."""
    if x == 0:
        return 0
    a = abs(x)
    two_v_sq = 2 * (a << frac_bits) ** 2  # (2v)**2 with v = a * 2**F / sqrt(2)
    k = int(a * 2**frac_bits / 2**0.5)
    while (2 * k + 1) ** 2 < two_v_sq:
        k += 1
    while (2 * k - 1) ** 2 > two_v_sq:
        k -= 1
    return k if x > 0 else -k


def ref_wrap(v: int, bits: int) -> int:
    v %= 1 << bits
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


def ref_dot(acts, codes, *, wbits, variant, frac_bits, acc_bits):
    """One dot product: int for lut, (A_even, A_odd) for dual."""
    big_m = (1 << (wbits - 1)) - 1
    j = (big_m - 1) // 2
    even = odd = 0
    for x, code in zip(acts, codes, strict=True):
        s, m, e = ref_decode(int(code), wbits)
        if m == 0:
            continue
        x = int(x)
        sgn = -1 if s else 1
        sh = j - e // 2
        if variant == "lut":
            v = (x << frac_bits) if e % 2 == 0 else ref_lut(x, frac_bits)
            even += sgn * (v << sh)
        elif e % 2 == 0:
            even += sgn * (x << sh)
        else:
            odd += sgn * (x << sh)
    if variant == "lut":
        return ref_wrap(even, acc_bits)
    return ref_wrap(even, acc_bits), ref_wrap(odd, acc_bits)
