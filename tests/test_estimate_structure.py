"""asq_hw/estimate/structure.py against the RTL it mirrors: every register bit of the
Amaranth design (counted in its RTLIL: $dff cells and registered memory reads) equals the
structure's raw count; the merged count obeys the sharing rules of the array; Yosys'
alumacc overflow test is reproduced bit for bit."""

import re

import pytest
from amaranth.back import rtlil

from asq_hw.config import PEConfig
from asq_hw.estimate.structure import macc_may_overflow, structure
from hw.array import PostArray
from hw.gen import make_pe


def rtl_register_bits(component) -> int:
    """Register bits of an Amaranth design: $dff widths plus clocked memory read ports."""
    text = rtlil.convert(component, name="top", emit_src=False)
    bits = 0
    for m in re.finditer(r"cell \$(dff|memrd_v2) \S+\n(.*?)\n  end", text, re.S):
        kind, body = m.groups()
        width = int(re.search(r"parameter \\WIDTH (\d+)", body).group(1))
        if kind == "dff" or re.search(r"parameter \\CLK_ENABLE 1\n", body):
            bits += width
    return bits


CASES = [
    ({"lanes": 2}, "post", None),
    ({"wbits": 2, "lanes": 3}, "post", None),
    ({"wbits": 6, "abits": 8, "act_signed": True, "lanes": 5, "frac_bits": 12}, "post", None),
    ({"wbits": 3, "abits": 2, "variant": "dual", "lanes": 1}, "post", None),
    ({"wbits": 5, "abits": 3, "variant": "dual", "lanes": 4}, "post", 3),
    ({"wbits": 4, "abits": 4, "lanes": 6, "acc_bits": 12}, "post", 2),
    ({"lanes": 3}, "int", None),
    ({"wbits": 6, "abits": 5, "act_signed": True, "lanes": 2}, "pot", None),
]


@pytest.mark.parametrize("fields,kind,rows", CASES)
def test_raw_register_bits_equal_the_rtl(fields, kind, rows):
    cfg = PEConfig(**fields)
    comp = PostArray(cfg, rows) if rows else make_pe(cfg, kind)
    st = structure(cfg, kind, rows or 1)
    assert st.ff_raw == rtl_register_bits(comp)
    assert 0 < st.ff <= st.ff_raw


def test_rows_share_the_activation_side_and_the_control_chain():
    cfg = PEConfig(wbits=4, abits=5, lanes=3)
    one, four = structure(cfg, "post", 1), structure(cfg, "post", 4)
    shared = {"act", "lut", "control"}
    for group, n in four.ff_groups.items():
        assert n == one.ff_groups[group] * (1 if group in shared else 4), group
    assert four.roms == one.roms == 3                # one ROM per lane, whatever the rows
    assert four.adders == one.adders                     # per row: every row has the same


def test_known_merges():
    # wbits 2: the decoder's odd and shift fields are constant, so the lut variant never
    # reads its LUT: no ROM, no ROM register.
    st = structure(PEConfig(wbits=2, abits=4, lanes=2))
    assert st.rom is None and "lut" not in st.ff_groups
    # ... and the dual variant's odd slot is dead: one accumulator, not two.
    assert structure(PEConfig(wbits=2, variant="dual")).slots == 1
    assert structure(PEConfig(wbits=3, variant="dual")).slots == 2
    # An unsigned term's top bit is nz & neg, the carry: merged (one lane, lut, W4A4).
    st = structure(PEConfig(lanes=1))
    assert st.ff_raw - st.ff == 2                    # the term's and the tree copy's


def test_macc_may_overflow_matches_yosys():
    # Exact below 21 bits: 2 x (2**11 - 1) + 3 needs 13 bits.
    assert macc_may_overflow([11, 11, 2], 12)
    assert not macc_may_overflow([11, 11], 12)
    # Above 20 bits Yosys rounds the small addends away: no overflow reported at 29.
    assert not macc_may_overflow([28, 28, 2], 29)
    assert macc_may_overflow([28, 28, 2], 28)


def test_wide_adders_merge_into_carry_save_trees():
    # W6 lut, 5 lanes: 28-bit terms, so the first stage's three adders merge into one (as
    # Yosys did: one 7-addend $macc), then the third level and the accumulator.
    st = structure(PEConfig(wbits=6, abits=2, lanes=5, frac_bits=10))
    assert sorted(len(a.ports) for a in st.adders) == [3, 3, 7]
    # W4A4: 16-bit terms, no merge.
    assert all(len(a.ports) == 3 for a in structure(PEConfig(lanes=5)).adders)


def test_int_products_carry_no_carry_in_so_their_first_levels_merge():
    # `p0 + p1 + 0`: Yosys drops the + 0, so the two-product sums cannot overflow and merge
    # into the next level (one 4-product $macc, as synth_ecp5 gave: 19 CCU2C for W3A8s q4).
    st = structure(PEConfig(wbits=3, abits=8, act_signed=True, lanes=4), "int")
    assert [a.ports for a in st.adders] == [(11, 11, 11, 11), (23, 23)]
    # DSP post-adders take the product pairs first: what is left is one plain adder.
    assert [a.ports for a in st.dsp_adders] == [(12, 12), (23, 23)]
    assert structure(PEConfig(lanes=4)).dsp_adders == ()


def test_signed_terms_shorten_the_first_stage_chains():
    st = structure(PEConfig(wbits=3, abits=3, act_signed=True, lanes=5, frac_bits=6,
                            max_len=65536))
    first = [a for a in st.adders if a.stage == 0]
    assert first and all(a.effective == a.width - 1 for a in first)
    assert all(a.effective == a.width for a in st.adders if a.stage != 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^kind must be one of post, int, pot, not 'x'$"):
        structure(PEConfig(), "x")
    with pytest.raises(ValueError, match=r"^rows must be 1 for a int baseline PE, not 2$"):
        structure(PEConfig(), "int", 2)
