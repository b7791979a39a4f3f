"""The main job end to end (`asq-hw demo`, `make demo`): train, export, verify, estimate,
synthesise and report.

Steps (each with a progress bar on stderr; see asq_hw/progress.py):

1. train the digits CNN, W4A4 POST weights + ASQ activations (asq_hw.train), export the
   integer artifact (asq_hw.export) and the checkpoint into OUT/models/main;
2. evaluate it on the whole test split: float, fake-quant, golden lut and golden dual
   (asq_hw.evaluation.evaluate);
3. write the P x Q array's Verilog (hw.gen_array) into OUT/rtl; start its synthesis and place
   and route for the target FPGA in a background process (asq_hw.parallel, asq_hw.synth);
4. co-simulate the network on the RTL array (sim.netrun) on the first K test images:
   every accumulator against golden, predictions against golden and fake-quant;
5. the weight-bits sweep: short trainings for every (weight quantizer, wbits) at the same
   abits, golden accuracy of each (OUT/models/sweep/...);
6. the estimator: the array's resources and fmax, and the PE's LUTs for every sweep point
   (both POST variants and the INT / POT baselines) for the LUTs vs accuracy Pareto plot;
7. wait for synthesis; write summary.json, the plots, report.md and report.html.

With `accel` (the default) the whole accelerator runs beside the array: its Verilog goes to
OUT/rtl/asq_accel.v with its manifest and its synthesis runs in a second background process
(step 3); every test image goes through it in the HDL simulator, each logit checked against
golden (step 4); the estimator gives its area by part (step 6).

Trained models are cached: a model folder is reused when its `demo-cache.json` records the
same training configuration and the same training code (a hash of the sources that
determine the weights, `train_fingerprint`); `fresh=True` retrains everything. The report
files are written only at the end, each atomically (asq_hw/outputs.py), so an interrupted
or failed run leaves the previous report intact and no partial file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import time
from pathlib import Path

import numpy as np

from asq_hw.config import SCHEMES as QUANTS
from asq_hw.config import VARIANTS, _check_int
from asq_hw.designs import PNR_TARGETS, RESOURCE_KEYS, TARGETS
from asq_hw.errors import UserError
from asq_hw.outputs import ensure_writable, write_json
from asq_hw.parallel import Background
from asq_hw.sweep import estimate_point

CACHE_NAME = "demo-cache.json"
SCHEMA = "asq-hw-demo-summary"
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Everything that determines a demo run. The defaults are `make demo`'s."""

    out: str = "build/demo"
    # The main network (asq_hw.train.TrainConfig fields).
    width: int = 16
    wbits: int = 4
    abits: int = 4
    float_epochs: int = 30
    epochs: int = 30
    seed: int = 0
    # The array and its verification.
    rows: int = 8
    lanes: int = 8
    variant: str = "lut"
    images: int = 120
    sim: str | None = None
    rtl: bool = True
    # The whole accelerator (hw/accel) on every test image, its estimate and synthesis.
    accel: bool = True
    accel_synth: bool = True          # its synthesis too (with `synth`)
    accel_images: int | None = None   # test images through its RTL (None: all)
    # Synthesis of the array.
    target: str = "ice40"
    synth: bool = True
    transistors: bool = True
    # The weight-bits sweep: shorter trainings (documented in the report).
    sweep_wbits: tuple[int, ...] = (2, 3, 4, 5)
    sweep_quants: tuple[str, ...] = QUANTS
    sweep_float_epochs: int = 10
    sweep_epochs: int = 10
    fresh: bool = False

    def __post_init__(self):
        from asq_hw.config import ROWS_RANGE
        from asq_hw.train import TrainConfig

        for name in ("wbits", "abits", "width", "float_epochs", "epochs", "seed"):
            TrainConfig(**{name: getattr(self, name)})        # one-line ValueError if bad
        _check_int("rows", self.rows, *ROWS_RANGE)
        _check_int("lanes", self.lanes, 1, 64)
        _check_int("images", self.images, 1, 1 << 20)
        if self.accel_images is not None:
            _check_int("accel_images", self.accel_images, 1, 1 << 20)
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of 'lut', 'dual', not {self.variant!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, "
                             f"not {self.target!r}")
        if not self.sweep_wbits:
            raise ValueError("sweep_wbits must name at least one weight width")
        for w in self.sweep_wbits:
            TrainConfig(wbits=w)
        for q in self.sweep_quants:
            if q not in QUANTS:
                raise ValueError(f"sweep weight quantizer must be one of "
                                 f"{', '.join(QUANTS)}, not {q!r}")
        _check_int("sweep_float_epochs", self.sweep_float_epochs, 0, 10000)
        _check_int("sweep_epochs", self.sweep_epochs, 0, 10000)

    @classmethod
    def quick(cls, out: str, **changes) -> DemoConfig:
        """A seconds-long run of every step with tiny settings (tests, smoke checks)."""
        base = dict(out=out, width=4, float_epochs=2, epochs=1, rows=2, lanes=4, images=3,
                    sim="icarus", transistors=False, accel_synth=False, accel_images=3,
                    sweep_wbits=(2, 3),
                    sweep_float_epochs=1, sweep_epochs=1)
        base.update(changes)
        return cls(**base)

    def train_config(self, weight_quant: str = "post", wbits: int | None = None,
                     sweep: bool = False):
        from asq_hw.train import TrainConfig
        return TrainConfig(
            width=self.width, wbits=self.wbits if wbits is None else wbits, abits=self.abits,
            weight_quant=weight_quant,
            float_epochs=self.sweep_float_epochs if sweep else self.float_epochs,
            epochs=self.sweep_epochs if sweep else self.epochs, seed=self.seed)


