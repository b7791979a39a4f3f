"""Layer arithmetic configurations the golden layer tests share, and a random input maker."""

import numpy as np

CONFIGS = [
    # scheme, wbits, abits, signed, variant, frac_bits, n
    ("post", 4, 4, False, "lut", 8, 576),
    ("post", 4, 4, False, "dual", 8, 576),
    ("post", 2, 2, False, "lut", 8, 64),
    ("post", 3, 3, False, "dual", 8, 100),
    ("post", 4, 8, True, "lut", 8, 9),
    ("post", 4, 8, True, "dual", 8, 9),
    ("post", 6, 8, True, "lut", 16, 300),   # int8 per-shift groups + LUT residues
    ("post", 5, 8, False, "lut", 12, 200),  # unsigned 8-bit: float path
    ("post", 6, 8, False, "dual", 4, 4000),
    ("post", 4, 5, False, "lut", 1, 50),
    ("pot", 4, 4, False, "lut", 8, 144),
    ("pot", 6, 8, True, "dual", 8, 33),
    ("int", 4, 4, False, "lut", 8, 144),
    ("int", 3, 8, False, "lut", 8, 40),
]


def config_id(c) -> str:
    return "-".join(map(str, c))


def random_inputs(rng, arith, rows, k):
    """Activation rows (rows, N) and weight codes (k, N) of `arith`; rows 0 and 1 all at the
    largest and smallest activation (the bound's worst cases)."""
    acts = rng.integers(arith.act_min, arith.act_max + 1, (rows, arith.n))
    codes = rng.integers(0, 2**arith.wbits, (k, arith.n)).astype(np.uint8)
    acts[0], acts[1] = arith.act_max, arith.act_min
    return acts, codes
