"""The PE array's accumulators for a whole layer: `accumulate` (PE input rows times weight
rows) and `conv_accumulate` (a convolution over NCHW codes).

Bit-identical to golden.pe.pe_matmul for `post`; `pot` and `int` have no POST PE, their
accumulator is the exact integer dot product with integer weights `sgn * 2**(M-m)` (pot)
and `sgn * m` (int). The fast path runs the exact GEMMs golden.gemm.plan_gemm proves.
"""

from __future__ import annotations

import numpy as np

from asq_hw.config import PEConfig
from golden.arith import LayerArith, layer_terms, lut_split
from golden.checks import as_int_array, check_range
from golden.codes import act_lut
from golden.gemm import GemmPart, part_weights, plan_gemm
from golden.ops import conv_out_hw, im2col, im2col_hwc
from golden.pe import pe_matmul


def _baseline_matmul(acts: np.ndarray, codes: np.ndarray, arith: LayerArith) -> np.ndarray:
    """Exact int64 accumulators of pot/int layers (no POST PE): sum x * (weight << shift)."""
    (term,) = layer_terms(arith)
    w_int = (term.weight << term.shift)[codes]  # (K, N) int64
    return acts.astype(np.int64) @ w_int.T


def _check_codes(codes: np.ndarray, arith: LayerArith) -> None:
    if codes.size and (codes.min() < 0 or codes.max() > 2**arith.wbits - 1):
        idx = np.argwhere((codes < 0) | (codes > 2**arith.wbits - 1))[0]
        where = ", ".join(str(int(i)) for i in idx)
        raise ValueError(f"codes[{where}] = {int(codes[tuple(idx)])} is out of range: codes "
                         f"must be integers from 0 to {2**arith.wbits - 1} "
                         f"(wbits={arith.wbits})")


def _check_acts(acts: np.ndarray, arith: LayerArith) -> None:
    # PEConfig carries the same activation range and message for every scheme.
    check_range(PEConfig(wbits=arith.wbits, abits=arith.abits, act_signed=arith.act_signed,
                         max_len=arith.n), "acts", acts)


def _operand_values(x: np.ndarray, operand: str, arith: LayerArith, dtype) -> np.ndarray:
    """The activation codes ("x"), their LUT entries ("lut") or LUT residues ("lutres",
    see lut_split) as `dtype`."""
    if operand == "x":
        return x.astype(dtype)
    cfg = arith.pe_config()
    table = act_lut(cfg) if operand == "lut" else lut_split(arith)[1]
    return table.astype(dtype)[x.astype(np.int64) - cfg.act_min]