# ---------------------------------------------------------------------------------------
# Cached training.

# The sources that decide a trained model's weights and its artifact.
_TRAIN_SOURCES = ("asq_hw/train.py", "asq_hw/models.py", "asq_hw/data.py", "asq_hw/export.py",
                  "asq_hw/artifact.py", "asq_hw/quant", "golden/schemes.py", "golden/codes.py",
                  "golden/arith.py", "golden/asq_int.py")


def train_fingerprint() -> str:
    """sha256 over the training code (_TRAIN_SOURCES) and the torch version."""
    import torch

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(torch.__version__.encode())
    for rel in _TRAIN_SOURCES:
        p = root / rel
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _cache_record(tcfg) -> dict:
    return {"train_config": dataclasses.asdict(tcfg), "fingerprint": train_fingerprint()}


def cached_model(folder: Path) -> dict | None:
    """The cache record of a model folder if it is complete and loads, else None."""
    from asq_hw.artifact import load_artifact
    from asq_hw.train import CHECKPOINT_NAME
    try:
        rec = json.loads((folder / CACHE_NAME).read_text())
        load_artifact(folder)
    except (OSError, ValueError, UserError):
        return None
    return rec if (folder / CHECKPOINT_NAME).is_file() else None


def cache_hit(tcfg, folder: Path) -> dict | None:
    """The cache record of `folder` if it holds the model of `tcfg` trained by this
    training code (the key: train config and train_fingerprint), else None."""
    want = _cache_record(tcfg)
    rec = cached_model(folder)
    return rec if rec is not None and {k: rec.get(k) for k in want} == want else None


