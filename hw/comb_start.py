"""Make the combinational processes of Amaranth's Verilog run by the first clock edge in an
event-driven simulator, whatever the bench does at time 0.

Amaranth's Verilog (Yosys' write_verilog) computes every register's next value in an
`always @*` process, reset included (`if (rst) next = init`), and registers load it at
the clock edge. An `always @*` process runs only when a signal it reads changes. Yosys
adds a dummy register `\\$auto$verilog_backend.cc:N:dump_module$M = 0` that every process
of a module reads, meant to change at time 0; Icarus applies declaration initialisers
before any process waits, so it never does. A bench that holds reset from time 0 with
`reg rst = 1;` then never changes rst until it releases it: during reset no next value
is computed, the registers load X, and they are released with it (measured on the 8x8
accelerator in Icarus: 35 of conv0's 1,024 codes of the first image wrong, every later
image right; with `initial rst = 1;` all right).

`comb_start` makes that dummy register of every module with a clock port a register that
rises at the first clock edge, so every process of the module runs then, and the edge
after loads the reset values: reset held for at least RESET_CYCLES edges resets the
design whatever the bench did at time 0. It drives nothing (synthesis removes it) and
uses no delay (a Verilator model without --timing still builds). Modules without a clock
are combinational: their processes run when their inputs, driven by registers, change.
"""

from __future__ import annotations

import re

RESET_CYCLES = 2

_MODULE = re.compile(r"^module (\S+) \(([^)]*)\);$", re.M)
_DUMMY = re.compile(r"^([ \t]*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$",
                    re.M)


def comb_start(text: str, clock: str = "clk") -> str:
    """`text` (Amaranth's Verilog) with each clocked module's time-0 dummy register set at
    the first rising edge of `clock` (module docstring)."""
    out, pos = [], 0
    for m in _MODULE.finditer(text):
        end = text.find("\nendmodule", m.end())
        if end < 0:
            raise ValueError(f"module {m.group(1)} has no endmodule")
        ports = [p.strip() for p in m.group(2).split(",")]
        body = text[m.end():end]
        if clock in ports:
            body = _DUMMY.sub(lambda d: f"{d.group(1)}reg {d.group(2)} = 0;\n{d.group(1)}"
                              f"always @(posedge {clock}) {d.group(2)} <= 1'h1;", body)
        out.append(text[pos:m.end()] + body)
        pos = end
    out.append(text[pos:])
    return "".join(out)
