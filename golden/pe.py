"""The bit-exact POST multiply-accumulate (spec sections 3 and 4): the single source of truth.

The datapath steps are named after the hardware blocks: `decode` (code -> sign, shift, odd,
nonzero), `lut` (x -> LUT[x] for odd exponents, x << F for even ones), `shift`, `sign`,
`accumulate`, `wrap`. `term_table` runs decode, lut, shift and sign once for every
(code, activation) pair; the kernels then only gather, accumulate and wrap, which is exact
(every step is integer) and fast enough to be the reference for whole layers.

`pe_dot` is the golden PE; `pe_matmul` runs it for every pair of an activation row and a
weight row (a layer's accumulators). Both validate their inputs: an out-of-range activation
or code raises ValueError naming the element, its value and the allowed range. Set
NUMBA_DISABLE_JIT=1 to step through the kernels as plain Python.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from asq_hw.config import PEConfig
from golden.checks import as_int_array, check_range, range_error
from golden.codes import _decode_tables, act_lut


def datapath_term(x: int, code: int, cfg: PEConfig) -> tuple[int, int]:
    """One product as the datapath forms it, before accumulation: (odd, term).

    term = sgn * nz * (v << sh) with v = LUT[x] (lut variant, odd e), x << F (lut, even
    e) or x (dual). `odd` says which accumulator a dual PE adds it to.
    """
    sgn, sh, odd, nz = (int(v) for v in _decode_tables(cfg.wbits)[code])   # decode
    if cfg.variant == "lut":
        v = int(act_lut(cfg)[x - cfg.act_min]) if odd else x << cfg.frac_bits  # lut
    else:
        v = x
    return odd, sgn * nz * (v << sh)                                        # shift, sign


@functools.cache
def _term_table(cfg: PEConfig) -> np.ndarray:
    n_act = cfg.act_max - cfg.act_min + 1
    t = np.zeros((cfg.code_max + 1, n_act, 2), dtype=np.int64)
    for code in range(cfg.code_max + 1):
        for xi in range(n_act):
            odd, term = datapath_term(xi + cfg.act_min, code, cfg)
            # lut has one accumulator (slot 0); dual adds odd exponents to slot 1.
            t[code, xi, 1 if (odd and cfg.variant == "dual") else 0] = term
    t.flags.writeable = False
    return t


def term_table(cfg: PEConfig) -> np.ndarray:
    """Every product the PE can form: table[code, x - act_min, acc] with acc 0 = the
    (even) accumulator, 1 = the odd accumulator of `dual`. int64, (2**wbits, 2**abits, 2)."""
    if not isinstance(cfg, PEConfig):
        raise ValueError(f"cfg must be a PEConfig, not {type(cfg).__name__}")
    return _term_table(cfg)


@numba.njit(cache=True, inline="always")
def _wrap(acc, acc_bits):
    """Two's complement wrap of an int64 to acc_bits (the accumulator register)."""
    if acc_bits >= 64:
        return acc
    mask = (np.int64(1) << acc_bits) - 1
    r = acc & mask
    if r >> (acc_bits - 1):
        r -= mask + 1
    return r


@numba.njit(cache=True, parallel=True)
def _dot_kernel(acts, codes, table, act_min, acc_bits, out, bad):
    """out[b, :] = wrapped [A, 0] (lut) or [A_even, A_odd] (dual) of row b.

    bad[b] = the first column of row b holding an out-of-range activation or code, or -1.
    """
    n_rows, n = acts.shape
    n_codes, n_act = table.shape[0], table.shape[1]
    for b in numba.prange(n_rows):
        acc0 = np.int64(0)
        acc1 = np.int64(0)
        bad[b] = -1
        for i in range(n):
            xi = np.int64(acts[b, i]) - act_min
            c = np.int64(codes[b, i])
            if xi < 0 or xi >= n_act or c < 0 or c >= n_codes:
                bad[b] = i
                break
            acc0 += table[c, xi, 0]
            acc1 += table[c, xi, 1]
        out[b, 0] = _wrap(acc0, acc_bits)
        out[b, 1] = _wrap(acc1, acc_bits)


