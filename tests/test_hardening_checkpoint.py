"""Hostile checkpoints and eval flags: `asq-hw eval` refuses a checkpoint whose
model_config is of the wrong type, out of range or would ask torch for an absurd amount of
memory, in one line naming the file and the field, before building the network (no torch
warning first); --threads is checked before anything is loaded."""

import json
import shutil

import pytest
from array_export import trained_cnn

from asq_hw.cli import main


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: error: "), err
    return lines[0][len("asq-hw: error: "):]


def with_model_config(tmp_path, **changes):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    d = tmp_path / "m"
    shutil.copytree(trained_cnn(), d)
    path = d / "checkpoint.safetensors"
    with safe_open(str(path), "np") as f:
        meta = json.loads(f.metadata()["asq_hw"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["model_config"].update(changes)
    save_file(tensors, str(path), metadata={"asq_hw": json.dumps(meta)})
    return d, path


@pytest.mark.parametrize("field,value", [
    ("in_channels", -1), ("in_channels", 0), ("in_channels", "1"), ("in_hw", "ab"),
    ("in_hw", [8, 8, 8]), ("in_hw", [8, -8]), ("in_hw", None), ("width", 1_000_000),
    ("width", 21_000), ("width", 2.5), ("wbits", "4"), ("wbits", 9), ("abits", None),
    ("num_classes", 0), ("num_classes", -3), ("weight_quant", "bogus"), ("adapter", "yes"),
    ("name", ["cnn"]), ("in_channels", 10**6),
])
def test_bad_model_config(tmp_path, capsys, field, value):
    d, path = with_model_config(tmp_path, **{field: value})
    assert main(["eval", str(d)]) == 2
    msg = error_line(capsys)
    assert msg.startswith(f"{path}: field model_config.{field}: "), msg


def test_model_config_not_an_object(tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    d = tmp_path / "m"
    shutil.copytree(trained_cnn(), d)
    path = d / "checkpoint.safetensors"
    with safe_open(str(path), "np") as f:
        meta = json.loads(f.metadata()["asq_hw"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["model_config"] = "cnn"
    save_file(tensors, str(path), metadata={"asq_hw": json.dumps(meta)})
    assert main(["eval", str(d)]) == 2
    assert error_line(capsys).startswith(f"{path}: field model_config: ")


@pytest.mark.parametrize("kind", ["empty", "directory", "garbage"])
def test_checkpoint_file_that_is_not_one(tmp_path, capsys, kind):
    d = tmp_path / "m"
    shutil.copytree(trained_cnn(), d)
    path = d / "checkpoint.safetensors"
    path.unlink()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00[1, 2, 3]       ")
    assert main(["eval", str(d)]) == 2
    assert error_line(capsys).startswith(str(path))


@pytest.mark.parametrize("threads", ["0", "-1", "100000"])
def test_eval_threads_out_of_range(capsys, threads):
    assert main(["eval", str(trained_cnn()), "--threads", threads]) == 2
    msg = error_line(capsys)
    assert msg.startswith("threads must be an integer from 1 to "), msg
    assert msg.endswith(f"not {threads}")
