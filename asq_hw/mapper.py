"""Tiling of an exported network onto the P x Q POST array, and its cycle model.

Shared by the RTL simulator (sim/netrun.py) and the estimator: both read only the artifact.

A compute layer is a matrix product: R input rows (im2col rows of a conv, one per output
position; the input vector of a linear layer) of N = fan_in activations, times K weight rows
(output channels). On a P-row, Q-lane array (`hw/array.PostArray`):

- output channels go in **tiles** of P: tile t holds channels t*P .. t*P + P - 1; the last
  tile's missing rows get weight code 0 (a zero weight);
- a dot product of N terms is D = ceil(N / Q) **beats**; beat d carries terms d*Q .. d*Q+Q-1,
  the missing lanes of the last beat activation 0 and code 0;
- per image the stream is: for each tile t, for each position s (im2col row order), the D
  beats of (row s) . (tile t), the last one with `in_last`. Each dot product ends in one
  output beat with the P accumulators of tile t at position s.

So one image of a layer is `tiles * positions * D` beats (`LayerMap.beats`).

Cycle model (exact for the RTL, which the cocotb bench checks on every stream): a layer of
one image is streamed with one beat per cycle, no input gaps and out_ready high; its cycles
are counted from the clock edge that accepts the first beat to the edge that transfers the
last result, both included:

    cycles(layer) = beats + latency           latency = hw.pe.pe_latency(array config)

because the array accepts a beat every cycle while its output is not stalled (no bubble
between dot products or tiles) and the last beat's result follows `latency` edges after it.
Layers (and images) run one after another, each draining before the next starts (the next
layer needs this one's requantized outputs, which the host computes): a network costs the
sum over its layers. Host work (im2col, requantization, the integer ops between layers) is
not array time and is not counted.

The packing of beats into port words: `pack_words` (hw/packing.pack_lanes, shared with the
benches and the accelerator), `pack_bits` / `unpack_words` for the simulator handles.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asq_hw.artifact import COMPUTE_OPS, Artifact, ComputeLayer, layer_pe_config
from asq_hw.config import ABITS_RANGE, LANES_RANGE, ROWS_RANGE, PEConfig, _check_int, act_range
from asq_hw.errors import UserError
from hw.packing import pack_lanes
from hw.tiling import Tiling


@dataclasses.dataclass(frozen=True)
class LayerMap(Tiling):
    """How one compute layer runs on a `rows` x `lanes` array, per image; tiles,
    beats_per_dot, dots and beats from hw.tiling, as the accelerator's plan."""

    name: str
    op: str
    outputs: int        # K, output channels / features
    fan_in: int         # N, terms per dot product
    positions: int      # output positions (Ho * Wo for conv, 1 for linear)
    rows: int           # P
    lanes: int          # Q

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates per image (padding excluded)."""
        return self.outputs * self.fan_in * self.positions

    @property
    def utilization(self) -> float:
        """Useful MACs over the array's MAC slots while streaming."""
        return self.macs / (self.beats * self.rows * self.lanes)

    def cycles(self, latency: int) -> int:
        """Array cycles of one image of this layer (module docstring)."""
        return self.beats + latency


def _check_shape(rows: int, lanes: int) -> None:
    _check_int("rows", rows, *ROWS_RANGE)
    _check_int("lanes", lanes, *LANES_RANGE)


def map_layer(layer: ComputeLayer, rows: int, lanes: int) -> LayerMap:
    """The LayerMap of a compute layer: an artifact's (asq_hw.artifact.ConvLayer /
    LinearLayer) or any record with the same name, op, outputs, fan_in and positions (a
    standard network's, asq_hw.workloads.Layer)."""
    _check_shape(rows, lanes)
    if layer.op not in COMPUTE_OPS:
        raise ValueError(f"op must be 'conv' or 'linear', not {layer.op!r}")
    return LayerMap(layer.name, layer.op, layer.outputs, layer.fan_in, layer.positions, rows,
                    lanes)


def map_network(artifact: Artifact, rows: int, lanes: int) -> list[LayerMap]:
    """LayerMaps of every compute layer of an artifact (asq_hw.artifact.Artifact), in order."""
    return [map_layer(lay, rows, lanes) for lay in artifact.compute_layers()]