@numba.njit(cache=True, parallel=True)
def _matmul_kernel(acts, codes, table, act_min, acc_bits, out):
    """out[b, k, :] = the accumulators of acts[b] . codes[k]; inputs already validated."""
    n_rows, n = acts.shape
    n_out = codes.shape[0]
    for b in numba.prange(n_rows):
        for k in range(n_out):
            acc0 = np.int64(0)
            acc1 = np.int64(0)
            for i in range(n):
                xi = np.int64(acts[b, i]) - act_min
                c = np.int64(codes[k, i])
                acc0 += table[c, xi, 0]
                acc1 += table[c, xi, 1]
            out[b, k, 0] = _wrap(acc0, acc_bits)
            out[b, k, 1] = _wrap(acc1, acc_bits)


def _result(out: np.ndarray, cfg: PEConfig) -> np.ndarray:
    return out[..., 0].copy() if cfg.variant == "lut" else out


def pe_dot(acts, codes, cfg: PEConfig) -> np.ndarray:
    """Dot products as the PE computes them (spec sections 3-5).

    acts: integers (B, N) in the activation range of `cfg`; codes: integers in
    [0, 2**wbits) of shape (B, N), or (N,) shared by every row. Returns int64 (B,) for
    `lut` and (B, 2) = [A_even, A_odd] for `dual`, each wrapped to `cfg.acc_bits` bits.
    Raises ValueError on a bad shape, dtype or out-of-range element.
    """
    table = term_table(cfg)
    acts = as_int_array("acts", acts)
    codes = as_int_array("codes", codes)
    if acts.ndim != 2:
        raise ValueError(f"acts must have shape (B, N), not {acts.shape}")
    if codes.ndim == 1:
        codes = np.broadcast_to(codes, acts.shape)
    if codes.shape != acts.shape:
        raise ValueError(f"codes must have shape {acts.shape} or ({acts.shape[1]},), "
                         f"not {codes.shape}")
    out = np.empty((acts.shape[0], 2), dtype=np.int64)
    bad = np.empty(acts.shape[0], dtype=np.int64)
    _dot_kernel(acts, codes, table, cfg.act_min, cfg.acc_bits, out, bad)
    rows = np.flatnonzero(bad >= 0)
    if rows.size:
        b, i = int(rows[0]), int(bad[rows[0]])
        x = int(acts[b, i])
        if not cfg.act_min <= x <= cfg.act_max:
            raise range_error(cfg, "acts", (b, i), x)
        raise range_error(cfg, "codes", (b, i), int(codes[b, i]))
    return _result(out, cfg)


def pe_matmul(acts, codes, cfg: PEConfig) -> np.ndarray:
    """pe_dot of every activation row with every weight row: a layer's accumulators.

    acts: (B, N); codes: (K, N). Returns int64 (B, K) for `lut`, (B, K, 2) for `dual`;
    result[b, k] == pe_dot(acts[b:b+1], codes[k], cfg)[0].
    """
    table = term_table(cfg)
    acts = as_int_array("acts", acts)
    codes = as_int_array("codes", codes)
    if acts.ndim != 2 or codes.ndim != 2 or acts.shape[1] != codes.shape[1]:
        raise ValueError(f"acts (B, N) and codes (K, N) must agree in N, not "
                         f"{acts.shape} and {codes.shape}")
    check_range(cfg, "acts", acts)
    check_range(cfg, "codes", codes)
    out = np.empty((acts.shape[0], codes.shape[0], 2), dtype=np.int64)
    _matmul_kernel(acts, codes, table, cfg.act_min, cfg.acc_bits, out)
    return _result(out, cfg)
