"""A network mapped on the P x Q array: cycles, throughput and memory, without simulation.

Cycles are the mapper's (asq_hw/mapper.py), the very functions the RTL bench checks every
image against: per image and layer, `beats + latency` (tiles x positions x ceil(N / Q)
beats, one per cycle, and the array's pipeline latency), layers one after another. From
those at a clock of F MHz:

    latency_s        = cycles per image / F        (one image through every layer)
    inferences_per_s = F / cycles per image        (images back to back)
    macs_per_s       = useful MACs per image x inferences_per_s
    macs_per_cycle   = useful MACs / cycles        (at most P x Q)
    utilization      = macs_per_cycle / (P x Q)    (padding and pipeline fill lost)

Memory, as the array streams it: the weights are every layer's codes laid out in tiles
(`tile_codes`: tiles x beats x P x Q codes of wbits, padding included, `weight_bits`; the
codes alone are `weight_bits_raw`); activations are double-buffered between layers, the
largest pair of one layer's input and its output (`activation_bits`, each layer's input in
its own format, the last layer's output as accumulators). Block RAMs per target take both
the capacity and the width of one beat's word into account (model.BRAM_RULES).
"""

from __future__ import annotations

import dataclasses
import math

from asq_hw import mapper
from asq_hw.estimate.model import BRAM_RULES, TARGETS


@dataclasses.dataclass(frozen=True)
class LayerEstimate:
    name: str
    op: str
    outputs: int
    fan_in: int
    positions: int
    tiles: int
    beats_per_image: int
    cycles_per_image: int
    macs_per_image: int
    utilization: float                  # while streaming (mapper.LayerMap.utilization)
    weight_bits: int                    # as streamed, padding included
    input_bits: int                     # this layer's input activations, one image


def _input_bits(layer: dict) -> int:
    a = layer.act_in.abits
    if layer.op == "conv":
        h, w = layer.in_hw
        return layer.in_channels * h * w * a
    return layer.in_features * a


def blocks_for(bits: int, word_bits: int, target: str) -> int:
    """Block RAMs of `target` holding `bits` read `word_bits` at a time."""
    r = BRAM_RULES[target]
    if bits == 0:
        return 0
    return max(math.ceil(bits / r["bits"]), math.ceil(word_bits / r["width"]))


def estimate_network(artifact, rows: int, lanes: int, clock_mhz: float,
                     variant: str = "lut", frac_bits: int | None = None,
                     images: int = 1) -> dict:
    """The network figures of the module docstring for `images` images at `clock_mhz`;
    `cycles` and each layer's `cycles` count all images, as `asq-hw sim model` does."""
    if not (isinstance(clock_mhz, (int, float)) and math.isfinite(clock_mhz)
            and clock_mhz > 0):
        raise ValueError(f"clock_mhz must be a positive number, not {clock_mhz!r}")
    from asq_hw.config import _check_int
    _check_int("images", images, 1, 1 << 40)
    cfg = mapper.array_config(artifact, variant, lanes, frac_bits)
    lat = mapper.network_latency(cfg)
    lms = mapper.map_network(artifact, rows, lanes)
    layers = []
    for lay, lm in zip(artifact.compute_layers(), lms, strict=True):
        layers.append(LayerEstimate(
            lm.name, lm.op, lm.outputs, lm.fan_in, lm.positions, lm.tiles, lm.beats,
            lm.cycles(lat), lm.macs, lm.utilization,
            lm.tiles * lm.beats_per_dot * rows * lanes * cfg.wbits, _input_bits(lay)))
    per_image = sum(le.cycles_per_image for le in layers)
    macs = sum(le.macs_per_image for le in layers)
    hz = clock_mhz * 1e6
    last = lms[-1]
    outputs_bits = last.outputs * last.positions * cfg.acc_bits * (2 if variant == "dual"
                                                                  else 1)
    ins = [le.input_bits for le in layers] + [outputs_bits]
    act_bits = max(a + b for a, b in zip(ins, ins[1:], strict=False))
    weight_bits = sum(le.weight_bits for le in layers)
    raw = sum(lm.outputs * lm.fan_in * cfg.wbits for lm in lms)
    word_w, word_a = rows * lanes * cfg.wbits, lanes * cfg.abits
    return {
        "rows": rows, "lanes": lanes, "variant": variant, "clock_mhz": clock_mhz,
        "images": images, "latency": lat, "config": cfg.to_dict(),
        "cycles": images * per_image, "cycles_per_image": per_image,
        "layers": [{**dataclasses.asdict(le), "cycles": images * le.cycles_per_image}
                   for le in layers],
        "macs_per_image": macs,
        "macs_per_cycle": macs / per_image,
        "utilization": macs / (per_image * rows * lanes),
        "latency_s": per_image / hz,
        "inferences_per_s": hz / per_image,
        "macs_per_s": macs * hz / per_image,
        "weight_bits": weight_bits, "weight_bits_raw": raw,
        "activation_bits": act_bits,
        "brams": {t: {"weights": blocks_for(weight_bits, word_w, t),
                      "activations": blocks_for(act_bits, word_a, t)} for t in TARGETS},
    }
