"""Integer inference of a whole exported network, reading only the artifact.

Integer only from the input codes to the logits (docs/arithmetic.md, "Integer ASQ"). One
compute layer at a time, with b_in the input's beta codes (B,):

    rows      = layer_rows(i, x)               PE input rows (im2col; x itself for linear)
    acc       = accumulate(i, x)               the PE array (golden.accumulate)
    u         = rescale(i, acc, b_in)          A * (C * b_in) + D, rounded, saturated: the
                                               output in units of the next static step
    u         = post(i, u)                     integer relu / maxpool / flatten
    b_out     = adapter_beta(i, u)             the next layer's adapter (BETA_ONE without)
    x_next    = requantize(i, u, b_out)        u * reciprocal(b_out), rounded, clamped

The last layer ends in the integer logits of `rescale` (no shift, no clamp). `layer_step`
runs the steps for one layer and can take accumulators computed elsewhere (the RTL array)
in the PE's row layout; `run` runs the network and, with trace=True, keeps every layer's
record. The only floating point is `quantize_input` (normalised float32 images to the
input codes, the input quantizer's own arithmetic) and the descriptive `RunResult.logits`.
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
    layer_scale,
    next_layer,
)
from asq_hw.config import VARIANTS
from golden import asq_cost
from golden import asq_int as Q
from golden.accumulate import accumulate, conv_accumulate
from golden.ops import flatten, im2col, maxpool, relu


@dataclasses.dataclass
class LayerRecord:
    """Everything one compute layer did for a batch of B images.

    x: the input codes (B, C, H, W) for conv, (B, N) for linear. rows: the PE input rows
    (B * Ho * Wo, N) (row b * Ho * Wo + oh * Wo + ow) when traced, else None. acc: the
    accumulators (B, K, Ho, Wo) / (B, K) int64, with a trailing [A_even, A_odd] axis for
    dual. beta_in, beta_out: (B,) int64 beta codes (beta = code / 2**BETA_FRAC). mult: the
    per-sample multipliers M (B, K, slots). u: the rescaled output after the integer ops
    (None for the last layer). out: the next layer's input codes, or the integer logits
    (B, K) of the last layer; next_x: the same codes (None for the last layer).
    """

    name: str
    index: int
    x: np.ndarray
    rows: np.ndarray | None
    acc: np.ndarray
    beta_in: np.ndarray
    beta_out: np.ndarray
    mult: np.ndarray
    u: np.ndarray | None
    out: np.ndarray
    next_x: np.ndarray | None

    @property
    def acc_rows(self) -> np.ndarray:
        """acc in the PE's row layout: (B * Ho * Wo, K) or (B * Ho * Wo, K, 2)."""
        return rows_from_acc(self.acc)


