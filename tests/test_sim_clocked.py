"""sim/clocked.py: the free-running-clock wrapper around a generated design."""

import re

import pytest

from sim.clocked import SUFFIX, clocked

PORTS = [{"name": "clk", "dir": "in", "width": 1, "role": "clk"},
         {"name": "rst", "dir": "in", "width": 1, "role": "rst"},
         {"name": "in_data", "dir": "in", "width": 8, "role": "in_data"},
         {"name": "out_data", "dir": "out", "width": 57, "role": "out_data"},
         {"name": "out_valid", "dir": "out", "width": 1, "role": "out_valid"}]
MAN = {"top": "asq_accel", "ports": PORTS, "cycles_per_image": 7}


def _wrapper(text: str) -> str:
    return text[text.index(f"module asq_accel{SUFFIX}"):]


def test_wrapper_is_the_top_with_every_port_but_the_clock():
    text, man = clocked("module asq_accel(); endmodule\n", MAN, 10)
    assert text.startswith("module asq_accel(); endmodule")
    assert man["top"] == "asq_accel" + SUFFIX and man["design_top"] == "asq_accel"
    assert [p["name"] for p in man["ports"]] == ["rst", "in_data", "out_data", "out_valid"]
    assert man["clock"] == {"name": "clk", "period_ns": 10, "first_rise_ns": 5}
    assert man["cycles_per_image"] == 7 and MAN["top"] == "asq_accel"   # input untouched
    w = _wrapper(text)
    assert "input wire [7:0] in_data" in w and "output wire [56:0] out_data" in w
    assert "input wire rst" in w and "output wire out_valid" in w
    assert re.search(r"always #5 clk = ~clk;", w)
    # every port of the design is connected by name, the clock included
    assert sorted(re.findall(r"\.(\w+)\(\1\)", w)) == sorted(p["name"] for p in PORTS)


@pytest.mark.parametrize("period", [0, 1, 7, -2, 10.0, "10"])
def test_period_must_be_an_even_integer(period):
    with pytest.raises(ValueError, match="period_ns"):
        clocked("", MAN, period)


def test_exactly_one_clock_port():
    two = {**MAN, "ports": PORTS + [{**PORTS[0], "name": "clk2"}]}
    with pytest.raises(ValueError, match="exactly one port with role clk, not 2"):
        clocked("", two, 10)
    with pytest.raises(ValueError, match="not 0"):
        clocked("", {**MAN, "ports": PORTS[1:]}, 10)


def test_escaped_names_are_refused():
    bad = {**MAN, "ports": PORTS + [{"name": "a.b", "dir": "in", "width": 1, "role": "x"}]}
    with pytest.raises(ValueError, match="'a.b' is not a plain Verilog identifier"):
        clocked("", bad, 10)
