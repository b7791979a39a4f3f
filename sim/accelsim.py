"""The whole accelerator (hw/accel/top.py) in an HDL simulator, checked against golden.

    r = run_accel(artifact, images, rows, lanes, variant)     # an AccelRun

Golden (golden.network.GoldenNetwork, the array's frac_bits) gives each image's input codes
and integer logits; the design's Verilog is built once per simulator (sim/runner.py) and
the cocotb bench sim/tb_stream.py streams the images through it in one simulator process,
an image at a time through the Verilog stream wrapper of sim/stream_bfm.py. Every logit is
compared; the first `clean` images run with input back to back and out_ready high, so their
cycles must equal the manifest's `cycles_per_image`; the rest get random input gaps and
output back-pressure (`seed`). On a mismatch the first mismatching image runs again with the
probe ports recorded, and the first layer whose written codes differ from golden's is
named.

`run_sharded` splits the simulation into slices of the images run in parallel (local
processes or a Dask cluster, asq_hw.parallel.pmap): golden and the comparison stay in this
process, a worker only streams its slice.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time

import numpy as np

from asq_hw.config import PEConfig
from asq_hw.mapper import unpack_words
from sim import runner
from sim.stream_bfm import stream_bfm
from sim.tb_stream import JOB_ENV

PERIOD_NS = 10

RESULT_NAME = "stream_result.json"


@dataclasses.dataclass
class AccelRun:
    """What a run measured. logits / want (B, K) int64: the design's and golden's; preds
    likewise; cycles (B,): each image's measured cycles (module docstring); clean: which
    images ran clean; macs_per_image: the network's multiply-accumulates; wall_s: the run
    from golden's reference to the last comparison (simulator start and stop included);
    build_s: generating and compiling the design before it (cached builds are reused);
    sim_s: the simulator process."""

    rows: int
    lanes: int
    variant: str
    sim: str
    manifest: dict
    logits: np.ndarray
    want: np.ndarray
    preds: np.ndarray
    want_preds: np.ndarray
    cycles: np.ndarray
    clean: np.ndarray
    macs_per_image: int
    wall_s: float
    sim_s: float
    build_s: float = 0.0
    framing_errors: int = 0
    last_errors: int = 0
    first_bad_layer: str | None = None
    first_bad_image: int | None = None
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def images(self) -> int:
        return int(self.want.shape[0])

    @property
    def logits_checked(self) -> int:
        return int(self.want.size)

    @property
    def mismatches(self) -> int:
        return int(np.sum(self.logits != self.want))

    @property
    def prediction_mismatches(self) -> int:
        return int(np.sum(self.preds != self.want_preds))

    @property
    def cycles_per_image(self) -> int:
        return int(self.manifest["cycles_per_image"])

    @property
    def cycle_errors(self) -> int:
        """Clean images whose measured cycles differ from the manifest's."""
        return int(np.sum(self.cycles[self.clean] != self.cycles_per_image))

    @property
    def verified_macs_per_s(self) -> float:
        return self.images * self.macs_per_image / self.wall_s if self.wall_s else 0.0

    @property
    def ok(self) -> bool:
        return (self.mismatches == 0 and self.cycle_errors == 0 and not self.errors
                and self.framing_errors == 0 and self.last_errors == 0)

    def report(self) -> dict:
        """The `asq-hw sim accel --json` object."""
        return {"images": self.images, "logits_checked": self.logits_checked,
                "mismatches": self.mismatches,
                "prediction_mismatches": self.prediction_mismatches,
                "cycles": int(self.cycles.sum()), "cycles_per_image": self.cycles_per_image,
                "measured_cycles_per_image": sorted({int(c) for c in self.cycles[self.clean]}),
                "cycle_errors": self.cycle_errors,
                "verified_macs_per_s": self.verified_macs_per_s, "wall_s": self.wall_s,
                "build_s": self.build_s,
                "sim_s": self.sim_s, "macs_per_image": self.macs_per_image,
                "clean_images": int(self.clean.sum()), "rows": self.rows,
                "lanes": self.lanes, "variant": self.variant, "sim": self.sim,
                "first_bad_layer": self.first_bad_layer,
                "first_bad_image": self.first_bad_image,
                "last_errors": self.last_errors, "framing_errors": self.framing_errors,
                "errors": self.errors, "ok": self.ok}


def input_beats(codes: np.ndarray, bits: int) -> list[list[int]]:
    """Each image's input beats (the manifest's packing, one code per beat): (B, ...) codes
    -> B lists of bit patterns in (c, h, w) order."""
    flat = np.asarray(codes, dtype=np.int64).reshape(codes.shape[0], -1)
    return (flat & ((1 << bits) - 1)).tolist()


