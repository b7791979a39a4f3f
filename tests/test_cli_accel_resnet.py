"""`asq-hw sim accel` on the trained width-4 ResNet-20 (identity and projection shortcuts,
the integer global pool): every logit of the RTL equals golden's in both HDL simulators,
clean images in the manifest's cycles."""

import json

import pytest

from asq_hw.cli import main
from tests.array_export import trained_resnet
from tests.test_cli_accel import needs_icarus, needs_verilator


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("sim,variant,rows,lanes,images", [
    pytest.param("verilator", "lut", 4, 4, 10, marks=needs_verilator),
    pytest.param("icarus", "lut", 2, 3, 2, marks=needs_icarus)])
def test_sim_accel_resnet_logits_equal_golden(tmp_path, capsys, sim, variant, rows, lanes,
                                              images):
    assert main(["sim", "accel", str(trained_resnet()), "--rows", str(rows), "--lanes",
                 str(lanes), "--variant", variant, "--images", str(images), "--sim", sim,
                 "--json", "--jobs", "1", "--build-dir", str(tmp_path)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["images"] == images and rep["logits_checked"] == 10 * images
    assert rep["mismatches"] == 0 and rep["prediction_mismatches"] == 0
    assert rep["measured_cycles_per_image"] == [rep["cycles_per_image"]]
    assert rep["cycle_errors"] == 0 and rep["ok"]
