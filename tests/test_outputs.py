"""Atomic output writing and the output-folder pre-flight check (asq_hw/outputs.py)."""

import json
import math
import os
import tempfile
from pathlib import Path

import pytest

from asq_hw import outputs
from asq_hw.errors import UserError


def test_write_bytes_replaces_whole_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.txt"
    outputs.write_text(p, "old")
    outputs.write_text(p, "new content")
    assert p.read_text() == "new content"
    assert outputs.leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_failure_during_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    outputs.write_text(p, "old")

    def boom(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(outputs.OutputError, match=f"^cannot write {p}: No space left"):
        outputs.write_text(p, "new")
    assert p.read_text() == "old"
    assert outputs.leftovers(tmp_path) == []


def test_interrupt_during_write_leaves_no_file(tmp_path, monkeypatch):
    real = os.fdopen

    class Exploding:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[:3])          # a partial write, then Ctrl-C
            raise KeyboardInterrupt
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Exploding(real(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        outputs.write_text(tmp_path / "b.txt", "complete text")
    assert os.listdir(tmp_path) == []


def test_json_refuses_nan_before_writing(tmp_path):
    with pytest.raises(ValueError, match="Out of range float"):
        outputs.write_json(tmp_path / "s.json", {"x": math.nan})
    assert os.listdir(tmp_path) == []


def test_json_layout_is_stable_and_takes_numpy_scalars(tmp_path):
    import numpy as np
    outputs.write_json(tmp_path / "s.json", {"b": np.int64(3), "a": np.float32(0.5)})
    text = (tmp_path / "s.json").read_text()
    assert text == '{\n "a": 0.5,\n "b": 3\n}\n'
    with pytest.raises(TypeError, match="ndarray is not JSON serialisable"):
        outputs.json_text({"a": np.zeros(2)})


def test_written_file_has_umask_permissions(tmp_path):
    p = outputs.write_text(tmp_path / "p.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask


def test_figure_png_is_reproducible():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def fig():
        f, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2])
        return f
    a, b = outputs.figure_png(fig()), outputs.figure_png(fig())
    assert a[:8] == b"\x89PNG\r\n\x1a\n"
    assert a == b


def test_ensure_writable_creates_folder(tmp_path):
    d = outputs.ensure_writable(tmp_path / "x" / "y")
    assert d.is_dir() and os.listdir(d) == []


def test_ensure_writable_refuses_a_path_below_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(UserError, match=r"output folder .*file/out is not writable: "):
        outputs.ensure_writable(f / "out")


# Tests run as root, for whom chmod does not stop writes. Two honest read-only folders:
# sysfs refuses new files even to root, and a simulated EROFS from the probe write.
@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_ensure_writable_refuses_sysfs():
    with pytest.raises(UserError, match=r"output folder /sys/kernel is not writable: "):
        outputs.ensure_writable("/sys/kernel")


def test_ensure_writable_refuses_read_only_file_system(tmp_path, monkeypatch):
    def erofs(*a, **k):
        raise OSError(30, "Read-only file system")
    monkeypatch.setattr(tempfile, "mkstemp", erofs)
    with pytest.raises(UserError) as exc:
        outputs.ensure_writable(tmp_path)
    assert str(exc.value) == f"output folder {tmp_path} is not writable: Read-only file system"


def test_leftovers_finds_temp_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".report.md.abc.tmp").write_text("half")
    (tmp_path / "report.md").write_text("whole")
    assert outputs.leftovers(tmp_path) == [tmp_path / "sub" / ".report.md.abc.tmp"]
    assert json.loads(outputs.json_text([1])) == [1]
