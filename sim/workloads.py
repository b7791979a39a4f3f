"""Stimulus and expected results for the PE benches: dot products packed into beats.

A dot product of n terms becomes ceil(n / Q) beats of Q lanes; lanes past the n-th term get
code 0 (a zero weight) and a random activation, which must contribute nothing. Expected
results come from the reference of the top: `golden.pe_dot` for `post_pe` (the spec's
golden model), `golden.baselines.baseline_dot` for `int_pe` / `pot_pe`.

Workloads (all seeded, all deterministic):
- `exhaustive`: every (activation, code) pair as a single-term dot product.
- `random_dots`: random lengths, uniform values, with a share of extreme dot products
  (largest activations and magnitudes) that reach the accumulator's range or wrap it.
- `network`: the dot products of one layer: codes from a trained export (`export_codes`)
  when a folder is given, else a seeded synthetic layer (Gaussian weights through
  `golden.codes.encode`); activations from a seeded ReLU-like distribution.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from asq_hw.config import PEConfig
from hw.packing import pack_lanes

# Where `network` looks for a trained export when no folder is passed (QAT issue's artifact:
# DIR/model.json + DIR/model.safetensors).
EXPORT_ENV = "ASQ_HW_EXPORT"


@dataclasses.dataclass
class Workload:
    """Beats (packed, one int per beat) and the expected result of every dot product."""

    name: str
    act: list[int]
    code: list[int]
    last: list[int]
    expected: list[tuple[int, ...]]
    terms: int

    @property
    def beats(self) -> int:
        return len(self.act)

    @property
    def dots(self) -> int:
        return len(self.expected)

    def __add__(self, other: Workload) -> Workload:
        return Workload(f"{self.name}+{other.name}", self.act + other.act,
                        self.code + other.code, self.last + other.last,
                        self.expected + other.expected, self.terms + other.terms)


def reference(top: str, cfg: PEConfig, acts: np.ndarray, codes: np.ndarray,
              acc_bits: int | None = None) -> list[tuple[int, ...]]:
    """Expected outputs of `top` for dot products acts[b] . codes[b], as output tuples."""
    if top == "post_pe":
        from golden.pe import pe_dot
        y = pe_dot(acts, codes, cfg)
        return [tuple(int(v) for v in np.atleast_1d(r)) for r in y]
    if top in ("int_pe", "pot_pe"):
        from golden.baselines import baseline_dot
        y = baseline_dot(top[:3], acts, codes, cfg, acc_bits)
        return [(int(v),) for v in y]
    raise ValueError(f"top must be one of post_pe, int_pe, pot_pe, not {top!r}")


def from_dots(name: str, cfg: PEConfig, acts: np.ndarray, codes: np.ndarray,
              lengths: np.ndarray, rng: np.random.Generator, top: str = "post_pe",
              acc_bits: int | None = None) -> Workload:
    """Dot product b is acts[b, :lengths[b]] . codes[b, :lengths[b]] (rectangles (B, N))."""
    acts = np.asarray(acts, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    q = cfg.lanes
    n_beats = -(-lengths // q)
    width = int(n_beats.max()) * q if len(lengths) else q
    # Padding: code 0, random activation; the reference sees the same padded rows.
    pa = rng.integers(cfg.act_min, cfg.act_max + 1, (len(lengths), width))
    pc = np.zeros((len(lengths), width), dtype=np.int64)
    cols = np.arange(width)
    real = cols[None, :] < lengths[:, None]
    n = min(acts.shape[1], width)
    pa[:, :n] = np.where(real[:, :n], acts[:, :n], pa[:, :n])
    pc[:, :n] = np.where(real[:, :n], codes[:, :n], 0)
    expected = reference(top, cfg, pa, pc, acc_bits)
    keep = cols[None, :] < (n_beats * q)[:, None]          # the beats actually sent
    beat_act = pa[keep].reshape(-1, q)
    beat_code = pc[keep].reshape(-1, q)
    last = np.zeros(len(beat_act), dtype=np.int64)
    last[np.cumsum(n_beats) - 1] = 1
    return Workload(name, pack_lanes(beat_act, cfg.abits), pack_lanes(beat_code, cfg.wbits),
                    last.tolist(), expected, int(lengths.sum()))


def exhaustive(cfg: PEConfig, rng: np.random.Generator, top: str = "post_pe",
               acc_bits: int | None = None) -> Workload:
    """Every (activation, code) pair once, each a single-term dot product."""
    x = np.arange(cfg.act_min, cfg.act_max + 1)
    c = np.arange(cfg.code_max + 1)
    xx, cc = np.meshgrid(x, c, indexing="ij")
    return from_dots("exhaustive", cfg, xx.reshape(-1, 1), cc.reshape(-1, 1),
                     np.ones(xx.size, dtype=np.int64), rng, top, acc_bits)


def random_dots(cfg: PEConfig, rng: np.random.Generator, count: int, max_terms: int,
                top: str = "post_pe", acc_bits: int | None = None,
                p_extreme: float = 0.1) -> Workload:
    """`count` dot products of 1..max_terms terms; a share p_extreme of them use only the
    extreme activations and the largest magnitude codes, so sums reach the range's ends."""
    lengths = rng.integers(1, max_terms + 1, count)
    acts = rng.integers(cfg.act_min, cfg.act_max + 1, (count, max_terms))
    codes = rng.integers(0, cfg.code_max + 1, (count, max_terms))
    ext = rng.random(count) < p_extreme
    if ext.any():
        big_m = cfg.M
        # Same sign per extreme row, so the terms add up instead of cancelling.
        sign = rng.integers(0, 2, (count, 1))
        ext_codes = (sign << (cfg.wbits - 1)) | np.where(rng.random((count, max_terms)) < 0.5,
                                                         1, min(2, big_m))
        ext_acts = np.where(rng.random((count, 1)) < 0.5, cfg.act_max, cfg.act_min)
        if not cfg.act_signed:
            ext_acts = np.full((count, 1), cfg.act_max)
        acts = np.where(ext[:, None], ext_acts, acts)
        codes = np.where(ext[:, None], ext_codes, codes)
    return from_dots(f"random{max_terms}", cfg, acts, codes, lengths, rng, top, acc_bits)


