"""A standard network (asq_hw/workloads.py) on the P x Q array, without weights: MACs,
cycles, utilisation, images/s and memory.

Every compute layer is tiled exactly as an exported one (mapper.LayerMap: tiles x
positions x ceil(N / Q) beats, plus the array's latency, layers one after another), so a
network that also exists as an artifact gets the cycles of `asq-hw estimate model`, which
are the RTL's. The array is the one that runs every layer (mapper.shared_config): the first
layer reads the signed INPUT_BITS-bit network input, the others `abits` unsigned codes.

Counting conventions:

- `macs`: the multiply-accumulates of the convolutions and fully connected layers (the
  standard convention of published MAC counts); residual adds and pooling are reported
  apart as `adds` (one addition per element of a block's output) and `pool_ops`
  (comparisons of a max pool, additions of an average pool). Neither runs on the array,
  so neither is in `cycles`.
- `weight_bits`: every layer's codes as the array streams them (tiles x beats x P x Q codes
  of wbits, padding included); `weight_bits_raw` the codes alone (K x N x wbits).
- `activation_bits`: the largest sum, over the layers in execution order, of the tensors
  live while the layer runs: its input, its output, and every tensor produced earlier that
  a later layer still reads (a block input held for its shortcut, a projection's output
  waiting for the add). A tensor is held as codes after the element-wise work that follows
  its layer (requantization, add, ReLU, pooling): INPUT_BITS per value for the network
  input, `abits` for every hidden tensor, the safe accumulator width for the logits (two
  accumulators per value for the dual variant), as estimate/network.py counts a chain.
"""

from __future__ import annotations

import dataclasses
import math

from asq_hw import mapper
from asq_hw.config import DEFAULT_FRAC_BITS, PEConfig
from asq_hw.estimate.model import TARGETS
from asq_hw.estimate.network import blocks_for
from asq_hw.workloads import INPUT, INPUT_BITS, Network


@dataclasses.dataclass(frozen=True)
class WorkloadLayer:
    name: str
    op: str
    in_shape: tuple[int, int, int]      # C, H, W read (linear: features, 1, 1)
    out_shape: tuple[int, int, int]     # C, H, W written (after add, ReLU and pooling)
    k: int
    stride: int
    outputs: int
    fan_in: int
    positions: int
    tiles: int
    beats: int
    cycles: int
    macs: int
    utilization: float
    weight_bits: int
    add: str | None                     # the tensor added to this layer's output
    pool: str | None                    # "max 3x3/2", "avg global", or None
    adds: int
    pool_ops: int


def _pool_text(pool) -> str | None:
    if pool is None:
        return None
    if pool.kind == "avg":
        return "avg global"
    return f"max {pool.k}x{pool.k}/{pool.stride}"


def estimate_workload(net: Network, rows: int, lanes: int, clock_mhz: float,
                      wbits: int = 4, abits: int = 4, variant: str = "lut",
                      frac_bits: int = DEFAULT_FRAC_BITS) -> dict:
    """The figures of the module docstring for one image of `net`. ValueError naming the
    field for an invalid array shape, clock or arithmetic."""
    if not (isinstance(clock_mhz, (int, float)) and math.isfinite(clock_mhz)
            and clock_mhz > 0):
        raise ValueError(f"clock_mhz must be a positive number, not {clock_mhz!r}")
    cfgs = [PEConfig(wbits=wbits, abits=INPUT_BITS if i == 0 else abits, act_signed=i == 0,
                     variant=variant, frac_bits=frac_bits, max_len=lay.fan_in)
            for i, lay in enumerate(net.layers)]
    lms = [mapper.map_layer(lay, rows, lanes) for lay in net.layers]
    cfg = mapper.shared_config(cfgs, lanes)
    lat = mapper.network_latency(cfg)
    layers = []
    for lay, lm in zip(net.layers, lms, strict=True):
        assert lm.macs == lay.macs
        layers.append(WorkloadLayer(
            lay.name, lay.op, (lay.in_channels, *lay.in_hw), (lay.outputs, *lay.out_hw),
            lay.k, lay.stride, lay.outputs, lay.fan_in, lay.positions, lm.tiles, lm.beats,
            lm.cycles(lat), lm.macs, lm.utilization,
            lm.tiles * lm.beats_per_dot * rows * lanes * cfg.wbits, lay.add,
            _pool_text(lay.pool), lay.adds, lay.pool_ops))
    cycles = sum(le.cycles for le in layers)
    macs = net.macs
    hz = clock_mhz * 1e6
    weight_bits = sum(le.weight_bits for le in layers)
    act_bits = activation_bits(net, abits, cfg.acc_bits * (2 if variant == "dual" else 1))
    word_w, word_a = rows * lanes * cfg.wbits, lanes * cfg.abits
    return {
        "network": net.name, "input": list(net.input_shape), "classes": net.classes,
        "width": net.width, "rows": rows, "lanes": lanes, "variant": variant,
        "clock_mhz": clock_mhz, "latency": lat, "config": cfg.to_dict(),
        "macs": macs, "cycles": cycles,
        "adds": sum(le.adds for le in layers),
        "pool_ops": sum(le.pool_ops for le in layers),
        "layers": [dataclasses.asdict(le) for le in layers],
        "macs_per_cycle": macs / cycles,
        "utilization": macs / (cycles * rows * lanes),
        "latency_s": cycles / hz,
        "images_per_s": hz / cycles,
        "macs_per_s": macs * hz / cycles,
        "weight_bits": weight_bits,
        "weight_bits_raw": sum(lay.outputs * lay.fan_in * cfg.wbits for lay in net.layers),
        "activation_bits": act_bits,
        "brams": {t: {"weights": blocks_for(weight_bits, word_w, t),
                      "activations": blocks_for(act_bits, word_a, t)} for t in TARGETS},
    }


def activation_bits(net: Network, abits: int, logit_bits: int) -> int:
    """The largest live activation memory of `net` (module docstring), in bits."""
    last_use = net.last_uses()
    size = {INPUT: math.prod(net.input_shape) * INPUT_BITS}
    for i, lay in enumerate(net.layers):
        per = logit_bits if i == len(net.layers) - 1 else abits
        size[lay.name] = lay.output_size * per
    produced = [INPUT] + [lay.name for lay in net.layers]      # tensor j made before step j
    peak = 0
    for i in range(len(net.layers)):
        live = [t for j, t in enumerate(produced[:i + 2])
                if j == i + 1 or last_use[t] >= i]
        peak = max(peak, sum(size[t] for t in live))
    return peak
