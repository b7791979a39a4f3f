"""asq_hw/estimate/logic.py: LUT counts of truth tables and mux trees."""

import itertools

from asq_hw.estimate.logic import mux_luts, table_luts


def table(f, n):
    return tuple(int(f(*((a >> i) & 1 for i in range(n)))) for a in range(1 << n))


def test_mux_tree_luts():
    assert [mux_luts(n, 4) for n in (1, 4, 5, 7, 8, 13)] == [1, 1, 2, 2, 3, 4]
    assert [mux_luts(n, 6) for n in (6, 7, 11, 12)] == [1, 2, 2, 3]


def test_small_tables_cost_one_lut_each_unless_trivial():
    xor3 = table(lambda a, b, c: a ^ b ^ c, 3)
    copy = table(lambda a, b, c: b, 3)
    const = table(lambda a, b, c: 0, 3)
    assert table_luts((xor3,), 4) == 1
    assert table_luts((copy, const), 4) == 0
    assert table_luts((xor3, copy), 4) == 1


def test_wide_tables_share_cofactors_and_use_free_muxes():
    # A 6-input function: four distinct 4-input cofactors (LUTs) and three 2:1 muxes.
    f = table(lambda a, b, c, d, e, g: (a ^ b ^ c ^ d) if e == g else (a & b & c & d), 6)
    assert table_luts((f,), 4) == table_luts((f,), 4, 0)
    with_muxes = table_luts((f,), 4, 0)
    assert table_luts((f,), 4, 2) < with_muxes         # Xilinx MUXF7/MUXF8 are free
    assert table_luts((f, f), 4) == with_muxes         # the same table twice costs once
    assert table_luts((f,), 6) == 1


def test_every_3_input_function_on_2_input_gates_is_bounded():
    # Decomposition never costs more than the full Shannon tree (3 + 4 leaves).
    for bits in itertools.product((0, 1), repeat=8):
        assert table_luts((bits,), 2) <= 7
