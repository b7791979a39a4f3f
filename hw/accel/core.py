"""`LayerCore`: the feeder and the shared PostArray, one layer at a time.

    start ──> LayerFeeder (hw/accel/feeder.py) ──beats──> PostArray (hw/array.py) ──> out_acc*

The layer half of the accelerator: a layer started with its number streams its beats from
the on-chip memories through the array, and its accumulators come out of the array's
result port (P per output beat, tile-major then position order: hw/accel/plan.py). The
requantization and ASQ adapter unit takes them from here. `wr_*` fill the activation
buffers. A layer costs `LayerPlan.cycles(latency)` from the edge accepting its start to the
edge transferring its last result, with out_ready high.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from asq_hw.artifact import Artifact
from asq_hw.config import PEConfig
from hw.accel.feeder import LayerFeeder
from hw.accel.plan import LayerPlan, network_plans, network_weights
from hw.array import PostArray


class LayerCore(wiring.Component):
    """Feeder + PostArray for `plans` (module docstring); `cfg` the array configuration
    (asq_hw.mapper.array_config for a network), `rows` its P."""

    top = "accel_layer_core"

    def __init__(self, cfg: PEConfig, rows: int, plans: list[LayerPlan],
                 weights: list[list[int]]):
        self.feeder = LayerFeeder(cfg, rows, plans, weights)
        self.array = PostArray(cfg, rows)
        self.cfg, self.rows, self.plans = cfg, rows, self.feeder.plans
        self.latency = self.array.latency
        self.acc_ports = self.array.acc_ports
        sig = dict(self.feeder.signature.members)
        members = {name: sig[name] for name in (
            "start_valid", "start_layer", "start_ready", "busy",
            "wr_buf", "wr_addr", "wr_data", "wr_en")}
        self.skip = self.feeder.skip
        if self.skip:
            members |= {name: sig[name] for name in ("sk_buf", "sk_addr", "sk_en", "sk_data")}
        members["out_valid"] = Out(1)
        members["out_ready"] = In(1)
        for name in self.acc_ports:
            members[name] = Out(self.array.signature.members[name].shape)
        super().__init__(members)

    @classmethod
    def for_network(cls, artifact: Artifact, cfg: PEConfig, rows: int) -> LayerCore:
        """The core for every compute layer of `artifact`, weights from its codes."""
        plans = network_plans(artifact, rows, cfg.lanes)
        return cls(cfg, rows, plans, network_weights(artifact, plans, cfg.wbits))

    def elaborate(self, platform):
        m = Module()
        m.submodules.feeder = fd = self.feeder
        m.submodules.array = arr = self.array
        m.d.comb += [
            fd.start_valid.eq(self.start_valid), fd.start_layer.eq(self.start_layer),
            self.start_ready.eq(fd.start_ready),
            self.busy.eq(fd.busy),
            fd.wr_buf.eq(self.wr_buf), fd.wr_addr.eq(self.wr_addr),
            fd.wr_data.eq(self.wr_data), fd.wr_en.eq(self.wr_en),
            arr.in_valid.eq(fd.out_valid), fd.out_ready.eq(arr.in_ready),
            arr.in_act.eq(fd.out_act), arr.in_code.eq(fd.out_code),
            arr.in_last.eq(fd.out_last),
            self.out_valid.eq(arr.out_valid), arr.out_ready.eq(self.out_ready),
        ]
        for name in self.acc_ports:
            m.d.comb += getattr(self, name).eq(getattr(arr, name))
        if self.skip:
            m.d.comb += [fd.sk_buf.eq(self.sk_buf), fd.sk_addr.eq(self.sk_addr),
                         fd.sk_en.eq(self.sk_en), self.sk_data.eq(fd.sk_data)]
        return m
