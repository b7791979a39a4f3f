"""Shape plumbing on integer codes: im2col (the PE's input rows) and the non-compute ops
between layers (relu, maxpool, flatten). numpy only."""

from __future__ import annotations

import numpy as np

from asq_hw.artifact import conv_out_hw

__all__ = ["conv_out_hw", "flatten", "im2col", "im2col_hwc", "maxpool", "relu"]


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int, padding: int) -> np.ndarray:
    """The PE input rows of a convolution: x (B, C, H, W) integer codes, zero padded.

    Returns (B * Ho * Wo, C * kh * kw) in x's dtype; row b * Ho * Wo + oh * Wo + ow holds the
    receptive field of output (oh, ow) of image b, column c * kh * kw + i * kw + j the input
    (c, oh * stride + i - padding, ow * stride + j - padding): the order of torch's
    weight.reshape(K, -1), so row . codes[k] is output channel k.
    """
    b, c, h, w = x.shape
    kh, kw = kernel
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((b, ho, wo, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = xp[:, :, i:i + stride * ho:stride,
                                        j:j + stride * wo:stride].transpose(0, 2, 3, 1)
    return cols.reshape(b * ho * wo, c * kh * kw)


def im2col_hwc(x_hwc: np.ndarray, kernel, stride: int, padding: int, ho: int, wo: int):
    """im2col of an NHWC array with column order (i, j, c), the fast path's layout (weights
    are permuted to match): per kernel row i, one copy whose runs are kw * C contiguous
    values when stride is 1."""
    b, h, w, c = x_hwc.shape
    kh, kw = kernel
    xp = np.zeros((b, h + 2 * padding, w + 2 * padding, c), dtype=x_hwc.dtype)
    xp[:, padding:padding + h, padding:padding + w, :] = x_hwc
    cols = np.empty((b, ho, wo, kh, kw, c), dtype=x_hwc.dtype)
    sb, sh, sw, sc = xp.strides
    for i in range(kh):
        # window[b, oh, ow, j, c] = xp[b, oh * stride + i, ow * stride + j, c]
        window = np.lib.stride_tricks.as_strided(
            xp[:, i:], shape=(b, ho, wo, kw, c),
            strides=(sb, sh * stride, sw * stride, sw, sc), writeable=False)
        cols[:, :, :, i, :, :] = window
    return cols.reshape(b * ho * wo, kh * kw * c)




def maxpool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Max over kernel x kernel windows of (B, C, H, W), no padding."""
    b, c, h, w = x.shape
    ho, wo = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    out = None
    for i in range(kernel):
        for j in range(kernel):
            v = x[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            out = v.copy() if out is None else np.maximum(out, v)
    return out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def flatten(x: np.ndarray) -> np.ndarray:
    """(B, C, H, W) -> (B, C*H*W) in torch.flatten(x, 1) order."""
    return x.reshape(x.shape[0], -1)

