"""Baseline PEs on the POST PE's stream interface, for the estimator's comparisons.

- `IntPE` (top `int_pe`): uniform INT quantization, the weight code is a two's complement
  `wbits` integer w and each term is x * w (a multiplier per lane).
- `PotPE` (top `pot_pe`): power-of-two quantization with the POST code format (sign bit,
  magnitude m, m = 0 is zero) but whole-power levels 2**-(m-1); the integer term is
  sgn * (x << (M - m)), a shifter per lane and no LUT.

Both reuse the POST PE's pipeline (ActStage without LUT, term register, adder tree,
accumulator), so they differ from `PostPE` only in the per-lane term, and have its latency.
Their accumulator defaults to their own safe width for `max_len` terms
(golden.baselines.baseline_acc_bits); golden.baselines holds their reference models.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, Signal, signed, unsigned
from amaranth.lib import wiring

from asq_hw.config import ACC_BITS_RANGE, PEConfig, _check_int
from golden.baselines import baseline_acc_bits
from hw.datapath import MacBackend, ShiftSign, term_width
from hw.lut import act_shape
from hw.pe import StreamPE, _check_cfg, core_members


def baseline_term_width(kind: str, cfg: PEConfig, acc_bits: int) -> int:
    """Width of one lane's term: the product x * w (int), or sgn * (x << (M - m)) for
    shifts up to M - 1 (pot); capped at `acc_bits` like every term (hw/datapath.py)."""
    if kind == "int":
        return min(cfg.abits + cfg.wbits, acc_bits)
    return term_width(act_shape(cfg), cfg.M - 1, acc_bits)


def pot_shift_shape(cfg: PEConfig) -> Shape:
    """Shape of a POT lane's shift M - m (m = 1 .. M)."""
    return unsigned(max(1, (cfg.M - 1).bit_length()))



class _BaselineCore(wiring.Component):
    """Core of a baseline PE (see `hw.pe.core_members` for the timing of its ports)."""

    kind = ""

    def __init__(self, cfg: PEConfig, acc_bits: int):
        self.cfg = cfg
        self.acc_bits = acc_bits
        super().__init__(core_members(cfg, acc_bits, 1, with_lut=False))

    def _term(self, m: Module, i: int, code: Signal, term_width: int):
        """(term, carry) of lane i: the lane adds term + carry (see hw.datapath)."""
        raise NotImplementedError

    def _term_width(self) -> int:
        return baseline_term_width(self.kind, self.cfg, self.acc_bits)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        tw = self._term_width()
        m.submodules.backend = back = MacBackend(cfg.lanes, 1, tw, self.acc_bits)
        m.d.comb += [back.en.eq(self.en), back.valid.eq(self.valid), back.last.eq(self.last),
                     self.out_valid.eq(back.out_valid), self.acc.eq(back.acc.as_value())]
        for i in range(cfg.lanes):
            code = Signal(cfg.wbits, name=f"code{i}", reset_less=True)
            with m.If(self.en):
                m.d.sync += code.eq(self.code[i])
            term, carry = self._term(m, i, code, tw)
            m.d.comb += [back.terms[0][i].eq(term), back.carries[0][i].eq(carry)]
        return m


class IntCore(_BaselineCore):
    kind = "int"

    def _term(self, m, i, code, tw):
        term = Signal(signed(tw), name=f"term{i}")
        m.d.comb += term.eq(self.act[i] * code.as_signed())
        return term, 0


class PotCore(_BaselineCore):
    kind = "pot"

    def _term(self, m, i, code, tw):
        cfg = self.cfg
        mag = code[:cfg.wbits - 1]
        shift = Signal(pot_shift_shape(cfg), name=f"shift{i}")
        m.d.comb += shift.eq(cfg.M - mag)
        m.submodules[f"shift{i}"] = sh = ShiftSign(act_shape(cfg), cfg.M - 1, tw)
        m.d.comb += [sh.value.eq(self.act[i]), sh.shift.eq(shift),
                     sh.neg.eq(code[cfg.wbits - 1]), sh.nonzero.eq(mag != 0)]
        return sh.term, sh.carry


class _BaselinePE(StreamPE):
    core_cls: type[_BaselineCore] = _BaselineCore

    def __init__(self, cfg: PEConfig, acc_bits: int | None = None):
        _check_cfg(cfg)
        kind = self.core_cls.kind
        acc_bits = baseline_acc_bits(kind, cfg) if acc_bits is None else acc_bits
        _check_int("acc_bits", acc_bits, *ACC_BITS_RANGE)
        super().__init__(cfg, acc_bits, ("out_acc",), with_lut=False)

    def _make_core(self):
        return self.core_cls(self.cfg, self.acc_bits)


class IntPE(_BaselinePE):
    """Uniform INT multiplier PE (top `int_pe`); cfg.variant, frac_bits, acc_bits unused."""

    top = "int_pe"
    core_cls = IntCore


class PotPE(_BaselinePE):
    """Power-of-two shift-only PE (top `pot_pe`); cfg.variant, frac_bits, acc_bits unused."""

    top = "pot_pe"
    core_cls = PotCore
