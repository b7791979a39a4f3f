"""FPGA resource counts from Yosys: synth_ice40, synth_ecp5, synth_xilinx and `stat -json`.

What each key counts. All are counts of cells in Yosys' netlist right after synthesis (before
packing and placement), of the module itself (flattened; its ports are the netlist's ports,
no I/O buffers). Every cell type the flow emits is classified below; an unknown one raises
SynthError, so a count can never silently leave cells out.

ice40 (iCE40 HX8K: LUT4, no DSP; `synth_ice40`, no `-dsp`):
    lut   SB_LUT4, including the LUTs that compute sums next to the carry chain
    carry SB_CARRY (1 bit each)
    ff    SB_DFF* (every enable/reset/edge variant)
    bram  SB_RAM40_4K* (4 kbit blocks)
    dsp   SB_MAC16 (never inferred without `-dsp`: 0 for this target)

ecp5 (LFE5U: LUT4 + MULT18X18D; `synth_ecp5` with classic ABC on LUT4s, see below):
    lut   LUT4 sites used: LUT4 + 2 per CCU2C (a CCU2C is the two LUT4s of one slice, Lattice
          reports them as "ripple logic" LUTs) + 6 per TRELLIS_DPR16X4 (the three slices of a
          16x4 distributed RAM: two store the bits, one holds the write port)
    carry CCU2C (2 bits each)
    ff    TRELLIS_FF
    bram  DP16KD, PDPW16KD (18 kbit blocks)
    dsp   MULT18X18D + ALU54B (Yosys infers only MULT18X18D)
    PFUMX and L6MUX21 (the slice's wide-function muxes) and VHI/VLO are free: not counted.

xc7 (Xilinx 7-series: LUT6; `synth_xilinx -flatten -noiopad -noclkbuf`):
    lut   LUT6 sites, as Vivado's "Slice LUTs" (logic + memory): LUT1..LUT6 and INV 1 each;
          shift registers SRL16E/SRLC16E/SRLC32E 1 each; distributed RAM in the LUTs it
          occupies (RAM32X1S/RAM64X1S 1, RAM32X1D/RAM64X1D/RAM128X1S 2,
          RAM128X1D/RAM256X1S/RAM32M/RAM64M 4)
    carry CARRY4 (4 bits each)
    ff    FDRE, FDSE, FDCE, FDPE (and _1 variants), LDCE, LDPE latches
    bram  RAMB18E1 = 1, RAMB36E1 = 2 (18 kbit units)
    dsp   DSP48E1
    MUXF7/MUXF8 (the slice's muxes) are free: not counted.

Yosys' $scopeinfo cells (names of flattened submodules) are not hardware: not counted.
All three flatten the hierarchy before counting (synth_ice40 and synth_ecp5 do by default).

Every flow ends with `check -assert`: a netlist with a problem Yosys can see (a net driven
twice, a combinational loop) raises SynthError instead of giving counts.

ecp5 runs synth_ecp5 with classic ABC mapping to LUT4s (`abc -lut 4 -dress`: synth_ecp5's
`-nowidelut` mapping, as it was before ABC9 became its default) in place of its map_luts step
(`abc9 -W 300`). Why not stock ABC9: with Yosys 0.70 (YoWASP) it gave netlists with
multiply-driven nets for 7 of 30 POST PE netlists we tried (lanes 1-16, alone or in the fmax
wrapper; nextpnr refuses them, their counts cannot be trusted) and stops on an internal
assertion (`GetSize(conn.first) == GetSize(conn.second)`, in ABC_OPS_REINTEGRATE) on some
others (2 of the 62 calibration and held-out POST designs, and about a third of lanes-32 PEs);
classic ABC gives clean netlists for all. Why LUT4s and not classic ABC's wide LUTs
(`abc -lut 4:7`, 5- to 7-input LUTs built from 2, 4, 8 LUT4s with PFUMX/L6MUX21): classic
ABC maps for depth with every LUT size one unit of delay, so it builds wide LUTs wherever
they save a level, whatever their area; stock ABC9, which knows a LUT7 is twice as slow as
a LUT4, rarely does. Against stock ABC9 on the designs where ABC9 finishes, LUT4-only
classic ABC is the closer of the two (docs/estimator-accuracy.md, "ECP5 flow", gives the
measured figures), with the same flip-flops and carry cells. `synth_ecp5 -dff` also avoids
the assertion but lets ABC optimise across flip-flops, which removed a whole PE inside the
fmax wrapper (wrapper.py). synth_ice40 and synth_xilinx (stock, ABC9) gave clean netlists
for the same designs.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from asq_hw.designs import TARGETS
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError, run_tool

RESOURCES = ("lut", "ff", "carry", "dsp", "bram")

# The Yosys synthesis commands per target ({top}, and {json} for the netlist option); part
# of every cache key. ecp5: synth_ecp5 with classic LUT4 ABC in place of ABC9 (module
# docstring).
SYNTH_COMMAND = {
    "ice40": "synth_ice40 -top {top}{json}",
    "ecp5": ("synth_ecp5 -top {top} -run :map_luts; check -latchonly -assert; "
             "techmap -map +/lattice/latches_map.v; abc -lut 4 -dress; clean; "
             "synth_ecp5 -top {top} -run map_cells:{json}"),
    "xc7": "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf -top {top}{json}",
}
# Stock synth_ecp5 (ABC9), only to measure how far the ecp5 flow above is from it
# (asq_hw.synth.stock_ecp5_luts); its netlists are not used for anything else.
STOCK_ECP5_COMMAND = "synth_ecp5 -top {top}{json}"

# cell type -> (resource, weight). A type that maps to None is free (not counted).
_ICE40_FF = ["SB_DFF" + e + s for e in ("", "E") for s in ("", "SR", "R", "S", "SS")]
CELL_CLASSES: dict[str, dict[str, tuple[str, int] | None]] = {
    "ice40": {
        "SB_LUT4": ("lut", 1),
        "SB_CARRY": ("carry", 1),
        **{t: ("ff", 1) for t in _ICE40_FF},
        **{t.replace("SB_DFF", "SB_DFFN"): ("ff", 1) for t in _ICE40_FF},
        **{"SB_RAM40_4K" + v: ("bram", 1) for v in ("", "NR", "NW", "NRNW")},
        "SB_MAC16": ("dsp", 1),
    },
    "ecp5": {
        "LUT4": ("lut", 1),
        "CCU2C": ("carry", 1),  # and 2 LUT4 sites, added in count_resources
        "TRELLIS_DPR16X4": ("lut", 6),
        "TRELLIS_FF": ("ff", 1),
        "DP16KD": ("bram", 1),
        "PDPW16KD": ("bram", 1),
        "MULT18X18D": ("dsp", 1),
        "ALU54B": ("dsp", 1),
        "PFUMX": None,
        "L6MUX21": None,
        "VHI": None,
        "VLO": None,
    },
    "xc7": {
        **{f"LUT{i}": ("lut", 1) for i in range(1, 7)},
        "INV": ("lut", 1),
        **{t: ("lut", 1) for t in ("SRL16E", "SRLC16E", "SRLC32E")},
        **{t: ("lut", 1) for t in ("RAM32X1S", "RAM64X1S")},
        **{t: ("lut", 2) for t in ("RAM32X1D", "RAM64X1D", "RAM128X1S")},
        **{t: ("lut", 4) for t in ("RAM128X1D", "RAM256X1S", "RAM32M", "RAM64M")},
        "CARRY4": ("carry", 1),
        **{t + s: ("ff", 1) for t in ("FDRE", "FDSE", "FDCE", "FDPE") for s in ("", "_1")},
        "LDCE": ("ff", 1),
        "LDPE": ("ff", 1),
        "RAMB18E1": ("bram", 1),
        "RAMB36E1": ("bram", 2),
        "DSP48E1": ("dsp", 1),
        "MUXF7": None,
        "MUXF8": None,
    },
}
# Yosys' bookkeeping of flattened hierarchy: no hardware.
FREE_EVERYWHERE = ("$scopeinfo",)
# Extra LUT4 sites per cell beyond its own class (ecp5 CCU2C: the slice's two LUT4s).
_EXTRA_LUTS = {"ecp5": {"CCU2C": 2}}


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    return target


def count_resources(cells: dict[str, int], target: str) -> dict[str, int]:
    """The five resource counts of a cell-type histogram (`stat`'s num_cells_by_type)."""
    classes = CELL_CLASSES[check_target(target)]
    extra = _EXTRA_LUTS.get(target, {})
    counts = dict.fromkeys(RESOURCES, 0)
    for cell, n in sorted(cells.items()):
        if cell in FREE_EVERYWHERE:
            continue
        if cell not in classes:
            raise SynthError(f"cell type {cell} after synth for {target} has no "
                             f"resource class: add it to CELL_CLASSES in asq_hw/synth/yosys.py")
        cls = classes[cell]
        if cls is not None:
            counts[cls[0]] += cls[1] * n
        counts["lut"] += extra.get(cell, 0) * n
    return counts


def synth_script(top: str, target: str, *, netlist: str | None = None,
                 stock: bool = False) -> str:
    """The Yosys script after `read_verilog`: synthesise `top`, check the netlist, write
    `stat.json` and the port list `ports.json`, and, if `netlist` is given, the netlist for
    nextpnr. `stock` (ecp5 only): stock synth_ecp5 (ABC9) in place of the flow's command."""
    json_opt = f" -json {netlist}" if netlist is not None else ""
    command = SYNTH_COMMAND[check_target(target)]
    if stock:
        if target != "ecp5":
            raise ValueError(f"stock flow is only for ecp5, not {target!r}")
        command = STOCK_ECP5_COMMAND
    return "; ".join([
        f"hierarchy -check -top {top}",
        command.format(top=top, json=json_opt),
        "check -assert",
        # Names of flattened submodules, no hardware (written to the netlist regardless).
        "delete t:$scopeinfo",
        "tee -q -o stat.json stat -json",
        # Only the top's port wires: a tiny file whatever the design's size.
        f"select {top}/x:*",
        "write_json -selected ports.json",
        "select -clear",
    ])


def read_stat(path: Path) -> dict[str, int]:
    """num_cells_by_type of the design from a `stat -json` file."""
    stat = json.loads(path.read_text())
    return {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}


def read_ports(path: Path, top: str) -> list[tuple[str, str, int]]:
    """[(name, direction, width)] of `top`'s ports, in declaration order."""
    mod = json.loads(path.read_text())["modules"][top]
    return [(name, p["direction"], len(p["bits"])) for name, p in mod["ports"].items()]


def run_yosys(files: dict[str, str], script: str, workdir: Path, *,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Write `files` (name -> Verilog text) into workdir, read them, run `script`; the log."""
    names = []
    for name, text in files.items():
        (workdir / name).write_text(text)
        names.append(name)
    full = f"read_verilog -defer {' '.join(names)}; {script}"
    return run_tool("yosys", ["-q", "-l", "yosys.log", "-p", full], workdir,
                    log=workdir / "yosys.log", timeout_s=timeout_s)


def synth_counts(verilog: str, top: str, target: str, *, stock: bool = False,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Synthesise `top` of `verilog` for `target` (`stock`: see synth_script): {'counts',
    'cells', 'ports', 'seconds'}."""
    check_target(target)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="asq-synth-") as tmp:
        work = Path(tmp)
        run_yosys({"design.v": verilog}, synth_script(top, target, stock=stock), work,
                  timeout_s=timeout_s)
        cells = read_stat(work / "stat.json")
        ports = read_ports(work / "ports.json", top)
    return {"counts": count_resources(cells, target), "cells": cells,
            "ports": [list(p) for p in ports], "seconds": time.perf_counter() - t0}