def array_config(artifact: Artifact, variant: str, lanes: int,
                 frac_bits: int | None = None) -> PEConfig:
    """The one array configuration that runs every layer of `artifact`.

    An accelerator has one array for the whole network, so its activation format must hold
    every layer's input codes: signed if any layer's input is (the network input), with the
    fewest `abits` whose range covers every layer's; `max_len` the largest fan-in; and the
    safe `acc_bits` of that, which is at least every layer's own safe width, so the array's
    accumulators equal each layer's exactly (never wrap). UserError if no format of at most
    8 bits holds them all, or the artifact is not POST.
    """
    layers = artifact.compute_layers()
    return shared_config([layer_pe_config(artifact, lay, variant, frac_bits) for lay in layers],
                         lanes)


def shared_config(cfgs: list[PEConfig], lanes: int) -> PEConfig:
    """The array configuration of `array_config` from the layers' own PE configurations
    (same wbits, variant and frac_bits): UserError if no activation format holds them."""
    signed = any(c.act_signed for c in cfgs)
    lo, hi = min(c.act_min for c in cfgs), max(c.act_max for c in cfgs)
    for abits in range(ABITS_RANGE[0], ABITS_RANGE[1] + 1):
        a_lo, a_hi = act_range(abits, signed)
        if a_lo <= lo and hi <= a_hi:
            break
    else:
        raise UserError(f"the layers' input codes span {lo} .. {hi}"
                        f"{' (signed)' if signed else ''}: no array activation format of at "
                        f"most {ABITS_RANGE[1]} bits holds them")
    cfg = PEConfig(wbits=cfgs[0].wbits, abits=abits, act_signed=signed, variant=cfgs[0].variant,
                   frac_bits=cfgs[0].frac_bits, lanes=lanes,
                   max_len=max(c.max_len for c in cfgs))
    assert all(cfg.acc_bits >= c.acc_bits for c in cfgs)
    return cfg


def network_latency(cfg: PEConfig) -> int:
    """The array's latency (the PE's: hw.pe.pe_latency)."""
    from hw.pe import pe_latency
    return pe_latency(cfg)


def network_cycles(artifact, variant: str, rows: int, lanes: int,
                   frac_bits: int | None = None) -> list[tuple[str, int]]:
    """[(layer name, array cycles per image)] of the cycle model, without simulation."""
    lat = network_latency(array_config(artifact, variant, lanes, frac_bits))
    return [(lm.name, lm.cycles(lat)) for lm in map_network(artifact, rows, lanes)]


# ---------------------------------------------------------------------------------------
# Beats.

def tile_codes(codes: np.ndarray, lm: LayerMap) -> np.ndarray:
    """Weight codes (K, N) -> (tiles, D, P, Q) with zero codes in the padding."""
    codes = np.asarray(codes)
    if codes.shape != (lm.outputs, lm.fan_in):
        raise ValueError(f"codes must have shape {(lm.outputs, lm.fan_in)}, not {codes.shape}")
    p, q, t, d = lm.rows, lm.lanes, lm.tiles, lm.beats_per_dot
    padded = np.zeros((t * p, d * q), dtype=np.int64)
    padded[:lm.outputs, :lm.fan_in] = codes
    return padded.reshape(t, p, d, q).transpose(0, 2, 1, 3)