def synthetic_layer(cfg: PEConfig, rng: np.random.Generator, n_out: int, n_in: int):
    """Codes (n_out, n_in) of a Gaussian layer: per-channel alpha = 3 sigma, clipped and
    rounded to POST levels by golden.codes.encode (as the export would)."""
    from golden.codes import encode
    w = rng.normal(0.0, 1.0, (n_out, n_in))
    alpha = 3.0 * w.std(axis=1, keepdims=True)
    return encode(w / alpha, cfg.wbits).astype(np.int64)


def export_folder(export: str | None = None) -> Path | None:
    """The trained export to take real weights from: `export`, else $ASQ_HW_EXPORT, else
    None (a synthetic layer)."""
    folder = export or os.environ.get(EXPORT_ENV)
    return Path(folder) if folder else None


def export_layer(folder, cfg: PEConfig) -> int:
    """Index (among the compute layers) of the first layer of the export at `folder` whose
    (wbits, abits, act_signed) are those of `cfg`; UserError listing the layers if none."""
    from asq_hw.artifact import layer_pe_config, load_artifact
    from asq_hw.errors import UserError

    art = load_artifact(folder)
    fits = []
    if art.weight_quant == "post":
        for j, layer in enumerate(art.compute_layers()):
            lc = layer_pe_config(art, layer, cfg.variant)
            if (lc.wbits, lc.abits, lc.act_signed) == (cfg.wbits, cfg.abits, cfg.act_signed):
                return j
            fits.append(f"{layer.name} (wbits {lc.wbits}, abits {lc.abits}, "
                        f"{'signed' if lc.act_signed else 'unsigned'})")
    raise UserError(f"export {folder} has no POST layer with wbits {cfg.wbits}, abits "
                    f"{cfg.abits}, {'signed' if cfg.act_signed else 'unsigned'} "
                    f"activations; its layers: {', '.join(fits) or 'none (not POST)'}")


def export_rows(folder, cfg: PEConfig, rng: np.random.Generator, n_rows: int = 8,
                n_out: int = 8, data_dir=None):
    """Real dot products from a trained export (asq_hw.artifact): the layer
    `export_layer` picks, its weight codes for n_out seeded output channels, and n_rows
    seeded PE input rows of that layer, computed by the golden network
    (golden.network.GoldenNetwork) from test images of the artifact's data set.

    Returns (layer name, acts (n_rows, N), codes (n_out, N), golden accumulators of the
    network for those rows and channels). UserError if no layer fits `cfg`.
    """
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from golden.network import GoldenNetwork, rows_from_acc

    i = export_layer(folder, cfg)
    art = load_artifact(folder)
    net = GoldenNetwork(art, cfg.variant, cfg.frac_bits)
    data = load_dataset(art.dataset, data_dir or os.environ.get("ASQ_HW_DATA"))
    images = data.x_test[:max(1, n_rows)].numpy()
    x = net.run(images, trace=True).records[i].x     # layer i's input (chain or residual)
    rows = net.layer_rows(i, x)
    acc = rows_from_acc(net.accumulate(i, x))
    pick = np.sort(rng.choice(len(rows), size=min(n_rows, len(rows)), replace=False))
    codes = art.codes(net.layers[i]).astype(np.int64)
    chans = np.sort(rng.choice(len(codes), size=min(n_out, len(codes)), replace=False))
    return (net.layers[i].name, rows[pick].astype(np.int64), codes[chans],
            acc[pick][:, chans])


