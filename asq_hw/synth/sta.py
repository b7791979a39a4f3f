"""OpenSTA (`sta`, Debian's 2.0.17) on a mapped netlist: critical path, fmax and power.

Constraints, the same for every design: one ideal clock on the clock port (no clock tree,
no skew, no uncertainty); every other input arrives at the clock edge (input delay 0) with
an ideal transition; every output is required at the next edge (output delay 0) and loads
10 fF. So the critical path is the longest of register-to-register, input-to-register and
register-to-output paths, clock-to-Q and setup included:

    critical_path_ns = period - worst slack          fmax_mhz = 1000 / critical_path_ns

(independent of the period used to measure it). A design without the clock port gets a
virtual clock: its input-to-output paths are then the critical path.

Power (`report_power`, the library's typical corner: 1.8 V, 25 C) at the clock period set
to the critical path, i.e. at fmax: internal (the cells' internal-power tables), switching
(1/2 C V^2 per transition of each net's pin and port capacitance; no wire capacitance),
leakage. The activity of every net comes from the caller as per-pin activity commands
(asq_hw/synth/activity.py measures it and writes them); activity counts transitions per
clock cycle, duty the fraction of cycles the net is 1. The clock net toggles twice per cycle
(OpenSTA's own clock activity). This OpenSTA has no `read_vcd` / `read_saif`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from asq_hw.synth.liberty import Library, find_tool
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError

OUTPUT_LOAD_PF = 0.01
# The period of the timing run; any value gives the same critical path (module docstring).
TIMING_PERIOD_NS = 10.0
POWER_GROUPS = ("internal", "switching", "leakage", "total")

_SLACK = re.compile(r"^\s*(-?[0-9.]+(?:e[-+]?\d+)?)\s+slack\s+\((MET|VIOLATED)\)", re.M)
_TOTAL = re.compile(r"^Total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", re.M)


def constraints(top: str, netlist: Path, lib: Path, ports: list, clock: str,
                period_ns: float) -> str:
    """The TCL that loads the design and sets the constraints of the module docstring."""
    has_clock = any(p[0] == clock for p in ports)
    lines = [f"read_liberty {{{lib}}}", f"read_verilog {{{netlist}}}", f"link_design {top}"]
    if has_clock:
        lines += [f"create_clock -name clk -period {period_ns:.6f} [get_ports {{{clock}}}]",
                  "set data_inputs [delete_from_list [all_inputs] "
                  f"[get_ports {{{clock}}}]]"]
    else:
        lines += [f"create_clock -name clk -period {period_ns:.6f}",
                  "set data_inputs [all_inputs]"]
    lines += ["set_input_delay 0 -clock clk $data_inputs",
              "set_output_delay 0 -clock clk [all_outputs]",
              f"set_load {OUTPUT_LOAD_PF} [all_outputs]"]
    return "\n".join(lines) + "\n"


def run_sta(script: str, workdir: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Run the TCL `script` in OpenSTA in `workdir`; its output. SynthError quoting the
    first `Error:` line (OpenSTA carries on after most errors, so the output is checked)."""
    sta = find_tool("sta")
    path = workdir / "run.tcl"
    path.write_text(script + "exit\n")
    try:
        proc = subprocess.run([str(sta), "-no_init", "-no_splash", "-exit", str(path)],
                              cwd=workdir, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SynthError(f"OpenSTA timed out after {timeout_s:g} s") from None
    out = proc.stdout + proc.stderr
    for line in out.splitlines():
        if line.startswith("Error") or (line.startswith("Warning") and "not found" in line):
            raise SynthError(f"OpenSTA: {line.strip()}")
    if proc.returncode != 0:
        raise SynthError(f"OpenSTA failed (exit {proc.returncode}): "
                         f"{(out.strip().splitlines() or ['no output'])[-1]}")
    return out


def parse_critical_path(report: str, period_ns: float) -> float:
    """period - worst slack, from `report_checks -path_delay max` output."""
    m = _SLACK.search(report)
    if m is None:
        raise SynthError("OpenSTA found no timing path (is the design empty or unclocked?)")
    return period_ns - float(m.group(1))


def parse_power(report: str) -> dict:
    """{'internal', 'switching', 'leakage', 'total'} in mW from `report_power`'s Total row
    (which OpenSTA prints in W)."""
    m = _TOTAL.search(report)
    if m is None:
        raise SynthError("OpenSTA printed no power report")
    return {k: float(v) * 1e3 for k, v in zip(POWER_GROUPS, m.groups(), strict=True)}


def timing(netlist: Path, top: str, lib: Library, *, ports: list, clock: str = "clk",
           workdir: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """{'critical_path_ns', 'fmax_mhz'} of a mapped netlist (module docstring)."""
    script = constraints(top, netlist, lib.liberty, ports, clock, TIMING_PERIOD_NS)
    script += "report_checks -path_delay max -digits 4\n"
    crit = parse_critical_path(run_sta(script, workdir, timeout_s=timeout_s),
                               TIMING_PERIOD_NS)
    return {"critical_path_ns": crit, "fmax_mhz": 1e3 / crit}


def power(netlist: Path, top: str, lib: Library, *, ports: list, period_ns: float,
          activity_tcl: str, clock: str = "clk", workdir: Path,
          timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """report_power of a mapped netlist at `period_ns` with the per-pin activity commands
    `activity_tcl`: {'internal', 'switching', 'leakage', 'total'} in mW."""
    (workdir / "activity.tcl").write_text(activity_tcl)
    script = constraints(top, netlist, lib.liberty, ports, clock, period_ns)
    script += "source activity.tcl\nreport_power -digits 6\n"
    return parse_power(run_sta(script, workdir, timeout_s=timeout_s))
