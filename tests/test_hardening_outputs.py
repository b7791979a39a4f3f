"""Interrupted and failing runs leave nothing half-written.

`asq-hw train` writes model.json, model.safetensors and checkpoint.safetensors as one
transaction: into a new folder next to --out, swapped in when all three are complete. A
failure (disk full, a signal) at any point leaves the previous folder as it was, or no
folder at all, and no temporary file; a disk-full error names the file. SIGTERM is handled
like Ctrl-C. A run that fails leaves no empty --out folder it created.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asq_hw.cli import main

TINY = ["--width", "4", "--float-epochs", "1", "--epochs", "1", "--quiet"]
FILES = {"model.json", "model.safetensors", "checkpoint.safetensors"}


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: error: "), err
    return lines[0][len("asq-hw: error: "):]


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.startswith(".") or "tmp" in p.name]


@pytest.fixture(scope="module")
def old_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("old") / "m"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_disk_full_during_train_keeps_the_old_model(tmp_path, capsys, monkeypatch, old_model,
                                                    fail_at):
    """The n-th file written lands on a full disk (its temporary file is /dev/full): the
    old folder survives byte for byte, the message names the file, nothing temporary is
    left."""
    import tempfile

    out = tmp_path / "m"
    out.mkdir()
    for name, blob in snapshot(old_model).items():
        (out / name).write_bytes(blob)
    before = snapshot(out)
    real = tempfile.mkstemp
    calls = []

    def mkstemp(*args, **kw):
        fd, name = real(*args, **kw)
        if str(tmp_path) in name and "probe" not in Path(name).name:
            calls.append(name)
            if len(calls) == fail_at:
                full = os.open("/dev/full", os.O_WRONLY)
                os.dup2(full, fd)
                os.close(full)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert main(["train", *TINY, "--seed", "1", "--out", str(out)]) == 2
    msg = error_line(capsys)
    written = Path(calls[fail_at - 1]).name.split(".")[1:3]       # .NAME.EXT.xxxx.tmp
    assert msg == f"cannot write {out / '.'.join(written)}: No space left on device", msg
    assert snapshot(out) == before
    assert no_temp_files(tmp_path)


def test_train_replaces_a_model_as_a_whole(tmp_path, old_model):
    out = tmp_path / "m"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    assert main(["train", *TINY, "--seed", "1", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES
    assert main(["eval", str(out), "--json"]) == 0       # artifact and checkpoint agree
    assert no_temp_files(tmp_path)


def test_train_keeps_other_files_of_its_folder(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["train", *TINY, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == FILES | {"notes.txt"}
    assert (out / "notes.txt").read_text() == "mine"


def _train_and_signal(out: Path, sig: int, delay: float) -> subprocess.CompletedProcess:
    """Start a long training, signal it `delay` s after its first progress output."""
    proc = subprocess.Popen([sys.executable, "-m", "asq_hw.cli", "train", "--width", "4",
                             "--float-epochs", "500", "--epochs", "500", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stderr.read(1)                  # the progress bar: training has started
    time.sleep(delay)
    proc.send_signal(sig)
    out_text, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out_text, first + err)


@pytest.mark.slow
@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_train(tmp_path, old_model, sig, status):
    new = tmp_path / "new" / "m"
    r = _train_and_signal(new, sig, 1.0)
    assert r.returncode == status, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("asq-hw: interrupted"), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "new").exists()     # no empty folder left behind
    kept = tmp_path / "kept"
    kept.mkdir()
    for name, blob in snapshot(old_model).items():
        (kept / name).write_bytes(blob)
    before = snapshot(kept)
    r = _train_and_signal(kept, sig, 1.0)
    assert r.returncode == status, r.stderr
    assert snapshot(kept) == before
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("command", [
    ["train", "--dataset", "cifar10", "--data-dir", "{tmp}/no-cifar"],
    ["sweep", "--kind", "int", "--rows", "2", "--quiet"],
])
def test_failed_run_leaves_no_folder_it_created(tmp_path, capsys, command):
    out = tmp_path / "a" / "b" / "out"
    assert main([c.format(tmp=tmp_path) for c in command] + ["--out", str(out)]) == 2
    error_line(capsys)
    assert not (tmp_path / "a").exists()


def test_failed_run_keeps_a_folder_that_existed(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["sweep", "--kind", "int", "--rows", "2", "--quiet", "--out", str(out)]) == 2
    error_line(capsys)
    assert out.is_dir()


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.slow
def test_train_on_a_really_full_disk(tmp_path, capsys):
    """On a 40 KiB tmpfs one model fits, a second next to it does not."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "40k"):
        pytest.skip("needs root and tmpfs to fill a disk")
    try:
        out = disk / "m"
        assert main(["train", *TINY, "--out", str(out)]) == 0
        before = snapshot(out)
        capsys.readouterr()
        assert main(["train", *TINY, "--seed", "1", "--out", str(out)]) == 2
        msg = error_line(capsys)
        assert "No space left on device" in msg and str(disk) in msg, msg
        assert snapshot(out) == before
        assert sorted(p.name for p in disk.iterdir()) == ["m"]
        assert main(["eval", str(out), "--json"]) == 0
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_a_parallel_sweep(tmp_path, sig, status):
    """Ctrl-C or SIGTERM while the worker processes estimate: the workers are stopped, the
    command ends at once (no wait for work that will never be reported) and leaves no
    folder."""
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "asq_hw.cli", "sweep", "--wbits",
                             "2,3,4,5,6", "--abits", "2,3,4,5,6,7,8", "--lanes",
                             "1,2,4,8,16,32,64", "--rows", "1,2,4,8", "--jobs", "2",
                             "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()             # the size line: the estimate starts now
    assert first.startswith("sweep: 1,960 configurations"), first
    time.sleep(1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.strip().splitlines()[-1].startswith("asq-hw: interrupted"), err
    assert not out.exists()
