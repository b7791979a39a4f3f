import pytest

from asq_hw.synth import pnr
from asq_hw.synth.tools import SynthError
from asq_hw.synth.yosys import synth_counts

# As nextpnr-ice40 0.11 writes them: after placement, then after routing.
ICE40_LOG = """\
Info: Max frequency for clock 'asq_clk$SB_IO_IN_$glb_clk': 90.78 MHz (FAIL at 100.00 MHz)
Info: Max delay <async>                           -> posedge asq_clk$SB_IO_IN_$glb_clk: 1.06 ns
Info: Routing..
Warning: Max frequency for clock 'asq_clk$SB_IO_IN_$glb_clk': 91.40 MHz (FAIL at 100.00 MHz)
Info: Max delay posedge asq_clk$SB_IO_IN_$glb_clk -> <async>                          : 1.13 ns
"""
ECP5_LOG = """\
Info: Max frequency for clock '$glbnet$asq_clk$TRELLIS_IO_IN': 135.48 MHz (FAIL at 200.00 MHz)
Info: Max frequency for clock '$glbnet$asq_clk$TRELLIS_IO_IN': 114.71 MHz (FAIL at 200.00 MHz)
"""


def test_parse_takes_the_post_route_figure():
    assert pnr.parse_fmax(ICE40_LOG) == 91.40
    assert pnr.parse_fmax(ECP5_LOG) == 114.71


def test_parse_picks_the_design_clock_among_several():
    log = ECP5_LOG + ("Info: Max frequency for clock '$glbnet$pll_out': 300.00 MHz "
                      "(PASS at 12.00 MHz)\n")
    assert pnr.parse_fmax(log) == 114.71
    # A single clock is the design's whatever its name.
    assert pnr.parse_fmax("Info: Max frequency for clock 'x': 1234.5 MHz (PASS at 1.00 MHz)") \
        == 1234.5


def test_parse_refuses_missing_or_ambiguous_clocks():
    with pytest.raises(SynthError, match=r"^nextpnr reported no 'Max frequency for clock' line$"):
        pnr.parse_fmax("Info: Program finished normally.\n")
    two = ("Info: Max frequency for clock 'a': 10.00 MHz (PASS at 1.00 MHz)\n"
           "Info: Max frequency for clock 'b': 20.00 MHz (PASS at 1.00 MHz)\n")
    with pytest.raises(SynthError, match=r"^cannot tell the design clock 'asq_clk' among "
                                         r"nextpnr's clocks a, b$"):
        pnr.parse_fmax(two)


ADD8 = """
module add8 (input clk, input [7:0] a, input [7:0] b, output reg [8:0] q);
  always @(posedge clk) q <= a + b;
endmodule
"""
ADD8_PORTS = [("clk", "input", 1), ("a", "input", 8), ("b", "input", 8), ("q", "output", 9)]


@pytest.mark.synth
@pytest.mark.parametrize("target, device", [("ice40", "hx8k-ct256"),
                                            ("ecp5", "lfe5u-25f-6-cabga381")])
def test_fmax_of_a_registered_adder(target, device):
    r = pnr.measure_fmax(ADD8, "add8", target, ADD8_PORTS)
    assert r["device"] == device and r["seed"] == pnr.SEED and r["note"] is None
    # An 8-bit ripple carry between registers: tens to a few hundred MHz on these parts.
    assert 40 < r["fmax_mhz"] < 600
    if target == "ice40":
        # Fixed seed: the same placement, the same figure.
        assert pnr.measure_fmax(ADD8, "add8", target, ADD8_PORTS)["fmax_mhz"] == r["fmax_mhz"]


@pytest.mark.synth
def test_longer_carry_chain_is_slower():
    wide = ADD8.replace("add8", "add32").replace("[7:0]", "[31:0]").replace("[8:0]", "[32:0]")
    ports = [tuple(p) for p in synth_counts(wide, "add32", "ice40")["ports"]]
    f32 = pnr.measure_fmax(wide, "add32", "ice40", ports)["fmax_mhz"]
    f8 = pnr.measure_fmax(ADD8, "add8", "ice40", ADD8_PORTS)["fmax_mhz"]
    assert f32 < f8


@pytest.mark.synth
def test_design_larger_than_every_device_gets_no_fmax(monkeypatch):
    monkeypatch.setitem(pnr.DEVICES, "ice40",
                        [("tiny", ["--hx1k"], {"lut": 4, "ff": 4, "bram": 0, "dsp": 0})])
    r = pnr.measure_fmax(ADD8, "add8", "ice40", ADD8_PORTS)
    assert r["fmax_mhz"] is None and r["device"] is None
    assert r["note"].startswith("wrapped design does not fit tiny (lut ")


def test_xc7_has_no_place_and_route():
    with pytest.raises(ValueError, match=r"^target must be one of ice40, ecp5 for place and "
                                         r"route, not 'xc7'$"):
        pnr.measure_fmax(ADD8, "add8", "xc7", ADD8_PORTS)
