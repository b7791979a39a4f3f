"""The shift-add datapath (spec section 3): barrel shift and sign, Q-lane adder tree,
accumulator, and `MacBackend`, the registered pipeline that ties them together.

All arithmetic is two's complement modulo 2**acc_bits: a term or partial sum wider than the
accumulator is truncated to it, which is exact because the spec's accumulator wraps modulo
2**acc_bits (section 4) and truncation commutes with addition.

Negation without a carry chain in the term stage: a negative term -s is formed as its ones'
complement ~s plus a separate 1-bit `carry` (-s = ~s + 1). The carries travel beside the
terms and each enters an adder further on as its carry-in: Q terms need Q - 1 tree adders
plus the accumulator's adder, exactly one adder per carry, and `a + b + c` with a 1-bit c
maps onto one carry chain (Yosys uses the chain's carry input). So the term stage is only
multiplexers (value select, barrel shift, XOR, zero gate) and no stage has more than its
adders' chains.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Shape, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

# Adder-tree levels between two pipeline registers: two adders deep, about the depth of the
# other stages (barrel shift; accumulate + clear), so the tree is not the one path that sets
# fmax as lanes grow.
TREE_LEVELS_PER_STAGE = 2


def term_width(value_shape: Shape, max_shift: int, acc_bits: int) -> int:
    """Width of sgn * (v << sh) for v of `value_shape` and 0 <= sh <= max_shift, capped at
    `acc_bits` (wider bits would only be truncated by the wrapping accumulator)."""
    value_shape = Shape.cast(value_shape)
    # +1: the sign of an unsigned value, or the carry of negating the most negative signed one.
    return min(value_shape.width + max_shift + 1, acc_bits)


class ShiftSign(wiring.Component):
    """Combinational term former, negation deferred to a carry.

    With s = value << shift: `term + carry` = nonzero ? (neg ? -s : s) : 0, modulo
    2**width, where `term` is s, ~s (neg) or 0, and `carry` = nonzero & neg. `max_shift` is
    the largest shift the caller will present; `shift` is wide enough for it.
    """

    def __init__(self, value_shape, max_shift: int, width: int):
        self.value_shape = Shape.cast(value_shape)
        self.max_shift = max_shift
        self.width = width
        super().__init__({
            "value": In(self.value_shape),
            "shift": In(range(max(2, max_shift + 1))),
            "neg": In(1),
            "nonzero": In(1),
            "term": Out(signed(width)),
            "carry": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        shifted = Signal(signed(self.width))
        if self.max_shift:
            m.d.comb += shifted.eq(self.value << self.shift)
        else:
            m.d.comb += shifted.eq(self.value)
        with m.If(self.nonzero):
            m.d.comb += [
                self.term.eq(shifted ^ self.neg.replicate(self.width)),
                self.carry.eq(self.neg),
            ]
        return m


def tree_stages(n: int) -> int:
    """Register stages of an `n`-input AdderTree (at least one: its output is registered)."""
    levels = math.ceil(math.log2(n)) if n > 1 else 0
    return max(1, math.ceil(levels / TREE_LEVELS_PER_STAGE))


class AdderTree(wiring.Component):
    """Pipelined sum of `n` signed terms and `n` carry bits.

    `sum + carry` equals the sum of the `terms` and `carries` presented `stages` enabled
    edges earlier (`en` high), modulo 2**width. Each of the n - 1 adders takes one carry as
    its carry-in; the one left over comes out as `carry` for the next adder (the
    accumulator's). A register follows every TREE_LEVELS_PER_STAGE adder levels and the last
    level, so `stages == tree_stages(n)`.
    """

    def __init__(self, n: int, in_width: int, width: int):
        self.n = n
        self.width = width
        self.stages = tree_stages(n)
        super().__init__({
            "en": In(1),
            "terms": In(data.ArrayLayout(signed(in_width), n)),
            "carries": In(unsigned(n)),
            "sum": Out(signed(width)),
            "carry": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        level = [self.terms[i] for i in range(self.n)]
        carries = [self.carries[i] for i in range(self.n)]
        width = Shape.cast(self.terms.shape().elem_shape).width
        depth = 0
        registers = 0
        while True:
            done = len(level) == 1
            if done or (depth and depth % TREE_LEVELS_PER_STAGE == 0):
                # A pipeline stage boundary: register the partial sums and unused carries.
                regs, cregs = [], []
                for j, v in enumerate(level):
                    r = Signal(signed(width), name=f"sum_s{registers}_{j}", reset_less=True)
                    with m.If(self.en):
                        m.d.sync += r.eq(v)
                    regs.append(r)
                for j, c in enumerate(carries):
                    r = Signal(name=f"carry_s{registers}_{j}", reset_less=True)
                    with m.If(self.en):
                        m.d.sync += r.eq(c)
                    cregs.append(r)
                level, carries = regs, cregs
                registers += 1
            if done:
                break
            width = min(width + 1, self.width)
            nxt = []
            for j in range(0, len(level) - 1, 2):
                s = Signal(signed(width), name=f"add_l{depth}_{j // 2}")
                m.d.comb += s.eq(level[j] + level[j + 1] + carries.pop())
                nxt.append(s)
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
            depth += 1
        assert registers == self.stages and len(carries) == 1
        m.d.comb += [self.sum.eq(level[0]), self.carry.eq(carries[0])]
        return m


class Accumulator(wiring.Component):
    """One `width`-bit wrapping accumulator with a result register.

    On an edge with `en` and `valid` high: if `last`, `result` takes acc + add + carry and
    the accumulator clears; otherwise the accumulator takes acc + add + carry. Otherwise
    both hold. The accumulator resets to 0. (The clear is a synchronous reset of the
    accumulator's flip-flops, which FPGA flip-flops have for free; gating the adder's input
    instead measured slower on iCE40.)
    """

    def __init__(self, width: int):
        self.width = width
        super().__init__({
            "en": In(1),
            "valid": In(1),
            "last": In(1),
            "add": In(signed(width)),
            "carry": In(1),
            "result": Out(signed(width)),
        })

    def elaborate(self, platform):
        m = Module()
        acc = Signal(signed(self.width))
        total = Signal(signed(self.width))
        result = Signal(signed(self.width), reset_less=True)
        m.d.comb += [total.eq(acc + self.add + self.carry), self.result.eq(result)]
        with m.If(self.en & self.valid):
            with m.If(self.last):
                m.d.sync += [result.eq(total), acc.eq(0)]
            with m.Else():
                m.d.sync += acc.eq(total)
        return m


class MacBackend(wiring.Component):
    """Everything after the terms are formed: term registers, one adder tree and one
    accumulator per slot, and the output register.

    `slots` is 1 (one accumulator) or 2 (`dual`: even and odd exponents). On each edge with
    `en` high the backend takes one beat: `valid`, `last` and, per slot, Q terms and Q carry
    bits (bit i for lane i; a lane contributes term + carry, see ShiftSign). The dot product
    that a beat with `last` closes appears on `acc` with `out_valid` high `latency` enabled
    edges after that beat was taken. `out_valid` resets to 0.
    """

    def __init__(self, lanes: int, slots: int, term_width: int, acc_bits: int):
        self.lanes = lanes
        self.slots = slots
        self.term_width = term_width
        self.acc_bits = acc_bits
        self.tree_stages = tree_stages(lanes)
        # term register + tree + accumulator/result register
        self.latency = 1 + self.tree_stages + 1
        super().__init__({
            "en": In(1),
            "valid": In(1),
            "last": In(1),
            "terms": In(data.ArrayLayout(data.ArrayLayout(signed(term_width), lanes), slots)),
            "carries": In(data.ArrayLayout(unsigned(lanes), slots)),
            "out_valid": Out(1),
            "acc": Out(data.ArrayLayout(signed(acc_bits), slots)),
        })

    def elaborate(self, platform):
        m = Module()
        en = self.en
        # Stage: the registered terms and carries.
        terms = Signal.like(self.terms, reset_less=True)
        carries = Signal.like(self.carries, reset_less=True)
        valid = Signal()
        last = Signal(reset_less=True)
        with m.If(en):
            m.d.sync += [terms.eq(self.terms.as_value()), carries.eq(self.carries.as_value()),
                         valid.eq(self.valid), last.eq(self.last)]
        # valid/last travel beside the partial sums through the tree's stages.
        for k in range(self.tree_stages):
            v, lst = Signal(name=f"valid_t{k}"), Signal(name=f"last_t{k}", reset_less=True)
            with m.If(en):
                m.d.sync += [v.eq(valid), lst.eq(last)]
            valid, last = v, lst
        out_valid = Signal()
        with m.If(en):
            m.d.sync += out_valid.eq(valid & last)
        m.d.comb += self.out_valid.eq(out_valid)
        for s in range(self.slots):
            m.submodules[f"tree{s}"] = tree = AdderTree(self.lanes, self.term_width,
                                                        self.acc_bits)
            m.submodules[f"acc{s}"] = acc = Accumulator(self.acc_bits)
            m.d.comb += [
                tree.en.eq(en),
                tree.terms.eq(terms[s].as_value()),
                tree.carries.eq(carries[s]),
                acc.en.eq(en),
                acc.valid.eq(valid),
                acc.last.eq(last),
                acc.add.eq(tree.sum),
                acc.carry.eq(tree.carry),
                self.acc[s].eq(acc.result),
            ]
        return m
