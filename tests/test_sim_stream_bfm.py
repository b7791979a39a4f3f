"""sim/stream_bfm.py: the Verilog stream wrapper's interface and its refusals (the wrapper
at work: tests/test_sim_accel*.py, tests/test_cli_accel*.py)."""

import re

import pytest

from sim.stream_bfm import STREAM_ROLES, SUFFIX, stream_bfm

WIDTHS = {"in_data": 8, "out_data": 57}
PORTS = [{"name": r, "dir": "out" if r in ("in_ready", "out_valid", "out_data", "out_last")
          else "in", "width": WIDTHS.get(r, 1), "role": r} for r in STREAM_ROLES]
PORTS += [{"name": "status_framing", "dir": "out", "width": 1, "role": "status_framing"},
          {"name": "probe_addr", "dir": "out", "width": 10, "role": "probe_addr"}]
MAN = {"top": "asq_accel", "ports": PORTS, "input": {"beats": 64}, "output": {"beats": 10},
       "cycles_per_image": 7}


def test_wrapper_drives_the_streams_and_passes_the_rest_out():
    text, man = stream_bfm("module asq_accel(); endmodule\n", MAN, 10)
    assert text.startswith("module asq_accel(); endmodule")
    assert man["top"] == "asq_accel" + SUFFIX and man["design_top"] == "asq_accel"
    assert [p["name"] for p in man["ports"]] == ["status_framing", "probe_addr"]
    assert man["bfm"] == {"clock": "clk", "period_ns": 10, "reset_cycles": 2, "stall_len": 64,
                          "gap_bits": 8, "in_bits": 8, "out_bits": 57, "in_beats": 64,
                          "out_beats": 10}
    assert man["cycles_per_image"] == 7 and MAN["top"] == "asq_accel"     # input untouched
    w = text[text.index(f"module asq_accel{SUFFIX}"):]
    assert "reg [511:0] bench_in /*verilator public_flat_rw*/;" in w
    assert "reg [579:0] bench_out /*verilator public_flat_rd*/;" in w   # 10 x (57 + 1)
    assert "output wire [9:0] probe_addr /*verilator public_flat_rd*/" in w
    assert "always #5 clk = ~clk;" in w
    # every port of the design is connected by name
    assert sorted(re.findall(r"\.(\w+)\(\1\)", w)) == sorted(p["name"] for p in PORTS)


@pytest.mark.parametrize("period", [0, 1, 7, -2, 10.0, "10"])
def test_period_must_be_an_even_integer(period):
    with pytest.raises(ValueError, match="period_ns"):
        stream_bfm("", MAN, period)


def test_each_stream_role_exactly_once():
    with pytest.raises(ValueError, match="exactly one port with role out_last, not 0"):
        stream_bfm("", {**MAN, "ports": [p for p in PORTS if p["role"] != "out_last"]}, 10)


def test_other_inputs_and_clashing_names_are_refused():
    extra_in = {**MAN, "ports": PORTS + [{"name": "mode", "dir": "in", "width": 1,
                                          "role": "mode"}]}
    with pytest.raises(ValueError, match="input port 'mode' has no stream role"):
        stream_bfm("", extra_in, 10)
    clash = {**MAN, "ports": PORTS + [{"name": "bench_go", "dir": "out", "width": 1,
                                       "role": "x"}]}
    with pytest.raises(ValueError, match="'bench_go' is not a plain Verilog identifier"):
        stream_bfm("", clash, 10)
