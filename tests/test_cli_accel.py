"""`asq-hw verilog accel` and `asq-hw sim accel` on the trained width-4 digits CNN: the
files and manifest, the vectors, the RTL run against golden in both HDL simulators, and the
one-line refusals of bad input."""

import json

import numpy as np
import pytest

from asq_hw.cli import main
from tests.array_export import trained_cnn
from tests.simulators import needs_icarus, needs_verilator

ROLES = {"clk", "rst", "in_valid", "in_ready", "in_data", "in_last", "out_valid",
         "out_ready", "out_data", "out_last"}


@pytest.fixture(scope="module")
def cnn():
    return str(trained_cnn())


def test_verilog_accel_writes_design_manifest_and_vectors(cnn, tmp_path, capsys):
    out = tmp_path / "rtl"
    assert main(["verilog", "accel", cnn, "--rows", "4", "--lanes", "4", "--out", str(out),
                 "--vectors", "5"]) == 0
    man = json.loads((out / "asq_accel.json").read_text())
    assert "module asq_accel(" in (out / "asq_accel.v").read_text()
    assert ROLES <= {p["role"] for p in man["ports"]}
    assert not any(p["name"].startswith("probe") for p in man["ports"])
    inp, outp = man["input"], man["output"]
    assert inp["shape"] == [1, 8, 8] and inp["beats"] == 64 and inp["signed"]
    assert outp["classes"] == outp["beats"] == 10
    assert man["cycles_per_image"] > sum(lay["cycles"] for lay in man["layers"])
    assert {m["name"] for m in man["memories"]} >= {"act_buffer0", "act_buffer1"}
    # hw/accel/window.py reads the sequencer table and the window offsets combinationally
    assert {m["name"] for m in man["memories"] if m["read"] == "comb"} == {
        "sequencer_table", "window_offsets"}
    assert {m["read"] for m in man["memories"]} == {"sync", "comb"}
    vec = np.load(out / "vectors.npz")
    assert vec["inputs"].shape == (5, 1, 8, 8) and vec["logits"].shape == (5, 10)
    np.testing.assert_array_equal(vec["predictions"], np.argmax(vec["logits"], axis=1))
    ins = (out / "inputs.hex").read_text().split()
    logits = (out / "logits.hex").read_text().split()
    assert len(ins) == 5 * 64 and len(logits) == 5 * 10
    bits = outp["bits"]
    first = int(logits[0], 16)
    assert (first - (1 << bits) if first >> (bits - 1) else first) == vec["logits"][0, 0]
    assert int(ins[3], 16) == vec["inputs"].reshape(-1)[3] & 0xFF
    assert "cycles per image" in capsys.readouterr().out


@pytest.mark.parametrize("flags,message", [
    (["--rows", "0"], "rows must be an integer from 1 to"),
    (["--lanes", "99"], "lanes must be an integer from 1 to 64, not 99"),
    (["--variant", "x"], "variant must be one of 'lut', 'dual', not 'x'"),
    (["--vectors", "0"], "vectors must be an integer from 1 to"),
])
def test_verilog_accel_refuses_bad_input_before_writing(cnn, tmp_path, capsys, flags,
                                                         message):
    args = {"--rows": "2", "--lanes": "2"}
    for k, v in zip(flags[::2], flags[1::2], strict=True):
        args[k] = v
    out = tmp_path / "out"
    argv = ["verilog", "accel", cnn, "--out", str(out)]
    for k, v in args.items():
        argv += [k, v]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asq-hw: error: {message}") and err.count("\n") == 1
    assert not out.exists()


def test_verilog_accel_refuses_a_missing_artifact(tmp_path, capsys):
    assert main(["verilog", "accel", str(tmp_path / "none"), "--rows", "2", "--lanes", "2",
                 "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("asq-hw: error:")


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("sim,variant,rows,lanes,images", [
    pytest.param("verilator", "lut", 4, 4, 12, marks=needs_verilator),
    pytest.param("verilator", "dual", 3, 5, 6, marks=needs_verilator),
    pytest.param("icarus", "lut", 2, 3, 2, marks=needs_icarus)])
def test_sim_accel_logits_equal_golden(cnn, tmp_path, capsys, sim, variant, rows, lanes,
                                       images):
    assert main(["sim", "accel", cnn, "--rows", str(rows), "--lanes", str(lanes),
                 "--variant", variant, "--images", str(images), "--sim", sim, "--json",
                 "--build-dir", str(tmp_path)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["images"] == images and rep["logits_checked"] == 10 * images
    assert rep["mismatches"] == 0 and rep["prediction_mismatches"] == 0
    assert rep["measured_cycles_per_image"] == [rep["cycles_per_image"]]
    assert rep["cycle_errors"] == 0 and rep["ok"]
    assert rep["verified_macs_per_s"] > 0 and rep["wall_s"] > 0
