"""Export: a trained PyTorch chain network -> the integer Artifact (asq_hw.artifact).

This is the only module that reads the PyTorch model for the integer pipeline: it folds
BatchNorm, takes the weight quantizers' codes and the activation quantizers' steps and
adapters, and hands an Artifact to asq_hw.artifact (which validates, saves and loads it).
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
    Artifact,
    ConvLayer,
    Flatten,
    InputSpec,
    LinearLayer,
    MaxPool,
    Relu,
    conv_out_hw,
    requant_tensors,
    validate,
)
from asq_hw.config import DEFAULT_FRAC_BITS
from asq_hw.errors import UserError
from asq_hw.quant import WEIGHT_QUANTS, ASQActivation, QConv2d, QLinear


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


def export_model(model, dataset, frac_bits: int = DEFAULT_FRAC_BITS,
                 provenance: dict | None = None) -> Artifact:
    """The artifact of a trained chain network (asq_hw.models.ChainNet) in eval form.

    `dataset`: asq_hw.data.Dataset (name, mean, std, input shape, classes). BatchNorm after
    a compute layer is folded (running statistics); codes are the weight quantizer's codes;
    steps, alphas and adapters are the quantizers' float32 values. Refuses, with one line,
    a network the integer pipeline cannot run (residual blocks, pooling with padding, ...).
    """
    cfg = model.config
    layers = getattr(model, "layers", None)
    kind = type(model).__name__
    if cfg.name == "resnet20" or layers is None:
        raise UserError(f"export: {kind} ({cfg.name}) has residual connections, which the "
                        "integer pipeline does not support yet; export the cnn or mlp")
    c, h, w = dataset.in_shape
    shape: tuple = (c, h, w)
    ops: list = []
    tensors: dict[str, np.ndarray] = {}
    mods = list(layers.named_children())
    i, n_compute = 0, 0
    with torch.no_grad():
        while i < len(mods):
            path, mod = mods[i]
            if isinstance(mod, (QConv2d, QLinear)):
                name = f"{'conv' if isinstance(mod, QConv2d) else 'linear'}{n_compute}"
                n_compute += 1
                wq, aq = mod.weight_quant, mod.act_quant
                if type(wq) not in WEIGHT_QUANTS.values() or wq.scheme != cfg.weight_quant:
                    raise UserError(f"export: {path}: weight quantizer must be "
                                    f"{cfg.weight_quant!r}")
                if not isinstance(aq, ASQActivation):
                    raise UserError(f"export: {path}: every compute layer needs an input "
                                    "activation quantizer")
                k = mod.weight.shape[0]
                g, bias, i = _fold_batchnorm(mods, i, mod)
                adapter = []
                if aq.adapter is not None:
                    lin = [m for m in aq.adapter if isinstance(m, nn.Linear)]
                    for j, m in enumerate(lin):
                        adapter.append(f"{name}.adapter.{j}")
                        tensors[f"{name}.adapter.{j}.weight"] = _f32(m.weight)
                        tensors[f"{name}.adapter.{j}.bias"] = _f32(m.bias)
                act_in = ActIn(aq.abits, aq.signed, float(aq.step().item()), tuple(adapter))
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
                                      (oh, ow), mod.in_channels * kh * kw, act_in)
                    shape = (mod.out_channels, oh, ow)
                else:
                    if shape != (mod.in_features,):
                        raise UserError(f"export: {path}: input shape {shape} does not fit "
                                        f"a linear layer with {mod.in_features} inputs")
                    layer = LinearLayer(name, mod.in_features, mod.out_features,
                                        mod.in_features, act_in)
                    shape = (mod.out_features,)
                if not torch.isfinite(mod.weight).all():
                    raise ValueError(f"export: {name} (layers.{path}.weight): weights must "
                                     "be finite, not NaN or inf")
                tensors[f"{name}.codes"] = wq.codes(mod.weight).reshape(k, -1).numpy()
                tensors[f"{name}.alpha"] = _f32(wq.alpha())
                tensors[f"{name}.bn_scale"] = _f32(g)
                tensors[f"{name}.bias"] = _f32(bias)
                ops.append(layer)
            elif isinstance(mod, nn.ReLU):
                ops.append(Relu())
            elif isinstance(mod, nn.MaxPool2d):
                ks, st = mod.kernel_size, mod.stride
                if not (isinstance(ks, int) and isinstance(st, int) and mod.padding == 0
                        and mod.dilation == 1 and not mod.ceil_mode and len(shape) == 3):
                    raise UserError(f"export: {path}: only square max pooling without "
                                    "padding, dilation or ceil_mode is supported")
                ops.append(MaxPool(ks, st))
                shape = (shape[0], (shape[1] - ks) // st + 1, (shape[2] - ks) // st + 1)
            elif isinstance(mod, nn.Flatten):
                if mod.start_dim != 1 or mod.end_dim != -1:
                    raise UserError(f"export: {path}: only Flatten(start_dim=1) is supported")
                ops.append(Flatten())
                shape = (math.prod(shape),)
            else:
                raise UserError(f"export: {path} ({type(mod).__name__}) is not supported by "
                                "the integer pipeline; only chains of conv/linear, batchnorm "
                                "right after them, relu, maxpool and flatten export")
            i += 1
    if not ops or ops[-1].op not in COMPUTE_OPS:
        raise UserError("export: the network must end with its classifier (conv or linear)")
    ops[-1] = dataclasses.replace(ops[-1], output="logits")
    art = Artifact(cfg.weight_quant, cfg.wbits, cfg.abits, frac_bits, dataset.name,
                   dataset.num_classes,
                   InputSpec((c, h, w), tuple(float(v) for v in dataset.mean),
                             tuple(float(v) for v in dataset.std)),
                   tuple(ops), tensors, dict(provenance or {}))
    # The stored requantization depends on the next layer's step: computed once every
    # layer is known.
    done = []
    for op in art.ops:
        if op.op in COMPUTE_OPS:
            rq, shifts = requant_tensors(art, op, frac_bits)
            tensors.update(rq)
            op = dataclasses.replace(op, requant=shifts)
        done.append(op)
    art = dataclasses.replace(art, ops=tuple(done))
    validate(art, "<export>")
    return art
