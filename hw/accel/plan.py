"""How each compute layer of an exported network runs on the accelerator (plain Python).

A `LayerPlan` holds what the hardware tables are generated from: the layer's geometry, its
tiling on the P x Q array and the ping-pong buffer its input codes are read from. The order
of beats is the mapper's (asq_hw/mapper.py), so accumulators and beat counts are the array
co-simulation's:

    for tile t (output channels t*P .. t*P+P-1), for position (oh, ow) row-major,
        for beat d < D = ceil(N / Q): lane l carries im2col column n = d*Q + l

Column n = c*kh*kw + i*kw + j of output (oh, ow) is the input code (c, oh*s + i - p,
ow*s + j - p), zero outside the image (padding) and for n >= N (the last beat's missing
lanes). The buffers hold a layer's input in (c, h, w) order, address c*H*W + h*W + w, so

    address(n, oh, ow) = base(oh, ow) + offset(n),  base = (oh*s - p)*W + (ow*s - p),
                                                    offset = c*H*W + i*W + j

and `window_offsets` is the per-layer table of (offset, i, j, valid) the address generator
adds to the base it keeps by counting. A linear layer is a 1 x 1 "image" of N channels
(offset n): its input, the flattened (c, h, w) tensor, is the buffer in address order.

Cycle model of one layer of one image (exact; tests/test_hw_accel_feeder.py measures it):
counted from the clock edge that accepts the layer's start to the edge that transfers its
last result, both included, with out_ready high,

    cycles = SETUP + beats + latency        beats = tiles * positions * D

SETUP = 2: the start edge loads the counters, the next edge reads the memories for beat 0,
and beat 0 enters the array at the edge after; then one beat per edge without bubbles.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asq_hw.artifact import Artifact, ComputeLayer
from hw.packing import pack_lanes
from hw.tiling import Tiling

SETUP = 2          # edges from the start edge to the edge before beat 0 enters the array
BUFFERS = 2        # activation buffers (chain networks: layer i reads buffer i % 2)


@dataclasses.dataclass(frozen=True)
class LayerPlan(Tiling):
    """One compute layer on a `rows` x `lanes` array (see the module docstring); tiles,
    beats_per_dot, dots and beats from hw.tiling, as the mapper's.

    channels, in_hw: the input (C, H, W) in the buffer; kernel, stride, padding, out_hw:
    the window; outputs K, fan_in N = C * kh * kw; buffer: the buffer it reads;
    out_buffer: the buffer its codes (or its residual add's) go to, -1 for "the next
    plan's `buffer`" (chain networks, and the layers that write none); skip_buffer: the
    buffer its identity shortcut reads, -1 without one (`buffer_allocation`).
    """

    name: str
    outputs: int
    channels: int
    in_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: int
    padding: int
    rows: int
    lanes: int
    buffer: int = 0
    out_buffer: int = -1
    skip_buffer: int = -1

    def __post_init__(self):
        for field in ("outputs", "channels", "stride", "rows", "lanes"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be at least 1, not {getattr(self, field)}")
        if self.padding < 0 or min(self.kernel) < 1 or min(self.in_hw) < 1:
            raise ValueError(f"bad window: kernel {self.kernel}, padding {self.padding}, "
                             f"input {self.in_hw}")
        if min(self.out_hw) < 1:
            raise ValueError(f"kernel {self.kernel} does not fit input {self.in_hw} with "
                             f"padding {self.padding}")
        if self.buffer not in range(BUFFERS):
            raise ValueError(f"buffer must be 0 or 1, not {self.buffer}")
        for field in ("out_buffer", "skip_buffer"):
            if getattr(self, field) not in range(-1, BUFFERS):
                raise ValueError(f"{field} must be -1, 0 or 1, not {getattr(self, field)}")

    @property
    def out_hw(self) -> tuple[int, int]:
        (h, w), (kh, kw), s, p = self.in_hw, self.kernel, self.stride, self.padding
        return (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1

    @property
    def fan_in(self) -> int:
        return self.channels * self.kernel[0] * self.kernel[1]

    @property
    def in_size(self) -> int:
        """Input codes per image: the buffer words the layer reads."""
        return self.channels * self.in_hw[0] * self.in_hw[1]

    @property
    def positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]


    @property
    def weight_depth(self) -> int:
        """Words of the layer's weight memory: one per (tile, beat of a dot product)."""
        return self.tiles * self.beats_per_dot

    def cycles(self, latency: int) -> int:
        """Cycles of one image of this layer (module docstring)."""
        return SETUP + self.beats + latency

    def window_offsets(self) -> np.ndarray:
        """int64 (D, Q, 4): for beat d, lane l: (offset, i, j, valid) of column n = d*Q + l;
        zeros with valid 0 for n >= N."""
        d, q = self.beats_per_dot, self.lanes
        (h, w), (kh, kw) = self.in_hw, self.kernel
        n = np.arange(d * q)
        c, r = np.divmod(n, kh * kw)
        i, j = np.divmod(r, kw)
        valid = n < self.fan_in
        table = np.stack([c * h * w + i * w + j, i, j, valid], axis=-1) * valid[:, None]
        return table.reshape(d, q, 4).astype(np.int64)

    def tile_codes(self, codes: np.ndarray) -> np.ndarray:
        """Weight codes (K, N) -> (tiles, D, P, Q), zero codes in the padding (the mapper's
        tiling)."""
        codes = np.asarray(codes)
        if codes.shape != (self.outputs, self.fan_in):
            raise ValueError(f"codes must have shape {(self.outputs, self.fan_in)}, not "
                             f"{codes.shape}")
        p, q, t, d = self.rows, self.lanes, self.tiles, self.beats_per_dot
        padded = np.zeros((t * p, d * q), dtype=np.int64)
        padded[:self.outputs, :self.fan_in] = codes
        return padded.reshape(t, p, d, q).transpose(0, 2, 1, 3)

    def weight_words(self, codes: np.ndarray, wbits: int) -> list[int]:
        """The weight memory's words in address order t*D + d: row p, lane l at bits
        [(p*Q + l)*wbits, ...) (the PostArray's in_code packing)."""
        tc = self.tile_codes(codes).reshape(self.weight_depth, self.rows * self.lanes)
        if tc.size and (tc.min() < 0 or tc.max() >= 1 << wbits):
            raise ValueError(f"codes must be from 0 to {(1 << wbits) - 1}")
        return pack_lanes(tc, wbits)


def layer_plan(layer: ComputeLayer, rows: int, lanes: int, buffer: int,
               out_buffer: int = -1, skip_buffer: int = -1) -> LayerPlan:
    """The plan of an artifact compute op (asq_hw.artifact.ConvLayer / LinearLayer)."""
    if layer.op == "conv":
        return LayerPlan(layer.name, layer.out_channels, layer.in_channels, layer.in_hw,
                         layer.kernel, layer.stride, layer.padding, rows, lanes, buffer,
                         out_buffer, skip_buffer)
    return LayerPlan(layer.name, layer.out_features, layer.in_features, (1, 1), (1, 1), 1, 0,
                     rows, lanes, buffer, out_buffer, skip_buffer)


def buffer_allocation(artifact: Artifact) -> list[tuple[int, int, int]]:
    """(read, write, skip) buffer of every compute layer, from the layer graph.

    A code tensor is the network input or the codes a step writes (a layer with output
    "codes", or the layer that completes a residual add: the later of its two terms). A
    layer reads the current tensor, or the tensor its `input` layer read; an identity
    add's layer also reads the block input (the tensor its shortcut layer read) at the
    element it writes. A step's codes are written after all its reads (the requantization
    pass follows the layer's run), so they go to the lowest buffer whose tensor nobody
    reads after this step and that this step's array does not read: layer i of a chain
    reads buffer i % 2 and writes the other; a basic block's output goes where its input
    was. write and skip are -1 where the layer writes no codes / has no identity
    shortcut. ValueError if a network needs more than BUFFERS buffers."""
    layers = artifact.compute_layers()
    index = {lay.name: i for i, lay in enumerate(layers)}
    reads: list[int] = []           # tensor id each layer's array reads
    skip = [-1] * len(layers)       # tensor id of its identity shortcut
    made = {0: -1}                  # tensor id -> the step that writes it
    writes = [-1] * len(layers)     # tensor id each step writes
    current = 0
    for op in artifact.ops:
        if op.op in ("conv", "linear"):
            i = index[op.name]
            reads.append(current if op.input is None else reads[index[op.input]])
            if op.output == "codes":
                current = len(made)
                made[current], writes[i] = i, current
        elif op.op == "add":
            step = index[op.main]
            if op.kind == "projection":
                step = max(step, index[op.shortcut])
            else:
                skip[step] = reads[index[op.shortcut]]
            current = len(made)
            made[current], writes[step] = step, current
    last_use = dict.fromkeys(made, -1)
    for i, t in enumerate(reads):
        last_use[t] = max(last_use[t], i)
    for i, t in enumerate(skip):
        if t >= 0:
            last_use[t] = max(last_use[t], i)
    where = {0: 0}
    held = {0: 0}                   # buffer -> tensor it holds
    for t, step in sorted(made.items(), key=lambda kv: kv[1]):
        if t == 0:
            continue
        free = [b for b in range(BUFFERS)
                if (b not in held or last_use[held[b]] <= step)
                and where.get(reads[step]) != b]
        if not free:
            raise ValueError(f"layer {layers[step].name}: its output codes need a third "
                             f"activation buffer; the accelerator has {BUFFERS}")
        where[t] = held_b = free[0]
        held[held_b] = t
    return [(where[reads[i]], where[writes[i]] if writes[i] >= 0 else -1,
             where[skip[i]] if skip[i] >= 0 else -1) for i in range(len(layers))]


def network_plans(artifact: Artifact, rows: int, lanes: int) -> list[LayerPlan]:
    """Plans of every compute layer in order, buffers from `buffer_allocation` (a chain:
    layer i reads buffer i % 2)."""
    alloc = buffer_allocation(artifact)
    nxt = [a[0] for a in alloc[1:]] + [-1]
    # out_buffer stays -1 where it is the next plan's buffer (every layer of a chain)
    return [layer_plan(lay, rows, lanes, rd, -1 if wr == after else wr, sk)
            for lay, (rd, wr, sk), after in zip(artifact.compute_layers(), alloc, nxt,
                                                strict=True)]


def buffer_depths(plans: list[LayerPlan]) -> list[int]:
    """Words of each ping-pong buffer: the largest input it holds (at least 1)."""
    return [max([p.in_size for p in plans if p.buffer == b] or [1]) for b in range(BUFFERS)]


def network_weights(artifact: Artifact, plans: list[LayerPlan], wbits: int) -> list[list[int]]:
    """Every layer's weight memory words (LayerPlan.weight_words) from the artifact's codes."""
    return [p.weight_words(artifact.codes(lay), wbits)
            for p, lay in zip(plans, artifact.compute_layers(), strict=True)]
