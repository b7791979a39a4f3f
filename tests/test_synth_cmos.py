import pytest

from asq_hw.synth.cmos import parse_cmos_stat, transistor_count
from asq_hw.synth.tools import SynthError


# Yosys' CMOS table: NOT 2, NAND 4, NOR 4, $_DFF_P_ 16; async set/reset flip-flops are ours: 20.
@pytest.mark.synth
@pytest.mark.parametrize("body, expected", [
    ("input a, output y); assign y = ~a;", 2),
    ("input a, input b, output y); assign y = ~(a & b);", 4),
    ("input a, input b, output y); assign y = ~(a | b);", 4),
    ("input clk, input d, output reg q); always @(posedge clk) q <= d;", 16),
    ("input clk, input d, input r, output reg q);\n"
     "  always @(posedge clk or posedge r) if (r) q <= 0; else q <= d;", 20),
    ("output y); assign y = 1'b1;", 0),
])
def test_known_transistor_counts(body, expected):
    assert transistor_count(f"module t ({body}\nendmodule\n", "t") == expected


@pytest.mark.synth
def test_hierarchy_is_flattened_and_counted_once_per_instance():
    text = ("module inv (input a, output y); assign y = ~a; endmodule\n"
            "module t (input a, input b, output y, output z);\n"
            "  inv u0 (.a(a), .y(y));\n  inv u1 (.a(b), .y(z));\nendmodule\n")
    assert transistor_count(text, "t") == 4


@pytest.mark.synth
def test_sync_reset_becomes_gates_before_a_plain_flip_flop():
    plain = "module t (input clk, input d, output reg q); always @(posedge clk) q <= d; endmodule"
    reset = ("module t (input clk, input d, input r, output reg q);\n"
             "  always @(posedge clk) if (r) q <= 0; else q <= d;\nendmodule")
    # d & ~r in front of the flip-flop: more than the flip-flop alone, no '+' left over.
    assert transistor_count(reset, "t") > transistor_count(plain, "t") == 16


def test_parse_adds_async_flip_flops_to_yosys_figure():
    stat = {"num_cells_by_type": {"$_NAND_": 3, "$_DFF_PP0_": 2},
            "estimated_num_transistors": "12+"}
    assert parse_cmos_stat(stat) == (52, {"$_NAND_": 3, "$_DFF_PP0_": 2})


def test_parse_refuses_cells_without_a_figure():
    stat = {"num_cells_by_type": {"$_DLATCH_P_": 1}, "estimated_num_transistors": "0+"}
    with pytest.raises(SynthError, match=r"^no transistor count for cell type \$_DLATCH_P_"):
        parse_cmos_stat(stat)


def test_parse_notices_a_changed_cost_table():
    # A '+' with no async flip-flop means Yosys left out something we did not account for.
    stat = {"num_cells_by_type": {"$_NAND_": 1}, "estimated_num_transistors": "4+"}
    with pytest.raises(SynthError, match=r"cost table changed"):
        parse_cmos_stat(stat)
