"""Run layers of the accelerator's layer half (`accel_layer_core`) in an HDL simulator.

`run_layers(core, runs, sim)` generates the core's Verilog (hw/accel/gen.py), builds it
with sim.runner (one build per Verilog and simulator, reused), writes the job for the
cocotb bench sim/tb_accel.py and decodes what it read: per run (layer number, input codes
(C, H, W) or (N,)) the accumulators in golden's PE row layout (positions, K[, 2]) and the
layer's cycles. The caller compares them with golden; nothing is judged here.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np

from asq_hw.mapper import unpack_words
from hw.accel.core import LayerCore
from hw.accel.gen import generate_core
from sim import runner
from sim.tb_accel import JOB_ENV

RESULT_NAME = "accel_result.json"


@dataclasses.dataclass
class LayerOut:
    layer: int
    acc: np.ndarray           # (positions, K[, 2]); rows of missing results are absent
    cycles: int | None        # None if no result came


def _rows(res: np.ndarray, plan) -> np.ndarray:
    """Result beats (tiles * positions, P[, slots]) -> (positions, K[, slots])."""
    extra = res.shape[2:]
    r = res.reshape((plan.tiles, plan.positions, plan.rows) + extra)
    r = np.moveaxis(r, 0, 1).reshape((plan.positions, plan.tiles * plan.rows) + extra)
    return r[:, :plan.outputs]


def run_layers(core: LayerCore, runs: list[tuple[int, np.ndarray]], sim: str | None = None,
               build_root=None) -> list[LayerOut]:
    """Run every (layer, input codes) of `runs` in one simulator process (module docstring).
    Raises runner.SimulationError if the bench did not report."""
    text, man = generate_core(core)
    b = runner.build(core.cfg, sim, kind="accel", root=build_root, design=(text, man))
    mask = (1 << core.cfg.abits) - 1
    job_runs = []
    for layer, codes in runs:
        plan = core.plans[layer]
        flat = (np.asarray(codes, dtype=np.int64).reshape(-1) & mask).tolist()
        if len(flat) != plan.in_size:
            raise ValueError(f"{plan.name}: input must hold {plan.in_size} codes, not "
                             f"{len(flat)}")
        job_runs.append({"layer": layer, "buffer": plan.buffer, "codes": flat,
                         "dots": plan.dots})
    run_dir = runner.run_dir_of(b)
    result = run_dir / RESULT_NAME
    result.unlink(missing_ok=True)
    job = run_dir / "accel_job.json"
    job.write_text(json.dumps({
        "runs": job_runs, "out_names": list(core.acc_ports), "result": str(result),
        "max_cycles": 4 * max(p.cycles(core.latency) for p in core.plans) + 100}),
        encoding="utf-8")
    log = runner.run_bench_module(b, "sim.tb_accel", JOB_ENV, job, run_dir)
    try:
        got = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise runner.SimulationError(f"{b.sim} run of {core.top} did not finish; see {log}:"
                                     f"\n{runner.log_tail(log)}") from None
    out = []
    for (layer, _), rep in zip(runs, got, strict=True):
        plan = core.plans[layer]
        parts = [unpack_words([int(x, 16) for x in w], core.rows, core.cfg.acc_bits)
                 for w in rep["words"]]
        res = parts[0] if len(parts) == 1 else np.stack(parts, axis=-1)
        acc = _rows(res, plan) if res.shape[0] == plan.dots else res
        out.append(LayerOut(layer, acc, rep["cycles"]))
    if not b.waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return out