def train_cached(tcfg, folder, data, fresh: bool = False, progress: bool = False) -> dict:
    """Train `tcfg` into `folder` (artifact + checkpoint) unless the folder already holds
    that model from the same training code. Returns the cache record: train_config,
    fingerprint, float_acc, fakequant_acc, train_s, and cached (reused or not)."""
    from asq_hw.artifact import load_artifact, save_artifact
    from asq_hw.export import export_model
    from asq_hw.train import save_checkpoint, train

    folder = Path(folder)
    want = _cache_record(tcfg)
    if not fresh:
        rec = cache_hit(tcfg, folder)
        if rec is not None:
            return {**rec, "cached": True}
    folder.mkdir(parents=True, exist_ok=True)
    # The record goes first and comes back last: a run interrupted in between leaves a
    # folder that is never mistaken for a finished model.
    (folder / CACHE_NAME).unlink(missing_ok=True)
    t0 = time.perf_counter()
    result = train(tcfg, data, progress=progress)
    seconds = time.perf_counter() - t0
    provenance = {"model": tcfg.model, "width": tcfg.width, "adapter": tcfg.adapter,
                  "seed": tcfg.seed, "float_epochs": tcfg.float_epochs,
                  "epochs": tcfg.epochs}
    art = export_model(result.qat_model, data, provenance=provenance,
                       float_acc=result.float_acc, fakequant_acc=result.fakequant_acc)
    save_artifact(art, folder)
    sha = load_artifact(folder).tensors_sha256
    save_checkpoint(result, data, folder, artifact_sha256=sha)
    rec = {**want, "float_acc": result.float_acc, "fakequant_acc": result.fakequant_acc,
           "train_s": seconds}
    write_json(folder / CACHE_NAME, rec)
    return {**rec, "cached": False}


# ---------------------------------------------------------------------------------------
# The job run in a background process (asq_hw.parallel.Background): module-level, so that
# it can be sent to the worker.

def synth_design(verilog: str, top: str, target: str, transistors: bool = True) -> dict:
    """asq_hw.synth.synthesize of a Verilog file, as a dict (SynthResult.to_dict)."""
    from asq_hw.synth import synthesize
    return synthesize(Path(verilog), top, target, fmax=True,
                      transistors=transistors).to_dict()


def check_tools(cfg: DemoConfig) -> None:
    """Fail before any work if a tool a step needs is missing (ToolNotFoundError)."""
    from asq_hw.toolchain import find_simulator
    from sim.runner import sim_name
    if cfg.rtl:
        find_simulator(sim_name(cfg.sim))
    if cfg.synth:
        from asq_hw.synth.tools import tool_version
        tool_version("yosys")
        if cfg.target in PNR_TARGETS:
            tool_version(f"nextpnr-{cfg.target}")


# ---------------------------------------------------------------------------------------
# The run.

def _layer_rows(lms, latency: int, rtl_layers=None, images: int = 0) -> list[dict]:
    """Per compute layer: the mapper's figures per image and, with RTL stats, the measured
    cycles per image and the accumulators checked."""
    out = []
    for i, lm in enumerate(lms):
        row = {"name": lm.name, "op": lm.op, "outputs": lm.outputs, "fan_in": lm.fan_in,
               "positions": lm.positions, "tiles": lm.tiles, "beats_per_dot": lm.beats_per_dot,
               "beats": lm.beats, "macs": lm.macs, "cycles": lm.cycles(latency),
               "utilization": lm.utilization}
        if rtl_layers is not None:
            s = rtl_layers[i]
            row["rtl_cycles_per_image"] = s.cycles / images if images else None
            row["rtl_cycle_model_errors"] = s.cycle_errors
            row["rtl_accumulators"] = s.accumulators
            row["rtl_mismatches"] = s.mismatches
        out.append(row)
    return out


def _pareto(points: list[dict], x: str, y: str) -> list[bool]:
    """Which points no other point dominates (x smaller is better, y larger is better)."""
    flags = []
    for p in points:
        dominated = any(q is not p and q[x] <= p[x] and q[y] >= p[y]
                        and (q[x] < p[x] or q[y] > p[y]) for q in points)
        flags.append(not dominated)
    return flags


