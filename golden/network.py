"""Integer inference of a whole exported network, reading only the artifact.

One compute layer at a time, the steps are those of the hardware plus its host:

    rows      = layer_rows(i, x)                  PE input rows (im2col; x itself for linear)
    acc       = accumulate(i, x)                  the PE array (golden.accumulate)
    beta_out  = host_beta(i, acc, beta_in)        host: ASQ adapter of the next layer's input
    rq        = requant_params(i, beta_in, beta_out)   host: per-sample fixed-point multipliers
    codes     = requantize(i, acc, rq)            integer multiply, add, shift, clamp
    x_next    = post_ops(i, codes)                integer relu / maxpool / flatten

`layer_step` runs them for one layer and can take accumulators computed elsewhere (the RTL
array) in the PE's row layout; `run` runs the network and, with trace=True, keeps every
layer's record. The last layer ends in integer logits (no shift, no clamp).

The host side. beta is per sample and comes from the next layer's adapter applied to the
real-valued activation it would see. The host rebuilds that activation from the integer
accumulators in float64: y = ((s_in * alpha_k) * g_k) * T * beta_in + b_k with
T = sum_slots f_slot * A_slot, applies the integer ops between the layers to y (relu,
maxpool, flatten), takes the global average over positions, and runs the adapter's Linear
+ ReLU layers in float64; beta = max(result, MIN_BETA). Layers without an adapter have
beta = 1. golden.requant.requant_params turns (beta_in, beta_out) into the integer
multipliers. See docs/arithmetic.md, "Integer network pipeline".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asq_hw.artifact import (
    Artifact,
    ComputeLayer,
    Op,
    layer_arith,
    layer_pe_config,
    next_layer,
    requant_real,
)
from asq_hw.config import MIN_BETA, VARIANTS
from golden.accumulate import accumulate, conv_accumulate
from golden.ops import flatten, im2col, maxpool, relu
from golden.requant import Requant, output_logits, requant_params, requantize


@dataclasses.dataclass
class LayerRecord:
    """Everything one compute layer did for a batch of B images.

    x: the input codes (B, C, H, W) for conv, (B, N) for linear. rows: the PE input rows
    (B * Ho * Wo, N) (row b * Ho * Wo + oh * Wo + ow) when traced, else None. acc: the
    accumulators (B, K, Ho, Wo) / (B, K) int64, with a trailing [A_even, A_odd] axis for
    dual. beta_in, beta_out: (B,) float64. requant: the per-sample integer parameters.
    out: the requantized codes (B, K, Ho, Wo) / (B, K) before the following integer ops,
    or the integer logits (B, K) of the last layer. next_x: the next layer's input.
    """

    name: str
    index: int
    x: np.ndarray
    rows: np.ndarray | None
    acc: np.ndarray
    beta_in: np.ndarray
    beta_out: np.ndarray
    requant: Requant
    out: np.ndarray
    next_x: np.ndarray | None

    @property
    def acc_rows(self) -> np.ndarray:
        """acc in the PE's row layout: (B * Ho * Wo, K) or (B * Ho * Wo, K, 2)."""
        return rows_from_acc(self.acc)


@dataclasses.dataclass
class RunResult:
    """logits (B, K) float64 = logits_int * 2**-shift; preds = argmax of logits_int."""

    logits_int: np.ndarray
    shift: np.ndarray
    logits: np.ndarray
    preds: np.ndarray
    records: list[LayerRecord]


def rows_from_acc(acc: np.ndarray) -> np.ndarray:
    """(B, K, *spatial[, 2]) accumulators -> PE row layout (B * positions, K[, 2])."""
    dual = acc.ndim in (3, 5)  # (B, K, 2) or (B, K, Ho, Wo, 2)
    if acc.ndim in (2, 3):
        return acc.copy()
    a = np.moveaxis(acc, 1, 3)  # (B, Ho, Wo, K[, 2])
    return a.reshape((-1, a.shape[3]) + ((2,) if dual else ()))


def acc_from_rows(rows: np.ndarray, batch: int, out_hw: tuple[int, int] | None) -> np.ndarray:
    """Inverse of rows_from_acc for a conv with output out_hw (None: linear)."""
    rows = np.asarray(rows)
    if out_hw is None:
        return rows
    ho, wo = out_hw
    a = rows.reshape((batch, ho, wo) + rows.shape[1:])
    return np.moveaxis(a, 3, 1)


