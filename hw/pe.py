"""`PostPE`: the POST multiply-accumulate processing element (spec sections 3, 4 and 6).

The PE is two blocks in a pipeline, each usable on its own:

    in_* ──> ActStage (hw/lut.py) ──> core (PostCore) ──> out_*
             activations + LUT        decode, shift/sign, adder tree, accumulate

`ActStage` looks activations up and registers them; it depends only on the activations, so
an array can share one across every PE that sees the same activations. `PostCore` is the
weight side: it takes each beat's codes with the beat, decodes and registers them beside the
ActStage outputs, and forms, sums and accumulates the terms (`hw/datapath.MacBackend`).

Pipeline (one register stage each; `en` = the output is not stalled):

    1 ActStage regs + decoded codes   2 terms (multiplexers only: value select, barrel
    shift, ones' complement; the +1 of a negation rides as a carry-in, hw/datapath.py)
    3.. adder tree (two adder levels per stage)   last: accumulate, result + out_valid

so `latency` = 3 + tree_stages(lanes). The whole pipeline advances on every edge where
`out_valid` is low or `out_ready` is high, which is also `in_ready`: one beat per cycle
while the output is not stalled (spec section 6).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from asq_hw.config import PEConfig
from hw.datapath import MacBackend, ShiftSign, term_width, tree_stages
from hw.decode import CodeDecoder, shift_shape
from hw.lut import ActStage, act_shape, lut_shape


def pe_latency(cfg: PEConfig) -> int:
    """Clock edges from the edge that accepts a dot product's last beat to the edge that
    transfers its result with out_ready high (the manifest's "latency")."""
    return 1 + 1 + tree_stages(cfg.lanes) + 1


def post_value_shape(cfg: PEConfig):
    """Shape of the value PostCore shifts: LUT[x] (odd e) or x << F (even e) for `lut`,
    the activation itself for `dual`."""
    if cfg.variant == "lut":
        vwidth = max(lut_shape(cfg).width, cfg.abits + cfg.frac_bits)
        return signed(vwidth) if cfg.act_signed else unsigned(vwidth)
    return act_shape(cfg)


def stream_members(cfg: PEConfig, code_width: int, acc_ports, acc_shape) -> dict:
    """The ports of spec section 6 (clk and rst come from the `sync` domain): the
    handshake, Q lanes of activations, `code_width` bits of codes, one `acc_shape` output
    per name in `acc_ports`."""
    members = {
        "in_valid": In(1),
        "in_ready": Out(1),
        "in_act": In(cfg.lanes * cfg.abits),
        "in_code": In(code_width),
        "in_last": In(1),
        "out_valid": Out(1),
        "out_ready": In(1),
    }
    for name in acc_ports:
        members[name] = Out(acc_shape)
    return members


def _check_cfg(cfg) -> None:
    if not isinstance(cfg, PEConfig):
        raise ValueError(f"cfg must be a PEConfig, not {type(cfg).__name__}")


def core_members(cfg: PEConfig, acc_bits: int, slots: int, with_lut: bool) -> dict:
    """The signature members every PE core has, whatever its arithmetic (POST, INT, POT).

    Stage 0 (the cycle a beat is accepted, `en` high): `code`, Q lanes of `wbits`.
    Stage 1 (one edge later, from an `ActStage`): `valid`, `last`, `act` and, for the POST
    `lut` variant, `lut`. Out: `out_valid` and `acc` (one entry per accumulator slot).
    An array instantiates one ActStage and P cores, each with its own `code`.
    """
    q = cfg.lanes
    members = {
        "en": In(1),
        "code": In(data.ArrayLayout(unsigned(cfg.wbits), q)),
        "valid": In(1),
        "last": In(1),
        "act": In(data.ArrayLayout(act_shape(cfg), q)),
    }
    if with_lut:
        members["lut"] = In(data.ArrayLayout(lut_shape(cfg), q))
    members["out_valid"] = Out(1)
    members["acc"] = Out(data.ArrayLayout(signed(acc_bits), slots))
    return members


class PostCore(wiring.Component):
    """The weight side of one POST PE: decode, value select, shift and sign, then
    `MacBackend` (adder tree per accumulator, accumulate, result register).

    See `core_members` for the timing of the ports. `acc` holds [A] (`lut`) or
    [A_even, A_odd] (`dual`); a result appears `pe_latency(cfg) - 1` enabled edges after the
    stage-1 inputs of its last beat.
    """

    def __init__(self, cfg: PEConfig):
        _check_cfg(cfg)
        self.cfg = cfg
        self.slots = 1 if cfg.variant == "lut" else 2
        self.value_shape = post_value_shape(cfg)
        self.term_width = term_width(self.value_shape, cfg.J, cfg.acc_bits)
        super().__init__(core_members(cfg, cfg.acc_bits, self.slots, cfg.variant == "lut"))

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        m.submodules.backend = back = MacBackend(cfg.lanes, self.slots, self.term_width,
                                                 cfg.acc_bits)
        m.d.comb += [back.en.eq(self.en), back.valid.eq(self.valid), back.last.eq(self.last),
                     self.out_valid.eq(back.out_valid), self.acc.eq(back.acc.as_value())]
        for i in range(cfg.lanes):
            # Stage 0: decode the code while ActStage reads the LUT; register the fields.
            m.submodules[f"dec{i}"] = dec = CodeDecoder(cfg.wbits)
            neg, odd, nz = (Signal(name=f"{n}{i}", reset_less=True)
                            for n in ("neg", "odd", "nonzero"))
            shift = Signal(shift_shape(cfg.wbits), name=f"shift{i}", reset_less=True)
            m.d.comb += dec.code.eq(self.code[i])
            with m.If(self.en):
                m.d.sync += [neg.eq(dec.neg), odd.eq(dec.odd), nz.eq(dec.nonzero),
                             shift.eq(dec.shift)]
            # Stage 1: the value to shift, then shift and sign.
            value = Signal(self.value_shape, name=f"value{i}")
            if cfg.variant == "lut":
                with m.If(odd):
                    m.d.comb += value.eq(self.lut[i])
                with m.Else():
                    m.d.comb += value.eq(self.act[i] << cfg.frac_bits)
            else:
                m.d.comb += value.eq(self.act[i])
            m.submodules[f"shift{i}"] = sh = ShiftSign(self.value_shape, cfg.J,
                                                       self.term_width)
            m.d.comb += [sh.value.eq(value), sh.shift.eq(shift), sh.neg.eq(neg),
                         sh.nonzero.eq(nz)]
            if self.slots == 1:
                m.d.comb += [back.terms[0][i].eq(sh.term), back.carries[0][i].eq(sh.carry)]
            else:
                # dual: even exponents to A_even (slot 0), odd ones to A_odd (slot 1).
                with m.If(odd):
                    m.d.comb += [back.terms[1][i].eq(sh.term),
                                 back.carries[1][i].eq(sh.carry)]
                with m.Else():
                    m.d.comb += [back.terms[0][i].eq(sh.term),
                                 back.carries[0][i].eq(sh.carry)]
        return m


class StreamPE(wiring.Component):
    """The stream interface of spec section 6 around an `ActStage` and a core.

    Ports: in_valid, in_ready, in_act (lane i at bits [i*abits, (i+1)*abits)), in_code
    (lane i at bits [i*wbits, (i+1)*wbits)), in_last, out_valid, out_ready and one
    `acc_bits`-wide two's complement output per name in `acc_ports`; clk and rst come from
    the default `sync` domain. Subclasses set `top` and implement `_make_core()`.
    """

    top: str = ""

    def __init__(self, cfg: PEConfig, acc_bits: int, acc_ports: tuple[str, ...],
                 with_lut: bool):
        _check_cfg(cfg)
        self.cfg = cfg
        self.acc_bits = acc_bits
        self.acc_ports = acc_ports
        self.with_lut = with_lut
        self.latency = pe_latency(cfg)
        super().__init__(stream_members(cfg, cfg.lanes * cfg.wbits, acc_ports,
                                        signed(acc_bits)))

    def _make_core(self) -> wiring.Component:
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        m.submodules.act_stage = stage = ActStage(self.cfg, with_lut=self.with_lut)
        m.submodules.core = core = self._make_core()
        en = Signal()
        m.d.comb += [
            # The pipeline moves unless a result waits on a low out_ready.
            en.eq(~core.out_valid | self.out_ready),
            self.in_ready.eq(en),
            stage.en.eq(en),
            stage.valid.eq(self.in_valid),
            stage.last.eq(self.in_last),
            stage.act.eq(self.in_act),
            core.en.eq(en),
            core.code.eq(self.in_code),
            core.valid.eq(stage.o_valid),
            core.last.eq(stage.o_last),
            core.act.eq(stage.o_act.as_value()),
            self.out_valid.eq(core.out_valid),
        ]
        if self.with_lut:
            m.d.comb += core.lut.eq(stage.o_lut.as_value())
        for s, name in enumerate(self.acc_ports):
            m.d.comb += getattr(self, name).eq(core.acc[s])
        return m


class PostPE(StreamPE):
    """The POST PE of spec section 6 (top module `post_pe`), configured by one PEConfig.

    `out_acc` (lut) or `out_acc_even` + `out_acc_odd` (dual) carry each dot product's
    accumulators, wrapped to `acc_bits`, `latency` edges after its last beat is accepted
    when out_ready is high; results come out in input order.
    """

    top = "post_pe"

    def __init__(self, cfg: PEConfig):
        _check_cfg(cfg)
        ports = ("out_acc",) if cfg.variant == "lut" else ("out_acc_even", "out_acc_odd")
        super().__init__(cfg, cfg.acc_bits, ports, with_lut=cfg.variant == "lut")

    def _make_core(self):
        return PostCore(self.cfg)
