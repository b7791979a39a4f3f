import json
import re

import pytest

from asq_hw.cli import main
from asq_hw.designs import RESOURCE_KEYS as KEYS


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASQ_HW_CACHE", str(tmp_path / "cache"))


@pytest.mark.synth
def test_synth_pe_json_then_table_from_the_cache(capsys):
    args = ["synth", "pe", "--wbits", "3", "--abits", "3", "--variant", "dual", "--lanes", "1",
            "--max-len", "64", "--target", "ice40"]
    assert main(args + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert list(d)[:len(KEYS)] == list(KEYS)
    assert d["top"] == "post_pe" and d["kind"] == "post" and d["config"]["wbits"] == 3
    assert d["lut"] > 10 and d["ff"] > 10 and 20 < d["fmax_mhz"] < 600 and d["transistors"] > 0
    assert d["cached"] == []

    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("post_pe W3A3 dual lanes 1, acc_bits ")
    for key in KEYS:  # the table shows the same figures as the JSON
        shown = f"{d[key]:.2f}" if key == "fmax_mhz" else str(d[key])
        assert re.search(rf"^  {key} +{re.escape(shown)}$", out, re.M), key
    assert "fmax: nextpnr on hx8k-ct256, seed 1, constraint 100 MHz" in out
    assert "(cached: counts, cmos, pnr)" in out


def test_bad_pe_flag_is_one_line_and_exit_2(capsys):
    assert main(["synth", "pe", "--wbits", "9", "--target", "ecp5"]) == 2
    assert capsys.readouterr().err == "asq-hw: error: wbits must be an integer from 2 to 6, not 9\n"
