"""`asq-hw synth accel`: the whole accelerator through Yosys (marked synth: about a minute
on ecp5), its keys, exact cycles, measured memory decisions against the estimator's
placement rule, and the estimate within the estimator's bounds."""

import json

import pytest
from array_export import trained_cnn

from asq_hw.cli import main
from asq_hw.designs import RESOURCE_KEYS as KEYS

pytest.importorskip("hw.accel.top")


@pytest.mark.synth
@pytest.mark.slow
def test_synth_accel_ecp5_agrees_with_the_estimate(capsys):
    args = [str(trained_cnn()), "--rows", "2", "--lanes", "2", "--target", "ecp5", "--json"]
    assert main(["synth", "accel", *args, "--no-fmax"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert main(["estimate", "accel", *args, "--clock-mhz", "50"]) == 0
    e = json.loads(capsys.readouterr().out)
    assert list(s)[:len(KEYS)] == list(KEYS) and s["transistors"] is None
    assert s["cycles_per_image"] == e["cycles_per_image"]
    assert s["bram"] == e["bram"]
    for k in ("lut", "ff"):
        assert abs(e[k] / s[k] - 1) < 0.15, (k, s[k], e[k])
    # Every memory Yosys put in a block RAM, the model did (names differ: count them).
    measured = sum(m["where"] != "logic" and "TRELLIS" not in m["where"]
                   for m in s["memories"] if "act_stage" not in m["memory"])
    modelled = sum(m["where"] == "bram" for m in e["memories"])
    assert measured == modelled
    b = s["breakdown"]
    assert b["array"]["lut"] + b["rest"]["lut"] == s["lut"]
