"""Run an exported network through the RTL PE array, every accumulator checked against golden.

Three steps, one function each:

    jobs    = network_jobs(artifact, images, ...)    golden runs the network on the images;
                                                     each layer's integer input rows become
                                                     the mapper's beats (asq_hw/mapper.py),
                                                     its accumulators the expected values
    results = sim.runner.run_array(build, jobs)      one simulator process streams every
                                                     layer's images (sim/tb_array.py)
    run     = compare(jobs, results)                 every accumulator of every layer, each
                                                     image's cycles against the cycle model

Each layer's RTL input is golden's input to that layer, so the RTL accumulators of every
layer are compared with golden's from the same input. If they all match, a chain fed by the
RTL's own accumulators is golden's chain, layer by layer; `NetRun.preds` are the RTL's
last-layer accumulators requantized, compared with golden's predictions. Each image of each
layer is one stream; its measured cycles must equal the mapper's cycle model
(`LayerMap.cycles`) and its measured latencies the manifest's.

One array configuration serves every layer (asq_hw.mapper.array_config): the widest input
format and the safe accumulator of the largest fan-in, so the RTL's accumulators are the
exact sums that golden computes per layer.

Memory: the beats are held as port characters (one byte per port bit) and written to the
job folder; the expected accumulators as int64.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from asq_hw import mapper
from asq_hw.config import PEConfig
from golden.network import GoldenNetwork
from hw.gen_array import generate_array
from sim import runner
from sim.arrayjob import LayerJob, LayerResult

GOLDEN_BATCH = 256        # images per traced golden run (bounds the im2col rows held)


@dataclasses.dataclass
class LayerStats:
    name: str
    beats_per_image: int
    cycles_per_image: int            # the cycle model: beats + latency
    macs_per_image: int
    utilization: float
    cycles: int = 0                  # measured, summed over images
    macs: int = 0                    # verified useful MACs, summed over images
    accumulators: int = 0
    mismatches: int = 0
    cycle_errors: int = 0            # images whose measured cycles differ from the model
    latency_min: int | None = None
    latency_max: int | None = None
    stream_s: float = 0.0            # the bench's clock-loop time
    first_mismatches: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class NetRun:
    """Everything `run_network` measured."""

    config: dict
    rows: int
    lanes: int
    latency: int
    images: int
    layers: list[LayerStats]
    preds: np.ndarray                # the RTL's last-layer accumulators, requantized
    golden_preds: np.ndarray         # golden run from the images
    wall_s: float                    # golden, beats, simulator, comparison (no build)
    errors: list[str]                # anything that kept the predictions from being made

    @property
    def accumulators_checked(self) -> int:
        return sum(s.accumulators for s in self.layers)

    @property
    def mismatches(self) -> int:
        return sum(s.mismatches for s in self.layers)

    @property
    def prediction_mismatches(self) -> int:
        if self.preds.shape != self.golden_preds.shape:
            return self.images
        return int(np.sum(self.preds != self.golden_preds))

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.layers)

    @property
    def cycles_per_image(self) -> int:
        return sum(s.cycles_per_image for s in self.layers)

    @property
    def verified_macs(self) -> int:
        return sum(s.macs for s in self.layers)

    @property
    def latency_ok(self) -> bool:
        return all(s.latency_min == s.latency_max == self.latency for s in self.layers
                   if s.latency_min is not None)

    @property
    def ok(self) -> bool:
        return (not self.errors and self.mismatches == 0 and self.prediction_mismatches == 0
                and all(s.cycle_errors == 0 for s in self.layers) and self.latency_ok)


@dataclasses.dataclass
class NetJobs:
    """What the array must compute for a batch of images, and what golden says it is."""

    net: GoldenNetwork
    cfg: PEConfig                    # the one array configuration
    maps: list[mapper.LayerMap]
    layers: list[LayerJob]           # the beats, per layer
    want: list[np.ndarray]           # golden accumulators, PE row layout (images * S, K[, 2])
    last_x: np.ndarray               # the last layer's input codes and betas (for preds)
    last_beta: np.ndarray
    golden_preds: np.ndarray

    @property
    def images(self) -> int:
        return self.golden_preds.shape[0]


def network_jobs(artifact, images: np.ndarray, rows: int, lanes: int, variant: str = "lut",
                 frac_bits: int | None = None) -> NetJobs:
    """Golden on normalised float32 images (B, C, H, W), and every compute layer's beats
    from its integer input rows. The only place the co-simulation reads the artifact."""
    cfg = mapper.array_config(artifact, variant, lanes, frac_bits)
    maps = mapper.map_network(artifact, rows, lanes)
    net = GoldenNetwork(artifact, variant, frac_bits)
    codes = [mapper.code_beats(artifact.codes(lay), lm, cfg.wbits)
             for lay, lm in zip(net.layers, maps, strict=True)]
    acts, want = [[] for _ in maps], [[] for _ in maps]
    last_x, last_beta, preds = [], [], []
    images = np.asarray(images, dtype=np.float32)
    for start in range(0, images.shape[0], GOLDEN_BATCH):
        g = net.run(images[start:start + GOLDEN_BATCH], trace=True, batch_size=GOLDEN_BATCH)
        for i, (rec, lm) in enumerate(zip(g.records, maps, strict=True)):
            acts[i].append(mapper.act_beats(rec.rows, lm, cfg.abits))
            want[i].append(rec.acc_rows)
        last_x.append(g.records[-1].x)
        last_beta.append(g.records[-1].beta_in)
        preds.append(g.preds)
    layers = [LayerJob(lm.name, lm.tiles, lm.positions, lm.beats_per_dot,
                       np.concatenate(a), c) for lm, a, c in zip(maps, acts, codes, strict=True)]
    return NetJobs(net, cfg, maps, layers, [np.concatenate(w) for w in want],
                   np.concatenate(last_x), np.concatenate(last_beta), np.concatenate(preds))


def layer_accumulators(res: LayerResult, lm: mapper.LayerMap, images: int,
                       acc_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """A layer's RTL results -> (accumulators, ok) in golden's PE row layout (images * S,
    K[, 2]); a result port word with X or Z bits makes all its accumulators not ok."""
    parts = [mapper.chars_values(out, lm.rows, acc_bits) for out in res.outs]
    acc = np.stack([v for v, _ in parts], axis=-1)               # (beats, P, slots)
    ok = np.broadcast_to(np.stack([k for _, k in parts], axis=-1)[:, None, :], acc.shape)
    if acc.shape[-1] == 1:
        acc, ok = acc[..., 0], ok[..., 0]
    return mapper.results_to_rows(acc, lm, images), mapper.results_to_rows(ok, lm, images)


def compare_layer(got: np.ndarray, ok: np.ndarray, want: np.ndarray, st: LayerStats) -> None:
    """Count accumulator mismatches (an accumulator with X bits is one) and keep the
    first five (index, expected, got)."""
    bad = (got != want) | ~ok
    st.accumulators += want.size
    n = int(bad.sum())
    st.mismatches += n
    for idx in np.argwhere(bad)[:max(0, 5 - len(st.first_mismatches))]:
        i = tuple(int(v) for v in idx)
        st.first_mismatches.append((i, int(want[i]), int(got[i])))


def compare(jobs: NetJobs, results: list[LayerResult], latency: int
            ) -> tuple[list[LayerStats], np.ndarray, list[str]]:
    """Every layer's RTL accumulators against golden's, its cycles against the cycle model;
    the predictions from the RTL's last-layer accumulators. Returns (stats, preds, errors)."""
    stats, acc = [], None
    for lm, res, want in zip(jobs.maps, results, jobs.want, strict=True):
        st = LayerStats(lm.name, lm.beats, lm.cycles(latency), lm.macs, lm.utilization)
        acc, ok = layer_accumulators(res, lm, jobs.images, jobs.cfg.acc_bits)
        compare_layer(acc, ok, want, st)
        st.macs = lm.macs * jobs.images
        st.cycles = sum(res.cycles)
        st.cycle_errors = sum(c != st.cycles_per_image for c in res.cycles)
        st.latency_min, st.latency_max = res.latency_min, res.latency_max
        st.stream_s = res.wall_s
        stats.append(st)
    last = len(jobs.maps) - 1
    try:
        rec = jobs.net.layer_step(last, jobs.last_x, jobs.last_beta, acc_rows=acc, trace=False)
    except ValueError as exc:          # RTL accumulators beyond the layer's bound
        return stats, np.zeros(0, np.int64), [
            f"{jobs.maps[last].name}: requantization of the RTL accumulators failed: {exc}"]
    return stats, np.argmax(rec.out, axis=1), []


def run_network(artifact, images: np.ndarray, rows: int, lanes: int, variant: str = "lut",
                sim: str | None = None, frac_bits: int | None = None, build_root=None,
                waves: bool | None = None) -> NetRun:
    """Run normalised float32 images (B, C, H, W) through the RTL array (module docstring);
    builds the array (or reuses its build) between making the jobs and running them."""
    t0 = time.perf_counter()
    jobs = network_jobs(artifact, images, rows, lanes, variant, frac_bits)
    t_jobs = time.perf_counter() - t0
    text, man = generate_array(jobs.cfg, rows)
    b = runner.build(jobs.cfg, sim, kind="array", root=build_root, waves=waves,
                     design=(text, man))
    t0 = time.perf_counter()
    results, _ = runner.run_array(b, jobs.layers)
    stats, preds, errors = compare(jobs, results, man["latency"])
    wall = t_jobs + time.perf_counter() - t0           # the build not included
    return NetRun(jobs.cfg.to_dict(), rows, lanes, man["latency"], jobs.images, stats, preds,
                  jobs.golden_preds, wall, errors)
