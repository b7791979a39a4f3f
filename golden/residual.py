"""Integer residual adds: both branches of a basic block in one u domain, then one sum.

The contract of docs/arithmetic.md, "Residual add". A block's output is relu(main +
shortcut); both terms are brought into the same domain as every layer output of "Integer
ASQ": u, the value in units of the static step of the layer that reads the block output,
with U_FRAC fractional bits, saturated to `ubits` signed bits.

    main      = rescale(A_main, C_main * b_in_main, D_main)   golden.asq_int.rescale
    shortcut  = rescale(A_proj, C_proj * b_x, D_proj)         projection (1x1 conv + BN)
              | identity(x, b_x, mult, shift)                 parameter-free shortcut
    u         = residual_add(main, shortcut)                  sat_ubits(main + shortcut)
    u         = relu / avgpool / flatten (u), then the next layer's adapter and
                requantize, exactly as after a compute layer

x, b_x are the block input's codes and beta codes (the codes the block's first conv
reads). `align_params`, which runs once at export, is the only function that reads a
float. Integer arrays in, int64 out; every operand checked against its width.
"""

from __future__ import annotations

import numpy as np

from golden import asq_int as Q

# The identity shortcut's alignment multiplier s_x / s_out: unsigned ALIGN_BITS bits with
# a right shift of at most ALIGN_SHIFT_MAX (x * b * mult < 2**(8 + BETA_BITS + ALIGN_BITS)
# = 2**34 for 8-bit codes, far inside int64).
ALIGN_BITS = 16
ALIGN_SHIFT_MAX = 40


def align_params(ratio: float) -> tuple[int, int]:
    """Export time: (mult, shift) with mult = rint(ratio * 2**shift) (IEEE, half to even)
    for the ratio s_x / s_out of two static steps, shift the largest <= ALIGN_SHIFT_MAX
    with mult < 2**ALIGN_BITS. ValueError if the ratio is not positive and finite or too
    large for a shift of 0 (s_x >= 2**16 s_out)."""
    r = float(ratio)
    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"alignment ratio must be positive and finite, not {ratio!r}")
    for shift in range(ALIGN_SHIFT_MAX, -1, -1):
        mult = int(np.rint(np.ldexp(r, shift)))
        if mult < 1 << ALIGN_BITS:
            if mult < 1:
                raise ValueError(f"alignment ratio {r:.3g} is below 2**-{ALIGN_SHIFT_MAX}")
            return mult, shift
    raise ValueError(f"alignment ratio {r:.3g} needs more than {ALIGN_BITS} bits")


def check_align(mult: int, shift: int) -> None:
    """ValueError unless 1 <= mult < 2**ALIGN_BITS and 0 <= shift <= ALIGN_SHIFT_MAX."""
    if not 1 <= mult < 1 << ALIGN_BITS:
        raise ValueError(f"alignment multiplier must be from 1 to {(1 << ALIGN_BITS) - 1}, "
                         f"not {mult}")
    if not 0 <= shift <= ALIGN_SHIFT_MAX:
        raise ValueError(f"alignment shift must be from 0 to {ALIGN_SHIFT_MAX}, not {shift}")


def identity(x, b, mult: int, shift: int, abits: int, ubits: int) -> np.ndarray:
    """The parameter-free shortcut in the u domain: sat_ubits(rnd_shift(x * b * mult)).

    x (B, C, H, W) unsigned `abits`-bit codes, b (B,) their beta codes: x * b is the real
    value in units of s_x with BETA_FRAC = U_FRAC fractional bits; mult * 2**-shift ~= s_x
    / s_out moves it to units of s_out. The product has abits + BETA_BITS + ALIGN_BITS
    bits (unsigned); one rounding, half up (add 2**(shift-1), arithmetic shift)."""
    check_align(mult, shift)
    x = Q.check_width("shortcut codes", Q._int64("shortcut codes", x), abits, signed=False)
    b = Q.check_beta("shortcut beta", b)
    prod = x * b.reshape((-1,) + (1,) * (x.ndim - 1)) * np.int64(mult)
    v = Q._round_shift(prod, shift)
    lim = 1 << (ubits - 1)
    return np.clip(v, -lim, lim - 1)


def residual_add(main, shortcut, ubits: int) -> np.ndarray:
    """sat_ubits(main + shortcut): both u values (signed ubits, the same shape); the sum
    has ubits + 1 bits before saturation."""
    a = Q.check_width("main branch u", Q._int64("main branch u", main), ubits)
    s = Q.check_width("shortcut u", Q._int64("shortcut u", shortcut), ubits)
    if a.shape != s.shape:
        raise ValueError(f"residual add of shapes {a.shape} and {s.shape}")
    lim = 1 << (ubits - 1)
    return np.clip(a + s, -lim, lim - 1)


def avgpool(u, ubits: int) -> np.ndarray:
    """Global average pool of u (B, C, H, W) -> (B, C, 1, 1): golden.asq_int.global_pool
    (sum, times PM, rounded shift by PS, saturated to ubits), the adapter's own pool."""
    p = Q.global_pool(u, ubits)
    return p[:, :, None, None]