def run_demo(cfg: DemoConfig, progress=None, log=print, executor=None) -> dict:
    """Run every step (module docstring); returns the summary dict also written to
    OUT/summary.json. `progress`: an asq_hw.progress.Progress (None: no bars); `log`: where
    one-line notes go; `executor`: train the weight-bits sweep's models there (a Dask
    cluster's, asq_hw.cluster) instead of one after the other in this process."""
    from asq_hw import mapper
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from asq_hw.evaluation import evaluate
    from asq_hw.progress import Progress
    from hw.gen_array import write_array

    pr = progress or Progress(False)
    out = ensure_writable(cfg.out)
    check_tools(cfg)
    t_start = time.perf_counter()
    data = load_dataset("digits")
    _check_int("images", cfg.images, 1, data.x_test.shape[0])
    y = data.y_test.numpy()
    summary: dict = {"schema": SCHEMA, "version": SCHEMA_VERSION,
                     "config": {k: list(v) if isinstance(v, tuple) else v
                                for k, v in dataclasses.asdict(cfg).items()}}

    # 1. The main network.
    main_dir = out / "models" / "main"
    tcfg = cfg.train_config()
    with pr.step(f"train W{cfg.wbits}A{cfg.abits} POST + ASQ", key="train") as bar:
        rec = train_cached(tcfg, main_dir, data, cfg.fresh, progress=pr.bars)
        bar.set_postfix_str("cached" if rec["cached"] else "trained")
    art = load_artifact(main_dir)

    # 2. Golden evaluation, both variants.
    with pr.step("evaluate float / fake-quant / golden", key="evaluate"):
        ev = {v: evaluate(main_dir, v) for v in VARIANTS}
    summary["model"] = {
        "dir": str(main_dir), "dataset": "digits", "network": "cnn", "width": cfg.width,
        "wbits": cfg.wbits, "abits": cfg.abits, "weight_quant": "post", "adapter": True,
        "float_epochs": cfg.float_epochs, "epochs": cfg.epochs, "seed": cfg.seed,
        "train_s": rec["train_s"], "cached": rec["cached"],
        "layers": [lay.name for lay in art.compute_layers()]}
    acc = {"images": ev["lut"]["images"], "float": ev["lut"]["float_acc"],
           "fakequant": ev["lut"]["fakequant_acc"],
           "golden_lut": ev["lut"]["golden_acc"], "golden_dual": ev["dual"]["golden_acc"],
           "agreement_lut": ev["lut"]["agreement"], "agreement_dual": ev["dual"]["agreement"]}
    summary["accuracy"] = acc
    summary["asq_cost"] = ev["lut"]["asq_cost"]

    # 3. The array: Verilog now, synthesis in the background.
    arr_cfg = mapper.array_config(art, cfg.variant, cfg.lanes)
    with pr.step(f"Verilog {cfg.rows}x{cfg.lanes} array", key="verilog"):
        vpath, _, man = write_array(arr_cfg, cfg.rows, out / "rtl")
    latency = man["latency"]
    lms = mapper.map_network(art, cfg.rows, cfg.lanes)
    summary["array"] = {"rows": cfg.rows, "lanes": cfg.lanes, "variant": cfg.variant,
                        "config": arr_cfg.to_dict(), "acc_bits": arr_cfg.acc_bits,
                        "latency": latency, "verilog": str(vpath),
                        "lut_roms": cfg.lanes if cfg.variant == "lut" else 0,
                        "acc_note": (f"acc_bits {arr_cfg.acc_bits}: the safe width for the "
                                     f"largest fan-in {arr_cfg.max_len} (widened to hold "
                                     "every layer; nothing wraps)")}
    job = accel_job = None
    summary["accel"] = None
    try:
        if cfg.synth:
            job = Background(synth_design, str(vpath), man["top"], cfg.target,
                             cfg.transistors)
        if cfg.accel:
            with pr.step(f"Verilog {cfg.rows}x{cfg.lanes} accelerator", key="accel_verilog"):
                summary["accel"] = _accel_verilog(cfg, art, arr_cfg, out)
            if cfg.synth and cfg.accel_synth:
                accel_job = Background(synth_accel, str(main_dir), cfg.variant, cfg.rows,
                                       cfg.lanes, cfg.target)

        # 4. RTL co-simulation.
        rtl = None
        if cfg.rtl:
            rtl = _cosim(cfg, art, arr_cfg, data, out, pr)
            rtl["accuracy"] = float(np.mean(rtl.pop("preds") == y[:cfg.images]))
            acc["rtl"] = rtl["accuracy"]
            acc["rtl_images"] = cfg.images
        summary["rtl"] = rtl
        if cfg.accel and cfg.rtl:
            summary["accel"]["rtl"] = _accel_sim(cfg, art, data, out, pr)
        summary["layers"] = _layer_rows(lms, latency, rtl.pop("_layers") if rtl else None,
                                        cfg.images)

        # 5. The weight-bits sweep.
        summary["sweep"] = _sweep(cfg, data, out, pr, executor)

        # 6. Estimates.
        with pr.step("estimate array and sweep PEs", key="estimate"):
            est_array = estimate_point("post", arr_cfg, cfg.rows, cfg.target)
            if cfg.accel:
                from asq_hw.estimate.accel import estimate_accel
                summary["accel"]["estimated"] = estimate_accel(art, cfg.variant, cfg.rows,
                                                               cfg.lanes, cfg.target)
            summary["pareto"] = _pareto_points(cfg, arr_cfg, summary["sweep"]["points"])

        # 7. Synthesis result.
        synth, synth_error = None, None
        if job is not None:
            with pr.step(f"synthesis + place and route ({cfg.target}), background",
                         key="synth_wait"):
                try:
                    synth = job.result()
                    synth["job_s"] = job.seconds
                except UserError as exc:
                    # A tool failed or timed out: keep the rest of the run, say so in the
                    # report; the command exits non-zero.
                    synth_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if accel_job is not None:
            with pr.step(f"accelerator synthesis ({cfg.target}), background",
                         key="accel_synth_wait"):
                try:
                    summary["accel"]["synthesized"] = accel_job.result()
                    summary["accel"]["synthesized"]["job_s"] = accel_job.seconds
                except UserError as exc:
                    summary["accel"]["synth_error"] = str(exc).splitlines()[0] \
                        if str(exc) else type(exc).__name__
    finally:
        for j in (job, accel_job):
            if j is not None:
                j.stop()
    summary["resources"] = _resources(cfg, est_array, synth)
    summary["resources"]["synth_error"] = synth_error
    summary["throughput"] = _throughput(summary, lms, latency)
    if cfg.accel:
        summary["accel"]["throughput"] = _accel_throughput(summary["accel"])
    summary["timings"] = {**{k: round(v, 2) for k, v in pr.times.items()},
                          "total_s": round(time.perf_counter() - t_start, 2)}
    with pr.step("plots and report", key="report"):
        from asq_hw.report import write_report
        write_report(summary, out)
    return summary


