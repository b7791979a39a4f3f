"""`WindowGen`: the sequencer's loop counters and the address generator (im2col on chip).

Started with a layer number, it walks that layer's beats in the mapper's order (tile, output
row, output column, beat of the dot product; hw/accel/plan.py) with the bounds read from the
sequencer table, and for each beat forms, per lane l,

    h = (oh*s - p) + i_l,  w = (ow*s - p) + j_l,  address = base + offset_l
    inside = valid_l and 0 <= h < H and 0 <= w < W          (else the lane carries 0)

with (offset, i, j, valid) from the window-offset ROM (row off_base + d of hw/accel/table.py)
and base = (oh*s - p)*W + (ow*s - p) kept by adding the stride (next column) or stride * W
(next row): no multiplier, no divider. The weight address is t*D + d, also by counting.

Handshake: `start_valid` / `start_ready` (`start_ready` is high while idle) with payload
`start_layer`. While `busy`, the outputs describe the current beat, and the generator moves
to the next one at every clock edge with `advance` high; after the layer's last beat it is
idle again. The outputs are combinational from the counters (the memories register them).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.accel.plan import BUFFERS, LayerPlan
from hw.accel.table import Widths, entry_layout, offset_init, offset_layout, table_init, ubits


class WindowGen(wiring.Component):
    """The sequencer's counters and the im2col address generator for `plans` (module
    docstring); `lanes` must be every plan's."""

    def __init__(self, plans: list[LayerPlan]):
        lanes = {p.lanes for p in plans}
        if len(lanes) != 1:
            raise ValueError(f"every plan must have the same lanes, not {sorted(lanes)}")
        self.plans = list(plans)
        self.lanes = lanes.pop()
        self.widths = w = Widths.of(self.plans)
        super().__init__({
            "start_valid": In(1),
            "start_layer": In(w.layer),
            "start_ready": Out(1),
            "busy": Out(1),
            "advance": In(1),
            "layer": Out(w.layer),
            "buffer": Out(ubits(BUFFERS - 1)),
            "addr": Out(data.ArrayLayout(unsigned(w.addr), self.lanes)),
            "inside": Out(self.lanes),
            "waddr": Out(w.waddr),
            "last": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        w, q = self.widths, self.lanes
        m.submodules.table = table = memory.Memory(
            shape=entry_layout(w), depth=len(self.plans), init=table_init(self.plans))
        m.submodules.offsets = offsets = memory.Memory(
            shape=offset_layout(w, q), depth=sum(p.beats_per_dot for p in self.plans),
            init=offset_init(self.plans))
        entry_port = table.read_port(domain="comb")
        off_port = offsets.read_port(domain="comb")
        e, lanes = entry_port.data, off_port.data

        layer = Signal(w.layer)
        running = Signal()
        t = Signal(w.tile)
        oh = Signal(w.oh)
        ow = Signal(w.ow)
        d = Signal(w.beat)
        hs = Signal(signed(w.coord))          # oh*s - p
        ws = Signal(signed(w.coord))          # ow*s - p
        row_base = Signal(signed(w.base))     # (oh*s - p)*W - p
        base = Signal(signed(w.base))         # (oh*s - p)*W + (ow*s - p)
        tile_waddr = Signal(w.waddr)          # t*D
        waddr = Signal(w.waddr)               # t*D + d

        fire = self.start_valid & ~running
        m.d.comb += [
            self.start_ready.eq(~running),
            self.busy.eq(running),
            self.layer.eq(layer),
            self.buffer.eq(e.buffer),
            self.waddr.eq(waddr),
            self.last.eq(d == e.last_beat),
            off_port.addr.eq(e.off_base + d),
        ]
        with m.If(fire):
            m.d.comb += entry_port.addr.eq(self.start_layer)
        with m.Else():
            m.d.comb += entry_port.addr.eq(layer)

        for lane in range(q):
            h = Signal(signed(w.coord + 1), name=f"h{lane}")
            x = Signal(signed(w.coord + 1), name=f"w{lane}")
            m.d.comb += [
                h.eq(hs + lanes[lane].i),
                x.eq(ws + lanes[lane].j),
                self.inside[lane].eq(lanes[lane].valid & (h >= 0) & (h < e.height)
                                     & (x >= 0) & (x < e.width)),
                self.addr[lane].eq((base + lanes[lane].offset)[:w.addr]),
            ]

        with m.If(fire):
            m.d.sync += [
                layer.eq(self.start_layer), running.eq(1),
                t.eq(0), oh.eq(0), ow.eq(0), d.eq(0),
                hs.eq(e.first), ws.eq(e.first),
                row_base.eq(e.first_base), base.eq(e.first_base),
                tile_waddr.eq(0), waddr.eq(0),
            ]
        with m.Elif(running & self.advance):
            with m.If(d != e.last_beat):
                m.d.sync += [d.eq(d + 1), waddr.eq(waddr + 1)]
            with m.Else():
                m.d.sync += d.eq(0)
                with m.If(ow != e.last_ow):
                    m.d.sync += [ow.eq(ow + 1), ws.eq(ws + e.stride),
                                 base.eq(base + e.stride), waddr.eq(tile_waddr)]
                with m.Else():
                    m.d.sync += [ow.eq(0), ws.eq(e.first)]
                    with m.If(oh != e.last_oh):
                        m.d.sync += [oh.eq(oh + 1), hs.eq(hs + e.stride),
                                     row_base.eq(row_base + e.row_step),
                                     base.eq(row_base + e.row_step), waddr.eq(tile_waddr)]
                    with m.Else():
                        m.d.sync += [oh.eq(0), hs.eq(e.first), row_base.eq(e.first_base),
                                     base.eq(e.first_base)]
                        with m.If(t != e.last_tile):
                            m.d.sync += [t.eq(t + 1),
                                         tile_waddr.eq(tile_waddr + e.beats_per_dot),
                                         waddr.eq(tile_waddr + e.beats_per_dot)]
                        with m.Else():
                            m.d.sync += running.eq(0)
        return m
