"""`LayerFeeder`: one layer's beats from the on-chip memories into the PostArray's input.

    start ──> WindowGen (sequencer counters, table, window offsets)
                 │ per lane address + inside, weight address, last
                 ├──> ActBuffers (Q read ports) ──┐ registered reads
                 └──> WeightMemories ─────────────┤
                                                  └──> out_act (lanes outside the window: 0),
                                                       out_code, out_last, out_valid

The memories' registered reads are the feeder's one pipeline stage; it moves on every edge
where its output is empty or taken (`advance` = ~out_valid | out_ready), so it keeps up with
the array (one beat per cycle) and holds its beat under back-pressure. `out_*` follow the
stream rules (payload holds until the transfer) and the PostArray's packing of `in_act` and
`in_code`. The write port of the activation buffers is passed through (`wr_*`): the test
bench, and later the requantization unit, fill the buffer the next layer reads.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from asq_hw.config import PEConfig
from hw.accel.memories import ActBuffers, WeightMemories
from hw.accel.plan import BUFFERS, LayerPlan, buffer_depths
from hw.accel.table import ubits
from hw.accel.window import WindowGen


class LayerFeeder(wiring.Component):
    """Streams the beats of any layer of `plans` (module docstring).

    `cfg` is the array's configuration (its lanes are every plan's; abits and wbits the
    widths of the buffers' codes and of the weights); `weights[k]` layer k's weight memory
    words (hw.accel.plan.LayerPlan.weight_words). `rows` is the array's P.
    """

    def __init__(self, cfg: PEConfig, rows: int, plans: list[LayerPlan],
                 weights: list[list[int]]):
        if any(p.lanes != cfg.lanes or p.rows != rows for p in plans):
            raise ValueError(f"every plan must be for {rows} rows x {cfg.lanes} lanes")
        if len(weights) != len(plans) or any(len(wt) != p.weight_depth
                                             for wt, p in zip(weights, plans, strict=False)):
            raise ValueError("weights must hold weight_depth words for every plan")
        self.cfg, self.rows, self.plans, self.weights = cfg, rows, list(plans), weights
        self.gen = WindowGen(self.plans)
        w = self.gen.widths
        # The identity shortcuts' read port, only in networks that have one.
        self.skip = any(p.skip_buffer >= 0 for p in self.plans)
        super().__init__({
            "start_valid": In(1),
            "start_layer": In(w.layer),
            "start_ready": Out(1),
            "busy": Out(1),
            "wr_buf": In(ubits(BUFFERS - 1)),
            "wr_addr": In(w.addr),
            "wr_data": In(cfg.abits),
            "wr_en": In(1),
            "out_valid": Out(1),
            "out_ready": In(1),
            "out_act": Out(cfg.lanes * cfg.abits),
            "out_code": Out(rows * cfg.lanes * cfg.wbits),
            "out_last": Out(1),
        } | ({"sk_buf": In(ubits(BUFFERS - 1)), "sk_addr": In(w.addr), "sk_en": In(1),
              "sk_data": Out(cfg.abits)} if self.skip else {}))

    def elaborate(self, platform):
        m = Module()
        cfg, q = self.cfg, self.cfg.lanes
        m.submodules.gen = gen = self.gen
        m.submodules.weights = wts = WeightMemories(self.weights,
                                                    self.rows * q * cfg.wbits)
        m.submodules.acts = acts = ActBuffers(buffer_depths(self.plans), cfg.abits, q,
                                              gen.widths.addr, skip=self.skip)
        if self.skip:
            m.d.comb += [acts.sk_buf.eq(self.sk_buf), acts.sk_addr.eq(self.sk_addr),
                         acts.sk_en.eq(self.sk_en), self.sk_data.eq(acts.sk_data)]
        advance = Signal()
        inside = Signal(q)
        read = advance & gen.busy
        m.d.comb += [
            advance.eq(~self.out_valid | self.out_ready),
            gen.advance.eq(advance),
            gen.start_valid.eq(self.start_valid),
            gen.start_layer.eq(self.start_layer),
            self.start_ready.eq(gen.start_ready),
            self.busy.eq(gen.busy | self.out_valid),
            wts.layer.eq(gen.layer), wts.addr.eq(gen.waddr), wts.en.eq(read),
            acts.rd_buf.eq(gen.buffer), acts.rd_addr.eq(gen.addr), acts.rd_en.eq(read),
            acts.wr_buf.eq(self.wr_buf), acts.wr_addr.eq(self.wr_addr),
            acts.wr_data.eq(self.wr_data), acts.wr_en.eq(self.wr_en),
            self.out_code.eq(wts.data),
        ]
        with m.If(advance):
            m.d.sync += [self.out_valid.eq(gen.busy), inside.eq(gen.inside),
                         self.out_last.eq(gen.last)]
        for lane in range(q):
            lo = lane * cfg.abits
            m.d.comb += self.out_act[lo:lo + cfg.abits].eq(
                Mux(inside[lane], acts.rd_data[lane], 0))
        return m
