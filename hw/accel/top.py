"""`Accelerator`: the whole network on chip, image codes in, integer logits out.

    in stream ──> LOAD: codes into the first layer's buffer (one per beat, address order)
                  RUN:  layer 0, 1, ... through the LayerPipeline (hw/accel/pipeline.py):
                        feeder + PostArray + requantization / ASQ adapter unit, the next
                        layer's beta code carried from one layer to the next
    out stream <── the last layer's logits, straight from the unit (back-pressure stalls it)

Streams follow the valid/ready rules (a beat moves at an edge where both are high; the
payload holds until then). The input is framed by count: an image is the network input's
C*H*W codes in (c, h, w) order, one per beat, `in_last` on its last beat (the accelerator
does not depend on it; `status_framing` goes high, and stays until reset, if an `in_last`
arrives on any other beat or is missing on the last). `out_last` marks the image's last
logit. Images run one after another (`in_ready` is high only in LOAD).

Cycle model (exact, tests/test_hw_accel_top.py measures it), input back to back and
out_ready high. The edge accepting the last input beat starts layer 0; the edge at which
the pipeline can take a start again starts the next layer (LayerPipeline.layer_cycles(i)
edges after the previous start), so with n = C*H*W input beats

    cycles_per_image = (n - 1) + sum_{i < last} layer_cycles(i) + last_logit + 1
    interval         = n + sum_i layer_cycles(i)

cycles_per_image: from the edge accepting an image's first beat to the edge transferring
its last logit, both included (last_logit: edges from the logits layer's start to that
transfer, RqLayer.last_logit). interval: from one image's first beat to the next image's,
images back to back (the logits layer's end, then one edge in LOAD): the throughput is
clock / interval.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from asq_hw.artifact import Artifact, layer_pe_config, layer_scale
from asq_hw.config import PEConfig
from golden import asq_int as Q
from hw.accel.pipeline import LayerPipeline
from hw.accel.table import ubits


class Accelerator(wiring.Component):
    """One exported network as hardware (module docstring) on the array configuration
    `cfg` (asq_hw.mapper.array_config(artifact, variant, lanes)) with `rows` rows.
    `probe=True` adds the `probe_*` ports (every code the requantization unit writes, with
    its layer) for test benches that locate a mismatch; synthesis leaves them out."""

    top = "asq_accel"

    def __init__(self, artifact: Artifact, cfg: PEConfig, rows: int, probe: bool = False):
        self.cfg = cfg
        self.pipe = LayerPipeline.for_network(artifact, cfg, rows)
        variant = cfg.variant
        self.artifact, self.variant, self.probe = artifact, variant, probe
        self.rows, self.lanes = rows, cfg.lanes
        self.layers = len(self.pipe.plans)
        first = self.pipe.plans[0]
        self.in_shape = (first.channels,) + tuple(first.in_hw)
        self.in_elements = first.in_size
        # The input stream carries the first layer's own codes (the array's format may be
        # wider: it holds every layer's).
        own = layer_pe_config(artifact, artifact.compute_layers()[0], variant,
                              self.cfg.frac_bits)
        self.in_bits, self.in_signed = own.abits, own.act_signed
        self.classes = self.pipe.plans[-1].outputs
        self.logit_bits = len(self.pipe.logit_data)
        # real logit = value * 2**-logit_shift (golden.network.GoldenNetwork.logit_shift)
        self.logit_shift = layer_scale(artifact, artifact.compute_layers()[-1], variant,
                                       self.cfg.frac_bits).shift + Q.BETA_FRAC
        members = {
            "in_valid": In(1), "in_ready": Out(1), "in_data": In(self.in_bits),
            "in_last": In(1),
            "out_valid": Out(1), "out_ready": In(1), "out_data": Out(self.logit_bits),
            "out_last": Out(1),
            "status_framing": Out(1),
        }
        if probe:
            members.update({
                "probe_valid": Out(1), "probe_layer": Out(ubits(self.layers - 1)),
                "probe_addr": Out(len(self.pipe.core.wr_addr)), "probe_data": Out(self.cfg.abits),
            })
        super().__init__(members)

    # -- the cycle model
    def layer_cycles(self, i: int) -> int:
        return self.pipe.layer_cycles(i)

    @property
    def cycles_per_image(self) -> int:
        """Edges from accepting an image's first input beat to transferring its last logit,
        both included (module docstring)."""
        last = self.layers - 1
        logit = self.pipe.rq_layers[last].last_logit(self.pipe.plans[last], self.pipe.latency)
        return (self.in_elements - 1 + sum(self.layer_cycles(i) for i in range(last))
                + logit + 1)

    @property
    def interval(self) -> int:
        """Edges between the first input beats of back-to-back images (module docstring)."""
        return self.in_elements + sum(self.layer_cycles(i) for i in range(self.layers))

    def elaborate(self, platform):
        m = Module()
        m.submodules.pipe = pipe = self.pipe
        count = Signal(range(self.in_elements))
        layer = Signal(range(self.layers))
        last_in = count == self.in_elements - 1
        # The input codes as the buffer's word: the code's value in the array's format.
        in_code = Signal(signed(self.in_bits) if self.in_signed else self.in_bits)
        m.d.comb += [
            in_code.eq(self.in_data),
            pipe.ext_wr_buf.eq(self.pipe.plans[0].buffer),
            pipe.ext_wr_addr.eq(count),
            pipe.ext_wr_data.eq(in_code),
            self.out_valid.eq(pipe.logit_valid),
            self.out_data.eq(pipe.logit_data),
            self.out_last.eq(pipe.logit_last),
            pipe.logit_ready.eq(self.out_ready),
        ]
        if self.probe:
            unit = pipe.unit
            m.d.comb += [self.probe_valid.eq(unit.wr_en), self.probe_layer.eq(layer),
                         self.probe_addr.eq(unit.wr_addr), self.probe_data.eq(unit.wr_data)]
        last_layer = layer == self.layers - 1
        load = Signal()
        # Every combinational output is a continuous assignment (Mux), none inside the FSM's
        # case: an always @* whose inputs keep their initial values (layer 0, the LOAD
        # state) never runs in an event-driven simulator (Icarus), leaving X.
        m.d.comb += [
            self.in_ready.eq(load),
            pipe.ext_wr_en.eq(load & self.in_valid),
            # In LOAD the last beat's edge also starts layer 0 (the feeder's first buffer
            # read comes edges later and sees the code written at this edge); in RUN the
            # edge the pipeline is idle again starts the next layer with the beta code the
            # previous one left.
            pipe.start_valid.eq(Mux(load, self.in_valid & last_in,
                                    pipe.start_ready & ~last_layer)),
            pipe.start_layer.eq(Mux(load, 0, layer + 1)),
            pipe.start_beta.eq(Mux(load, Q.BETA_ONE, pipe.beta_out)),
        ]
        with m.FSM() as fsm:
            with m.State("LOAD"):
                with m.If(self.in_valid):
                    with m.If(self.in_last != last_in):
                        m.d.sync += self.status_framing.eq(1)
                    m.d.sync += count.eq(count + 1)
                    with m.If(last_in):
                        m.d.sync += [count.eq(0), layer.eq(0)]
                        m.next = "RUN"
            with m.State("RUN"):
                with m.If(pipe.start_ready):
                    m.d.sync += layer.eq(layer + 1)
                    with m.If(last_layer):
                        m.d.sync += layer.eq(0)
                        m.next = "LOAD"
        m.d.comb += load.eq(fsm.ongoing("LOAD"))
        return m
