"""sim/plain_bench.py: the self-checking plain Verilog bench `verilog accel --vectors` writes;
that it passes on the real design is tests/test_hw_comb_start.py, that it fails when it
should is here."""

import json

import pytest

from sim.plain_bench import NAME, plain_bench
from tests.simulators import icarus_verdicts, needs_icarus

PORTS = [{"name": n, "dir": "in", "width": w, "role": n} for n, w in (
    ("clk", 1), ("rst", 1), ("in_valid", 1), ("in_ready", 1), ("in_data", 8), ("in_last", 1),
    ("out_valid", 1), ("out_ready", 1), ("out_data", 57), ("out_last", 1))]
MAN = {"top": "asq_accel", "ports": PORTS, "input": {"beats": 64}, "output": {"beats": 10},
       "reset": {"min_cycles": 2}, "cycles_per_image": 14328}


def test_bench_text_follows_the_manifest():
    tb = plain_bench(MAN, 5)
    assert "module tb_asq_accel;" in tb and "asq_accel dut (" in tb
    assert "reg [7:0] ins [0:319];" in tb and "reg [56:0] want [0:49];" in tb
    assert "if (resets == 2) rst <= 0;" in tb
    assert "!= 14328)" in tb and "quiet > 58312" in tb           # 4 x cycles + 1000
    with pytest.raises(ValueError, match="images must be at least 1, not 0"):
        plain_bench(MAN, 0)


@pytest.mark.rtl
@needs_icarus
def test_the_bench_reports_a_wrong_logit_and_where(tmp_path, capsys):
    from asq_hw.cli import main
    from tests.array_export import trained_cnn

    assert main(["verilog", "accel", str(trained_cnn()), "--rows", "2", "--lanes", "3",
                 "--out", str(tmp_path), "--vectors", "2"]) == 0
    assert NAME in capsys.readouterr().out
    man = json.loads((tmp_path / "asq_accel.json").read_text())
    assert (tmp_path / NAME).read_text() == plain_bench(man, 2)
    lines = (tmp_path / "logits.hex").read_text().split()
    lines[13] = format(int(lines[13], 16) ^ 1, f"0{len(lines[13])}x")    # image 1, logit 3
    (tmp_path / "logits.hex").write_text("\n".join(lines) + "\n")
    assert icarus_verdicts(tmp_path, NAME, "asq_accel.v") == [
        "FAIL logits=20 bad=1 last_bad=0 cycle_bad=0 first_bad=13"]
