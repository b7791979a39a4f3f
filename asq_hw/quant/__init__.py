"""PyTorch quantizers and quantized layers: POST weights, ASQ activations, baselines."""

from asq_hw.quant.asq import ASQActivation, make_adapter
from asq_hw.quant.baselines import (
    WEIGHT_QUANTS,
    INTWeightQuant,
    POTWeightQuant,
    make_weight_quant,
)
from asq_hw.quant.layers import QConv2d, QLinear, init_quant, quantizers, set_quant
from asq_hw.quant.post import POSTWeightQuant, SignMagnitudeWeightQuant
from asq_hw.quant.ste import grad_scale, replace_ste, round_ste

__all__ = ["ASQActivation", "INTWeightQuant", "POSTWeightQuant", "POTWeightQuant", "QConv2d",
           "QLinear", "SignMagnitudeWeightQuant", "WEIGHT_QUANTS", "grad_scale",
           "init_quant", "make_adapter", "make_weight_quant", "quantizers", "replace_ste",
           "round_ste", "set_quant"]
