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
record.

Residual networks (artifact version 3, docs/arithmetic.md "Residual add"): a compute layer
with output "residual" stops after `rescale` (its u goes to an add); a layer with an
`input` reads the input codes and beta of the layer it names (the block input); `add_step`
sums the main branch's u and the shortcut's (a projection layer's u, or the identity
shortcut golden.residual.identity of the block input codes) and continues like a layer
output: integer ops, the next layer's adapter, requantize.

The only floating point is `quantize_input` (normalised float32 images to the input codes,
the input quantizer's own arithmetic) and the descriptive `RunResult.logits`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asq_hw.artifact import (
    COMPUTE_OPS,
    Add,
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
from golden import residual as R
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
    (B, K) of the last layer; next_x: the same codes (None for the last layer). A layer
    with output "residual" stops at u: out is u, beta_out and next_x are None.
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
class AddRecord:
    """One residual add for a batch: main, shortcut (the two u terms), u (the sum after
    the integer ops that follow it), beta_out and out (the next layer's codes)."""

    index: int
    main: np.ndarray
    shortcut: np.ndarray
    u: np.ndarray
    beta_out: np.ndarray
    out: np.ndarray


@dataclasses.dataclass
class RunResult:
    """logits_int (B, K) int64; shift (B,): logits = logits_int * 2**-shift (float64, for
    display); preds = argmax of logits_int. records: one per compute layer (trace=True),
    adds: one per residual add (trace=True)."""

    logits_int: np.ndarray
    shift: np.ndarray
    logits: np.ndarray
    preds: np.ndarray
    records: list[LayerRecord]
    adds: list[AddRecord] = dataclasses.field(default_factory=list)


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


def _int_op(op: Op, x: np.ndarray, ubits: int) -> np.ndarray:
    if op.op == "relu":
        return relu(x)
    if op.op == "maxpool":
        return maxpool(x, op.kernel, op.stride)
    if op.op == "avgpool":
        return R.avgpool(x, ubits)
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
        index = {lay.name: i for i, lay in enumerate(self.layers)}
        # The integer ops before the first compute op and after each compute op or add;
        # the adds after each compute layer; where each layer's input comes from (None:
        # the chain) and the layer whose input step its output is in units of.
        self.pre_ops: list[Op] = []
        self.post_ops: list[list[Op]] = [[] for _ in self.layers]
        self.adds: list[Add] = []
        self.add_post_ops: list[list[Op]] = []
        self.adds_after: list[list[int]] = [[] for _ in self.layers]
        tail = self.pre_ops
        for op in artifact.ops:
            if op.op in COMPUTE_OPS:
                tail = self.post_ops[index[op.name]]
            elif op.op == "add":
                self.adds.append(op)
                self.add_post_ops.append([])
                tail = self.add_post_ops[-1]
            else:
                tail.append(op)
        self.source = [None if lay.input is None else index[lay.input]
                       for lay in self.layers]
        nxt = [next_layer(artifact, lay) for lay in self.layers]
        self.dest = [None if n is None else index[n.name] for n in nxt]
        self.add_main = [index[a.main] for a in self.adds]
        self.add_short = [index[a.shortcut] for a in self.adds]
        self.add_dest = [self.dest[m] for m in self.add_main]
        for j, a in enumerate(self.adds):   # an add runs once both its terms exist
            last = max(self.add_main[j], self.add_short[j] if a.kind == "projection" else 0)
            self.adds_after[last].append(j)
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
        """Width of u after layer i: set by the input codes of the layer its output is in
        units of (the next layer; after a residual add, the layer after the add)."""
        return Q.u_bits(self.arith[self.dest[i]].abits)

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
            codes = _int_op(op, codes, 0)
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
            u = _int_op(op, u, self.ubits(i))
        return u

    def adapter_beta(self, i: int, u: np.ndarray) -> np.ndarray:
        """Beta codes (B,) of the next layer's input: its adapter on u (after the integer
        ops), or BETA_ONE without one."""
        return self._beta(self.dest[i], u)

    def requantize(self, i: int, u: np.ndarray, beta_out: np.ndarray) -> np.ndarray:
        """The next layer's input codes from u (after the integer ops) and its beta codes."""
        return self._codes_of(self.dest[i], u, beta_out)

    def _beta(self, dest: int, u: np.ndarray) -> np.ndarray:
        layers = self.adapters[dest]
        if not layers:
            return np.full(u.shape[0], Q.BETA_ONE, dtype=np.int64)
        return Q.adapter_beta(u, layers, Q.u_bits(self.arith[dest].abits))

    def _codes_of(self, dest: int, u: np.ndarray, beta_out: np.ndarray) -> np.ndarray:
        nxt = self.arith[dest]
        return Q.requantize(u, Q.reciprocal(beta_out), Q.u_bits(nxt.abits), nxt.act_min,
                            nxt.act_max)

    # -- residual adds
    def shortcut(self, j: int, x_short: np.ndarray, beta_short: np.ndarray,
                 u_proj: np.ndarray | None = None) -> np.ndarray:
        """The shortcut term of add j in the u domain: the projection layer's u (u_proj,
        from its layer_step), or the identity shortcut of the block input codes x_short
        with their beta codes (golden.residual.identity)."""
        a, dest = self.adds[j], self.add_dest[j]
        if a.kind == "projection":
            return u_proj
        return R.identity(x_short, beta_short, a.align_mult, a.align_shift,
                          self.arith[self.add_short[j]].abits,
                          Q.u_bits(self.arith[dest].abits))

    def add_step(self, j: int, u_main: np.ndarray, u_short: np.ndarray) -> AddRecord:
        """Residual add j: sat(main + shortcut), the integer ops after it, the next
        layer's adapter and requantization."""
        dest = self.add_dest[j]
        ubits = Q.u_bits(self.arith[dest].abits)
        u = R.residual_add(u_main, u_short, ubits)
        for op in self.add_post_ops[j]:
            u = _int_op(op, u, ubits)
        beta_out = self._beta(dest, u)
        out = self._codes_of(dest, u, beta_out)
        return AddRecord(j, u_main, u_short, u, beta_out, out)

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
        if self.layers[i].output == "residual":
            u = self.rescale(i, acc, mult)
            return LayerRecord(self.layers[i].name, i, x, rows, acc, beta_in, None, mult,
                               u, u, None)
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
        outs, records, adds = [], [], []
        for start in range(0, images.shape[0], batch_size):
            x = self.quantize_input(images[start:start + batch_size])
            beta = self.input_beta(x.shape[0])
            inputs, resid = {}, {}        # per layer: its (x, beta); its residual u
            for i in range(len(self.layers)):
                src = self.source[i]
                xi, bi = (x, beta) if src is None else inputs[src]
                inputs[i] = (xi, bi)
                rec = self.layer_step(i, xi, bi, trace=trace)
                if trace:
                    records.append(rec)
                if rec.next_x is not None:
                    x, beta = rec.next_x, rec.beta_out
                elif not self.layers[i].is_logits:
                    resid[i] = rec.u
                for j in self.adds_after[i]:
                    xs, bs = inputs[self.add_short[j]]
                    arec = self.add_step(j, resid.pop(self.add_main[j]), self.shortcut(
                        j, xs, bs, resid.pop(self.add_short[j], None)))
                    if trace:
                        adds.append(arec)
                    x, beta = arec.out, arec.beta_out
            outs.append(rec.out)
        logits_int = np.concatenate(outs)
        shift = np.full(logits_int.shape[0], self.logit_shift(), dtype=np.int64)
        logits = np.ldexp(logits_int.astype(np.float64), -shift[:, None])
        return RunResult(logits_int, shift, logits, np.argmax(logits_int, axis=1), records,
                         adds)

    # -- what ASQ costs
    def cost(self) -> dict:
        """Per-layer widths, parameters and operations per image of the requantization
        and adapter units next to the MACs (golden.asq_cost.network_cost)."""
        shapes = []
        for i, op in enumerate(self.layers):
            out_shape = (op.out_channels,) + tuple(op.out_hw) if op.op == "conv" \
                else (op.out_features,)
            after, post, dest = out_shape, self.post_ops[i], self.dest[i]
            # A residual add's requantization and adapter are counted with the main
            # branch that feeds it; a projection ends at its rescale (like the logits).
            ends = op.is_logits or self.source[i] is not None
            shortcut, shortcut_beta = "", False
            if op.output == "residual" and not ends:
                j = self.add_main.index(i)
                post = self.add_post_ops[j]
                shortcut = self.adds[j].kind
                shortcut_beta = shortcut == "identity" and bool(
                    self.adapters[self.add_short[j]])
            for p in post:
                after = _op_shape(p, after)
            arith = self.arith[i]
            acc_bits = arith.pe_config().acc_bits if self.scheme == "post" \
                else arith.acc_bound().bit_length() + 1
            adapter = tuple((a.weight.shape[1], a.weight.shape[0])
                            for a in self.adapters[dest]) if not ends else ()
            src = i if self.source[i] is None else self.source[i]
            shapes.append(asq_cost.LayerShape(
                name=op.name, macs=op.fan_in * op.outputs * op.positions,
                outputs=op.outputs, slots=arith.slots, positions=op.positions,
                acc_bits=acc_bits, scale_bits=self.scales[i].bits,
                input_beta=bool(self.adapters[src]), logits=ends,
                next_positions=0 if ends else _positions(after),
                next_channels=0 if ends else after[0],
                ubits=0 if ends else self.ubits(i), adapter=adapter, shortcut=shortcut,
                shortcut_beta=shortcut_beta))
        return asq_cost.network_cost(shapes)


def _op_shape(op: Op, shape: tuple) -> tuple:
    """The shape (C, H, W) or (N,) after an integer op."""
    if op.op == "maxpool":
        c, h, w = shape
        return (c, (h - op.kernel) // op.stride + 1, (w - op.kernel) // op.stride + 1)
    if op.op == "flatten":
        return (int(np.prod(shape)),)
    if op.op == "avgpool":
        return (shape[0], 1, 1)
    return shape


def _positions(shape: tuple) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else 1