def _simulate(b, images: list[list[int]], modes: list[str], seed: int,
              probe: list[int] = ()) -> dict:
    ports = {p["role"]: p["name"] for p in b.manifest["ports"]}
    run_dir = runner.run_dir_of(b)
    result = run_dir / RESULT_NAME
    result.unlink(missing_ok=True)
    job = run_dir / "stream_job.json"
    job.write_text(json.dumps({
        "ports": ports, "bfm": b.manifest["bfm"], "images": images, "modes": modes,
        "max_cycles": 4 * int(b.manifest["cycles_per_image"]) + 1000,
        "seed": seed, "gap_p": 0.3, "max_gap": 3, "stall_p": 0.3, "probe": list(probe),
        "result": str(result)}), encoding="utf-8")
    log = runner.run_bench_module(b, "sim.tb_stream", JOB_ENV, job, run_dir)
    try:
        got = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise runner.SimulationError(f"{b.sim} run of {b.manifest['top']} did not finish; "
                                     f"see {log}:\n{runner.log_tail(log)}") from None
    if not b.waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return got


def generate(artifact, rows: int, lanes: int, variant: str) -> tuple[str, dict]:
    """(Verilog, manifest) of the accelerator with probes: what every run simulates. The
    manifest carries everything a run needs, so shards get it instead of elaborating the
    design again."""
    from asq_hw.mapper import array_config
    from hw.accel.gen import generate_accel
    from hw.accel.top import Accelerator

    return generate_accel(Accelerator(artifact, array_config(artifact, variant, lanes), rows,
                                      probe=True))


def build_accel(artifact, rows: int, lanes: int, variant: str, sim: str | None = None,
                build_root=None, waves: bool | None = None, design=None):
    """runner.Build of the accelerator's Verilog (`design` from `generate`, else generated
    now) in its stream wrapper (sim/stream_bfm.py)."""
    return _build(design if design is not None else generate(artifact, rows, lanes, variant),
                  sim, build_root, waves)


def _build(design: tuple[str, dict], sim, build_root, waves=None):
    text, man = stream_bfm(*design, PERIOD_NS)
    return runner.build(PEConfig.from_dict(man["config"]), sim, kind="accel",
                        root=build_root, waves=waves, design=(text, man))


def first_bad_layer(abits: int, net, image: np.ndarray, probe: list) -> str:
    """The first layer whose written codes (probe records [layer, addr, code], `abits`-bit
    patterns) differ from golden's for `image` (1, C, H, W), or the last layer's name (its
    logits differ)."""
    res = net.run(image, trace=True)
    mask = (1 << abits) - 1
    rec = np.asarray(probe, dtype=np.int64).reshape(-1, 3)
    for i, r in enumerate(res.records[:-1]):
        want = np.asarray(r.next_x).reshape(-1) & mask
        mine = rec[rec[:, 0] == i]
        got = np.full(want.shape, -1, dtype=np.int64)
        got[mine[:, 1]] = mine[:, 2]
        if mine.shape[0] != want.size or not np.array_equal(got, want):
            return r.name
    return res.records[-1].name


def _modes(n: int, clean: int) -> list[str]:
    return ["clean" if i < clean else "rough" for i in range(n)]


def stream_shard(item: tuple) -> dict:
    """One simulator process on a slice of the images: (design, beats, modes, seed, sim,
    build_root) -> the bench's report plus `sim` and `sim_s`. Only the build (cached) and
    the bench: no golden model, so a worker starts in a moment."""
    design, beats, modes, seed, sim, build_root = item
    b = _build(design, sim, build_root)
    t = time.perf_counter()
    got = _simulate(b, beats, modes, seed)
    return {**got, "sim": b.sim, "sim_s": time.perf_counter() - t}


def _golden(artifact, variant: str, man: dict, images: np.ndarray):
    from golden.network import GoldenNetwork

    net = GoldenNetwork(artifact, variant, man["config"]["frac_bits"])
    return net, net.run(images), net.quantize_input(images)


