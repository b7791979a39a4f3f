"""A simulation top whose clock runs in the HDL, so a cocotb bench that only waits on a
design's streams costs the simulator nothing between the beats it touches.

    text, man = clocked(verilog_text, manifest, period_ns=10)

cocotb's Clock drives the clock through the simulator interface: two callbacks into
cocotb per cycle, which held Verilator at 0.36 M cycles/s on the 8x8 accelerator (0.73 M
with this wrapper). The wrapper `<top>_clocked` generates the clock with a delay loop
(`always #half clk = ~clk`; Verilator builds it with --timing) and passes every other port
straight through under its name, so a bench addresses the wrapper as the design itself;
`clk` is a register inside it (read-only to a bench: it awaits its edges). The clock's
first rising edge is at half a period; edge k (k = 1, 2, ...) rises at (k - 1/2) periods.

The wrapper is for simulation only: the manifests users get (`asq-hw verilog ...`) describe
the design itself, with its clock port.
"""

from __future__ import annotations

import re

SUFFIX = "_clocked"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")


def clocked(text: str, manifest: dict, period_ns: int) -> tuple[str, dict]:
    """(Verilog, manifest) of the design plus its wrapper: the wrapper is the top
    (`manifest["top"] + "_clocked"`), its ports are the design's minus the clock, and the
    manifest gains `clock`: {"name", "period_ns", "first_rise_ns"}. The period is an even
    number >= 2 of time units (ns, the runners' timescale)."""
    if not isinstance(period_ns, int) or period_ns < 2 or period_ns % 2:
        raise ValueError(f"period_ns must be an even integer >= 2, not {period_ns!r}")
    clk = _role(manifest, "clk")
    top = manifest["top"]
    for name in [top] + [p["name"] for p in manifest["ports"]]:
        if not _IDENT.match(name):
            raise ValueError(f"port or top name {name!r} is not a plain Verilog identifier")
    ports = [p for p in manifest["ports"] if p["name"] != clk]
    decls = [f"    {'input' if p['dir'] == 'in' else 'output'} wire "
             f"{_range(p['width'])}{p['name']}" for p in ports]
    conns = [f"        .{p['name']}({p['name']})" for p in manifest["ports"]]
    wrapper = "\n".join([
        f"module {top}{SUFFIX} (",
        ",\n".join(decls),
        ");",
        f"    reg {clk} = 1'b0;",
        f"    always #{period_ns // 2} {clk} = ~{clk};",
        f"    {top} clocked_dut (",
        ",\n".join(conns),
        "    );",
        "endmodule",
        ""])
    man = {**manifest, "top": top + SUFFIX, "ports": ports, "design_top": top,
           "clock": {"name": clk, "period_ns": period_ns, "first_rise_ns": period_ns // 2}}
    return text.rstrip("\n") + "\n\n" + wrapper, man


def _role(manifest: dict, role: str) -> str:
    names = [p["name"] for p in manifest["ports"] if p["role"] == role]
    if len(names) != 1:
        raise ValueError(f"the manifest of {manifest['top']} needs exactly one port with role "
                         f"{role}, not {len(names)}")
    return names[0]


def _range(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""
