"""Export: a trained PyTorch network -> the integer Artifact (asq_hw.artifact).

This is the only module that reads the PyTorch model for the integer pipeline: it folds
BatchNorm, takes the weight quantizers' codes, turns the float scales (steps, alphas, the
folded BatchNorm) into each layer's static integer scale and the adapters into integer
Linear layers (golden.asq_int.static_scale / adapter_params, the only floating point of
the integer contract, run once here), and hands an Artifact to asq_hw.artifact (which
validates, saves and loads it). A chain of layers exports as such; a ResNet's basic blocks
(asq_hw.models.BasicBlock) export as conv1, relu, conv2 (output "residual"), the
projection conv (output "residual", input = conv1's codes) if any, add, relu; its global
average pool as "avgpool".
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn

from asq_hw.artifact import (
    COMPUTE_OPS,
    ActIn,
    Add,
    Artifact,
    AvgPool,
    ConvLayer,
    Flatten,
    FloatInfo,
    InputSpec,
    LinearLayer,
    MaxPool,
    Relu,
    VariantRequant,
    conv_out_hw,
    layer_arith,
    next_layer,
    validate,
)
from asq_hw.config import DEFAULT_FRAC_BITS, VARIANTS
from asq_hw.errors import UserError
from asq_hw.models import BasicBlock, GlobalAvgPool
from asq_hw.quant import WEIGHT_QUANTS, ASQActivation, QConv2d, QLinear
from golden import asq_int as Q
from golden import residual as R


def _f32(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _fold_batchnorm(mods, i: int, mod) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(g, b, i) for compute module mods[i]: the folded scale and bias of a BatchNorm right
    after it (g = 1, b = the layer's bias without one) and the index of the last module
    consumed."""
    k = mod.weight.shape[0]
    g = torch.ones(k)
    bias = mod.bias.detach().clone() if mod.bias is not None else torch.zeros(k)
    if i + 1 < len(mods) and isinstance(mods[i + 1][1], (nn.BatchNorm1d, nn.BatchNorm2d)):
        bn = mods[i + 1][1]
        g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = bn.bias - bn.running_mean * g + g * bias
        i += 1
    return g, bias, i


def _adapter_tensors(name: str, aq: ASQActivation, tensors: dict) -> tuple[tuple, tuple]:
    """The integer adapter of quantizer aq as tensors name.adapter.<j>.weight / .bias:
    (prefixes, exponents)."""
    if aq.adapter is None:
        return (), ()
    prefixes, exps = [], []
    lin = [m for m in aq.adapter if isinstance(m, nn.Linear)]
    for j, m in enumerate(lin):
        layer = Q.adapter_params(_f32(m.weight), _f32(m.bias),
                                 Q.U_FRAC if j == 0 else Q.ADAPTER_FRAC)
        tensors[f"{name}.adapter.{j}.weight"] = layer.weight.astype(np.int8)
        tensors[f"{name}.adapter.{j}.bias"] = layer.bias.astype(np.int32)
        prefixes.append(f"{name}.adapter.{j}")
        exps.append(layer.exp)
    return tuple(prefixes), tuple(exps)


def _scale_tensors(art: Artifact, layer, real: dict, steps: list[float], index: int,
                   frac_bits: int) -> tuple[dict, dict]:
    """(tensors, requant) of a compute layer: the static integer scale of every variant
    from r_k = ((s_in * alpha_k) * g_k) / s_out and d_k = b_k / s_out in float64 from the
    float32 values (s_out = 1 for the logits; the step of asq_hw.artifact.next_layer)."""
    alpha, g, b = (real[layer.name][t].astype(np.float64) for t in ("alpha", "g", "b"))
    s_in = float(np.float32(steps[index]))
    s_out = 1.0 if layer.is_logits else float(np.float32(steps[_step_index(art, layer)]))
    r, d = (s_in * alpha) * g / s_out, b / s_out
    out, shifts = {}, {}
    for variant in VARIANTS:
        arith = layer_arith(layer, art.weight_quant, art.wbits, variant, frac_bits)
        try:
            st = Q.static_scale(r, d, arith.slot_factors(), arith.acc_bound())
        except ValueError as exc:
            raise UserError(f"export: {layer.name}: {exc}") from None
        out[f"{layer.name}.requant.{variant}.mult"] = st.mult.astype(np.int32)
        out[f"{layer.name}.requant.{variant}.offset"] = st.bias
        shifts[variant] = VariantRequant(st.shift)
    return out, shifts


def _step_index(art: Artifact, layer) -> int:
    """Index in floats.steps of the step `layer`'s output is in units of."""
    nxt = next_layer(art, layer)
    return [op.name for op in art.compute_layers()].index(nxt.name)


def _fold_bn(mod, bn) -> tuple[torch.Tensor, torch.Tensor]:
    """(g, b) of compute module mod followed by BatchNorm bn (None: g = 1, b = its bias)."""
    g, bias, _ = _fold_batchnorm([("", mod)] + ([("", bn)] if bn is not None else []), 0, mod)
    return g, bias