@dataclasses.dataclass
class RunResult:
    """logits_int (B, K) int64; shift (B,): logits = logits_int * 2**-shift (float64, for
    display); preds = argmax of logits_int."""

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
        self.scales = [layer_scale(artifact, lay, variant, self.frac_bits)
                       for lay in self.layers]
        self.adapters = [artifact.adapter(lay) for lay in self.layers]
        self._codes = [artifact.codes(lay) for lay in self.layers]

    # -- per layer facts
    def pe_config(self, i: int):
        """The POST PEConfig of compute layer i (asq_hw.artifact.layer_pe_config)."""
        return layer_pe_config(self.artifact, self.layers[i], self.variant, self.frac_bits)

    def out_hw(self, i: int) -> tuple[int, int] | None:
        return self.layers[i].out_hw

    def ubits(self, i: int) -> int:
        """Width of u after layer i: set by the next layer's input codes."""
        return Q.u_bits(self.arith[i + 1].abits)

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
        step = np.float32(self.artifact.input_step)
        codes = np.clip(np.rint(x / step), a.act_min, a.act_max).astype(np.int64)
        for op in self.pre_ops:
            codes = _int_op(op, codes)
        return codes

    @staticmethod
    def input_beta(batch: int) -> np.ndarray:
        """Beta codes of the network input (B,): BETA_ONE, beta = 1 (it has no adapter)."""
        return np.full(batch, Q.BETA_ONE, dtype=np.int64)

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

    def sample_mult(self, i: int, beta_in: np.ndarray) -> np.ndarray:
        """Per-sample multipliers M = C * b_in (B, K, slots) of layer i."""
        return Q.sample_mult(self.scales[i].mult, beta_in)

    def rescale(self, i: int, acc: np.ndarray, mult: np.ndarray) -> np.ndarray:
        """u (B, K, ...) of layer i: its output in units of the next layer's static step
        with U_FRAC fractional bits, saturated; for the last layer the integer logits
        (B, K)."""
        st, bound = self.scales[i], self.arith[i].acc_bound()
        if self.layers[i].is_logits:
            out = Q.logits(acc, mult, st.bias, bound)
            return out.reshape(out.shape[0], -1)
        return Q.rescale(acc, mult, st.bias, st.shift, self.ubits(i), bound)

    def post(self, i: int, u: np.ndarray) -> np.ndarray:
        """The integer ops between layer i and the next compute op."""
        for op in self.post_ops[i]:
            u = _int_op(op, u)
        return u

    def adapter_beta(self, i: int, u: np.ndarray) -> np.ndarray:
        """Beta codes (B,) of the next layer's input: its adapter on u (after the integer
        ops), or BETA_ONE without one."""
        layers = self.adapters[i + 1]
        if not layers:
            return np.full(u.shape[0], Q.BETA_ONE, dtype=np.int64)
        return Q.adapter_beta(u, layers, self.ubits(i))

    def requantize(self, i: int, u: np.ndarray, beta_out: np.ndarray) -> np.ndarray:
        """The next layer's input codes from u (after the integer ops) and its beta codes."""
        nxt = self.arith[i + 1]
        return Q.requantize(u, Q.reciprocal(beta_out), self.ubits(i), nxt.act_min,
                            nxt.act_max)

    def layer_step(self, i: int, x: np.ndarray, beta_in: np.ndarray, acc_rows=None,
                   trace: bool = True) -> LayerRecord:
        """Run compute layer i on input codes x with input beta codes beta_in (B,).

        acc_rows: accumulators computed elsewhere (e.g. the RTL array), in the PE row
        layout (B * Ho * Wo, K[, 2]); if None the golden PE computes them. trace=False
        skips building the im2col rows for the record.
        """
        x = np.asarray(x)
        beta_in = Q.check_beta("beta_in", beta_in)
        b = x.shape[0]
        rows = self.layer_rows(i, x) if trace else None
        if acc_rows is None:
            acc = self.accumulate(i, x)
        else:
            acc = acc_from_rows(acc_rows, b, self.out_hw(i))
        mult = self.sample_mult(i, beta_in)
        if self.layers[i].is_logits:
            out = self.rescale(i, acc, mult)
            return LayerRecord(self.layers[i].name, i, x, rows, acc, beta_in,
                               np.full(b, Q.BETA_ONE, dtype=np.int64), mult, None, out, None)
        u = self.post(i, self.rescale(i, acc, mult))
        beta_out = self.adapter_beta(i, u)
        out = self.requantize(i, u, beta_out)
        return LayerRecord(self.layers[i].name, i, x, rows, acc, beta_in, beta_out, mult,
                           u, out, out)

    def logit_shift(self) -> int:
        """The real logit is logits_int * 2**-logit_shift()."""
        return self.scales[-1].shift + Q.BETA_FRAC

    def run(self, images, trace: bool = False, batch_size: int = 512) -> RunResult:
        """Integer inference of normalised float32 images (B, C, H, W), in chunks of
        batch_size images. Records are kept only with trace=True (one chunk then)."""
        images = np.asarray(images, dtype=np.float32)
        if trace and images.shape[0] > batch_size:
            raise ValueError(f"trace=True runs at most batch_size={batch_size} images")
        outs, records = [], []
        for start in range(0, images.shape[0], batch_size):
            x = self.quantize_input(images[start:start + batch_size])
            beta = self.input_beta(x.shape[0])
            for i in range(len(self.layers)):
                rec = self.layer_step(i, x, beta, trace=trace)
                if trace:
                    records.append(rec)
                x, beta = rec.next_x, rec.beta_out
            outs.append(rec.out)
        logits_int = np.concatenate(outs)
        shift = np.full(logits_int.shape[0], self.logit_shift(), dtype=np.int64)
        logits = np.ldexp(logits_int.astype(np.float64), -shift[:, None])
        return RunResult(logits_int, shift, logits, np.argmax(logits_int, axis=1), records)

    # -- what ASQ costs
    def cost(self) -> dict:
        """Per-layer widths, parameters and operations per image of the requantization
        and adapter units next to the MACs (golden.asq_cost.network_cost)."""
        shapes = []
        for i, op in enumerate(self.layers):
            out_shape = (op.out_channels,) + tuple(op.out_hw) if op.op == "conv" \
                else (op.out_features,)
            after = out_shape
            for post in self.post_ops[i]:
                after = _op_shape(post, after)
            logits = op.is_logits
            nxt = next_layer(self.artifact, op)
            arith = self.arith[i]
            acc_bits = arith.pe_config().acc_bits if self.scheme == "post" \
                else arith.acc_bound().bit_length() + 1
            adapter = tuple((a.weight.shape[1], a.weight.shape[0])
                            for a in self.adapters[i + 1]) if nxt is not None else ()
            shapes.append(asq_cost.LayerShape(
                name=op.name, macs=op.fan_in * op.outputs * op.positions,
                outputs=op.outputs, slots=arith.slots, positions=op.positions,
                acc_bits=acc_bits, scale_bits=self.scales[i].bits,
                input_beta=bool(self.adapters[i]), logits=logits,
                next_positions=0 if logits else _positions(after),
                next_channels=0 if logits else after[0],
                ubits=0 if logits else self.ubits(i), adapter=adapter))
        return asq_cost.network_cost(shapes)


def _op_shape(op: Op, shape: tuple) -> tuple:
    """The shape (C, H, W) or (N,) after an integer op."""
    if op.op == "maxpool":
        c, h, w = shape
        return (c, (h - op.kernel) // op.stride + 1, (w - op.kernel) // op.stride + 1)
    if op.op == "flatten":
        return (int(np.prod(shape)),)
    return shape


def _positions(shape: tuple) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else 1
