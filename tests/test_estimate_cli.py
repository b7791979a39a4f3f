"""`asq-hw estimate pe|array|model` and `asq-hw calibrate` argument handling: the same keys as
`asq-hw synth`, layer names as `asq-hw sim model`, one-line errors."""

import json
import re

import pytest
from array_export import trained_cnn

from asq_hw import mapper
from asq_hw.artifact import load_artifact
from asq_hw.cli import main
from asq_hw.designs import RESOURCE_KEYS as KEYS


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pe_json_has_synths_keys_first(capsys):
    code, out, _ = run(capsys, "estimate", "pe", "--wbits", "5", "--abits", "3", "--lanes", "4",
                       "--target", "ecp5", "--json")
    d = json.loads(out)
    assert code == 0 and list(d)[:len(KEYS)] == list(KEYS)
    assert d["config"]["wbits"] == 5 and d["kind"] == "post" and d["rows"] is None


def test_array_and_baseline(capsys):
    code, out, _ = run(capsys, "estimate", "array", "--rows", "4", "--lanes", "4",
                       "--target", "ice40", "--json")
    arr = json.loads(out)
    code2, out2, _ = run(capsys, "estimate", "pe", "--lanes", "4", "--kind", "int",
                         "--target", "ice40", "--json")
    assert code == code2 == 0 and arr["rows"] == 4 and json.loads(out2)["kind"] == "int"


def test_human_table_lists_every_key(capsys):
    code, out, _ = run(capsys, "estimate", "pe", "--abits", "8", "--lanes", "2",
                       "--target", "ice40")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "post_pe lanes 2 W4A8 lut on ice40 (estimate):"
    assert [ln.split()[0] for ln in lines[1:1 + len(KEYS)]] == list(KEYS)
    assert "LUT ROM: 2 x 256 x 16 bit (1 block RAM each)" in out


@pytest.mark.parametrize("argv,msg", [
    (["estimate", "pe", "--wbits", "7", "--target", "ice40"],
     "wbits must be an integer from 2 to 6, not 7"),
    (["estimate", "array", "--rows", "0", "--target", "xc7"],
     "rows must be an integer from 1 to 1024, not 0"),
    (["calibrate", "--jobs", "0"], "jobs must be an integer from 1 to 64, not 0"),
    (["calibrate", "--targets", "gw5a"],
     "targets must be among ice40, ecp5, xc7, osu018, not 'gw5a'"),
])
def test_bad_input_is_one_line(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err == f"asq-hw: error: {msg}\n"


def test_model_layers_are_named_as_sim_model_names_them(capsys):
    folder = trained_cnn()
    code, out, _ = run(capsys, "estimate", "model", str(folder), "--rows", "8", "--lanes", "8",
                       "--clock-mhz", "50", "--images", "2", "--json")
    d = json.loads(out)
    art = load_artifact(folder)
    model = mapper.network_cycles(art, "lut", 8, 8)
    assert code == 0
    assert [(le["name"], le["cycles"]) for le in d["layers"]] == [(n, 2 * c) for n, c in model]
    assert d["cycles"] == 2 * sum(c for _, c in model)
    assert d["inferences_per_s"] == pytest.approx(50e6 / d["cycles_per_image"])
    code, out, _ = run(capsys, "estimate", "model", str(folder), "--rows", "8", "--lanes", "8",
                       "--clock-mhz", "50")
    assert code == 0 and "inferences/s" in out and out.count("conv") >= 3


def test_model_bad_clock(capsys):
    code, _, err = run(capsys, "estimate", "model", str(trained_cnn()), "--rows", "2",
                       "--lanes", "2", "--clock-mhz", "-5")
    assert code == 2 and err == ("asq-hw: error: clock_mhz must be a number from 0.001 to "
                                 "1e+06 (MHz), not -5.0\n")


@pytest.mark.synth
@pytest.mark.slow
def test_calibrate_check_on_ecp5_writes_the_report_with_the_stock_flow_comparison(
        capsys, tmp_path):
    # Real Yosys and nextpnr on the small grid (cached on disk after the first run).
    report = tmp_path / "accuracy.md"
    code, out, _ = run(capsys, "calibrate", "--grid", "small", "--targets", "ecp5", "--check",
                       "--jobs", "2", "--report", str(report))
    text = report.read_text()
    assert code == (1 if "goal missed" in out else 0)
    assert "Mode: check of the committed coefficients" in text
    assert "| ecp5 | " in text and "| ice40 | " not in text
    # 5 POST designs in the small grid; stock ABC9 either finished or failed on each.
    flow = text[text.index("## ECP5 flow against stock synth_ecp5"):]
    finished = re.search(r"ABC9 finished on (\d+) of 5: the flow's LUTs differ by median", flow)
    failed = re.search(r"ABC9 failed on (\d+): ", flow)
    assert finished and int(finished[1]) + (int(failed[1]) if failed else 0) == 5
    assert "wrote " + str(report) in out
