"""Packing of lane values into port words, the one definition the RTL side shares: the
PE/array stream benches (sim/), the mapper's beat words and the accelerator's weight memory
words all lay lane i at bits [i*bits, (i+1)*bits), two's complement."""

from __future__ import annotations

import numpy as np


def pack_lanes(values, bits: int) -> list[int]:
    """Pack a (beats, lanes) integer array into one integer per beat: lane i at bits
    [i*bits, (i+1)*bits), two's complement. Python ints, so any width works."""
    v = np.asarray(values, dtype=np.int64)
    if v.ndim != 2:
        raise ValueError(f"values must have shape (beats, lanes), not {v.shape}")
    mask = (1 << bits) - 1
    lanes = v.shape[1]
    if lanes * bits <= 62:
        shifts = np.arange(lanes, dtype=np.int64) * bits
        return [int(x) for x in ((v & mask) << shifts).sum(axis=1)]
    out = []
    for row in v.tolist():                  # Python ints: fields up to any width
        word = 0
        for i, x in enumerate(row):
            word |= (x & mask) << (i * bits)
        out.append(word)
    return out