def split_rows(rows: np.ndarray, lm: LayerMap) -> np.ndarray:
    """Input rows (R, N) -> (R, D, Q) with zero activations in the padding."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] != lm.fan_in:
        raise ValueError(f"rows must have shape (R, {lm.fan_in}), not {rows.shape}")
    d, q = lm.beats_per_dot, lm.lanes
    padded = np.zeros((rows.shape[0], d * q), dtype=np.int64)
    padded[:, :lm.fan_in] = rows
    return padded.reshape(rows.shape[0], d, q)


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """The bits of port words: values (M, L) -> uint8 (M, L * bits), column j = bit j of
    the word (element l at bits [l*bits, (l+1)*bits), two's complement)."""
    v = np.asarray(values, dtype=np.int64)
    shifts = np.arange(bits, dtype=np.int64)
    width = int(np.prod(v.shape[1:], dtype=np.int64)) * bits      # -1 fails on M = 0
    return ((v[..., None] >> shifts) & 1).astype(np.uint8).reshape(v.shape[0], width)


def pack_words(values: np.ndarray, bits: int) -> list[int]:
    """values (M, L) -> one int per row, element l at bits [l*bits, (l+1)*bits)."""
    return pack_lanes(values, bits)


def unpack_bits(bitmat: np.ndarray, count: int, bits: int, signed: bool = True) -> np.ndarray:
    """Inverse of pack_bits for `count` fields of `bits` (<= 64): (M, W) -> int64 (M, count)."""
    b = np.asarray(bitmat, dtype=np.uint64)[:, :count * bits].reshape(-1, count, bits)
    weights = np.uint64(1) << np.arange(bits, dtype=np.uint64)
    u = (b * weights).sum(axis=2, dtype=np.uint64)
    out = u.view(np.int64)
    if signed and bits < 64:
        out = np.where(out >= (1 << (bits - 1)), out - (1 << bits), out)
    return out


def unpack_words(words, count: int, bits: int, signed: bool = True) -> np.ndarray:
    """Python ints (each `count` fields of `bits`) -> int64 (len(words), count)."""
    width = count * bits
    nbytes = (width + 7) // 8
    raw = b"".join(int(w).to_bytes(nbytes, "little") for w in words)
    byts = np.frombuffer(raw, dtype=np.uint8).reshape(len(words), nbytes)
    return unpack_bits(np.unpackbits(byts, axis=1, bitorder="little"), count, bits, signed)


def port_chars(values: np.ndarray, bits: int) -> np.ndarray:
    """values (M, L) -> port words as ASCII binary strings, uint8 (M, L * bits) of b"0" /
    b"1", most significant bit first (what a simulator handle takes): pack_bits reversed."""
    return pack_bits(values, bits)[:, ::-1] + np.uint8(ord("0"))


def chars_values(chars: np.ndarray, count: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of port_chars for words read from a simulator: uint8 (M, W) -> (values int64
    (M, count), ok bool (M,)); a word with any X or Z bit is not ok (its value is 0)."""
    bits01 = np.asarray(chars, dtype=np.uint8)[:, ::-1].astype(np.int64) - ord("0")
    ok = np.all((bits01 == 0) | (bits01 == 1), axis=1)
    bits01 = np.where(ok[:, None], bits01, 0)
    return unpack_bits(bits01, count, bits, signed=True), ok


def act_beats(rows: np.ndarray, lm: LayerMap, abits: int) -> np.ndarray:
    """in_act words of input rows (R, N), R = images * positions: port_chars (R * D,
    Q * abits), row s's D beats in order (each image's S * D beats are consecutive)."""
    return port_chars(split_rows(rows, lm).reshape(-1, lm.lanes), abits)


def code_beats(codes: np.ndarray, lm: LayerMap, wbits: int) -> np.ndarray:
    """in_code words of a layer's codes (K, N): port_chars (T * D, P * Q * wbits),
    tile-major (beat j of tile t is row t * D + j)."""
    return port_chars(tile_codes(codes, lm).reshape(-1, lm.rows * lm.lanes), wbits)


def beat_stream(lm: LayerMap, rows: np.ndarray, codes: np.ndarray, cfg: PEConfig):
    """The exact beats of one image of a layer: yields (in_act, in_code, in_last) port
    words in stream order. rows: the image's input rows (positions, N); codes (K, N)."""
    if rows.shape[0] != lm.positions:
        raise ValueError(f"rows must hold {lm.positions} positions, not {rows.shape[0]}")
    acts = split_rows(rows, lm)                                   # (S, D, Q)
    tc = tile_codes(codes, lm)                                    # (T, D, P, Q)
    d = lm.beats_per_dot
    act_words = pack_words(acts.reshape(-1, lm.lanes), cfg.abits)
    code_words = pack_words(tc.reshape(-1, lm.rows * lm.lanes), cfg.wbits)
    for t in range(lm.tiles):
        for s in range(lm.positions):
            for j in range(d):
                yield act_words[s * d + j], code_words[t * d + j], int(j == d - 1)


def results_to_rows(res: np.ndarray, lm: LayerMap, images: int) -> np.ndarray:
    """Per-output-beat results in stream order, (images * tiles * positions, P[, slots]),
    -> the PE row layout of golden.network: (images * positions, K[, slots])."""
    extra = res.shape[2:]
    r = res.reshape((images, lm.tiles, lm.positions, lm.rows) + extra)
    r = np.moveaxis(r, 1, 2).reshape((images, lm.positions, lm.tiles * lm.rows) + extra)
    return r[:, :, :lm.outputs].reshape((images * lm.positions, lm.outputs) + extra)
