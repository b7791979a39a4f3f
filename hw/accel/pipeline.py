"""`LayerPipeline`: one layer from its input codes to the next layer's codes (or logits).

    start(layer, beta) ──> LayerCore (feeder + PostArray) ──result beats──> RequantUnit
                                 ^ buffers' write port <── codes ──────────────┘ │
                     ext_wr_* ───┘ (image load while idle)            logit stream

A start is taken while both halves are idle (`start_ready`) and starts them together; the
layer reads buffer plans[i].buffer and, unless it is the logits layer, leaves the next
layer's codes in plans[i + 1].buffer and its beta code on `beta_out`. `layer_cycles(i)`:
a start held valid is accepted again that many edges after the start edge (logit_ready
high); hw/accel/requant_plan.py derives it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from asq_hw.artifact import Artifact
from asq_hw.config import PEConfig
from golden import asq_int as Q
from hw.accel.core import LayerCore
from hw.accel.plan import LayerPlan, buffer_depths, network_plans, network_weights
from hw.accel.requant import RequantUnit
from hw.accel.requant_plan import RqLayer, requant_layers


class LayerPipeline(wiring.Component):
    """LayerCore + RequantUnit (module docstring). `rq_layers` from
    hw.accel.requant_plan.network_rq of the same network and array configuration."""

    top = "accel_layer_pipeline"

    def __init__(self, cfg: PEConfig, rows: int, plans: list[LayerPlan],
                 weights: list[list[int]], rq_layers: list[RqLayer]):
        self.core = LayerCore(cfg, rows, plans, weights)
        self.cfg, self.rows, self.plans = cfg, rows, self.core.plans
        self.rq_layers = list(rq_layers)
        addr = len(self.core.wr_addr)
        self.unit = RequantUnit(self.rq_layers, self.plans, rows, cfg.acc_bits, cfg.abits,
                                addr)
        self.latency = self.core.latency
        core_sig = self.core.signature.members
        super().__init__({
            "start_valid": In(1),
            "start_layer": In(core_sig["start_layer"].shape),
            "start_beta": In(Q.BETA_BITS),
            "start_ready": Out(1),
            "beta_out": Out(Q.BETA_BITS, init=Q.BETA_ONE),
            "ext_wr_buf": In(core_sig["wr_buf"].shape),
            "ext_wr_addr": In(addr),
            "ext_wr_data": In(cfg.abits),
            "ext_wr_en": In(1),
            "logit_valid": Out(1),
            "logit_ready": In(1),
            "logit_data": Out(self.unit.logit_data.shape()),
            "logit_last": Out(1),
        })

    @classmethod
    def for_network(cls, artifact: Artifact, cfg: PEConfig, rows: int) -> LayerPipeline:
        """The pipeline for every compute layer of `artifact` on the array configuration
        `cfg` (asq_hw.mapper.array_config(artifact, variant, lanes))."""
        plans = network_plans(artifact, rows, cfg.lanes)
        return cls(cfg, rows, plans, network_weights(artifact, plans, cfg.wbits),
                   requant_layers(artifact, cfg))

    def layer_cycles(self, i: int) -> int:
        """Edges from the start edge of layer i to the next edge that can accept a start."""
        return self.rq_layers[i].cycles(self.plans[i], self.latency)

    def memories(self) -> list[tuple[str, int, int]]:
        """(name, depth, width) of every memory: weight ROMs, activation buffers, the
        requantization unit's."""
        width = self.rows * self.cfg.lanes * self.cfg.wbits
        mems = [(f"weights_{p.name}", p.weight_depth, width) for p in self.plans]
        mems += [(f"act_buffer{b}", d, self.cfg.abits)
                 for b, d in enumerate(buffer_depths(self.plans))]
        return mems + self.unit.memories()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.unit = unit = self.unit
        accept = self.start_valid & self.start_ready
        m.d.comb += [
            self.start_ready.eq(core.start_ready & unit.idle),
            core.start_valid.eq(self.start_valid & unit.idle),
            core.start_layer.eq(self.start_layer),
            unit.start.eq(accept), unit.layer.eq(self.start_layer),
            unit.beta.eq(self.start_beta),
            unit.in_valid.eq(core.out_valid), core.out_ready.eq(unit.in_ready),
            unit.in_acc.eq(Cat(*(getattr(core, n) for n in core.acc_ports))),
            core.wr_buf.eq(Mux(unit.wr_en, unit.wr_buf, self.ext_wr_buf)),
            core.wr_addr.eq(Mux(unit.wr_en, unit.wr_addr, self.ext_wr_addr)),
            core.wr_data.eq(Mux(unit.wr_en, unit.wr_data, self.ext_wr_data)),
            core.wr_en.eq(unit.wr_en | self.ext_wr_en),
            self.beta_out.eq(unit.beta_out),
            self.logit_valid.eq(unit.logit_valid), unit.logit_ready.eq(self.logit_ready),
            self.logit_data.eq(unit.logit_data), self.logit_last.eq(unit.logit_last),
        ]
        return m
