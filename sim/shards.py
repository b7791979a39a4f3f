"""A network's RTL co-simulation split by image into shards, run in parallel (local processes
or a Dask cluster, asq_hw.parallel), and merged back in image order.

    r = run_sharded(artifact, images, rows, lanes, shards=4, jobs=2)   # a sim.netrun.NetRun

Images are independent through the whole network (each image of each layer is one stream of
the array), so each shard is `run_network` on a contiguous slice of the images, in a worker
with a simulator of its own (the build folder is shared through its lock, sim/runner.py);
the merged NetRun is what one run over all images gives: per-layer counts summed, latency
ranges joined, predictions and mismatch positions in image order, and the wall time of the
whole (a worker's build included, when it had none yet).
"""

from __future__ import annotations

import dataclasses
import functools
import time

import numpy as np

from sim.netrun import NetRun, run_network

# What a shard's result depends on besides its inputs: a worker must run the same code.
CODE = ("sim", "hw", "golden", "asq_hw/mapper.py", "asq_hw/config.py", "asq_hw/artifact.py")


def worker_facts(sim: str) -> dict:
    """What a Dask worker must share with this machine to run shards: the simulator (a
    ToolNotFoundError names what to install) and the code's fingerprint
    (asq_hw.cluster.connect compares them)."""
    from asq_hw.results import fingerprint
    from asq_hw.toolchain import find_simulator

    find_simulator(sim)
    return {"simulator": sim, "co-simulation code": fingerprint(*CODE,
                                                                  versions=("amaranth",))}


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """[(start, stop)] of `shards` contiguous, nearly equal slices of n images (fewer when
    there are fewer images)."""
    shards = max(1, min(shards, n))
    edges = [round(i * n / shards) for i in range(shards + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _run_shard(images: np.ndarray, *, artifact, **kwargs) -> NetRun:
    return run_network(artifact, images, **kwargs)


def merge(parts: list[NetRun], bounds: list[tuple[int, int]], wall_s: float,
          positions: list[int]) -> NetRun:
    """One NetRun from the shards' (module docstring); an error names its shard's images.
    `positions`: each layer's output positions per image, to turn a shard's accumulator
    row (image * positions + position) into the whole run's."""
    first = parts[0]
    layers = []
    for i, s0 in enumerate(first.layers):
        ss = [p.layers[i] for p in parts]
        mism = [((row + a * positions[i], *rest), want, got)
                for p, (a, _) in zip(parts, bounds, strict=True)
                for (row, *rest), want, got in p.layers[i].first_mismatches]
        lo = [s.latency_min for s in ss if s.latency_min is not None]
        hi = [s.latency_max for s in ss if s.latency_max is not None]
        merged = dataclasses.replace(
            s0, cycles=sum(s.cycles for s in ss), macs=sum(s.macs for s in ss),
            accumulators=sum(s.accumulators for s in ss),
            mismatches=sum(s.mismatches for s in ss),
            cycle_errors=sum(s.cycle_errors for s in ss),
            latency_min=min(lo) if lo else None, latency_max=max(hi) if hi else None,
            stream_s=sum(s.stream_s for s in ss),
            first_mismatches=mism[:5])
        layers.append(merged)
    errors = [f"images {a}..{b - 1}: {e}" for p, (a, b) in zip(parts, bounds, strict=True)
              for e in p.errors]
    preds = (np.concatenate([p.preds for p in parts]) if not errors
             else np.zeros(0, np.int64))
    return NetRun(first.config, first.rows, first.lanes, first.latency,
                  sum(p.images for p in parts), layers, preds,
                  np.concatenate([p.golden_preds for p in parts]), wall_s, errors)


def run_sharded(artifact, images: np.ndarray, rows: int, lanes: int, variant: str = "lut",
                sim: str | None = None, frac_bits: int | None = None, *, shards: int = 2,
                jobs: int = 1, executor=None, build_root=None, tally=None) -> NetRun:
    """`run_network` over `shards` slices of the images, `jobs` local processes or on
    `executor` (a Dask cluster's; each worker builds in its own build root), merged
    (module docstring). `tally` (asq_hw.parallel.Tally) counts shards."""
    from asq_hw.mapper import map_network
    from asq_hw.parallel import pmap

    images = np.asarray(images, dtype=np.float32)
    bounds = shard_bounds(images.shape[0], shards)
    fn = functools.partial(_run_shard, artifact=artifact, rows=rows, lanes=lanes,
                           variant=variant, sim=sim, frac_bits=frac_bits,
                           build_root=None if executor is not None else build_root)
    if tally is not None:
        tally.total = len(bounds)
    t0 = time.perf_counter()
    # spawn: the golden model's parallel numba kernels may have run in this process, and
    # its threading layer deadlocks in a forked child that runs them again.
    parts = pmap(fn, [images[a:b] for a, b in bounds], jobs, executor=executor, tally=tally,
                 start="spawn")
    positions = [lm.positions for lm in map_network(artifact, rows, lanes)]
    return merge(parts, bounds, time.perf_counter() - t0, positions)
