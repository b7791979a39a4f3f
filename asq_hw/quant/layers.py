"""Quantized compute layers: the float layer with its quantizers passed in as modules.

`act_quant` quantizes the layer's input, `weight_quant` its weight; either may be None
(float). BatchNorm stays a separate float module during training; export folds it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _quantized(layer, x: torch.Tensor, prequantized: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, weight) of `layer` through its quantizers (None: float); prequantized: the
    input is already its quantizer's output (a residual block quantizes its input once)."""
    if layer.act_quant is not None and not prequantized:
        x = layer.act_quant(x)
    w = layer.weight if layer.weight_quant is None else layer.weight_quant(layer.weight)
    return x, w


class QConv2d(nn.Conv2d):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = False, weight_quant: nn.Module | None = None,
                 act_quant: nn.Module | None = None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=padding, bias=bias)
        self.weight_quant = weight_quant
        self.act_quant = act_quant

    def forward(self, x: torch.Tensor, prequantized: bool = False) -> torch.Tensor:
        x, w = _quantized(self, x, prequantized)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class QLinear(nn.Linear):
    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 weight_quant: nn.Module | None = None, act_quant: nn.Module | None = None):
        super().__init__(in_features, out_features, bias=bias)
        self.weight_quant = weight_quant
        self.act_quant = act_quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, w = _quantized(self, x)
        return F.linear(x, w, self.bias)


def quantizers(model: nn.Module):
    """Every weight and activation quantizer in `model`."""
    for mod in model.modules():
        if isinstance(mod, (QConv2d, QLinear)):
            for q in (mod.weight_quant, mod.act_quant):
                if q is not None:
                    yield q


def set_quant(model: nn.Module, enabled: bool) -> None:
    """Switch every quantizer on (fake-quant) or off (float)."""
    for q in quantizers(model):
        q.enabled = enabled


@torch.no_grad()
def init_quant(model: nn.Module, batch: torch.Tensor) -> None:
    """Start QAT from a float model: alphas / weight steps from the weights, activation steps
    from one batch (LSQ init), then enable every quantizer."""
    for mod in model.modules():
        if isinstance(mod, (QConv2d, QLinear)) and mod.weight_quant is not None:
            mod.weight_quant.init_from(mod.weight)
    for q in quantizers(model):
        if hasattr(q, "initialized"):
            q.initialized.fill_(False)
    set_quant(model, True)
    was_training = model.training
    model.eval()
    model(batch)  # each activation quantizer initialises its step on this batch
    model.train(was_training)
