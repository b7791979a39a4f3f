"""Verilog and manifest of the PE array, alongside hw/gen.py's PE generation.

`generate_array(cfg, rows)` returns the Verilog text of top module `post_array` and its
manifest; `write_array(cfg, rows, out_dir)` writes `post_array.v` and `post_array.json`
atomically, reproducibly (emit_src=False, sorted keys), and leaves unchanged files alone.

The manifest is the PE's (spec section 6: top, config, latency, ports with roles) plus
`rows`, `packing` (where row p and lane i sit in the packed ports) and `lut` (the shared
activation ROMs of the lut variant: one per lane, `depth` words of `width` bits; null for
dual). `latency`
is what the RTL does (the Amaranth tests and the cocotb bench measure it against this
number), and the cycle count of a stream of beats with out_ready high and no input gaps is
`beats + latency` (asq_hw/mapper.py builds the estimator's cycle model on it).
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from asq_hw.config import ROWS_RANGE, PEConfig, _check_int
from hw.array import PostArray
from hw.gen import port_list, write_design
from hw.lut import lut_shape


def packing(arr: PostArray) -> dict:
    """Human-readable bit positions of the packed ports (also in hw/array.py)."""
    out = {
        "in_act": "lane i at bits [i*abits, (i+1)*abits), two's complement if act_signed",
        "in_code": "row p, lane i at bits [(p*lanes + i)*wbits, (p*lanes + i + 1)*wbits)",
    }
    for name in arr.acc_ports:
        out[name] = "row p at bits [p*acc_bits, (p+1)*acc_bits), two's complement"
    return out


def array_manifest(arr: PostArray) -> dict:
    return {
        "top": arr.top,
        "config": arr.cfg.to_dict(),
        "rows": arr.rows,
        "lanes": arr.cfg.lanes,
        "acc_bits": arr.acc_bits,
        "latency": arr.latency,
        "cycles": "beats + latency for a stream with no input gaps and out_ready high, "
                  "counted from the edge accepting its first beat to the edge "
                  "transferring its last result, both included",
        "packing": packing(arr),
        # The shared activation LUTs (lut variant): one ROM per lane, whatever `rows` is.
        "lut": {"roms": arr.cfg.lanes, "depth": 1 << arr.cfg.abits,
                "width": lut_shape(arr.cfg).width} if arr.cfg.variant == "lut" else None,
        "ports": port_list(arr),
    }


def generate_array(cfg: PEConfig, rows: int) -> tuple[str, dict]:
    """(Verilog text, manifest) of a `rows` x `cfg.lanes` POST array."""
    # Validated before the component exists: an Elaboratable whose __init__ raises is
    # garbage that Amaranth reports as never elaborated (UnusedElaboratable).
    _check_int("rows", rows, *ROWS_RANGE)
    arr = PostArray(cfg, rows)
    text = verilog.convert(arr, name=arr.top, emit_src=False)
    return text, array_manifest(arr)


def write_array(cfg: PEConfig, rows: int, out_dir) -> tuple[Path, Path, dict]:
    """Generate and write DIR/post_array.v and DIR/post_array.json; returns their paths
    and the manifest. Nothing is written if generation fails; unchanged files keep their
    mtime."""
    return write_design(*generate_array(cfg, rows), out_dir)
