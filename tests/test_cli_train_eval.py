"""`asq-hw train` and `asq-hw eval` end to end on a tiny digits network; broken artifacts
end in one error line and exit status 2."""

import json
import subprocess
import sys

import pytest

from asq_hw.cli import main

TINY = ["--width", "4", "--float-epochs", "2", "--epochs", "2", "--batch-size", "128",
        "--quiet"]
KEYS = {"images", "float_acc", "fakequant_acc", "golden_acc", "agreement"}
QUALITY = {"sqnr_db", "fakequant_sqnr_db", "quant_sqnr_db", "weight_mse"}    # continuous figures


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("asq-hw: error: ")
    return err


def test_train_writes_artifact_and_checkpoint(trained_dir, capsys):
    assert {p.name for p in trained_dir.iterdir()} == \
        {"model.json", "model.safetensors", "checkpoint.safetensors"}
    meta = json.loads((trained_dir / "model.json").read_text())
    assert (meta["wbits"], meta["abits"], meta["weight_quant"], meta["frac_bits"]) == \
        (4, 4, "post", 8)
    assert meta["provenance"]["epochs"] == 2


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_eval_json_is_one_object_with_fractions(trained_dir, capsys, variant):
    assert main(["eval", str(trained_dir), "--variant", variant, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    r = json.loads(out)
    assert set(r) == KEYS | QUALITY | {"integer_only", "asq_cost"}
    assert r["images"] == 360
    assert all(0.0 <= r[k] <= 1.0 for k in KEYS - {"images"})
    assert r["agreement"] >= 0.97 and abs(r["golden_acc"] - r["fakequant_acc"]) <= 0.03
    assert r["integer_only"] is True
    cost = r["asq_cost"]
    assert [lay["name"] for lay in cost["layers"]] == ["conv0", "conv1", "conv2", "linear3"]
    assert cost["macs"] == sum(lay["macs"] for lay in cost["layers"]) > 0
    assert 0 < cost["asq_ops"] == sum(lay["asq_ops"] for lay in cost["layers"])
    assert cost["layers"][0]["adapter"]["widths"]["beta"] == 10  # conv1's input adapter
    assert cost["layers"][-1]["adapter"] is None


def test_eval_text_report(trained_dir, capsys):
    assert main(["eval", str(trained_dir)]) == 0
    out = capsys.readouterr().out
    assert "digits test split, 360 images, W4A4 post, golden variant lut, F=8" in out
    for label in ("float", "fake-quant", "golden", "agreement", "logit SQNR", "quant SQNR",
                  "weight MSE"):
        assert f"  {label}" in out
    assert "integer only; ASQ cost per image" in out and "| total |" in out


def test_train_is_deterministic(trained_dir, tmp_path):
    assert main(["train", *TINY, "--out", str(tmp_path)]) == 0
    for name in ("model.json", "model.safetensors", "checkpoint.safetensors"):
        assert (tmp_path / name).read_bytes() == (trained_dir / name).read_bytes()


def test_eval_refuses_broken_artifacts(trained_dir, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing")]) == 2
    assert "missing: artifact folder not found" in _err(capsys)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("model.json", "model.safetensors", "checkpoint.safetensors"):
        (bad / name).write_bytes((trained_dir / name).read_bytes())
    blob = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(blob[:-100])
    assert main(["eval", str(bad), "--json"]) == 2
    assert "model.safetensors: sha256" in _err(capsys)
    (bad / "model.safetensors").write_bytes(blob)
    meta = json.loads((bad / "model.json").read_text())
    version = meta["version"]
    meta["version"] = 7
    (bad / "model.json").write_text(json.dumps(meta))
    assert main(["eval", str(bad)]) == 2
    assert "model.json: field version is 7" in _err(capsys)
    meta["version"] = version
    (bad / "model.json").write_text(json.dumps(meta))
    other = tmp_path / "other"
    assert main(["train", *TINY, "--seed", "5", "--out", str(other)]) == 0
    capsys.readouterr()
    (bad / "checkpoint.safetensors").write_bytes((other / "checkpoint.safetensors")
                                                  .read_bytes())
    assert main(["eval", str(bad)]) == 2
    assert "field artifact_sha256 does not match" in _err(capsys)
    (bad / "checkpoint.safetensors").unlink()
    assert main(["eval", str(bad)]) == 2
    assert "checkpoint.safetensors: missing" in _err(capsys)


def test_train_refuses_bad_options_in_one_line(tmp_path, capsys):
    assert main(["train", "--wbits", "9", "--out", str(tmp_path)]) == 2
    assert _err(capsys) == "asq-hw: error: wbits must be an integer from 2 to 6, not 9"
    assert main(["train", "--model", "resnet", "--out", str(tmp_path)]) == 2
    assert "resnet20" in _err(capsys)
    assert main(["train", "--dataset", "cifar10", "--out", str(tmp_path)]) == 2
    assert "never downloads" in _err(capsys)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_console_script_prints_only_json_on_stdout(trained_dir):
    proc = subprocess.run([sys.executable, "-m", "asq_hw.cli", "eval", str(trained_dir),
                           "--json"], capture_output=True, text=True, check=True)
    assert set(json.loads(proc.stdout)) == KEYS | QUALITY | {"integer_only", "asq_cost"}


@pytest.mark.slow
def test_resnet20_trains_on_a_local_cifar_folder_without_export(tmp_path, capsys):
    import pickle

    import numpy as np
    root = tmp_path / "cifar"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(root / name, "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                         b"labels": rng.integers(0, 10, 4).tolist()}, fh)
    out = tmp_path / "out"
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(root), "--model",
                 "resnet20", "--width", "4", "--float-epochs", "1", "--epochs", "1",
                 "--no-export", "--quiet", "--out", str(out)]) == 0
    assert "cifar10: 20 train / 4 test images, resnet20 W4A4 post" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"checkpoint.safetensors"}
    assert main(["eval", str(out)]) == 2
    assert "model.json: missing" in _err(capsys)
