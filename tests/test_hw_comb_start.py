"""hw/comb_start.py: the time-0 trigger of Amaranth's processes moved to the first clock
edge, and the plain Verilog bench of `verilog accel --vectors` (sim/plain_bench.py: `reg rst
= 1;` from time 0) that gets every logit of every image right in Icarus because of it."""

import json

import pytest

from hw.comb_start import RESET_CYCLES, comb_start
from tests.simulators import icarus_verdicts, needs_icarus

TEXT = """module \\top (a, clk, y);
  reg \\$auto$verilog_backend.cc:2355:dump_module$1  = 0;
  input clk;
  always @* begin
    if (\\$auto$verilog_backend.cc:2355:dump_module$1 ) begin end
  end
endmodule

module \\top.comb (x, y);
  reg \\$auto$verilog_backend.cc:2355:dump_module$2  = 0;
endmodule
"""


def test_clocked_modules_get_the_edge_and_the_rest_is_untouched():
    out = comb_start(TEXT)
    assert out.count("always @(posedge clk) \\$auto$verilog_backend.cc:2355:dump_module$1  "
                     "<= 1'h1;") == 1
    assert "dump_module$2  <=" not in out            # no clock: left as it was
    assert out.replace("\n  always @(posedge clk) \\$auto$verilog_backend.cc:2355:dump_module"
                       "$1  <= 1'h1;", "") == TEXT
    assert comb_start("no modules here") == "no modules here"
    with pytest.raises(ValueError, match="has no endmodule"):
        comb_start("module \\m (clk);\n  reg x;\n")
    assert RESET_CYCLES == 2


@pytest.mark.rtl
@needs_icarus
def test_a_plain_bench_with_reset_from_time_zero_gets_every_image_right(tmp_path, capsys):
    from asq_hw.cli import main
    from tests.array_export import trained_cnn

    assert main(["verilog", "accel", str(trained_cnn()), "--rows", "2", "--lanes", "3",
                 "--out", str(tmp_path), "--vectors", "3"]) == 0
    capsys.readouterr()
    man = json.loads((tmp_path / "asq_accel.json").read_text())
    assert man["reset"]["min_cycles"] == RESET_CYCLES
    # Without comb_start the first image came out wrong here (10 of its 10 logits).
    assert icarus_verdicts(tmp_path, "tb_asq_accel.v", "asq_accel.v") == [
        "PASS logits=30 bad=0 last_bad=0 cycle_bad=0 first_bad=-1"]
