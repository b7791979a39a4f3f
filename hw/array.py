"""`PostArray`: a matrix-vector unit of P POST PEs x Q lanes.

Each beat carries one vector of Q activations and P x Q weight codes. The activations are
broadcast to all P rows; row p multiplies them with its own Q codes. A dot product is the
beats up to one with `in_last`, and it ends in one output beat carrying P results:

    in_act ──> ActStage (hw/lut.py: Q lanes, one LUT ROM per lane) ──┬─> PostCore row 0 ─┐
    in_code[row 0] ────────────────────────────────────────────────> │                   │
    ...                                                               ├─> PostCore row p ─┼─> out_*
    in_code[row P-1] ──────────────────────────────────────────────> └─> PostCore row P-1┘

The activation side (register + LUT read) depends only on the activations, so the array has
ONE `ActStage`, hence one LUT per lane, shared by the P cores (`hw/pe.PostCore`, the PE's own
weight side, unchanged): this sharing is the co-design point of the `lut` variant. All P
cores see the same valid/last/enable, so they run in lockstep and row 0's `out_valid`
stands for all.

Ports (the PE's roles, spec section 6, with P results packed):
    in_act       Q x abits     lane i at bits [i*abits, (i+1)*abits)
    in_code      P x Q x wbits row p, lane i at bits [(p*Q + i)*wbits, (p*Q + i + 1)*wbits)
    out_acc      P x acc_bits  (lut) row p at bits [p*acc_bits, (p+1)*acc_bits), two's
                 complement each; dual: out_acc_even and out_acc_odd, packed the same way
    in_valid, in_ready, in_last, out_valid, out_ready, clk, rst as the PE.

Handshake as the PE: the whole pipeline advances on every edge where `out_valid` is low or
`out_ready` is high, which is also `in_ready`; one beat per cycle while the output is not
stalled, no bubble between dot products; `latency` = the PE's (hw/pe.pe_latency).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring

from asq_hw.config import ROWS_RANGE, PEConfig, _check_int
from hw.lut import ActStage
from hw.pe import PostCore, pe_latency, stream_members


def acc_port_names(variant: str) -> tuple[str, ...]:
    """The packed result ports of `variant` (the PE's names)."""
    return ("out_acc",) if variant == "lut" else ("out_acc_even", "out_acc_odd")


class PostArray(wiring.Component):
    """P x Q POST array with one shared activation stage (see the module docstring).

    `cfg` is the arithmetic of every row (its `lanes` is Q); `rows` is P. Results of a dot
    product appear on the packed `out_acc*` ports `latency` edges after its last beat is
    accepted (out_ready high), in input order.
    """

    top = "post_array"

    def __init__(self, cfg: PEConfig, rows: int):
        if not isinstance(cfg, PEConfig):
            raise ValueError(f"cfg must be a PEConfig, not {type(cfg).__name__}")
        _check_int("rows", rows, *ROWS_RANGE)
        self.cfg = cfg
        self.rows = rows
        self.acc_bits = cfg.acc_bits
        self.acc_ports = acc_port_names(cfg.variant)
        self.latency = pe_latency(cfg)
        super().__init__(stream_members(cfg, rows * cfg.lanes * cfg.wbits, self.acc_ports,
                                        unsigned(rows * cfg.acc_bits)))

    def elaborate(self, platform):
        m = Module()
        cfg, q = self.cfg, self.cfg.lanes
        m.submodules.act_stage = stage = ActStage(cfg)
        en = Signal()
        cores = []
        for p in range(self.rows):
            m.submodules[f"row{p}"] = core = PostCore(cfg)
            cores.append(core)
            lo = p * q * cfg.wbits
            m.d.comb += [
                core.en.eq(en),
                core.code.eq(self.in_code[lo:lo + q * cfg.wbits]),
                core.valid.eq(stage.o_valid),
                core.last.eq(stage.o_last),
                core.act.eq(stage.o_act.as_value()),
            ]
            if stage.with_lut:
                m.d.comb += core.lut.eq(stage.o_lut.as_value())
            for s, name in enumerate(self.acc_ports):
                port = getattr(self, name)
                a = p * cfg.acc_bits
                m.d.comb += port[a:a + cfg.acc_bits].eq(core.acc[s])
        m.d.comb += [
            # The pipeline moves unless a result waits on a low out_ready (as the PE).
            en.eq(~cores[0].out_valid | self.out_ready),
            self.in_ready.eq(en),
            stage.en.eq(en),
            stage.valid.eq(self.in_valid),
            stage.last.eq(self.in_last),
            stage.act.eq(self.in_act),
            self.out_valid.eq(cores[0].out_valid),
        ]
        return m