def _gemm(lhs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """lhs @ w.T: torch._int_mm for int8 (int32 result), numpy BLAS for floats."""
    if lhs.dtype == np.int8:
        import torch
        rhs = torch.from_numpy(np.ascontiguousarray(w.T))
        return torch._int_mm(torch.from_numpy(lhs), rhs).numpy()
    return lhs @ w.T


def _run_parts(lhs_for, codes_ktc: np.ndarray, arith: LayerArith, parts: list[GemmPart],
               n_rows: int) -> np.ndarray:
    """Sum of the planned GEMMs as int64 (n_rows, K) or (n_rows, K, 2) (dual).
    lhs_for(operands, dtype) gives the stacked activation rows in the column order of
    part_weights(codes_ktc).

    A POST layer's PE has max_len = N and the spec's safe accumulator width, which holds
    every sum except one corner (signed activations, N a power of two, every term
    (-2**(abits-1)) * (-alpha): docs/arithmetic.md section 4); where the bound reaches
    past the register the sums are wrapped to acc_bits exactly as the PE wraps them."""
    k = codes_ktc.shape[0]
    # Each block adds at most bound * mult << lo in magnitude; when the sum over a slot's
    # blocks stays below 2**31, int32 arithmetic is exact and halves the memory traffic.
    worst = [0] * arith.slots
    for p in parts:
        for blk in p.blocks:
            worst[blk.slot] += p.bound * (abs(blk.mult) << blk.lo)
    acc_dtype = np.int32 if max(worst) < 2**31 else np.int64
    out: list = [None] * arith.slots
    for p in parts:
        res = _gemm(lhs_for(p.operands, p.dtype), part_weights(codes_ktc, arith, p))
        for b, blk in enumerate(p.blocks):
            r = res[:, b * k:(b + 1) * k]
            factor = blk.mult << blk.lo
            r = r.astype(acc_dtype) if factor == 1 else r.astype(acc_dtype) * factor
            s = blk.slot
            if out[s] is None:
                out[s] = r
            else:
                out[s] += r
    out = [np.zeros((n_rows, k), dtype=np.int64) if o is None else o.astype(np.int64)
           for o in out]
    if arith.scheme == "post":
        acc_bits = arith.pe_config().acc_bits
        if arith.acc_bound() >= 1 << (acc_bits - 1):
            out = [_wrap_array(o, acc_bits) for o in out]
    return out[0] if arith.slots == 1 else np.stack(out, axis=-1)


def _wrap_array(a: np.ndarray, acc_bits: int) -> np.ndarray:
    """Two's complement wrap of int64 values to acc_bits (golden.pe._wrap, vectorised)."""
    if acc_bits >= 64:
        return a
    mask = (1 << acc_bits) - 1
    r = a & mask
    return np.where(r >> (acc_bits - 1) != 0, r - (mask + 1), r)


def accumulate(acts, codes, arith: LayerArith, fast: bool = True,
               allow_int8: bool = True) -> np.ndarray:
    """The layer's accumulators for PE input rows acts (R, N) and weight codes (K, N).

    Returns int64 (R, K) (lut, pot, int) or (R, K, 2) [A_even, A_odd] (dual); for post,
    bit-identical to golden.pe.pe_matmul (wrapped to the safe accumulator width, which for
    max_len = N never wraps). fast=False forces pe_matmul (or int64 numpy for pot/int);
    allow_int8=False restricts the fast path to float GEMMs.
    """
    acts = as_int_array("acts", acts)
    codes = as_int_array("codes", codes)
    if acts.ndim != 2 or codes.ndim != 2 or acts.shape[1] != codes.shape[1]:
        raise ValueError(f"acts (R, N) and codes (K, N) must agree in N, not "
                         f"{acts.shape} and {codes.shape}")
    if acts.shape[1] != arith.n:
        raise ValueError(f"acts has {acts.shape[1]} columns, the layer's N is {arith.n}")
    _check_acts(acts, arith)
    _check_codes(codes, arith)
    parts = plan_gemm(arith, allow_int8) if fast else None
    if parts is None:
        if arith.scheme == "post":
            return pe_matmul(acts, codes, arith.pe_config())
        return _baseline_matmul(acts, codes, arith)

    def lhs_for(operands, dtype):
        vals = [_operand_values(acts, o, arith, dtype) for o in operands]
        return vals[0] if len(vals) == 1 else np.concatenate(vals, axis=1)

    codes_ktc = codes.reshape(codes.shape[0], 1, -1)
    return _run_parts(lhs_for, codes_ktc, arith, parts, acts.shape[0])


def conv_accumulate(x: np.ndarray, codes: np.ndarray, kernel: tuple[int, int], stride: int,
                    padding: int, arith: LayerArith, fast: bool = True,
                    allow_int8: bool = True) -> np.ndarray:
    """Accumulators of a convolution over integer codes x (B, C, H, W) with weight codes
    (K, C*kh*kw) in im2col order. Returns int64 (B, K, Ho, Wo) or (B, K, Ho, Wo, 2) (dual).

    Equal to accumulate(im2col(x, ...), codes, arith) reshaped. The fast path stacks the
    operands as channels of NHWC data and builds rows in (i, j, operand, c) column order,
    with the weights permuted to match, so every copy is contiguous.
    """
    x = as_int_array("x", x)
    codes = as_int_array("codes", codes)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), not {x.shape}")
    b, c, h, w = x.shape
    kh, kw = kernel
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    if codes.ndim != 2 or codes.shape[1] != c * kh * kw:
        raise ValueError(f"codes must have shape (K, {c * kh * kw}), not {codes.shape}")
    parts = plan_gemm(arith, allow_int8) if fast else None
    if parts is None:
        acc = accumulate(im2col(x, kernel, stride, padding), codes, arith, fast=False)
    else:
        _check_acts(x.reshape(b, -1), arith)
        _check_codes(codes, arith)
        k = codes.shape[0]
        codes_ktc = codes.reshape(k, c, kh, kw).transpose(0, 2, 3, 1).reshape(k, kh * kw, c)
        x_hwc = x.transpose(0, 2, 3, 1)

        def lhs_for(operands, dtype):
            vals = [_operand_values(x_hwc, o, arith, dtype) for o in operands]
            stacked = vals[0] if len(vals) == 1 else np.concatenate(vals, axis=-1)
            return im2col_hwc(stacked, kernel, stride, padding, ho, wo)

        acc = _run_parts(lhs_for, codes_ktc, arith, parts, b * ho * wo)
    acc = acc.reshape((b, ho, wo) + acc.shape[1:])
    return np.moveaxis(acc, 3, 1)


