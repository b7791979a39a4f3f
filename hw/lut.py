"""The activation LUT (spec section 3.1) and the activation stage that owns it.

`ActLUT` is one lane's ROM x -> floor(x * 2**F / sqrt(2) + 1/2), an `amaranth.lib.memory`
Memory with a registered read port (a block or distributed RAM on an FPGA). Its contents come
from the golden model's exact integer `lut_entry`, the one definition of the table.

`ActStage` is the first pipeline stage of a PE: it registers the accepted beat's activations,
their LUT values, `valid` and `last`. The lookup depends on the activation only, never on the
weight, so one `ActStage` can feed any number of PE cores that see the same activations (the
array shares one per lane across its P PEs).
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from asq_hw.config import PEConfig
from golden.codes import lut_entry


def act_shape(cfg: PEConfig) -> Shape:
    """Shape of one activation: `abits` wide, two's complement when `act_signed`."""
    return signed(cfg.abits) if cfg.act_signed else unsigned(cfg.abits)


def act_of_address(addr: int, cfg: PEConfig) -> int:
    """The activation whose `abits`-bit pattern is `addr` (the ROM is addressed by bits)."""
    if cfg.act_signed and addr >= 1 << (cfg.abits - 1):
        return addr - (1 << cfg.abits)
    return addr


def lut_contents(cfg: PEConfig) -> list[int]:
    """The ROM's words in address order: entry a is LUT[x] of the activation with bits a."""
    return [lut_entry(act_of_address(a, cfg), cfg.frac_bits) for a in range(1 << cfg.abits)]


def lut_shape(cfg: PEConfig) -> Shape:
    """The narrowest shape holding every LUT value of `cfg` (signed for signed activations)."""
    words = lut_contents(cfg)
    return Shape.cast(range(min(words), max(words) + 1))


class ActLUT(wiring.Component):
    """One lane's activation ROM with a registered read.

    Ports: `act` (the activation's bits) and `en` in; `value` out. `value` is LUT[act] of the
    `act` presented at the last clock edge where `en` was high; it holds while `en` is low.
    """

    def __init__(self, cfg: PEConfig):
        self.cfg = cfg
        self.shape = lut_shape(cfg)
        super().__init__({
            "act": In(unsigned(cfg.abits)),
            "en": In(1),
            "value": Out(self.shape),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = memory.Memory(
            shape=self.shape, depth=1 << self.cfg.abits, init=lut_contents(self.cfg))
        rd = rom.read_port(domain="sync")
        m.d.comb += [
            rd.addr.eq(self.act),
            rd.en.eq(self.en),
            self.value.eq(rd.data),
        ]
        return m


class ActStage(wiring.Component):
    """Stage 1 of the PE pipeline: registers an accepted beat's activations for every lane.

    Inputs: `en` (advance the pipeline this edge), `valid`, `last` and `act` (Q lanes, lane i
    at bits [i*abits, (i+1)*abits)). On each edge with `en` high the outputs take the inputs'
    values: `o_valid`, `o_last`, `o_act` (per lane) and, when `with_lut`, `o_lut` (LUT[x] per
    lane). With `en` low everything holds. `o_valid` resets to 0.
    """

    def __init__(self, cfg: PEConfig, *, with_lut: bool | None = None):
        self.cfg = cfg
        self.with_lut = cfg.variant == "lut" if with_lut is None else with_lut
        q = cfg.lanes
        members = {
            "en": In(1),
            "valid": In(1),
            "last": In(1),
            "act": In(data.ArrayLayout(unsigned(cfg.abits), q)),
            "o_valid": Out(1),
            "o_last": Out(1),
            "o_act": Out(data.ArrayLayout(act_shape(cfg), q)),
        }
        if self.with_lut:
            members["o_lut"] = Out(data.ArrayLayout(lut_shape(cfg), q))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        # Data registers need no reset: nothing downstream uses them unless o_valid says so.
        act = Signal(data.ArrayLayout(act_shape(self.cfg), self.cfg.lanes), reset_less=True)
        last = Signal(reset_less=True)
        with m.If(self.en):
            m.d.sync += [
                self.o_valid.eq(self.valid),
                last.eq(self.last),
                act.eq(self.act.as_value()),
            ]
        m.d.comb += [self.o_act.eq(act), self.o_last.eq(last)]
        if self.with_lut:
            for i in range(self.cfg.lanes):
                m.submodules[f"lut{i}"] = lut = ActLUT(self.cfg)
                m.d.comb += [
                    lut.act.eq(self.act[i]),
                    lut.en.eq(self.en),
                    self.o_lut[i].eq(lut.value),
                ]
        return m
