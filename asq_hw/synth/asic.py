"""ASIC target `osu018`: a design mapped by Yosys onto the OSU 0.18 um standard cells.

Flow (Yosys 0.70, the library's Liberty file copied next to the design, because YoWASP's
Yosys sees only its working folder):

    read_liberty -lib L             the cells' ports, so `check` knows a Q pin drives its net
    synth -flatten -top T           generic gates; memories become flip-flops and logic
    dfflibmap -liberty L            flip-flops onto DFFPOSX1 / DFFNEGX1 / DFFSR
    abc -D 2000 -constr C -liberty L
                                    logic onto the cells, then ABC's buffering and gate
                                    sizing (`buffer; upsize; dnsize`) for a 2 ns target
    opt_clean -purge; setundef -zero; splitnets -ports; opt_clean -purge; check -assert
    stat -json -liberty L           area_um2 (sum of the cells' Liberty areas), cells
    write_verilog -noattr -noexpr   the netlist for OpenSTA and for gate-level simulation

Why ABC's buffering: without it, ABC maps for area with X1 cells and no buffers, and a
flip-flop enable that fans out to a few hundred cells drives them through one INVX1: an
8-lane PE's critical path came out at 88 ns, 21x the buffered 4.3 ns. The delay target
(2 ns, below every design's reach) makes ABC size for speed on the critical paths; 1, 3 and
6 ns targets gave the same netlist within 0.05 % of area. ABC sees each output loaded with
10 fF and each input driven by an INVX1 (`C`).

What the figures are. area_um2: cell area only (no placement density, wiring or clock
tree); cells: the number of cell instances. Timing comes from OpenSTA on this netlist
(asq_hw/synth/sta.py): wire loads are not modelled (the library has none), the clock is
ideal.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from asq_hw.synth import activity, sta
from asq_hw.synth.liberty import Library, find_library
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError
from asq_hw.synth.yosys import read_ports, run_yosys

LIB_FILE = "cells.lib"
CONSTR_FILE = "abc.constr"
NETLIST = "netlist.v"
DELAY_TARGET_PS = 2000
# ABC's view of the design's boundary: inputs driven like by an INVX1, outputs loaded by
# 10 fF (about three cell inputs of this library).
ABC_CONSTR = "set_driving_cell INVX1\nset_load 10.0\n"


def asic_script(top: str) -> str:
    """The Yosys script after `read_verilog` (module docstring); part of cache keys."""
    return "; ".join([
        f"read_liberty -lib {LIB_FILE}",
        f"hierarchy -check -top {top}",
        f"synth -flatten -top {top}",
        f"dfflibmap -liberty {LIB_FILE}",
        f"abc -D {DELAY_TARGET_PS} -constr {CONSTR_FILE} -liberty {LIB_FILE}",
        "opt_clean -purge",
        "setundef -zero",
        # OpenSTA 2.0.17 rejects `assign {a, b} = ...`: single-bit ports and -noexpr.
        "splitnets -ports",
        "opt_clean -purge",
        "check -assert",
        "delete t:$scopeinfo",
        f"tee -q -o stat.json stat -json -liberty {LIB_FILE}",
        f"write_verilog -noattr -noexpr -nohex -nodec {NETLIST}",
        f"select {top}/x:*",
        "write_json -selected ports.json",
        "select -clear",
    ])


def parse_stat(stat: dict) -> dict:
    """{'area_um2', 'cells', 'cell_types'} from a `stat -json -liberty` file's content."""
    design = stat["design"]
    if "area" not in design:
        raise SynthError("Yosys stat reported no area: the Liberty file was not read")
    types = {k: int(v) for k, v in design["num_cells_by_type"].items()}
    return {"area_um2": float(design["area"]), "cells": int(design["num_cells"]),
            "cell_types": types}


