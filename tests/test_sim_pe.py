"""cocotb benches of the generated PE on Icarus and Verilator, and the plain-Verilog bench.

Each test builds one configuration (sim/runner.py caches the build under build/sim, one
folder per configuration, so xdist workers and later sessions reuse it) and runs phases of
sim/tb_pe.py; the bench compares every result with golden.pe_dot and, in phases without
back-pressure, every latency with the manifest's.

Matrix:
- Icarus, random: lut and dual x lanes 1..4 x unsigned and signed (16 configurations, wbits
  2..6 and abits 2..8 spread over them; lanes 2 with an accumulator 5 bits under the safe
  width, so it wraps), each with random dot products under gaps and back-pressure, under
  gaps only, every (activation, code) pair when that is at most 4096 pairs, and a synthetic
  network layer.
- Icarus, exhaustive: every (activation, code) pair, wbits 2..5 x abits 2..8, lut, signed
  where wbits + abits is odd (28 configurations).
- Verilator: three of the random-matrix configurations and the real-weights one: both
  variants, lanes 1..4, both signednesses and the wrapping accumulator.
- Real weights (both simulators): codes and activations of a trained export ($ASQ_HW_EXPORT,
  else a small MLP trained once on digits by `asq-hw train` and kept under build/sim), on a
  4-lane PE of the export's first unsigned-input layer, with the random phases too.
- Baselines int_pe / pot_pe on Icarus; the plain-Verilog bench (Icarus, no cocotb) on eight
  random-matrix configurations (lanes 1..4 x both signednesses, variants alternating).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asq_hw import PEConfig
from sim import runner
from tests.simulators import needs_icarus, needs_verilator

pytestmark = pytest.mark.rtl



def matrix_cfg(variant: str, lanes: int, signed: bool) -> PEConfig:
    """The random-matrix configuration of (variant, lanes, signedness)."""
    cfg = PEConfig(wbits=2 + (lanes + 2 * signed) % 5,
                   abits=2 + (3 * lanes + 2 * signed + (variant == "dual")) % 7,
                   act_signed=signed, variant=variant,
                   frac_bits=1 + (5 * lanes + 7 * signed) % 16, lanes=lanes, max_len=64)
    if lanes == 2:
        cfg = cfg.replace(acc_bits=cfg.acc_bits - 5)
    return cfg


MATRIX = [(v, q, s) for v in ("lut", "dual") for q in (1, 2, 3, 4) for s in (False, True)]
# With the real-weights test's lut, 4-lane, unsigned build: both variants, lanes 1..4, both
# signednesses and the wrapping accumulator, in four Verilator builds.
VERILATOR = [("dual", 1, False), ("dual", 2, True), ("lut", 3, True)]
GRID = [(w, a) for w in range(2, 6) for a in range(2, 9)]


def matrix_phases(cfg: PEConfig, seed: int) -> list[dict]:
    q = cfg.lanes
    phases = [
        {"name": "gaps+stalls", "kind": "random", "count": 120, "max_terms": 5 * q + 3,
         "seed": seed, "p_gap": 0.3, "p_stall": 0.4},
        {"name": "gaps", "kind": "random", "count": 80, "max_terms": 5 * q + 3,
         "seed": seed + 1, "p_gap": 0.3},
    ]
    if 2 ** (cfg.wbits + cfg.abits) <= 4096:
        phases.append({"name": "exhaustive", "kind": "exhaustive", "seed": seed + 2})
    phases.append({"name": "network", "kind": "network", "seed": seed + 3, "p_gap": 0.1,
                   "p_stall": 0.3})
    return phases


def check(report: list[dict], phases: list[dict], latency: int) -> None:
    assert [r["name"] for r in report] == [p["name"] for p in phases]
    for r in report:
        assert r["mismatches"] == 0, r
        assert r["verified"] == r["dots"] > 0, r
        if r["p_stall"] == 0:
            assert r["latency_min"] == r["latency_max"] == latency, r


def run_cfg(cfg: PEConfig, sim: str, phases: list[dict], kind: str = "post") -> list[dict]:
    b = runner.build(cfg, sim, kind=kind)
    report = runner.run(b, phases)
    check(report, phases, b.manifest["latency"])
    return report


@needs_icarus
@pytest.mark.parametrize("variant,lanes,signed", MATRIX)
def test_icarus_random_matrix(variant, lanes, signed):
    cfg = matrix_cfg(variant, lanes, signed)
    phases = matrix_phases(cfg, seed=lanes + 10 * signed)
    run_cfg(cfg, "icarus", phases)
    if cfg.wraps:
        # The narrow accumulator really wraps: some results differ from the safe width's.
        from sim.workloads import phase_vectors
        wide = cfg.replace(acc_bits=None)
        assert any(phase_vectors(p, cfg)["expected"] != phase_vectors(p, wide)["expected"]
                   for p in phases)


@needs_verilator
@pytest.mark.slow
@pytest.mark.parametrize("variant,lanes,signed", VERILATOR)
def test_verilator_random_matrix(variant, lanes, signed):
    cfg = matrix_cfg(variant, lanes, signed)
    run_cfg(cfg, "verilator", matrix_phases(cfg, seed=100 + lanes))


@needs_icarus
@pytest.mark.slow
@pytest.mark.parametrize("wbits,abits", GRID)
def test_icarus_every_pair(wbits, abits):
    cfg = PEConfig(wbits=wbits, abits=abits, act_signed=(wbits + abits) % 2 == 1,
                   frac_bits=1 + (3 * wbits + 5 * abits) % 16, max_len=16)
    report = run_cfg(cfg, "icarus", [{"name": "exhaustive", "kind": "exhaustive",
                                      "seed": wbits * 10 + abits, "p_gap": 0.1}])
    assert report[0]["dots"] == 2 ** (wbits + abits)


@needs_icarus
@pytest.mark.parametrize("kind", ["int", "pot"])
def test_icarus_baselines(kind):
    cfg = PEConfig(wbits=4, abits=4, act_signed=kind == "int", lanes=2, max_len=64)
    run_cfg(cfg, "icarus", [
        {"name": "gaps+stalls", "kind": "random", "count": 100, "max_terms": 12, "seed": 1,
         "p_gap": 0.3, "p_stall": 0.4},
        {"name": "exhaustive", "kind": "exhaustive", "seed": 2}], kind=kind)


def trained_export() -> Path:
    """$ASQ_HW_EXPORT, else a small MLP on digits trained once (about 10 s) and kept."""
    if os.environ.get("ASQ_HW_EXPORT"):
        return Path(os.environ["ASQ_HW_EXPORT"])
    folder = runner.build_root() / "sim" / "export-mlp-digits"
    with runner.file_lock(folder.parent / ".export-mlp-digits.lock"):
        try:
            from asq_hw.artifact import load_artifact
            load_artifact(folder)
        except Exception:
            subprocess.run([sys.executable, "-m", "asq_hw.cli", "train", "--model", "mlp",
                            "--width", "16", "--float-epochs", "2", "--epochs", "1",
                            "--quiet", "--out", str(folder)], check=True,
                           capture_output=True)
    return folder


def export_cfg(folder: Path, variant: str) -> PEConfig:
    """4 lanes on the first POST layer of the export with unsigned inputs (else the first)."""
    from asq_hw.artifact import layer_pe_config, load_artifact
    art = load_artifact(folder)
    layers = art.compute_layers()
    cfgs = [layer_pe_config(art, lay, variant) for lay in layers]
    pick = next((c for c in cfgs if not c.act_signed), cfgs[0])
    return pick.replace(lanes=4)


@pytest.mark.slow
@pytest.mark.parametrize("sim,variant", [
    pytest.param("icarus", "dual", marks=needs_icarus),
    pytest.param("verilator", "lut", marks=needs_verilator)])
def test_real_weights(sim, variant):
    folder = trained_export()
    cfg = export_cfg(folder, variant)
    export_phases = [
        {"name": "export", "kind": "network", "seed": 5, "export": str(folder),
         "p_gap": 0.2},
        {"name": "export+stalls", "kind": "network", "seed": 6, "export": str(folder),
         "p_gap": 0.2, "p_stall": 0.3}]
    phases = export_phases + [p for p in matrix_phases(cfg, seed=20) if p["kind"] != "network"]
    report = run_cfg(cfg, sim, phases)
    assert all(r["workload"].startswith("network (export") for r in report[:2])


@needs_icarus
@pytest.mark.parametrize("variant,lanes,signed",
                         [(("lut", "dual")[(q + s) % 2], q, bool(s)) for q in (1, 2, 3, 4)
                          for s in (0, 1)])
def test_plain_verilog_bench(variant, lanes, signed, tmp_path):
    from hw.gen import write_pe
    from sim.tb_pe_plain import run_bench, write_bench
    from sim.workloads import phase_vectors

    cfg = matrix_cfg(variant, lanes, signed)
    v, _, man = write_pe(cfg, tmp_path)
    phases = [{"kind": "random", "count": 150, "max_terms": 5 * lanes + 3, "seed": lanes,
               "p_gap": 0.3, "p_stall": 0.4},
              {"kind": "random", "count": 50, "max_terms": 4 * lanes, "seed": 7, "p_gap": 0.2}]
    if 2 ** (cfg.wbits + cfg.abits) <= 4096:
        phases.append({"kind": "exhaustive", "seed": 3})
    for i, ph in enumerate(phases):
        vec = phase_vectors(ph, cfg)
        res = run_bench(write_bench(man, vec, tmp_path / f"phase{i}"), v)
        assert res["mismatches"] == res["extra"] == res["hold_errors"] == 0, res["log"]
        assert res["verified"] == vec["dots"]
        if not ph.get("p_stall"):
            assert res["lat_min"] == res["lat_max"] == man["latency"]


@pytest.mark.slow
def test_export_without_a_fitting_layer_is_refused_before_the_build(capsys, tmp_path):
    from asq_hw.cli import main
    folder = trained_export()
    cfg = export_cfg(folder, "lut")
    wbits = 2 if cfg.wbits != 2 else 3
    assert main(["sim", "pe", "--wbits", str(wbits), "--abits", str(cfg.abits),
                 "--export", str(folder), "--build-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asq-hw: error: export {folder} has no POST layer with wbits "
                          f"{wbits}") and "its layers: " in err
    assert not (tmp_path / "b").exists()
