"""`Accelerator`: the whole network on chip, image codes in, integer logits out.

    in stream ──> LOAD: codes into the first layer's buffer (one per beat, address order)
                  RUN:  layer 0, 1, ... through the LayerPipeline (hw/accel/pipeline.py):
                        feeder + PostArray + requantization / ASQ adapter unit; the
                        beta code of the codes in each buffer kept per buffer (the layer
                        that wrote it left it), each layer started with its buffer's and
                        its identity shortcut's (residual networks)
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

import math

from amaranth.hdl import Elaboratable, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from asq_hw.artifact import Artifact, layer_pe_config, layer_scale
from asq_hw.config import PEConfig
from golden import asq_int as Q
from hw.accel.pipeline import LayerPipeline
from hw.accel.plan import buffer_depths
from hw.accel.table import ubits


def _select(index, values):
    """values[index] as a Mux chain (a continuous assignment in Verilog, see elaborate)."""
    expr = values[0]
    for k in range(1, len(values)):
        expr = Mux(index == k, values[k], expr)
    return expr


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
        # The network input as the artifact states it (a flatten before the first layer
        # changes nothing: the codes come in (c, h, w) order either way).
        self.in_shape = tuple(artifact.input.shape)
        self.in_elements = first.in_size
        if self.in_elements != math.prod(self.in_shape):
            raise ValueError(f"the first layer reads {self.in_elements} codes, the input "
                             f"{self.in_shape} has {math.prod(self.in_shape)}")
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
        # The beta code of the codes in each buffer: the network input's (BETA_ONE) after
        # LOAD, then whatever the layer that wrote the buffer left on beta_out. In RUN,
        # `view` is that with the finishing layer's write already applied, for the start
        # at the same edge.
        plans, rq = self.pipe.plans, self.pipe.rq_layers
        nb = len(buffer_depths(plans))
        out_buf = [-1 if r.logits or r.hold else
                   (p.out_buffer if p.out_buffer >= 0 else plans[i + 1].buffer)
                   for i, (p, r) in enumerate(zip(plans, rq, strict=True))]
        betas = [Signal(Q.BETA_BITS, init=Q.BETA_ONE, name=f"beta_buf{b}") for b in range(nb)]
        done = Signal(range(nb + 1))      # the buffer the finishing layer wrote (nb: none)
        m.d.comb += done.eq(_select(layer, [b if b >= 0 else nb for b in out_buf]))
        view = [Mux(done == b, pipe.beta_out, betas[b]) for b in range(nb)]

        def beta_of(buf_sig):
            return _select(buf_sig, view)

        nxt = Signal.like(layer)
        m.d.comb += nxt.eq(layer + 1)
        rd_next, sk_next = Signal(range(nb)), Signal(range(nb))
        m.d.comb += [rd_next.eq(_select(nxt, [p.buffer for p in plans])),
                     sk_next.eq(_select(nxt, [max(p.skip_buffer, 0) for p in plans]))]
        if self.pipe.skip:
            m.d.comb += pipe.start_skip_beta.eq(beta_of(sk_next))
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
            pipe.start_beta.eq(Mux(load, Q.BETA_ONE, beta_of(rd_next))),
        ]
        with m.FSM() as fsm:
            with m.State("LOAD"):
                with m.If(self.in_valid):
                    with m.If(self.in_last != last_in):
                        m.d.sync += self.status_framing.eq(1)
                    m.d.sync += count.eq(count + 1)
                    with m.If(last_in):
                        m.d.sync += [count.eq(0), layer.eq(0),
                                     betas[plans[0].buffer].eq(Q.BETA_ONE)]
                        m.next = "RUN"
            with m.State("RUN"):
                with m.If(pipe.start_ready):
                    m.d.sync += layer.eq(layer + 1)
                    for b in range(nb):
                        m.d.sync += betas[b].eq(view[b])
                    with m.If(last_layer):
                        m.d.sync += layer.eq(0)
                        m.next = "LOAD"
        m.d.comb += load.eq(fsm.ongoing("LOAD"))
        return m


def model_only(acc: Accelerator) -> Accelerator:
    """`acc`, marked as built only for its plans, cycle model and memories (estimation,
    manifests) and never elaborated: Amaranth would otherwise warn, when it is collected,
    that it and every sub-component were created but not used. Returns `acc`."""
    seen, todo = set(), [acc]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        obj._MustUse__silence = True        # amaranth's MustUse: no UnusedElaboratable
        for v in vars(obj).values():
            items = v if isinstance(v, (list, tuple)) else [v]
            todo.extend(x for x in items if isinstance(x, Elaboratable))
    return acc
