"""CIFAR-10 from a local folder through the CLI: `asq-hw train --dataset cifar10 --data-dir`
trains, exports and evaluates the CNN on a small fake folder in the python-batch format; the
3x32x32 input and 10 classes reach the model config, the artifact and the reports; bad
folders end in one error line before anything is written."""

import json
import re

import numpy as np
import pytest

from asq_hw.artifact import load_artifact
from asq_hw.cli import main
from asq_hw.data import CIFAR_MEAN, CIFAR_STD
from asq_hw.train import load_checkpoint_meta
from tests.cifar_folder import write_fake_cifar

TINY = ["--width", "4", "--float-epochs", "1", "--epochs", "1", "--batch-size", "16",
        "--quiet"]


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    parent = tmp_path_factory.mktemp("data")
    write_fake_cifar(parent / "cifar-10-batches-py")
    return parent


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("asq-hw: error: ")
    return err


@pytest.mark.slow
def test_cnn_trains_exports_and_evaluates_on_a_local_cifar_folder(cifar, tmp_path, capsys):
    out = tmp_path / "model"
    # the parent folder of cifar-10-batches-py is accepted
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(cifar), *TINY,
                 "--out", str(out)]) == 0
    assert "cifar10: 40 train / 20 test images, cnn W4A4 post" in capsys.readouterr().out
    art = load_artifact(out)
    assert (art.dataset, art.num_classes, art.input.shape) == ("cifar10", 10, (3, 32, 32))
    meta = json.loads((out / "model.json").read_text())
    assert meta["floats"]["mean"] == pytest.approx(CIFAR_MEAN)
    assert meta["floats"]["std"] == pytest.approx(CIFAR_STD)
    _, _, tcfg, ck = load_checkpoint_meta(out)
    assert ck["model_config"]["in_channels"] == 3 and ck["model_config"]["in_hw"] == [32, 32]
    assert ck["model_config"]["num_classes"] == 10 and tcfg.dataset == "cifar10"

    # eval finds the folder through the checkpoint's training config, or --data-dir
    assert main(["eval", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["images"] == 20 and r["agreement"] >= 0.9
    assert r["sqnr_db"] is None or np.isfinite(r["sqnr_db"])
    assert main(["eval", str(out), "--data-dir", str(cifar / "cifar-10-batches-py")]) == 0
    assert "cifar10 test split, 20 images, W4A4 post" in capsys.readouterr().out
    assert main(["estimate", "model", str(out), "--rows", "2", "--lanes", "4",
                 "--clock-mhz", "100"]) == 0
    capsys.readouterr()
    # eval of a cifar10 model without its folder names the flag
    assert main(["eval", str(out), "--data-dir", str(tmp_path / "gone")]) == 2
    assert "data_dir must be a folder holding data_batch_1" in _err(capsys)


def _remove_batch_4(root):
    (root / "data_batch_4").unlink()


def _png_as_test_batch(root):
    (root / "test_batch").write_bytes(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("break_folder, message", [
    (None, r"data_dir must be a folder holding data_batch_1, .*, not '.*c': no such folder$"),
    (_remove_batch_4, r"c: CIFAR-10 batch files missing: data_batch_4 \("),
    (_png_as_test_batch, r"test_batch: not a CIFAR-10 python batch \("),
])
def test_train_refuses_bad_cifar_folders_in_one_line(tmp_path, capsys, break_folder, message):
    root = tmp_path / "c"
    if break_folder is not None:
        write_fake_cifar(root, train_per_batch=2, test=2)
        break_folder(root)
    out = tmp_path / "out"
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(root), *TINY,
                 "--out", str(out)]) == 2
    assert re.search(message, _err(capsys))
    assert not out.exists()


def test_digits_refuses_data_dir(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path), *TINY, "--out",
                 str(tmp_path / "o")]) == 2
    assert "data_dir is read only for cifar10, not for digits" in _err(capsys)


@pytest.mark.slow
def test_resnet20_exports_and_runs_golden_on_a_local_cifar_folder(cifar, tmp_path, capsys):
    out = tmp_path / "r20"
    assert main(["train", "--dataset", "cifar10", "--data-dir", str(cifar), "--model",
                 "resnet20", *TINY, "--out", str(out)]) == 0
    assert "cifar10: 40 train / 20 test images, resnet20 W4A4 post" in capsys.readouterr().out
    art = load_artifact(out)
    assert (art.dataset, art.input.shape) == ("cifar10", (3, 32, 32))
    assert len(art.compute_layers()) == 22          # 19 3x3 convs, 2 projections, linear
    assert main(["eval", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["images"] == 20 and r["agreement"] >= 0.9 and r["integer_only"] is True
    assert len(r["weight_mse"]) == 22