def map_design(verilog: str, top: str, workdir: Path, *, library: Library | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Map `top` of `verilog` onto the cells in `workdir` (which keeps `netlist.v`):
    {'area_um2', 'cells', 'cell_types', 'ports', 'netlist' (its path), 'seconds'}."""
    lib = find_library() if library is None else library
    t0 = time.perf_counter()
    shutil.copyfile(lib.liberty, workdir / LIB_FILE)
    (workdir / CONSTR_FILE).write_text(ABC_CONSTR)
    run_yosys({"design.v": verilog}, asic_script(top), workdir, timeout_s=timeout_s)
    stat = parse_stat(json.loads((workdir / "stat.json").read_text()))
    ports = [list(p) for p in read_ports(workdir / "ports.json", top)]
    (workdir / LIB_FILE).unlink()
    return {**stat, "ports": ports, "netlist": str(workdir / NETLIST),
            "seconds": time.perf_counter() - t0}


def run_asic(verilog: str, top: str, *, clock: str = "clk",
             timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Area and timing of `top`: map_design's figures (without the netlist) plus
    'critical_path_ns' and 'fmax_mhz' from OpenSTA (asq_hw.synth.sta.timing); 'seconds'
    holds {'map', 'sta'}."""
    lib = find_library()
    with tempfile.TemporaryDirectory(prefix="asq-asic-") as tmp:
        work = Path(tmp)
        m = map_design(verilog, top, work, library=lib, timeout_s=timeout_s)
        t0 = time.perf_counter()
        t = sta.timing(Path(m["netlist"]), top, lib, ports=m["ports"], clock=clock,
                       workdir=work, timeout_s=timeout_s)
        sta_s = time.perf_counter() - t0
    return {"area_um2": m["area_um2"], "cells": m["cells"], "cell_types": m["cell_types"],
            "ports": m["ports"], "critical_path_ns": t["critical_path_ns"],
            "fmax_mhz": t["fmax_mhz"], "seconds": {"map": m["seconds"], "sta": sta_s}}


def run_power(verilog: str, top: str, stim, cfg, kind: str, acc_bits: int, latency: int, *,
              clock: str = "clk", timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Power at fmax on the activity of `stim` (an asq_hw.synth.activity.Stimulus):
    {'power_mw' {internal, switching, leakage, total}, 'energy_pj_per_mac',
    'critical_path_ns', 'cycles' (the simulated window), 'macs', 'mean_activity',
    'seconds' {map, sta, sim, power}}.

    Energy per MAC = total power x clock period x window cycles / useful MACs of the
    stimulus: the energy of the whole window (drain included) spread over its MACs."""
    lib = find_library()
    with tempfile.TemporaryDirectory(prefix="asq-asic-power-") as tmp:
        work = Path(tmp)
        m = map_design(verilog, top, work, library=lib, timeout_s=timeout_s)
        netlist = Path(m["netlist"])
        t0 = time.perf_counter()
        t = sta.timing(netlist, top, lib, ports=m["ports"], clock=clock, workdir=work,
                       timeout_s=timeout_s)
        sta_s = time.perf_counter() - t0
        sim = activity.simulate(netlist, top, m["ports"], lib, stim, cfg, kind, acc_bits,
                                latency, work, timeout_s=timeout_s)
        t0 = time.perf_counter()
        tcl = activity.activity_tcl(activity.netlist_pins(netlist.read_text()), sim["nets"],
                                    sim["activity"], sim["duty"],
                                    inputs={n for n, d, _ in m["ports"] if d == "input"},
                                    clocks=(clock,))
        p = sta.power(netlist, top, lib, ports=m["ports"], period_ns=t["critical_path_ns"],
                      activity_tcl=tcl, clock=clock, workdir=work, timeout_s=timeout_s)
        power_s = time.perf_counter() - t0
    energy_pj = p["total"] * t["critical_path_ns"] * sim["cycles"]     # mW x ns = pJ
    return {"power_mw": p, "energy_pj_per_mac": energy_pj / stim.macs,
            "critical_path_ns": t["critical_path_ns"], "cycles": sim["cycles"],
            "macs": stim.macs, "mean_activity": float(sim["activity"].mean()),
            "seconds": {"map": m["seconds"], "sta": sta_s, "sim": sim["seconds"],
                        "power": power_s}}