def _assemble(rows, lanes, variant, man, reports: list[dict], net, gold, codes, images,
              modes, seed, b_local) -> AccelRun:
    """The AccelRun of the bench reports (image order) against golden; on a mismatch the
    first bad image runs again here with the probes (build `b_local`)."""
    classes, bits, in_bits = man["output"]["classes"], man["output"]["bits"], \
        man["input"]["bits"]
    imgs = [r for rep in reports for r in rep["images"]]
    n = len(imgs)
    logits = unpack_words([v for r in imgs for v in r["out"]], 1, bits).reshape(n, classes)
    lasts_ok = [r["lasts"] == [0] * (classes - 1) + [1] for r in imgs]
    run = AccelRun(rows, lanes, variant, reports[0]["sim"], man, logits, gold.logits_int,
                   np.argmax(logits, axis=1), gold.preds,
                   np.array([r["cycles"] for r in imgs], dtype=np.int64),
                   np.array([m == "clean" for m in modes]), man["macs_per_image"], 0.0,
                   sum(rep["sim_s"] for rep in reports),
                   framing_errors=sum(rep["status_framing"] for rep in reports),
                   last_errors=lasts_ok.count(False))
    extra = sum(rep["extra_beats"] for rep in reports)
    if extra:
        run.errors.append(f"{extra} output beats beyond the {classes} logits of an image")
    bad = np.flatnonzero(np.any(logits != gold.logits_int, axis=1))
    if bad.size:
        i = int(bad[0])
        probe = _simulate(b_local(), input_beats(codes[i:i + 1], in_bits), ["clean"], seed,
                          probe=[0])["images"][0]["probe"]
        run.first_bad_image = i
        run.first_bad_layer = first_bad_layer(man["config"]["abits"], net, images[i:i + 1],
                                              probe)
    return run


def run_accel(artifact, images: np.ndarray, rows: int, lanes: int, variant: str = "lut",
              sim: str | None = None, *, clean: int = 2, seed: int = 0, build_root=None,
              waves: bool | None = None, design=None) -> AccelRun:
    """The images (B, C, H, W) float32 through the accelerator in this process (module
    docstring): the first `clean` images clean, the rest rough. `design`: `generate`'s
    (Verilog, manifest) if the caller has it."""
    t_build = time.perf_counter()
    images = np.asarray(images, dtype=np.float32)
    b = build_accel(artifact, rows, lanes, variant, sim, build_root, waves, design)
    man = b.manifest
    t0 = time.perf_counter()
    net, gold, codes = _golden(artifact, variant, man, images)
    modes = _modes(images.shape[0], clean)
    t1 = time.perf_counter()
    got = _simulate(b, input_beats(codes, man["input"]["bits"]), modes, seed)
    rep = {**got, "sim": b.sim, "sim_s": time.perf_counter() - t1}
    run = _assemble(rows, lanes, variant, man, [rep], net, gold, codes, images, modes, seed,
                    lambda: b)
    run.wall_s = time.perf_counter() - t0
    run.build_s = t0 - t_build
    return run


def run_sharded(artifact, images: np.ndarray, rows: int, lanes: int, variant: str = "lut",
                sim: str | None = None, *, shards: int = 2, jobs: int = 1, executor=None,
                clean: int = 2, seed: int = 0, build_root=None, tally=None,
                design=None) -> AccelRun:
    """`run_accel` with the simulation split into `shards` slices of the images, run in
    `jobs` processes or on `executor` (each Dask worker builds in its own build root).
    Golden, the comparison and any probe rerun stay here; a worker only builds (cached)
    and streams (`stream_shard`). Shard k's first `clean` images run clean, its seed is
    seed + k. wall_s: the whole run after generating the design and, for local workers,
    building it (build_s); the workers' start (and on a cluster their builds) included."""
    from asq_hw.parallel import pmap
    from sim.shards import shard_bounds

    images = np.asarray(images, dtype=np.float32)
    bounds = shard_bounds(images.shape[0], shards)
    if tally is not None:
        tally.total = len(bounds)
    t_build = time.perf_counter()
    if design is None:                                    # once, not in every worker
        design = generate(artifact, rows, lanes, variant)
    sim = runner.sim_name(sim)
    if executor is None:            # local workers share this build root: build it once here
        _build(design, sim, build_root)
    t0 = time.perf_counter()
    man = design[1]
    net, gold, codes = _golden(artifact, variant, man, images)
    beats = input_beats(codes, man["input"]["bits"])
    modes = [m for a, b in bounds for m in _modes(b - a, clean)]
    items = [(design, beats[a:b], modes[a:b], seed + k, sim,
              None if executor is not None else build_root)
             for k, (a, b) in enumerate(bounds)]
    # spawn: see sim/shards.py (numba's threading layer in a forked child).
    reports = pmap(stream_shard, items, jobs, executor=executor, tally=tally, start="spawn")
    run = _assemble(rows, lanes, variant, man, reports, net, gold, codes, images, modes, seed,
                    lambda: build_accel(artifact, rows, lanes, variant, sim, build_root,
                                        design=design))
    run.wall_s = time.perf_counter() - t0
    run.build_s = t0 - t_build
    return run
