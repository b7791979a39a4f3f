# amaranth: UnusedElaboratable=no
# (the bad-input test makes a decoder that is never elaborated)

import pytest
from amaranth.sim import Simulator

from golden.codes import decode_tables
from hw.decode import CodeDecoder, decode_row, shift_shape


def decode_all(wbits):
    """(neg, shift, odd, nonzero) of every code, read from the simulated decoder."""
    dut = CodeDecoder(wbits)
    rows = []

    async def bench(ctx):
        for code in range(2**wbits):
            ctx.set(dut.code, code)
            rows.append((ctx.get(dut.neg), ctx.get(dut.shift), ctx.get(dut.odd),
                         ctx.get(dut.nonzero)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return rows


@pytest.mark.parametrize("wbits", range(2, 7))
def test_decoder_matches_golden_table_for_every_code(wbits):
    table = decode_tables(wbits)          # rows (sgn, shift, odd, nonzero)
    for code, (neg, shift, odd, nonzero) in enumerate(decode_all(wbits)):
        sgn, g_shift, g_odd, g_nz = (int(v) for v in table[code])
        assert neg == int(sgn < 0), code
        assert (shift, odd, nonzero) == (g_shift, g_odd, g_nz), code


@pytest.mark.parametrize("wbits", range(2, 7))
def test_shift_port_holds_J(wbits):
    big_j = (2 ** (wbits - 1) - 2) // 2
    assert 2 ** shift_shape(wbits).width > big_j
    assert decode_row(1, wbits) == (big_j, 0, 1)        # magnitude 1: whole shift J


def test_negative_zero_decodes_to_zero():
    assert decode_all(4)[8][1:] == (0, 0, 0)            # s = 1, m = 0


def test_bad_wbits_names_field():
    with pytest.raises(ValueError, match=r"^wbits must be an integer from 2 to 6, not 7$"):
        CodeDecoder(7)
