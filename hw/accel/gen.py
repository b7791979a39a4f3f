"""Verilog and manifest of the accelerator's layer half (`LayerCore`, top
`accel_layer_core`), reproducible (emit_src=False) like hw/gen.py's.

The manifest is the array's keys (top, config, rows, lanes, acc_bits, latency, ports with
roles = names) plus `layers`: per compute layer its name, the buffer it reads, its input
words, result beats and `cycles` (hw.accel.plan.LayerPlan.cycles: from the edge accepting
its start to the edge transferring its last result, out_ready high).
"""

from __future__ import annotations

from amaranth.back import verilog

from hw.accel.core import LayerCore
from hw.gen import port_list


def core_manifest(core: LayerCore) -> dict:
    return {
        "top": core.top,
        "config": core.cfg.to_dict(),
        "rows": core.rows,
        "lanes": core.cfg.lanes,
        "acc_bits": core.cfg.acc_bits,
        "latency": core.latency,
        "layers": [{"name": p.name, "buffer": p.buffer, "in_size": p.in_size,
                    "dots": p.dots, "cycles": p.cycles(core.latency)} for p in core.plans],
        "ports": port_list(core),
    }


def generate_core(core: LayerCore) -> tuple[str, dict]:
    """(Verilog text, manifest) of `core`."""
    text = verilog.convert(core, name=core.top, emit_src=False)
    return text, core_manifest(core)
