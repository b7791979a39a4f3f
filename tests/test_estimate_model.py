"""asq_hw.estimate: the public estimate() and the target rules of model.py (block RAM and
DSP choices, flip-flop adjustments), with the committed coefficients."""

import pytest

from asq_hw.config import PEConfig
from asq_hw.designs import RESOURCE_KEYS as SYNTH_KEYS
from asq_hw.estimate import COEFFICIENTS, estimate, load_coefficients
from asq_hw.estimate.model import BRAM_RULES, _mux_depth, flip_flops, rom_blocks, timing_stages
from asq_hw.estimate.structure import structure


def test_keys_are_synths():
    e = estimate(PEConfig(lanes=4), "ice40")
    assert tuple(e.values) == SYNTH_KEYS
    assert list(e.to_dict())[:len(SYNTH_KEYS)] == list(SYNTH_KEYS)
    assert all(isinstance(e.values[k], int) for k in SYNTH_KEYS if k != "fmax_mhz")
    assert e.values["fmax_mhz"] > 0


def test_coefficients_carry_their_provenance():
    c = load_coefficients()
    prov = c["provenance"]
    assert prov["command"].startswith("asq-hw calibrate")
    assert {"date", "tools", "targets", "points", "wall_s"} <= set(prov)
    assert set(c["lut"]) == {"ice40", "ecp5", "xc7"} and set(c["timing"]) == {"ice40", "ecp5"}
    assert COEFFICIENTS.name == "coefficients.json"


@pytest.mark.parametrize("target", ["ice40", "ecp5", "xc7"])
def test_bigger_designs_cost_more(target):
    small = estimate(PEConfig(lanes=2), target).values
    big = estimate(PEConfig(lanes=8), target).values
    array = estimate(PEConfig(lanes=8), target, rows=4).values
    for k in ("lut", "ff", "carry", "transistors"):
        assert small[k] < big[k] < array[k], k


def test_lut_rom_goes_to_block_ram_where_yosys_puts_it():
    a8 = PEConfig(wbits=4, abits=8, lanes=3)             # 256 x 16 bit per lane
    assert estimate(a8, "ice40").values["bram"] == 3
    assert estimate(a8, "ecp5").values["bram"] == 3
    assert estimate(a8, "xc7").values["bram"] == 0       # 1/64 per bit: logic is cheaper
    wide = PEConfig(wbits=4, abits=8, frac_bits=16, lanes=1)    # 24-bit words
    assert estimate(wide, "ice40").values["bram"] == 2
    assert estimate(PEConfig(abits=6, frac_bits=10), "ice40").values["bram"] == 0   # a tie
    assert estimate(PEConfig(abits=8, variant="dual"), "ice40").values["bram"] == 0
    # The block RAM takes the read register along.
    st = structure(a8)
    assert flip_flops(st, "ice40") == st.ff - st.rom_regs
    assert rom_blocks(st, "ice40") == 1 and BRAM_RULES["ice40"]["width"] == 16


def test_dsps_only_for_int_multipliers():
    cfg = PEConfig(wbits=4, abits=4, lanes=3)
    assert estimate(cfg, "ecp5", kind="int").values["dsp"] == 3
    assert estimate(cfg, "xc7", kind="int").values["dsp"] == 0         # 8-bit products
    assert estimate(cfg.replace(abits=8), "xc7", kind="int").values["dsp"] == 3
    assert estimate(cfg, "ice40", kind="int").values["dsp"] == 0
    for kind in ("post", "pot"):
        assert estimate(cfg, "ecp5", kind=kind).values["dsp"] == 0


def test_xc7_flip_flop_rules():
    st = structure(PEConfig(lanes=8))
    assert flip_flops(st, "xc7") == st.ff - st.last_chain          # one SRL16E
    dual = structure(PEConfig(wbits=4, variant="dual", lanes=4))
    assert flip_flops(dual, "xc7") == dual.ff - dual.last_chain + 2 * 4


def test_estimate_explains_itself():
    e = estimate(PEConfig(abits=8, lanes=2), "ice40", rows=4)
    assert e.rom == "2 x 256 x 16 bit (1 block RAM each), shared by the rows"
    # A 32-bit accumulator's carry chain is longer than anything before it (21-bit adds).
    assert e.critical_stage == "accumulate"
    # The registers of each block, from the RTL's widths (W4A8, 2 lanes, 4 rows, F 8):
    # the 8-bit activation of each lane; one 16-bit word per lane's LUT ROM; per row and
    # lane a 20-bit term; per row the 32-bit accumulator and its 32-bit result register.
    ff = e.ff_by_block
    assert (ff["act"], ff["lut"], ff["term"], ff["acc"]) == (2 * 8, 2 * 16, 4 * 2 * 20,
                                                             4 * 2 * 32)
    x = estimate(PEConfig(), "xc7")
    assert "no open place and route" in x.fmax_note


def test_bad_arguments():
    with pytest.raises(ValueError,
                       match=r"^target must be one of ice40, ecp5, xc7, osu018, not 'gw'$"):
        estimate(PEConfig(), "gw")
    with pytest.raises(ValueError, match=r"^kind must be one of post, int, pot, not 'x'$"):
        estimate(PEConfig(), "ice40", kind="x")
    with pytest.raises(ValueError, match=r"^rows must be an integer from 1 to 1024, not 0$"):
        estimate(PEConfig(), "ice40", rows=0)
    with pytest.raises(ValueError, match=r"^rows applies to the POST array only"):
        estimate(PEConfig(), "ice40", kind="int", rows=2)


def test_term_stage_depth_is_one_select_bit_per_lut4_level():
    # A 2:1 mux takes 3 of a LUT4's inputs, a 4:1 mux all 6 of a LUT6; then sign and zero.
    assert [_mux_depth(d, 4) for d in (1, 2, 4, 5, 8)] == [1, 2, 3, 4, 4]
    assert [_mux_depth(d, 6) for d in (1, 2, 4, 5, 16)] == [1, 2, 2, 3, 3]
    st = structure(PEConfig(wbits=5, abits=8, frac_bits=16, lanes=2), "post", 1)
    stages = dict(timing_stages(st, "ecp5"))
    assert stages["term"]["bram"] == 1           # the ROM is in block RAM: its clock-to-out
    assert stages["term"]["lut_levels"] == max(_mux_depth(d, 4) for d, _ in st.terms)


def test_xc7_int_counts_only_fabric_adders_and_multipliers():
    # Measured (synth_xilinx): W5A6s q2 6 CARRY4, W3A8s q4 10: the DSP48E1s take the product
    # pairs and the multipliers' own carries; a 4x4 INT PE's multipliers stay in logic.
    from asq_hw.estimate.model import carry_cells, fabric_mul_bits

    for (w, a, q), carry in (((5, 6, 2), 6), ((3, 8, 4), 10)):
        st = structure(PEConfig(wbits=w, abits=a, act_signed=True, lanes=q), "int")
        assert carry_cells(st, "xc7") == carry and fabric_mul_bits(st, "xc7") == 0
        assert estimate(st.cfg, "xc7", kind="int").values["carry"] == carry
    small = structure(PEConfig(wbits=4, abits=4, lanes=2), "int")
    assert fabric_mul_bits(small, "xc7") == 2 * 16 and fabric_mul_bits(small, "ecp5") == 0