def synth_accel(model_dir: str, variant: str, rows: int, lanes: int, target: str) -> dict:
    """asq_hw.synth.accel.synthesize_accel of the accelerator of a model folder (the job
    of a background process)."""
    from asq_hw.artifact import load_artifact
    from asq_hw.synth.accel import synthesize_accel
    return synthesize_accel(load_artifact(model_dir), variant, rows, lanes, target)


def _accel_verilog(cfg, art, arr_cfg, out) -> dict:
    """OUT/rtl/asq_accel.v and its manifest; the summary's accelerator record."""
    from hw.accel.gen import generate_accel
    from hw.accel.top import Accelerator
    from hw.gen import write_design

    acc = Accelerator(art, arr_cfg, cfg.rows)
    vpath, jpath, man = write_design(*generate_accel(acc), out / "rtl")
    return {"verilog": str(vpath), "manifest": str(jpath), "rows": cfg.rows,
            "lanes": cfg.lanes, "variant": cfg.variant,
            "cycles_per_image": man["cycles_per_image"], "interval": man["interval"],
            "macs_per_image": man["macs_per_image"], "layers": man["layers"],
            "memories": man["memories"], "rtl": None, "estimated": None,
            "synthesized": None, "synth_error": None}


def _accel_sim(cfg, art, data, out, pr) -> dict:
    """Every test image through the accelerator's RTL (sim/accelsim.py)."""
    from sim import runner
    from sim.accelsim import build_accel, generate, run_accel

    sim = runner.sim_name(cfg.sim)
    build_root = out / "build"
    with pr.step(f"{sim} build of the accelerator", key="accel_build"):
        design = generate(art, cfg.rows, cfg.lanes, cfg.variant)
        build_accel(art, cfg.rows, cfg.lanes, cfg.variant, sim, build_root, design=design)
    k = data.x_test.shape[0] if cfg.accel_images is None else cfg.accel_images
    x = data.x_test[:k].numpy()
    with pr.step(f"accelerator RTL, {k} test images", key="accel_run"):
        r = run_accel(art, x, cfg.rows, cfg.lanes, cfg.variant, sim, build_root=build_root,
                      design=design)
    rep = r.report()
    rep["accuracy"] = float(np.mean(r.preds == data.y_test[:k].numpy()))
    return rep


