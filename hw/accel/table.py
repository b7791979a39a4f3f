"""The sequencer table and the window-offset ROM, generated from the layer plans.

Two small ROMs, both `amaranth.lib.memory.Memory` contents built here:

- the **sequencer table**, one `entry_layout` word per compute layer: the loop bounds (last
  tile, last output row and column, last beat of a dot product), the input's H and W, the
  stride, the padding as the first window base, the start of the layer's rows in the offset
  ROM and the ping-pong buffer it reads. Nothing per network is hand-written: a new
  network is a new table.
- the **window-offset ROM**: for every layer, D words (one per beat of a dot product) of Q
  lanes of (offset, i, j, valid) (hw.accel.plan.LayerPlan.window_offsets).

`Widths` sizes every counter and address from the plans so no field can wrap.
"""

from __future__ import annotations

import dataclasses

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from hw.accel.plan import BUFFERS, LayerPlan, buffer_depths


def ubits(value: int) -> int:
    """Bits of an unsigned field holding 0 .. value (at least 1)."""
    return max(1, int(value).bit_length())


@dataclasses.dataclass(frozen=True)
class Widths:
    """Field widths for a list of plans (one accelerator)."""

    layer: int        # layer index
    tile: int
    oh: int
    ow: int
    beat: int         # beat of a dot product, d
    hw: int           # H, W, stride, kernel offsets i and j
    addr: int         # activation buffer address
    waddr: int        # weight memory address (t*D + d), the deepest layer's
    off_rom: int      # window-offset ROM address
    coord: int        # signed: oh*s - p + i and ow*s - p + j, and their bounds
    base: int         # signed: the window base (oh*s - p)*W + (ow*s - p) and addresses

    @classmethod
    def of(cls, plans: list[LayerPlan]) -> Widths:
        if not plans:
            raise ValueError("plans must hold at least one layer")
        dims = [v for p in plans for v in (*p.in_hw, *p.kernel, p.stride, p.padding,
                                           p.stride * p.out_hw[0], p.stride * p.out_hw[1])]
        depth = max(buffer_depths(plans))
        big = max(max(p.in_size, p.stride * p.in_hw[1] * (p.out_hw[0] + 1)
                      + p.stride * (p.out_hw[1] + 1) + (p.padding + 1) * (p.in_hw[1] + 1))
                  for p in plans)
        return cls(
            layer=ubits(len(plans) - 1),
            tile=ubits(max(p.tiles for p in plans)),
            oh=ubits(max(p.out_hw[0] for p in plans)),
            ow=ubits(max(p.out_hw[1] for p in plans)),
            beat=ubits(max(p.beats_per_dot for p in plans)),
            hw=ubits(max(dims)),
            addr=ubits(depth - 1),
            waddr=ubits(max(p.weight_depth for p in plans)),
            off_rom=ubits(sum(p.beats_per_dot for p in plans) - 1),
            coord=ubits(2 * max(dims)) + 1,
            base=ubits(big + depth) + 1,
        )


def entry_layout(w: Widths) -> data.StructLayout:
    """One sequencer table word (module docstring)."""
    return data.StructLayout({
        "last_tile": unsigned(w.tile),
        "last_oh": unsigned(w.oh),
        "last_ow": unsigned(w.ow),
        "last_beat": unsigned(w.beat),
        "beats_per_dot": unsigned(w.waddr),
        "height": unsigned(w.hw),
        "width": unsigned(w.hw),
        "stride": unsigned(w.hw),
        "row_step": unsigned(w.base),      # stride * W: the base's step per output row
        "first": signed(w.coord),          # -padding: the first window's top / left
        "first_base": signed(w.base),      # -padding * W - padding
        "off_base": unsigned(w.off_rom),
        "buffer": unsigned(ubits(BUFFERS - 1)),
    })


def lane_layout(w: Widths) -> data.StructLayout:
    """One lane of a window-offset ROM word."""
    return data.StructLayout({
        "offset": unsigned(w.addr),
        "i": unsigned(w.hw),
        "j": unsigned(w.hw),
        "valid": unsigned(1),
    })


def offset_layout(w: Widths, lanes: int) -> data.ArrayLayout:
    return data.ArrayLayout(lane_layout(w), lanes)


def table_init(plans: list[LayerPlan]) -> list[dict]:
    """The sequencer table's words, layer by layer."""
    out, off = [], 0
    for p in plans:
        out.append({
            "last_tile": p.tiles - 1,
            "last_oh": p.out_hw[0] - 1,
            "last_ow": p.out_hw[1] - 1,
            "last_beat": p.beats_per_dot - 1,
            "beats_per_dot": p.beats_per_dot,
            "height": p.in_hw[0],
            "width": p.in_hw[1],
            "stride": p.stride,
            "row_step": p.stride * p.in_hw[1],
            "first": -p.padding,
            "first_base": -p.padding * p.in_hw[1] - p.padding,
            "off_base": off,
            "buffer": p.buffer,
        })
        off += p.beats_per_dot
    return out


def offset_init(plans: list[LayerPlan]) -> list[list[dict]]:
    """The window-offset ROM's words: every layer's D beats in order."""
    out = []
    for p in plans:
        for beat in p.window_offsets().tolist():
            out.append([dict(zip(("offset", "i", "j", "valid"), lane, strict=True))
                        for lane in beat])
    return out
