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
from hw.comb_start import RESET_CYCLES, comb_start
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


# ---------------------------------------------------------------------------------------
# The whole accelerator (hw/accel/top.py).

def feeder_memories(acc) -> list[dict]:
    """The layer half's memories: per-layer weight ROMs, the activation buffers (one
    read port per lane, one more for identity shortcuts), the sequencer table and the
    window-offset ROM. `read`: "sync" (data the edge after the address) or "comb" (the
    same cycle: hw/accel/window.py reads the table and the offsets so)."""
    from hw.accel.plan import buffer_depths
    from hw.accel.table import Widths, entry_layout, lane_layout

    plans, cfg = acc.pipe.plans, acc.cfg
    w = Widths.of(plans)
    mems = [{"name": f"weights_{p.name}", "depth": p.weight_depth,
             "width": acc.rows * cfg.lanes * cfg.wbits, "kind": "rom", "read_ports": 1,
             "read": "sync"} for p in plans]
    # a residual network's identity shortcuts read every buffer through one more port
    ports = cfg.lanes + int(acc.pipe.skip)
    mems += [{"name": f"act_buffer{b}", "depth": d, "width": cfg.abits, "kind": "ram",
              "read_ports": ports, "read": "sync"} for b, d in enumerate(buffer_depths(plans))]
    mems += unit_memories(acc)
    mems.append({"name": "sequencer_table", "depth": len(plans),
                 "width": entry_layout(w).size, "kind": "rom", "read_ports": 1,
                 "read": "comb"})
    mems.append({"name": "window_offsets", "depth": sum(p.beats_per_dot for p in plans),
                 "width": lane_layout(w).size * cfg.lanes, "kind": "rom", "read_ports": 1,
                 "read": "comb"})
    return mems


def unit_memories(acc) -> list[dict]:
    """The requantization unit's memories (hw/accel/requant.py): its ROMs and RAMs, all
    read synchronously."""
    roms = ("rq_scale", "rq_adapter_weights", "rq_adapter_bias")
    return [{"name": name, "depth": depth, "width": width,
             "kind": "rom" if name in roms else "ram", "read_ports": 1, "read": "sync"}
            for name, depth, width in acc.pipe.unit.memories()]


def accel_manifest(acc) -> dict:
    """The manifest of an `Accelerator` (docs/accel.md, "Manifest"): top, ports with roles,
    the input and output stream formats, the exact cycles per image and the memories."""
    art = acc.artifact
    ports = port_list(acc)
    return {
        "top": acc.top,
        "dataset": art.dataset,
        "rows": acc.rows, "lanes": acc.lanes, "variant": acc.variant,
        "config": acc.cfg.to_dict(),
        "ports": ports,
        "input": {"shape": list(acc.in_shape), "order": "chw", "bits": acc.in_bits,
                  "signed": acc.in_signed, "per_beat": 1, "beats": acc.in_elements,
                  "last": "in_last on the image's last beat",
                  "packing": "element e of a beat at data bits [e*bits, (e+1)*bits), "
                             "two's complement when signed"},
        "output": {"classes": acc.classes, "bits": acc.logit_bits, "signed": True,
                   "per_beat": 1, "beats": acc.classes,
                   "logit_shift": acc.logit_shift,
                   "last": "out_last on the image's last beat",
                   "meaning": "integer logits; real logit = value * 2**-logit_shift; the "
                              "prediction is the first largest"},
        "reset": {"port": "rst", "active": "high", "synchronous": True,
                  "min_cycles": RESET_CYCLES,
                  "note": "hold rst high for at least min_cycles rising edges before the "
                          "first input beat"},
        "cycles_per_image": acc.cycles_per_image,
        "interval": acc.interval,
        "macs_per_image": sum(p.outputs * p.positions * p.fan_in for p in acc.pipe.plans),
        "layers": [{"name": p.name, "cycles": acc.layer_cycles(i)}
                   for i, p in enumerate(acc.pipe.plans)],
        "memories": feeder_memories(acc),
    }


def generate_accel(acc) -> tuple[str, dict]:
    """(Verilog text, manifest) of an `Accelerator`; its processes all run by the first
    clock edge in any simulator (hw/comb_start.py), so RESET_CYCLES edges of reset reset it
    whatever a bench does at time 0."""
    text = verilog.convert(acc, name=acc.top, emit_src=False)
    return comb_start(text), accel_manifest(acc)
