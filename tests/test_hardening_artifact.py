"""Hostile artifact folders: whatever model.json or model.safetensors hold, every command
that reads them ends in one line `asq-hw: error: FILE: field ...` (exit 2), with no
traceback, no warning printed before it, and nothing built or written.

Covers: JSON nested past any real artifact (Python's parser would raise RecursionError),
integers too long to convert, a wrong JSON type at every level, control characters in
names, a step that float32 rounds to zero, and a safetensors header of the wrong types.
"""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from array_export import trained_cnn

from asq_hw.cli import main

ESTIMATE = ["estimate", "model", "{d}", "--rows", "2", "--lanes", "2", "--clock-mhz", "100"]
SIM_PE = ["sim", "pe", "--wbits", "4", "--abits", "4", "--export", "{d}", "--vectors", "5",
          "--sim", "icarus", "--build-dir", "{b}"]
EVAL = ["eval", "{d}"]


def error_line(capsys) -> str:
    """The one error line (and nothing else on stderr: no warning, no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: error: "), err
    assert lines[0].isprintable(), repr(lines[0])
    return lines[0][len("asq-hw: error: "):]


def copy_model(tmp_path: Path, name: str = "m") -> Path:
    d = tmp_path / name
    shutil.copytree(trained_cnn(), d)
    return d


def meta_of(d: Path) -> dict:
    return json.loads((d / "model.json").read_text())


def write_meta(d: Path, meta) -> None:
    (d / "model.json").write_text(json.dumps(meta))


def run(cmd, d: Path, tmp_path: Path) -> int:
    return main([a.format(d=d, b=tmp_path / "build") for a in cmd])


@pytest.mark.parametrize("cmd", [EVAL, ESTIMATE, SIM_PE])
def test_deeply_nested_json(tmp_path, capsys, cmd):
    d = copy_model(tmp_path)
    (d / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    assert run(cmd, d, tmp_path) == 2
    msg = error_line(capsys)
    assert msg.startswith(f"{d / 'model.json'}: ") and "nested" in msg, msg
    assert not (tmp_path / "build").exists()


def test_deeply_nested_field(tmp_path, capsys):
    d = copy_model(tmp_path)
    text = json.dumps(meta_of(d)).replace(
        '"provenance": {', '"provenance": {"x": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000
        + ", ", 1)
    (d / "model.json").write_text(text)
    assert run(ESTIMATE, d, tmp_path) == 2
    msg = error_line(capsys)
    assert msg.startswith(f"{d / 'model.json'}: ") and "nested" in msg, msg


def test_integer_too_long_names_file_and_field(tmp_path, capsys):
    d = copy_model(tmp_path)
    text = json.dumps(meta_of(d)).replace('"wbits": 4', '"wbits": ' + "9" * 5000, 1)
    (d / "model.json").write_text(text)
    assert run(ESTIMATE, d, tmp_path) == 2
    msg = error_line(capsys)
    assert msg.startswith(f"{d / 'model.json'}: field wbits: "), msg
    assert "5000-digit" in msg and len(msg) < 300


def _set(meta, path: str, value):
    *parents, last = path.split(".")
    node = meta
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


# A wrong JSON type at every level of model.json.
@pytest.mark.parametrize("path,value", [
    ("ops", "x"), ("ops", None), ("ops", {}), ("ops.0", "x"), ("ops.0", [1, 2]),
    ("ops.1", 3), ("ops.0.act_in", "x"), ("ops.0.act_in.adapter", "x"),
    ("ops.0.act_in.step", True), ("ops.0.act_in.step", "1"), ("ops.0.act_in.abits", 4.0),
    ("ops.0.requant", 5), ("ops.0.requant.lut", []), ("ops.0.requant.lut.shift", "9"),
    ("ops.0.kernel", "33"), ("ops.0.kernel", [10**6, 10**6]), ("ops.0.in_hw", {"h": 8}),
    ("ops.0.name", 5), ("input", []), ("input.shape", "x"), ("input.shape", [1, 8.0, 8]),
    ("input.mean", {}), ("input.std", [True]), ("provenance", []), ("num_classes", "10"),
    ("wbits", 4.5), ("dataset", ["digits"]),
    ("tensors_sha256", 7), ("format", None), ("version", "1"),
])
def test_wrong_json_type(tmp_path, capsys, path, value):
    d = copy_model(tmp_path)
    meta = meta_of(d)
    _set(meta, path, value)
    write_meta(d, meta)
    assert run(ESTIMATE, d, tmp_path) == 2
    msg = error_line(capsys)
    assert msg.startswith(f"{d / 'model.json'}: "), msg


def test_top_level_not_an_object(tmp_path, capsys):
    d = copy_model(tmp_path)
    write_meta(d, [meta_of(d)])
    assert run(ESTIMATE, d, tmp_path) == 2
    assert error_line(capsys) == f"{d / 'model.json'}: top level must be a JSON object"


@pytest.mark.parametrize("name", ["c\x1b[31mRED", "conv\x07", "a\nb", "a\tb", "x\u202ey",
                                  "", "a b"])
def test_control_characters_in_layer_names(tmp_path, capsys, name):
    from safetensors.numpy import load_file, save

    d = copy_model(tmp_path)
    meta = meta_of(d)
    old = meta["ops"][0]["name"]
    tensors = {(name + k[len(old):] if k.startswith(old + ".") else k): v
               for k, v in load_file(str(d / "model.safetensors")).items()}
    meta["ops"][0]["name"] = name
    blob = save(dict(sorted(tensors.items())))
    (d / "model.safetensors").write_bytes(blob)
    meta["tensors_sha256"] = hashlib.sha256(blob).hexdigest()
    write_meta(d, meta)
    assert run(ESTIMATE, d, tmp_path) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].isprintable(), out.err
    assert lines[0].startswith(f"asq-hw: error: {d / 'model.json'}: field ops[0].name: ")
    assert out.out == ""


@pytest.mark.parametrize("step", [1e-300, 1e-46, 1e39, 1e300])
def test_step_outside_float32_is_refused_without_warnings(tmp_path, capsys, step):
    d = copy_model(tmp_path)
    meta = meta_of(d)
    for op in meta["ops"]:
        if "act_in" in op:
            op["act_in"]["step"] = step
    write_meta(d, meta)
    assert run(ESTIMATE, d, tmp_path) == 2
    msg = error_line(capsys)
    assert msg.startswith(f"{d / 'model.json'}: field ops[0] (conv0).act_in.step: "), msg


@pytest.mark.parametrize("entry", ["shape", "dtype", "data_offsets", "whole"])
def test_safetensors_header_of_wrong_types(tmp_path, capsys, entry):
    d = copy_model(tmp_path)
    tpath = d / "model.safetensors"
    blob = tpath.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    first = sorted(k for k in header if k != "__metadata__")[0]
    if entry == "whole":
        header[first] = "oops"
    else:
        header[first][entry] = "oops"
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    blob = len(hb).to_bytes(8, "little") + hb + blob[8 + n:]
    tpath.write_bytes(blob)
    meta = meta_of(d)
    meta["tensors_sha256"] = hashlib.sha256(blob).hexdigest()
    write_meta(d, meta)
    assert run(ESTIMATE, d, tmp_path) == 2
    assert error_line(capsys).startswith(f"{tpath}: ")


@pytest.mark.parametrize("kind", ["dir-json", "empty-json", "empty-tensors", "binary-json",
                                  "dir-is-file"])
def test_files_that_are_not_files(tmp_path, capsys, kind):
    d = copy_model(tmp_path)
    if kind == "dir-json":
        (d / "model.json").unlink()
        (d / "model.json").mkdir()
    elif kind == "empty-json":
        (d / "model.json").write_text("")
    elif kind == "empty-tensors":
        (d / "model.safetensors").write_bytes(b"")
    elif kind == "binary-json":
        (d / "model.json").write_bytes(b"\xff\xfe\x00garbage")
    else:
        shutil.rmtree(d)
        d.write_text("not a folder")
    assert run(ESTIMATE, d, tmp_path) == 2
    assert error_line(capsys).startswith(str(d))
