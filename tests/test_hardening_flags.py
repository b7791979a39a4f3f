"""Hostile flags: each is refused in one line naming the flag, the value and what is allowed
(exit 2), before any build, training or file; or, where the flag has a meaning, honoured.
Never a wrong result with exit 0 (a --json that is not JSON, a flag silently ignored)."""

import json
import math
import os

import pytest
from array_export import trained_cnn

from asq_hw.cli import main

PE = ["--wbits", "2", "--abits", "2", "--lanes", "1", "--max-len", "16"]


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: error: "), err
    return lines[0][len("asq-hw: error: "):]


def strict_json(text: str):
    def refuse(c):
        raise AssertionError(f"not JSON: {c}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("mhz", ["1e-320", "0", "-5", "nan", "inf", "-inf", "1e308"])
def test_estimate_model_clock_out_of_range(capsys, mhz):
    assert main(["estimate", "model", str(trained_cnn()), "--rows", "2", "--lanes", "2",
                 f"--clock-mhz={mhz}", "--json"]) == 2
    msg = error_line(capsys)
    assert msg.startswith("clock_mhz must be a number from 0.001 to 1e+06 (MHz), not "), msg
    assert capsys.readouterr().out == ""


def test_estimate_model_json_is_strict_json(capsys):
    assert main(["estimate", "model", str(trained_cnn()), "--rows", "2", "--lanes", "2",
                 "--clock-mhz", "0.001", "--images", "1000000", "--json"]) == 0
    r = strict_json(capsys.readouterr().out)
    assert all(math.isfinite(v) for v in (r["latency_s"], r["inferences_per_s"]))


@pytest.mark.parametrize("images", ["0", "-1", "1" + "0" * 30])
def test_estimate_model_images_out_of_range(capsys, images):
    assert main(["estimate", "model", str(trained_cnn()), "--rows", "2", "--lanes", "2",
                 "--clock-mhz", "100", f"--images={images}"]) == 2
    assert error_line(capsys).startswith("images must be an integer from 1 to ")


@pytest.mark.parametrize("kind", ["int", "pot"])
@pytest.mark.parametrize("command", [["verilog", "pe"], ["estimate", "pe"], ["synth", "pe"]])
def test_baseline_acc_bits_is_refused_not_ignored(tmp_path, capsys, kind, command):
    out = tmp_path / "v"
    extra = (["--out", str(out)] if command[0] == "verilog" else ["--target", "ice40"])
    assert main([*command, *PE, "--kind", kind, "--acc-bits", "2", *extra]) == 2
    msg = error_line(capsys)
    assert msg.startswith("acc-bits "), msg
    assert kind in msg and "post" in msg
    assert not out.exists()


@pytest.mark.parametrize("flag,value,message", [
    ("--seed", "-1", "seed must be an integer from 0 to "),
    ("--seed", str(2**64), "seed must be an integer from 0 to "),
    ("--vectors", "0", "vectors must be an integer from 1 to "),
    ("--vectors", "1000000000000", "vectors must be an integer from 1 to "),
])
def test_sim_pe_flags_checked_before_building(tmp_path, capsys, flag, value, message):
    build = tmp_path / "build"
    assert main(["sim", "pe", *PE, f"{flag}={value}", "--build-dir", str(build)]) == 2
    msg = error_line(capsys)
    assert msg.startswith(message) and msg.endswith(f"not {value}"), msg
    assert not build.exists()


OUT_COMMANDS = [
    ["verilog", "pe", *PE],
    ["verilog", "array", "--rows", "2", *PE],
    ["sweep", "--wbits", "2", "--lanes", "4", "--variant", "lut", "--quiet"],
    ["train", "--width", "4", "--float-epochs", "1", "--epochs", "1", "--quiet"],
    ["demo", "--quick", "--quiet", "--no-rtl", "--no-synth"],
]


@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_out_is_an_existing_file(tmp_path, capsys, command):
    f = tmp_path / "afile"
    f.write_text("keep me")
    assert main([*command, "--out", str(f)]) == 2
    msg = error_line(capsys)
    assert msg == f"output folder {f} is not writable: it is a file, not a folder", msg
    assert f.read_text() == "keep me"
    assert "Errno" not in msg


@pytest.mark.parametrize("command", OUT_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_out_empty_is_refused(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--out", ""]) == 2
    assert error_line(capsys) == "out must name a folder, not ''"
    assert os.listdir(tmp_path) == []