class _Builder:
    """The ops, tensors and float facts of a network as export walks it."""

    def __init__(self, cfg, shape: tuple):
        self.cfg = cfg
        self.shape = shape
        self.ops: list = []
        self.tensors: dict[str, np.ndarray] = {}
        self.real: dict[str, dict[str, np.ndarray]] = {}
        self.steps: list[float] = []
        self.n_compute = 0

    def compute(self, path: str, mod, aq, g, bias, output: str = "codes",
                source=None) -> object:
        """Append compute module `mod` (QConv2d / QLinear) with input quantizer `aq`, or,
        with `source` (the record of an earlier layer), reading that layer's codes; the
        folded BatchNorm (g, bias). Returns its record."""
        cfg = self.cfg
        name = f"{'conv' if isinstance(mod, QConv2d) else 'linear'}{self.n_compute}"
        self.n_compute += 1
        wq = mod.weight_quant
        if type(wq) not in WEIGHT_QUANTS.values() or wq.scheme != cfg.weight_quant:
            raise UserError(f"export: {path}: weight quantizer must be "
                            f"{cfg.weight_quant!r}")
        if source is None and not isinstance(aq, ASQActivation):
            raise UserError(f"export: {path}: every compute layer needs an input "
                            "activation quantizer")
        k = mod.weight.shape[0]
        if source is None:
            act_in = ActIn(aq.abits, aq.signed, *_adapter_tensors(name, aq, self.tensors))
            self.steps.append(float(aq.step().item()))
            shape = self.shape
        else:
            act_in = ActIn(source.act_in.abits, source.act_in.signed)
            idx = [op.name for op in self.ops if op.op in COMPUTE_OPS].index(source.name)
            self.steps.append(self.steps[idx])
            shape = (source.in_channels,) + tuple(source.in_hw)
        if isinstance(mod, QConv2d):
            if len(shape) != 3 or shape[0] != mod.in_channels:
                raise UserError(f"export: {path}: input shape {shape} does not fit "
                                f"a conv with {mod.in_channels} input channels")
            if mod.dilation != (1, 1) or mod.groups != 1 \
                    or mod.stride[0] != mod.stride[1] \
                    or mod.padding[0] != mod.padding[1] \
                    or mod.padding_mode != "zeros":
                raise UserError(f"export: {path}: only square stride and zero "
                                "padding, no dilation or groups, are supported")
            kh, kw = mod.kernel_size
            oh, ow = conv_out_hw(shape[1], shape[2], (kh, kw), mod.stride[0],
                                 mod.padding[0])
            layer = ConvLayer(name, mod.in_channels, mod.out_channels, (kh, kw),
                              mod.stride[0], mod.padding[0], (shape[1], shape[2]),
                              (oh, ow), mod.in_channels * kh * kw, act_in, output,
                              input=None if source is None else source.name)
            out_shape = (mod.out_channels, oh, ow)
        else:
            if shape != (mod.in_features,):
                raise UserError(f"export: {path}: input shape {shape} does not fit "
                                f"a linear layer with {mod.in_features} inputs")
            layer = LinearLayer(name, mod.in_features, mod.out_features,
                                mod.in_features, act_in, output,
                                input=None if source is None else source.name)
            out_shape = (mod.out_features,)
        if not torch.isfinite(mod.weight).all():
            raise ValueError(f"export: {name} (layers.{path}.weight): weights must "
                             "be finite, not NaN or inf")
        self.tensors[f"{name}.codes"] = wq.codes(mod.weight).reshape(k, -1).numpy()
        self.real[name] = {"alpha": _f32(wq.alpha()), "g": _f32(g), "b": _f32(bias)}
        self.ops.append(layer)
        if source is None:
            self.shape = out_shape
        return layer

    def block(self, path: str, blk: BasicBlock) -> None:
        """A basic block: conv1, relu, conv2 (residual), [projection (residual)], add,
        relu."""
        c1 = self.compute(f"{path}.conv1", blk.conv1, blk.conv1.act_quant,
                          *_fold_bn(blk.conv1, blk.bn1))
        self.ops.append(Relu())
        c2 = self.compute(f"{path}.conv2", blk.conv2, blk.conv2.act_quant,
                          *_fold_bn(blk.conv2, blk.bn2), output="residual")
        if blk.shortcut is None:
            self.ops.append(Add(c2.name, c1.name, "identity"))
        else:
            conv, bn = blk.shortcut[0], blk.shortcut[1]
            if not isinstance(conv, QConv2d) or conv.act_quant is not None:
                raise UserError(f"export: {path}.shortcut: the projection must be a "
                                "QConv2d reading the block's codes (no input quantizer)")
            proj = self.compute(f"{path}.shortcut.0", conv, None, *_fold_bn(conv, bn),
                                output="residual", source=c1)
            self.ops.append(Add(c2.name, proj.name, "projection"))
        self.ops.append(Relu())