def _accel_throughput(a: dict) -> dict:
    """Images/s of the whole accelerator (image in to logits out, back to back) at the
    synthesized fmax, else the estimated one."""
    fmax = (a.get("synthesized") or {}).get("fmax_mhz")
    source = "synthesized"
    if fmax is None:
        fmax, source = (a.get("estimated") or {}).get("fmax_mhz"), "estimated"
    out = {"cycles_per_image": a["cycles_per_image"], "interval": a["interval"],
           "fmax_mhz": fmax, "fmax_source": source if fmax is not None else None,
           "images_per_s": None, "macs_per_s": None}
    if fmax:
        out["images_per_s"] = fmax * 1e6 / a["interval"]
        out["macs_per_s"] = out["images_per_s"] * a["macs_per_image"]
    return out


def _cosim(cfg, art, arr_cfg, data, out, pr) -> dict:
    from asq_hw.evaluation import fakequant_preds
    from hw.gen_array import generate_array
    from sim import runner
    from sim.netrun import run_network

    sim = runner.sim_name(cfg.sim)
    build_root = out / "build"
    with pr.step(f"{sim} build of the array", key="rtl_build"):
        runner.build(arr_cfg, sim, kind="array", root=build_root,
                     design=generate_array(arr_cfg, cfg.rows))
    x = data.x_test[:cfg.images].numpy()
    with pr.step(f"RTL co-simulation, {cfg.images} images", key="rtl_run"):
        r = run_network(art, x, cfg.rows, cfg.lanes, cfg.variant, sim, build_root=build_root)
    fq, fq_note = fakequant_preds(out / "models" / "main", x)
    return {"sim": sim, "images": r.images, "accumulators_checked": r.accumulators_checked,
            "mismatches": r.mismatches, "prediction_mismatches": r.prediction_mismatches,
            "fakequant_mismatches": None if fq is None else
            int(np.sum(fq[:len(r.preds)] != r.preds)) + (r.images - len(r.preds)),
            "fakequant_note": fq_note, "cycles": r.cycles,
            "cycles_per_image": r.cycles_per_image, "verified_macs": r.verified_macs,
            "verified_macs_per_s": r.verified_macs / r.wall_s if r.wall_s else 0.0,
            "wall_s": r.wall_s, "latency_ok": r.latency_ok, "errors": r.errors, "ok": r.ok,
            "preds": r.preds, "_layers": r.layers}


# ---------------------------------------------------------------------------------------
# The weight-bits sweep's trainings on a Dask cluster (asq_hw/cluster.py).

