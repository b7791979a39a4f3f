"""The code decoder (spec sections 1 and 3): a POST weight code to sign, shift, parity, zero.

A small combinational table with one row per magnitude m = 0 .. M. The rows are computed here
from the spec's formulas (e = m - 1, shift = J - e // 2, odd = e % 2), not copied from the
golden model, so the test that compares the two checks something.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from asq_hw.config import WBITS_RANGE, _check_int


def shift_shape(wbits: int) -> Shape:
    """Shape of the whole shift J - e // 2, which lies in 0 .. J (one bit at least, so that
    wbits 2, where J = 0, needs no special case downstream)."""
    big_j = (2 ** (wbits - 1) - 2) // 2
    return unsigned(max(1, big_j.bit_length()))


def decode_row(m: int, wbits: int) -> tuple[int, int, int]:
    """(shift, odd, nonzero) of magnitude code m; a zero weight (m == 0) decodes to (0, 0, 0)."""
    if m == 0:
        return 0, 0, 0
    big_j = (2 ** (wbits - 1) - 2) // 2
    e = m - 1
    return big_j - e // 2, e % 2, 1


class CodeDecoder(wiring.Component):
    """Combinational decoder of one `wbits`-bit code.

    Ports: `code` in; `neg` (the sign bit s), `shift` (J - e // 2), `odd` (e % 2) and `nonzero`
    (m != 0) out. For a zero magnitude `shift` and `odd` are 0 whatever the sign bit, so a
    term formed from them is 0 once gated by `nonzero`.
    """

    def __init__(self, wbits: int):
        _check_int("wbits", wbits, *WBITS_RANGE)
        self.wbits = wbits
        super().__init__({
            "code": In(unsigned(wbits)),
            "neg": Out(1),
            "shift": Out(shift_shape(wbits)),
            "odd": Out(1),
            "nonzero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.wbits
        mag = self.code[:w - 1]
        m.d.comb += self.neg.eq(self.code[w - 1])
        with m.Switch(mag):
            for mv in range(2 ** (w - 1)):
                shift, odd, nonzero = decode_row(mv, w)
                with m.Case(mv):
                    m.d.comb += [
                        self.shift.eq(shift),
                        self.odd.eq(odd),
                        self.nonzero.eq(nonzero),
                    ]
        return m