def export_model(model, dataset, frac_bits: int = DEFAULT_FRAC_BITS,
                 provenance: dict | None = None, float_acc: float | None = None,
                 fakequant_acc: float | None = None) -> Artifact:
    """The artifact of a trained chain network (asq_hw.models.ChainNet) in eval form.

    `dataset`: asq_hw.data.Dataset (name, mean, std, input shape, classes). BatchNorm after
    a compute layer is folded (running statistics); codes are the weight quantizer's codes;
    steps, alphas and adapters are the quantizers' float32 values. Refuses, with one line,
    a network the integer pipeline cannot run (pooling with padding, unknown modules, ...).
    """
    cfg = model.config
    layers = getattr(model, "layers", None)
    kind = type(model).__name__
    if layers is None:
        raise UserError(f"export: {kind} ({cfg.name}) has no `layers`; export takes a "
                        "network whose `layers` run in order (the cnn, mlp or resnet20)")
    c, h, w = dataset.in_shape
    b = _Builder(cfg, (c, h, w))
    mods = list(layers.named_children())
    i = 0
    with torch.no_grad():
        while i < len(mods):
            path, mod = mods[i]
            if isinstance(mod, (QConv2d, QLinear)):
                g, bias, i = _fold_batchnorm(mods, i, mod)
                b.compute(path, mod, mod.act_quant, g, bias)
            elif isinstance(mod, BasicBlock):
                b.block(path, mod)
            elif isinstance(mod, nn.ReLU):
                b.ops.append(Relu())
            elif isinstance(mod, GlobalAvgPool):
                if len(b.shape) != 3:
                    raise UserError(f"export: {path}: average pooling needs a (C, H, W) "
                                    f"input, not {b.shape}")
                b.ops.append(AvgPool())
                b.shape = (b.shape[0], 1, 1)
            elif isinstance(mod, nn.MaxPool2d):
                ks, st = mod.kernel_size, mod.stride
                shape = b.shape
                if not (isinstance(ks, int) and isinstance(st, int) and mod.padding == 0
                        and mod.dilation == 1 and not mod.ceil_mode and len(shape) == 3):
                    raise UserError(f"export: {path}: only square max pooling without "
                                    "padding, dilation or ceil_mode is supported")
                b.ops.append(MaxPool(ks, st))
                b.shape = (shape[0], (shape[1] - ks) // st + 1, (shape[2] - ks) // st + 1)
            elif isinstance(mod, nn.Flatten):
                if mod.start_dim != 1 or mod.end_dim != -1:
                    raise UserError(f"export: {path}: only Flatten(start_dim=1) is supported")
                b.ops.append(Flatten())
                b.shape = (math.prod(b.shape),)
            else:
                raise UserError(f"export: {path} ({type(mod).__name__}) is not supported by "
                                "the integer pipeline; only conv/linear with batchnorm "
                                "right after them, asq-hw's residual blocks, relu, maxpool, "
                                "global average pooling and flatten export")
            i += 1
    ops, tensors, real, steps = b.ops, b.tensors, b.real, b.steps
    if not ops or ops[-1].op not in COMPUTE_OPS:
        raise UserError("export: the network must end with its classifier (conv or linear)")
    ops[-1] = dataclasses.replace(ops[-1], output="logits")
    art = Artifact(cfg.weight_quant, cfg.wbits, cfg.abits, frac_bits, dataset.name,
                   dataset.num_classes,
                   InputSpec((c, h, w)),
                   FloatInfo(tuple(float(v) for v in dataset.mean),
                             tuple(float(v) for v in dataset.std), tuple(steps),
                             None if float_acc is None else float(float_acc),
                             None if fakequant_acc is None else float(fakequant_acc)),
                   tuple(ops), tensors, dict(provenance or {}))
    # The static scales and alignments depend on the step of the layer reading each
    # output: computed once every layer is known.
    names = [op.name for op in art.compute_layers()]
    done, index = [], 0
    for op in art.ops:
        if op.op in COMPUTE_OPS:
            rq, shifts = _scale_tensors(art, op, real, steps, index, frac_bits)
            tensors.update(rq)
            op = dataclasses.replace(op, requant=shifts)
            index += 1
        elif op.op == "add" and op.kind == "identity":
            s_x = float(np.float32(steps[names.index(op.shortcut)]))
            s_out = float(np.float32(steps[_step_index(art, art.layer(op.main))]))
            try:
                mult, shift = R.align_params(s_x / s_out)
            except ValueError as exc:
                raise UserError(f"export: add of {op.main}: {exc}") from None
            op = dataclasses.replace(op, align_mult=mult, align_shift=shift)
        done.append(op)
    art = dataclasses.replace(art, ops=tuple(done))
    validate(art, "<export>")
    return art