def train_on_worker(tcfg) -> dict:
    """On a worker: train `tcfg` into a temporary folder (train_cached) and return the
    folder's files (name -> bytes), which the client writes into its own folder."""
    import tempfile

    from asq_hw.data import load_dataset

    with tempfile.TemporaryDirectory(prefix="asq-hw-train-") as tmp:
        train_cached(tcfg, tmp, load_dataset("digits"), fresh=True)
        return {f.name: f.read_bytes() for f in Path(tmp).iterdir() if f.is_file()}


def save_trained(folder: Path, files: dict[str, bytes]) -> None:
    """Write a model folder received from a worker, each file atomically and the cache
    record last: a run interrupted in between leaves a folder that is never mistaken for
    a finished model (as train_cached writes it)."""
    from asq_hw.outputs import write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    (folder / CACHE_NAME).unlink(missing_ok=True)
    for name, data in files.items():
        if name != CACHE_NAME:
            write_bytes(folder / name, data)
    write_bytes(folder / CACHE_NAME, files[CACHE_NAME])


def worker_facts() -> dict:
    """What a Dask worker must share with this machine to train the sweep's models (the
    training code's fingerprint, torch's version included): asq_hw.cluster compares it."""
    return {"training code": train_fingerprint()}


def _train_on_cluster(cfg, combos, folders, executor, pr) -> set[int]:
    """Train the sweep's models that `folders` do not hold yet on the cluster, each saved
    into its folder as it arrives (an interrupted run resumes with the rest). Returns the
    indices trained."""
    from asq_hw.parallel import Tally, pmap

    tcfgs = [cfg.train_config(q, w, sweep=True) for q, w in combos]
    todo = [i for i, (t, f) in enumerate(zip(tcfgs, folders, strict=True))
            if cfg.fresh or cache_hit(t, f) is None]
    tally = Tally(len(todo))
    with pr.step("weight-bits sweep: trainings on the cluster", total=len(todo), unit="run",
                 key="sweep_train", tally=tally):
        pmap(train_on_worker, [tcfgs[i] for i in todo], executor=executor, tally=tally,
             on_result=lambda j, files: save_trained(folders[todo[j]], files))
    return set(todo)


def _sweep(cfg, data, out, pr, executor=None) -> dict:
    from asq_hw.evaluation import evaluate

    combos = list(itertools.product(cfg.sweep_quants, cfg.sweep_wbits))
    folders = [out / "models" / "sweep" / f"{q}-w{w}a{cfg.abits}" for q, w in combos]
    trained = (_train_on_cluster(cfg, combos, folders, executor, pr)
               if executor is not None else set())
    points = []
    with pr.step("weight-bits sweep (train + golden eval)", total=len(combos), unit="run",
                 key="sweep") as bar:
        for i, ((q, w), folder) in enumerate(zip(combos, folders, strict=True)):
            bar.set_postfix_str(f"{q} W{w}A{cfg.abits}")
            rec = train_cached(cfg.train_config(q, w, sweep=True), folder, data,
                               cfg.fresh and i not in trained)
            if i in trained:           # trained in this run, on a worker
                rec["cached"] = False
            ev = {v: evaluate(folder, v) for v in (VARIANTS if q == "post" else ("lut",))}
            p = {"weight_quant": q, "wbits": w, "abits": cfg.abits,
                 "float": ev["lut"]["float_acc"], "fakequant": ev["lut"]["fakequant_acc"],
                 "golden": ev["lut"]["golden_acc"], "agreement": ev["lut"]["agreement"],
                 "sqnr_db": ev["lut"]["sqnr_db"], "quant_sqnr_db": ev["lut"]["quant_sqnr_db"],
                 "train_s": rec["train_s"], "cached": rec["cached"], "dir": str(folder)}
            if q == "post":
                p["golden_lut"] = ev["lut"]["golden_acc"]
                p["golden_dual"] = ev["dual"]["golden_acc"]
                p["quant_sqnr_db_dual"] = ev["dual"]["quant_sqnr_db"]
            points.append(p)
            bar.update(1)
    return {"float_epochs": cfg.sweep_float_epochs, "epochs": cfg.sweep_epochs,
            "abits": cfg.abits, "width": cfg.width, "points": points}


