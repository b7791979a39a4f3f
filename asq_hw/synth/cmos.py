"""ASIC proxy: the transistor count Yosys' `stat -tech cmos` reports for a design.

Flow (Yosys 0.70), target-independent:

    synth -flatten -top T           generic gates, memories mapped to flip-flops
    dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_P{P,N}{0,1}_ 01
                                    sync resets and enables become logic in front of a plain
                                    posedge D flip-flop; async set/reset flip-flops stay
    abc -g cmos2                    logic as NAND, NOR and NOT
    opt_clean
    delete t:$scopeinfo             the names of flattened submodules, not hardware
    stat -json -tech cmos

Yosys' CMOS table (kernel/cost.h) counts NOT 2, NAND 4, NOR 4 and $_DFF_P_ 16 transistors.
It has no figure for flip-flops with an asynchronous set or reset, which it then leaves out
and marks the total with a '+'. We count each such flip-flop as 20 transistors (the 16 of a
plain one with two loop inverters replaced by 2-input NAND/NOR gates) and add that to Yosys'
figure; any other cell without a figure raises SynthError. Memories count as flip-flops
(16 per bit), not SRAM cells: this is a relative figure for comparing designs, not a layout.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError
from asq_hw.synth.yosys import run_yosys

ASYNC_FFS = ("$_DFF_PP0_", "$_DFF_PP1_", "$_DFF_PN0_", "$_DFF_PN1_")
ASYNC_FF_TRANSISTORS = 20
# Cells Yosys' CMOS table costs; the rest must be ASYNC_FFS.
COSTED = ("$_NOT_", "$_NAND_", "$_NOR_", "$_DFF_P_", "$_BUF_")


def cmos_script(top: str) -> str:
    legal = " ".join(f"-cell {c} 01" for c in ("$_DFF_P_", *ASYNC_FFS))
    return "; ".join([
        f"hierarchy -check -top {top}",
        f"synth -flatten -top {top}",
        f"dfflegalize {legal}",
        "abc -g cmos2",
        "opt_clean",
        # Names of the flattened submodules, no hardware; Yosys has no cost for them.
        "delete t:$scopeinfo",
        "tee -q -o cmos.json stat -json -tech cmos",
    ])


def parse_cmos_stat(design: dict) -> tuple[int, dict[str, int]]:
    """(transistors, cells) from the design entry of `stat -json -tech cmos`."""
    cells = {k: int(v) for k, v in design["num_cells_by_type"].items()}
    unknown = sorted(set(cells) - set(COSTED) - set(ASYNC_FFS))
    if unknown:
        raise SynthError(f"no transistor count for cell type {unknown[0]} after abc -g cmos2")
    reported = str(design.get("estimated_num_transistors", "0"))
    base = int(reported.rstrip("+"))
    n_async = sum(cells.get(c, 0) for c in ASYNC_FFS)
    if reported.endswith("+") != (n_async > 0):
        raise SynthError(f"Yosys reported {reported} transistors with {n_async} async "
                         f"flip-flops: the cost table changed, check asq_hw/synth/cmos.py")
    return base + ASYNC_FF_TRANSISTORS * n_async, cells


def run_cmos(verilog: str, top: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Yosys' raw figures for `top` in `verilog`: {'stat' (stat -json's design entry),
    'seconds'}; `parse_cmos_stat` turns them into a transistor count."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="asq-cmos-") as tmp:
        work = Path(tmp)
        run_yosys({"design.v": verilog}, cmos_script(top), work, timeout_s=timeout_s)
        stat = json.loads((work / "cmos.json").read_text())["design"]
    keep = ("num_cells_by_type", "estimated_num_transistors")
    return {"stat": {k: stat[k] for k in keep if k in stat}, "seconds": time.perf_counter() - t0}


def transistor_count(verilog: str, top: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> int:
    """Transistors of `top` in `verilog` by the flow above (uncached)."""
    return parse_cmos_stat(run_cmos(verilog, top, timeout_s=timeout_s)["stat"])[0]
