"""Small arithmetic blocks of the requantization + ASQ adapter unit (hw/accel/requant.py).

- `round_shift(v, s)`: floor(v / 2**s + 1/2) for a constant s (golden.asq_int._round_shift);
- `clamp(v, lo, hi)`: saturation to constant bounds;
- `per_layer(m, index, sig, values)`: a constant per layer (or per (layer, step)) selected by
  a registered index: a small ROM in logic;
- `ReciprocalDivider`: R = (2**RECIP_SHIFT + b // 2) // b (golden.asq_int.reciprocal) by a
  restoring serial divider, one quotient bit per cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden import asq_int as Q


def round_shift(v, s: int):
    """(v + 2**(s-1)) >> s, arithmetic (v signed); v itself for s == 0."""
    if s == 0:
        return v
    return (v + (1 << (s - 1))) >> s


def clamp(v, lo: int, hi: int):
    return Mux(v < lo, lo, Mux(v > hi, hi, v))


def per_layer(m: Module, index, sig: Signal, values) -> Signal:
    """Drive `sig` with values[index] (combinational; `values` a list or a dict from case
    to value); 0 for an index without a value. A Mux chain, not a Switch: Verilog's
    continuous assignment, which event-driven simulators (Icarus) evaluate at time 0; an
    always @* on a register that keeps its initial value (layer 0) would never run."""
    items = values.items() if isinstance(values, dict) else enumerate(values)
    expr = 0
    for case, value in items:
        expr = Mux(index == case, value, expr)
    m.d.comb += sig.eq(expr)
    return sig


class ReciprocalDivider(wiring.Component):
    """`start` (one cycle, `busy` low) with the beta code `b` (BETA_MIN .. BETA_MAX): `busy`
    rises at that edge and falls RECIP_BITS edges later with `q` = golden.asq_int.reciprocal
    (b). The dividend 2**RECIP_SHIFT + b // 2 has its top bits below BETA_MIN, so the first
    RECIP_SHIFT + 1 - RECIP_BITS quotient bits are 0 and the remainder starts with them."""

    def __init__(self):
        super().__init__({
            "start": In(1),
            "b": In(Q.BETA_BITS),
            "busy": Out(1),
            "q": Out(Q.RECIP_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        nq = Q.RECIP_BITS
        b = Signal(Q.BETA_BITS)
        rem = Signal(Q.BETA_BITS + 1)
        low = Signal(nq)                    # the dividend's bits still to bring down
        count = Signal(range(nq + 1))
        trial = Signal(Q.BETA_BITS + 2)
        m.d.comb += [trial.eq(Cat(low[-1], rem)), self.busy.eq(count != 0)]
        with m.If(self.start & (count == 0)):
            dividend = Signal(Q.RECIP_SHIFT + 1)
            m.d.comb += dividend.eq((1 << Q.RECIP_SHIFT) + (self.b >> 1))
            m.d.sync += [b.eq(self.b), rem.eq(dividend[nq:]), low.eq(dividend[:nq]),
                         count.eq(nq), self.q.eq(0)]
        with m.Elif(count != 0):
            ge = trial >= b
            m.d.sync += [rem.eq(Mux(ge, trial - b, trial)), low.eq(low << 1),
                         self.q.eq(Cat(ge, self.q[:-1])), count.eq(count - 1)]
        return m