def _pareto_points(cfg, arr_cfg, sweep_points) -> dict:
    """Estimated LUTs of one PE (the array's activation format, lanes and max_len; the
    quantizer's weights) against golden accuracy and against the golden logits' quantization
    SQNR (evaluation.evaluate's quant_sqnr_db), for every sweep point; POST in both
    variants. `pareto` / `pareto_sqnr`: on the front of LUTs vs accuracy / vs SQNR."""
    pts = []
    for sp in sweep_points:
        kinds = [("post", v) for v in VARIANTS] if sp["weight_quant"] == "post" \
            else [(sp["weight_quant"], None)]
        for kind, variant in kinds:
            pe = arr_cfg.replace(wbits=sp["wbits"], variant=variant or "lut")
            e = estimate_point(kind, pe, None, cfg.target)
            label = f"POST-{variant}" if kind == "post" else kind.upper()
            accuracy = sp[f"golden_{variant}"] if kind == "post" else sp["golden"]
            sqnr = sp["quant_sqnr_db_dual"] if variant == "dual" else sp["quant_sqnr_db"]
            pts.append({"label": label, "weight_quant": kind, "variant": variant,
                        "wbits": sp["wbits"], "lut": e["lut"], "ff": e["ff"],
                        "accuracy": accuracy, "quant_sqnr_db": sqnr})
    # None is a noiseless (infinite) SQNR: it dominates on that axis.
    by_sqnr = [dict(p, quant_sqnr_db=math.inf if p["quant_sqnr_db"] is None
                    else p["quant_sqnr_db"]) for p in pts]
    for p, flag, flag_sqnr in zip(pts, _pareto(pts, "lut", "accuracy"),
                                  _pareto(by_sqnr, "lut", "quant_sqnr_db"), strict=True):
        p["pareto"], p["pareto_sqnr"] = flag, flag_sqnr
    return {"design": f"one PE, {arr_cfg.lanes} lanes, activations {arr_cfg.abits}-bit "
                      f"{'signed' if arr_cfg.act_signed else 'unsigned'}, max_len "
                      f"{arr_cfg.max_len}, {cfg.target}",
            "points": pts}


def _resources(cfg, est: dict, synth: dict | None) -> dict:
    res = {"target": cfg.target, "design": f"post_array {cfg.rows}x{cfg.lanes} {cfg.variant}",
           "estimated": {k: est.get(k) for k in RESOURCE_KEYS}, "synthesized": None,
           "error": None}
    if synth is not None:
        res["synthesized"] = {k: synth.get(k) for k in RESOURCE_KEYS}
        res["device"] = synth.get("device")
        res["fmax_note"] = synth.get("fmax_note")
        res["synth_s"] = synth.get("job_s")
        res["synth_cached"] = synth.get("cached")
        res["error"] = {k: (est[k] - synth[k]) / synth[k]
                        for k in RESOURCE_KEYS
                        if est.get(k) is not None and synth.get(k)}
    return res


def _throughput(summary, lms, latency) -> dict:
    cycles = sum(lm.cycles(latency) for lm in lms)
    macs = sum(lm.macs for lm in lms)
    res = summary["resources"]
    fmax = (res["synthesized"] or {}).get("fmax_mhz")
    source = "synthesized"
    if fmax is None:
        fmax, source = res["estimated"].get("fmax_mhz"), "estimated"
    out = {"cycles_per_image": cycles, "macs_per_image": macs,
           "fmax_mhz": fmax, "fmax_source": source if fmax is not None else None,
           "images_per_s": None, "macs_per_s": None}
    if fmax:
        out["images_per_s"] = fmax * 1e6 / cycles
        out["macs_per_s"] = out["images_per_s"] * macs
    return out
