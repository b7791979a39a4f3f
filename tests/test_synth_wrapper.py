import random
import subprocess

import pytest

from asq_hw.designs import PNR_TARGETS
from asq_hw.synth.wrapper import WRAPPER_TOP, verilog_id, wrap, wrapper_flops
from asq_hw.synth.yosys import synth_counts
from asq_hw.toolchain import find_simulator
from tests.simulators import needs_icarus

# Inputs in an escaped name, a plain one and a bus; a combinational and a registered output.
DUT = r"""
module dut (input clk, input [2:0] \a.b , input c, input [1:0] d,
            output [3:0] y, output reg z);
  initial z = 1'b0;
  assign y = {\a.b [2:1] ^ d, c, \a.b [0]};
  always @(posedge clk) z <= c ^ d[0];
endmodule
"""
DUT_PORTS = [("clk", "input", 1), ("a.b", "input", 3), ("c", "input", 1), ("d", "input", 2),
             ("y", "output", 4), ("z", "output", 1)]

TB = f"""
module tb;
  reg clk = 0, din = 0;
  wire dout;
  reg [199:0] pattern;
  integer i;
  {WRAPPER_TOP} w (.asq_clk(clk), .asq_din(din), .asq_dout(dout));
  initial begin
    if (!$value$plusargs("pattern=%b", pattern)) $fatal(1, "no pattern");
    for (i = 0; i < 200; i = i + 1) begin
      din = pattern[i];
      #5 clk = 1;
      #1 $display("%b", dout);
      #4 clk = 0;
    end
    $finish;
  end
endmodule
"""


def reference(din_bits):
    """dout after each clock edge: the wrapper's shift register, DUT, output register and
    XOR tree (5 outputs -> 2 -> 1), stepped cycle by cycle."""
    sr, z, x0, x1, x2 = [0] * 6, 0, [0] * 5, [0] * 2, 0
    out = []
    for b in din_bits:
        ab, c, d = sr[0:3], sr[3], sr[4:6]
        y = [ab[0], c, ab[1] ^ d[0], ab[2] ^ d[1]]
        x2, x1, x0, z = x1[0] ^ x1[1], [x0[0] ^ x0[1] ^ x0[2] ^ x0[3], x0[4]], y + [z], c ^ d[0]
        sr = [b] + sr[:-1]
        out.append(x2)
    return out


@pytest.mark.rtl
@needs_icarus
def test_wrapper_drives_every_input_and_reaches_every_output(tmp_path):
    (tmp_path / "dut.v").write_text(DUT)
    (tmp_path / "wrap.v").write_text(wrap("dut", DUT_PORTS))
    (tmp_path / "tb.v").write_text(TB)
    iverilog = find_simulator("icarus")
    subprocess.run([str(iverilog), "-o", "sim", "tb.v", "wrap.v", "dut.v"], cwd=tmp_path,
                   check=True, capture_output=True)
    rng = random.Random(6)
    bits = [rng.randrange(2) for _ in range(200)]
    pattern = "".join(str(b) for b in reversed(bits))
    run = subprocess.run([str(iverilog.parent / "vvp"), "-n", "sim", f"+pattern={pattern}"],
                         cwd=tmp_path, check=True, capture_output=True, text=True)
    got = [int(line) for line in run.stdout.split() if line in ("0", "1")]
    assert got == reference(bits)
    assert 40 < sum(got) < 160  # the check is not vacuous: dout toggles


def test_wrapper_text():
    text = wrap("dut", DUT_PORTS)
    assert f"module {WRAPPER_TOP} (input asq_clk, input asq_din, output asq_dout);" in text
    assert "reg [5:0] asq_sr" in text and "reg [4:0] asq_x0" in text
    assert ".\\a.b (asq_sr[2:0])" in text and ".clk(asq_clk)" in text
    assert ".d(asq_sr[5:4])" in text and ".z(asq_out[4:4])" in text
    assert "asq_x2[0] <= ^asq_x1[1:0];" in text
    assert wrapper_flops(DUT_PORTS) == 6 + 5 + 2 + 1


def test_verilog_id():
    assert verilog_id("acc_q") == "acc_q"
    assert verilog_id("u.lanes[0]") == "\\u.lanes[0] "


@pytest.mark.parametrize("ports, message", [
    ([("io", "inout", 1), ("y", "output", 1)], r"^port 'io' is inout: the wrapper supports only"),
    ([("a", "input", 0), ("y", "output", 1)], r"^port 'a' width must be a positive integer"),
    ([("a", "input", 1), ("a", "output", 1)], r"^port 'a' appears twice$"),
    ([("clk", "input", 2), ("y", "output", 1)], r"^clock port 'clk' must be a 1-bit input"),
    ([("a", "input", 4)], r"^the design has no output port"),
])
def test_bad_ports(ports, message):
    with pytest.raises(ValueError, match=message):
        wrap("dut", ports)


MAC = """
module mac8 (input clk, input rst, input [7:0] a, input [7:0] b, output reg [19:0] acc);
  always @(posedge clk)
    if (rst) acc <= 0; else acc <= acc + a * b;
endmodule
"""


@pytest.mark.synth
def test_wrapped_design_keeps_all_of_the_design():
    alone = synth_counts(MAC, "mac8", "ice40")
    ports = [tuple(p) for p in alone["ports"]]
    wrapped = synth_counts(MAC + wrap("mac8", ports), WRAPPER_TOP, "ice40")
    # Every flip-flop of the design survives, next to exactly the wrapper's own.
    assert wrapped["counts"]["ff"] == alone["counts"]["ff"] + wrapper_flops(ports) == 20 + 45
    # LUT mapping is heuristic: the same logic in another netlist maps to a few more or
    # fewer LUTs (187 alone, 185 wrapped with Yosys 0.70), but none of it is removed.
    assert wrapped["counts"]["lut"] >= 0.95 * alone["counts"]["lut"]
    assert wrapped["ports"] == [["asq_clk", "input", 1], ["asq_din", "input", 1],
                                ["asq_dout", "output", 1]]


# Under the wrapper, b is a one cycle late copy of a, so y = a(t-2) ^ a(t-2) = 0 always: a
# sequential optimiser (synth_ecp5 -dff, synth_ice40 -dff) removes all of it. The flows that
# build the fmax netlists must not.
TRAP = """
module trap (input clk, input a, input b, output reg y);
  reg a_q;
  always @(posedge clk) begin a_q <= a; y <= a_q ^ b; end
endmodule
"""
TRAP_PORTS = [("clk", "input", 1), ("a", "input", 1), ("b", "input", 1), ("y", "output", 1)]


@pytest.mark.synth
@pytest.mark.parametrize("target", PNR_TARGETS)
def test_fmax_flows_do_not_exploit_the_shift_register_correlation(target):
    wrapped = synth_counts(TRAP + wrap("trap", TRAP_PORTS), WRAPPER_TOP, target)
    assert wrapped["counts"]["ff"] == 2 + wrapper_flops(TRAP_PORTS) == 5
    assert wrapped["counts"]["lut"] >= 1
