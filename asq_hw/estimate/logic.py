"""LUT counts of small logic functions, from their truth tables or input counts.

These are the structural halves of the per-block LUT formulas (asq_hw/estimate/model.py
multiplies them by calibrated coefficients):

- `mux_luts(n, k)`: a mux-like function of n inputs (a term bit: the value bits it selects
  among plus the select, sign and zero inputs) as a tree of k-input LUTs, each adding k - 1
  new inputs: ceil((n - 1) / (k - 1)) LUTs.
- `table_luts(columns, k, free_levels)`: the LUTs of a set of truth tables over the same
  n inputs (the LUT ROM's columns, the decoder's outputs), as a shared decision diagram:
  every distinct sub-function of the k lowest inputs that is neither constant nor a single
  input is one LUT, every distinct sub-function above them whose two halves differ is one
  2:1 mux, except on the `free_levels` levels just above the LUTs, where the FPGA's slice
  multiplexers (Xilinx MUXF7/MUXF8) do it for free. Both input orders
  (low address bits first, high first) are tried and the smaller count kept.
"""

from __future__ import annotations

import functools


def mux_luts(n: int, k: int) -> int:
    """k-input LUTs of a tree computing one function of n inputs (at least one)."""
    if n <= k:
        return 1
    return -(-(n - 1) // (k - 1))


def _is_trivial(t: tuple) -> bool:
    """Constant, or equal to one input of the sub-table: no LUT needed."""
    if not any(t) or all(t):
        return True
    n = len(t).bit_length() - 1
    return any(all(((a >> i) & 1) == v for a, v in enumerate(t)) for i in range(n))


def _count(columns: tuple, k: int, free_levels: int) -> int:
    """LUTs + muxes with the top input split first (see the module docstring)."""
    n = len(columns[0]).bit_length() - 1
    if n <= k:
        return sum(not _is_trivial(c) for c in columns)
    level = set(columns)
    luts = 0
    # Split on the top input: a table's halves are its first and second half.
    for depth in range(n - k):
        nxt = set()
        free = depth >= n - k - free_levels
        for t in level:
            h = len(t) // 2
            lo, hi = t[:h], t[h:]
            if lo != hi:
                luts += 0 if free else 1
                nxt.update((lo, hi))
            else:
                nxt.add(lo)
        level = nxt
    return luts + sum(not _is_trivial(t) for t in level)


@functools.cache
def _reversal(n: int) -> tuple[int, ...]:
    """Entry order of a table over n inputs with the inputs' order reversed."""
    return tuple(int(format(a, f"0{n}b")[::-1], 2) if n else 0 for a in range(1 << n))


def _reverse_inputs(t: tuple) -> tuple:
    perm = _reversal(len(t).bit_length() - 1)
    return tuple(t[i] for i in perm)


@functools.lru_cache(maxsize=4096)
def table_luts(columns: tuple[tuple[int, ...], ...], k: int, free_levels: int = 0) -> int:
    """LUTs of the truth tables `columns` (all over the same inputs; entry a of a table is
    the output for input bits a) on k-input LUTs (see the module docstring)."""
    if not columns:
        return 0
    return min(_count(columns, k, free_levels),
               _count(tuple(_reverse_inputs(c) for c in columns), k, free_levels))