def network(cfg: PEConfig, rng: np.random.Generator, batch: int = 4, n_out: int = 16,
            n_in: int = 64, export: str | None = None, top: str = "post_pe",
            acc_bits: int | None = None) -> Workload:
    """A layer's dot products (every input row with every output channel's codes).

    With `export` (a folder, see `export_folder`) and top post_pe: real codes and activations
    (`export_rows`); the golden PE's results must equal the golden network's accumulators,
    which is checked here. Otherwise a seeded synthetic layer (`synthetic_layer`) and
    ReLU-like (or, signed, Gaussian) activations."""
    folder = Path(export) if export and top == "post_pe" else None
    if folder is not None:
        name, acts, codes, acc = export_rows(folder, cfg, rng, batch, n_out)
        label = f"export {Path(folder).name}/{name}"
    else:
        codes = synthetic_layer(cfg, rng, n_out, n_in)
        if cfg.act_signed:
            acts = np.rint(rng.normal(0, cfg.act_max / 3, (batch, n_in)))
        else:
            acts = np.rint(np.maximum(rng.normal(0, cfg.act_max / 3, (batch, n_in)), 0))
        acts = np.clip(acts, cfg.act_min, cfg.act_max).astype(np.int64)
        label, acc = "synthetic", None
    n_in = codes.shape[1]
    rows_a = np.repeat(acts, len(codes), axis=0)
    rows_c = np.tile(codes, (len(acts), 1))
    lengths = np.full(len(rows_a), n_in)
    wl = from_dots(f"network ({label})", cfg, rows_a, rows_c, lengths, rng, top, acc_bits)
    if acc is not None and not cfg.wraps:
        net = [tuple(int(v) for v in np.atleast_1d(a)) for a in acc.reshape(len(wl.expected),
                                                                                -1)]
        if net != wl.expected:
            raise AssertionError("golden pe_dot disagrees with the golden network's "
                                 f"accumulators on {label}")
    return wl


def build(phase: dict, cfg: PEConfig, top: str = "post_pe",
          acc_bits: int | None = None) -> Workload:
    """The workload a bench phase describes: {"kind": "exhaustive" | "random" | "network",
    "seed", and for random "count", "max_terms"; for network "export" (optional)}."""
    rng = np.random.default_rng(phase.get("seed", 0))
    kind = phase["kind"]
    if kind == "exhaustive":
        return exhaustive(cfg, rng, top, acc_bits)
    if kind == "random":
        return random_dots(cfg, rng, int(phase["count"]), int(phase["max_terms"]), top,
                           acc_bits)
    if kind == "network":
        return network(cfg, rng, export=phase.get("export"), top=top, acc_bits=acc_bits)
    raise ValueError(f"workload kind must be exhaustive, random or network, not {kind!r}")



def phase_vectors(phase: dict, cfg: PEConfig, top: str = "post_pe",
                  acc_bits: int | None = None) -> dict:
    """Everything a bench needs to run one phase, as JSON-ready data: the workload's beats
    and expected results, the driver's gaps (p_gap) and the monitor's out_ready pattern
    (p_stall), all drawn from the phase's seed. Computed outside the simulator process, so
    the bench there only drives, captures and compares."""
    from sim.bfm import random_gaps, random_ready

    wl = build(phase, cfg, top, acc_bits)
    rng = np.random.default_rng([phase.get("seed", 0), 1])
    p_gap, p_stall = float(phase.get("p_gap", 0.0)), float(phase.get("p_stall", 0.0))
    return {
        "name": phase.get("name", wl.name), "workload": wl.name, "dots": wl.dots,
        "terms": wl.terms, "p_gap": p_gap, "p_stall": p_stall,
        "act": wl.act, "code": wl.code, "last": wl.last,
        "gaps": random_gaps(rng, wl.beats, p_gap), "ready": random_ready(rng, p_stall),
        "expected": [list(e) for e in wl.expected],
    }