def _float_op(op: Op, y: np.ndarray) -> np.ndarray:
    if op.op == "relu":
        return np.maximum(y, 0.0)
    if op.op == "maxpool":
        return maxpool(y, op.kernel, op.stride)
    return flatten(y)


def _int_op(op: Op, x: np.ndarray) -> np.ndarray:
    if op.op == "relu":
        return relu(x)
    if op.op == "maxpool":
        return maxpool(x, op.kernel, op.stride)
    return flatten(x)


class GoldenNetwork:
    """Bit-exact integer inference of an artifact with one MAC variant and frac_bits."""

    def __init__(self, artifact: Artifact, variant: str = "lut", frac_bits: int | None = None,
                 fast: bool = True):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of 'lut', 'dual', not {variant!r}")
        self.artifact = artifact
        self.variant = variant
        self.frac_bits = artifact.frac_bits if frac_bits is None else frac_bits
        self.fast = fast
        self.scheme = artifact.weight_quant
        self.layers: list[ComputeLayer] = artifact.compute_layers()
        # The integer ops before the first compute op and after each one.
        self.pre_ops: list[Op] = []
        self.post_ops: list[list[Op]] = [[] for _ in self.layers]
        i = -1
        for op in artifact.ops:
            if op.op in ("conv", "linear"):
                i += 1
            elif i < 0:
                self.pre_ops.append(op)
            else:
                self.post_ops[i].append(op)
        self.arith = [layer_arith(lay, self.scheme, artifact.wbits, variant,
                                  self.frac_bits) for lay in self.layers]
        self._real = [requant_real(artifact, lay) for lay in self.layers]
        self._codes = [artifact.codes(lay) for lay in self.layers]

    # -- per layer facts
    def pe_config(self, i: int):
        """The POST PEConfig of compute layer i (asq_hw.artifact.layer_pe_config)."""
        return layer_pe_config(self.artifact, self.layers[i], self.variant, self.frac_bits)

    def out_hw(self, i: int) -> tuple[int, int] | None:
        return self.layers[i].out_hw

    # -- input
    def quantize_input(self, images) -> np.ndarray:
        """Network input codes of normalised float32 images (B, C, H, W): clamp(rint(x /
        step), lo, hi) in float32, the input quantizer's own arithmetic (round half to
        even), then the integer ops before the first compute op."""
        x = np.asarray(images, dtype=np.float32)
        shape = self.artifact.input.shape
        if x.ndim != 4 or x.shape[1:] != shape:
            raise ValueError(f"images must have shape (B, {', '.join(map(str, shape))}), "
                             f"not {x.shape}")
        a = self.arith[0]
        step = np.float32(self.layers[0].act_in.step)
        codes = np.clip(np.rint(x / step), a.act_min, a.act_max).astype(np.int64)
        for op in self.pre_ops:
            codes = _int_op(op, codes)
        return codes

    # -- the steps
    def layer_rows(self, i: int, x: np.ndarray) -> np.ndarray:
        """PE input rows of layer i: im2col (B * Ho * Wo, N) for conv, x (B, N) for linear."""
        lay = self.layers[i]
        if lay.op == "conv":
            return im2col(x, lay.kernel, lay.stride, lay.padding)
        return x

    def accumulate(self, i: int, x: np.ndarray) -> np.ndarray:
        """Accumulators of layer i: (B, K, Ho, Wo[, 2]) for conv, (B, K[, 2]) for linear."""
        lay = self.layers[i]
        if lay.op == "conv":
            return conv_accumulate(x, self._codes[i], lay.kernel, lay.stride, lay.padding,
                                   self.arith[i], fast=self.fast)
        return accumulate(x, self._codes[i], self.arith[i], fast=self.fast)

    def dequantize(self, i: int, acc: np.ndarray, beta_in: np.ndarray) -> np.ndarray:
        """The host's float64 view of layer i's output (BN folded, before relu)."""
        name = self.layers[i].name
        t = self.artifact.tensors
        s_in = float(np.float32(self.layers[i].act_in.step))
        scale = (s_in * t[f"{name}.alpha"].astype(np.float64)) \
            * t[f"{name}.bn_scale"].astype(np.float64)
        a = acc.astype(np.float64)
        if self.arith[i].slots == 1:
            a = a[..., None]
        total = sum(f * a[..., s] for s, f in enumerate(self.arith[i].slot_factors()))
        chan = (1, -1) + (1,) * (total.ndim - 2)
        bias = t[f"{name}.bias"].astype(np.float64)
        beta = beta_in.reshape((-1,) + (1,) * (total.ndim - 1))
        return total * scale.reshape(chan) * beta + bias.reshape(chan)

    def host_beta(self, i: int, acc: np.ndarray, beta_in: np.ndarray) -> np.ndarray:
        """beta of the next layer's input per sample (ones without adapter or for the last
        layer), computed on the host from layer i's accumulators."""
        b = acc.shape[0]
        nxt = next_layer(self.artifact, self.layers[i])
        if nxt is None or not nxt.act_in.adapter:
            return np.ones(b)
        y = self.dequantize(i, acc, beta_in)
        for op in self.post_ops[i]:
            y = _float_op(op, y)
        h = y.mean(axis=tuple(range(2, y.ndim))) if y.ndim > 2 else y
        for w, bias in self.artifact.adapter(nxt):
            h = np.maximum(h @ w.astype(np.float64).T + bias.astype(np.float64), 0.0)
        return np.maximum(h[:, 0], MIN_BETA)

    def requant_params(self, i: int, beta_in: np.ndarray, beta_out: np.ndarray) -> Requant:
        """Per-sample integer requantization of layer i (golden.requant.requant_params)."""
        r, d = self._real[i]
        return requant_params(r, d, beta_in, beta_out, self.arith[i],
                              logits=self.layers[i].is_logits)

    def requantize(self, i: int, acc: np.ndarray, rq: Requant) -> np.ndarray:
        """Next-layer activation codes from layer i's accumulators (B, K, ...[, 2]); for
        the last layer the integer logits (B, K)."""
        if self.layers[i].is_logits:
            out = output_logits(acc, rq, self.arith[i])
            return out.reshape(out.shape[0], -1)
        nxt = self.arith[i + 1]
        return requantize(acc, rq, self.arith[i], nxt.act_min, nxt.act_max)

    def post(self, i: int, codes: np.ndarray) -> np.ndarray:
        """The integer ops between layer i and the next compute op."""
        for op in self.post_ops[i]:
            codes = _int_op(op, codes)
        return codes

    def layer_step(self, i: int, x: np.ndarray, beta_in: np.ndarray, acc_rows=None,
                   trace: bool = True) -> LayerRecord:
        """Run compute layer i on input codes x with input betas beta_in (B,).

        acc_rows: accumulators computed elsewhere (e.g. the RTL array), in the PE row
        layout (B * Ho * Wo, K[, 2]); if None the golden PE computes them. trace=False
        skips building the im2col rows for the record.
        """
        x = np.asarray(x)
        beta_in = np.asarray(beta_in, dtype=np.float64)
        b = x.shape[0]
        rows = self.layer_rows(i, x) if trace else None
        if acc_rows is None:
            acc = self.accumulate(i, x)
        else:
            acc = acc_from_rows(acc_rows, b, self.out_hw(i))
        beta_out = self.host_beta(i, acc, beta_in)
        rq = self.requant_params(i, beta_in, beta_out)
        out = self.requantize(i, acc, rq)
        nxt = None if self.layers[i].is_logits else self.post(i, out)
        return LayerRecord(self.layers[i].name, i, x, rows, acc, beta_in, beta_out, rq,
                           out, nxt)

    def run(self, images, trace: bool = False, batch_size: int = 512) -> RunResult:
        """Integer inference of normalised float32 images (B, C, H, W), in chunks of
        batch_size images. Records are kept only with trace=True (one chunk then)."""
        images = np.asarray(images, dtype=np.float32)
        if trace and images.shape[0] > batch_size:
            raise ValueError(f"trace=True runs at most batch_size={batch_size} images")
        outs, shifts, records = [], [], []
        for start in range(0, images.shape[0], batch_size):
            x = self.quantize_input(images[start:start + batch_size])
            beta = np.ones(x.shape[0])
            for i in range(len(self.layers)):
                rec = self.layer_step(i, x, beta, trace=trace)
                if trace:
                    records.append(rec)
                x, beta = rec.next_x, rec.beta_out
            outs.append(rec.out)
            shifts.append(rec.requant.shift)
        logits_int = np.concatenate(outs)
        shift = np.concatenate(shifts)
        logits = np.ldexp(logits_int.astype(np.float64), -shift[:, None])
        return RunResult(logits_int, shift, logits, np.argmax(logits_int, axis=1), records)
