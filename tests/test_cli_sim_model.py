"""The array's commands: `asq-hw verilog array` and `asq-hw sim model`."""

import json
import re

import pytest
from array_export import trained_cnn

from asq_hw import PEConfig, mapper
from asq_hw.cli import main
from hw.gen_array import generate_array
from tests.simulators import needs_icarus, needs_verilator


def test_verilog_array_writes_reproducible_verilog_and_manifest(tmp_path, capsys):
    args = ["verilog", "array", "--rows", "3", "--lanes", "2", "--wbits", "3", "--abits", "5",
            "--signed", "--variant", "dual", "--max-len", "50"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    assert "3 rows x 2 lanes, dual, latency 4 cycles" in capsys.readouterr().out
    for name in ("post_array.v", "post_array.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    cfg = PEConfig(wbits=3, abits=5, act_signed=True, variant="dual", lanes=2, max_len=50)
    text, man = generate_array(cfg, 3)
    assert (tmp_path / "a" / "post_array.v").read_text() == text
    assert json.loads((tmp_path / "a" / "post_array.json").read_text()) == man


@pytest.mark.parametrize("flags,message", [
    (["--rows", "0"], "rows must be an integer from 1 to 1024, not 0"),
    (["--rows", "2", "--lanes", "65"], "lanes must be an integer from 1 to 64, not 65"),
    (["--rows", "2", "--variant", "triple"],
     "variant must be one of 'lut', 'dual', not 'triple'"),
])
def test_verilog_array_rejects_bad_config_before_writing(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    assert main(["verilog", "array", *flags, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"asq-hw: error: {message}\n"
    assert not out.exists()


@pytest.mark.slow                  # trained_cnn() trains on first use (then cached on disk)
@pytest.mark.parametrize("flags,message", [
    (["--images", "0"], "images must be an integer from 1 to 360, not 0"),
    (["--images", "361"], "images must be an integer from 1 to 360, not 361"),
    (["--lanes", "0"], "lanes must be an integer from 1 to 64, not 0"),
    (["--rows", "2000"], "rows must be an integer from 1 to 1024, not 2000"),
])
def test_sim_model_rejects_bad_flags_before_building(tmp_path, capsys, flags, message):
    build = tmp_path / "b"
    assert main(["sim", "model", str(trained_cnn()), *flags, "--sim", "icarus",
                 "--build-dir", str(build)]) == 2
    assert capsys.readouterr().err == f"asq-hw: error: {message}\n"
    assert not build.exists()


def test_sim_model_names_a_missing_artifact(tmp_path, capsys):
    assert main(["sim", "model", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == \
        f"asq-hw: error: {tmp_path / 'none'}: artifact folder not found\n"


@pytest.mark.rtl
@pytest.mark.slow
@needs_verilator
def test_sim_model_json(capsys):
    from asq_hw.artifact import load_artifact

    folder = trained_cnn()
    assert main(["sim", "model", str(folder), "--rows", "8", "--lanes", "8", "--images", "3",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert {"images", "accumulators_checked", "mismatches", "prediction_mismatches", "cycles",
            "layers", "verified_macs_per_s"} <= set(rep)
    art = load_artifact(folder)
    lms = mapper.map_network(art, 8, 8)
    model = dict(mapper.network_cycles(art, "lut", 8, 8))
    assert rep["images"] == 3 and rep["mismatches"] == rep["prediction_mismatches"] == 0
    assert rep["accumulators_checked"] == 3 * sum(lm.positions * lm.outputs for lm in lms)
    assert [(x["name"], x["cycles"], x["macs"]) for x in rep["layers"]] == \
        [(lm.name, 3 * model[lm.name], 3 * lm.macs) for lm in lms]
    assert rep["cycles"] == sum(x["cycles"] for x in rep["layers"])
    assert rep["verified_macs_per_s"] > 0 and rep["ok"] is True
    assert rep["fakequant_mismatches"] is not None          # the folder has the checkpoint


SUMMARY = re.compile(r"^accumulators checked: (\d+), mismatches: (\d+)$", re.M)


@pytest.mark.rtl
@pytest.mark.slow
@needs_icarus
def test_sim_model_text_on_icarus(capsys):
    assert main(["sim", "model", str(trained_cnn()), "--rows", "3", "--lanes", "5",
                 "--images", "1", "--variant", "dual", "--sim", "icarus"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("post_array 3x5 (dual, wbits 4, abits 8 signed")
    for name in ("conv0", "conv1", "conv2", "linear3", "total"):
        assert re.search(rf"^  {name} ", out, re.M)
    checked, bad = (int(v) for v in SUMMARY.search(out).groups())
    assert checked > 0 and bad == 0
    assert "predictions: 1 of 1 identical to golden (0 mismatches)" in out
    assert re.search(r"^verified MACs/s: [\d.]+ M", out, re.M)


@pytest.mark.rtl
@pytest.mark.slow
@needs_icarus
def test_sim_model_exits_nonzero_on_mismatch(monkeypatch, capsys):
    from test_sim_array import flip_first_code_bit

    flip_first_code_bit(monkeypatch, "conv2")              # a wrong beat: one code bit
    assert main(["sim", "model", str(trained_cnn()), "--rows", "3", "--lanes", "5",
                 "--images", "1", "--sim", "icarus"]) == 1
    out = capsys.readouterr().out
    assert int(SUMMARY.search(out).group(2)) > 0
    assert re.search(r"^    accumulator \(row, channel\) \(\d+, \d+\): expected -?\d+, got -?\d+$",
                     out, re.M)


@pytest.mark.rtl
@pytest.mark.slow
@needs_verilator
def test_sim_model_runs_a_resnet_bit_exactly(capsys):
    """Every compute layer of a ResNet-20 (main branches, projections, classifier) on the
    RTL array from golden's input to that layer; cycles equal `estimate model`'s."""
    from array_export import trained_resnet

    folder = str(trained_resnet())
    assert main(["sim", "model", folder, "--rows", "4", "--lanes", "4", "--images", "2",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["mismatches"] == rep["prediction_mismatches"] == 0 and rep["ok"] is True
    assert len(rep["layers"]) == 22                 # 19 convs, 2 projections, the linear
    assert main(["estimate", "model", folder, "--rows", "4", "--lanes", "4",
                 "--clock-mhz", "100", "--json"]) == 0
    est = json.loads(capsys.readouterr().out)
    assert [(x["name"], x["cycles_per_image"]) for x in rep["layers"]] == \
        [(x["name"], x["cycles_per_image"]) for x in est["layers"]]
