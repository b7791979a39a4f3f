"""The osu018 flow: parsers and counting without tools; mapping, timing, gate-level activity
and power with the real tools (marked synth, skipped with the install line without them)."""

import json

import numpy as np
import pytest

from asq_hw.config import PEConfig
from asq_hw.errors import ToolNotFoundError, UserError
from asq_hw.synth import activity, liberty, sta
from asq_hw.synth.asic import parse_stat
from asq_hw.synth.tools import SynthError

MISSING = liberty.missing()
needs_tools = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    # The library is looked up in the real cache first (it is not copied per test).
    monkeypatch.setenv(liberty.ENV, str(_library_folder()))
    monkeypatch.setenv("ASQ_HW_CACHE", str(tmp_path / "cache"))


def _library_folder():
    try:
        return liberty.find_library().liberty.parent
    except ToolNotFoundError:
        return "/nonexistent"


# ---------------------------------------------------------------------------------------
# Parsers and counting.

def test_parse_stat_reads_area_and_cells():
    stat = {"design": {"area": 1234.5, "num_cells": 7,
                       "num_cells_by_type": {"NAND2X1": 4, "DFFPOSX1": 3}}}
    assert parse_stat(stat) == {"area_um2": 1234.5, "cells": 7,
                                "cell_types": {"NAND2X1": 4, "DFFPOSX1": 3}}
    with pytest.raises(SynthError, match="^Yosys stat reported no area"):
        parse_stat({"design": {"num_cells": 7, "num_cells_by_type": {}}})


CHECKS = """\
           -0.4074   data arrival time
-------------------------------------------------------------
             5.5296   slack (MET)
"""
VIOLATED = "           -79.3339   slack (VIOLATED)\n"
POWER = """\
Group                    Internal    Switching      Leakage        Total
------------------------------------------------------------------------
Sequential           1.017797e-02 3.829730e-04 6.734368e-08 1.056101e-02  40.4%
------------------------------------------------------------------------
Total                2.460241e-02 1.566029e-03 2.120358e-07 2.616865e-02 100.0%
"""


def test_critical_path_is_period_minus_worst_slack():
    assert sta.parse_critical_path(CHECKS, 10.0) == pytest.approx(4.4704)
    assert sta.parse_critical_path(VIOLATED, 10.0) == pytest.approx(89.3339)
    with pytest.raises(SynthError, match="^OpenSTA found no timing path"):
        sta.parse_critical_path("No paths found.\n", 10.0)


def test_power_total_row_in_milliwatts():
    p = sta.parse_power(POWER)
    assert p == pytest.approx({"internal": 24.60241, "switching": 1.566029,
                               "leakage": 2.120358e-4, "total": 26.16865})
    with pytest.raises(SynthError, match="^OpenSTA printed no power report"):
        sta.parse_power("Warning: no clocks\n")


def test_net_activity_counts_defined_changes_per_cycle():
    # nets: toggles every cycle; constant 1; 0->1 once; x then toggling (x never counts)
    s = np.array([[0, 1, 0, 2],
                  [1, 1, 0, 2],
                  [0, 1, 1, 0],
                  [1, 1, 1, 1],
                  [0, 1, 1, 0]], dtype=np.uint8)
    act, duty = activity.net_activity(s)
    assert act.tolist() == [1.0, 0.0, 0.25, 0.5]
    assert duty.tolist() == [0.4, 1.0, 0.6, 1 / 3]


NETLIST = """\
module top(\\a[0] , \\a[1] , clk, y);
  input \\a[0] ;
  wire \\a[0] ;
  input \\a[1] ;
  wire \\a[1] ;
  input clk;
  wire clk;
  output y;
  wire y;
  wire _1_;
  NAND2X1 _2_ (
    .A(\\a[0] ),
    .B(\\a[1] ),
    .Y(_1_)
  );
  DFFPOSX1 \\q.reg  (
    .CLK(clk),
    .D(_1_),
    .Q(y)
  );
  INVX1 _3_ (
    .A(1'h0),
    .Y(y)
  );
endmodule
"""


def test_netlist_nets_and_pins():
    assert activity.netlist_nets(NETLIST) == ["a[0]", "a[1]", "clk", "y", "_1_"]
    assert activity.netlist_pins(NETLIST) == {
        "a[0]": ["_2_/A"], "a[1]": ["_2_/B"], "_1_": ["_2_/Y", "q.reg/D"],
        "clk": ["q.reg/CLK"], "y": ["q.reg/Q", "_3_/Y"]}


def test_activity_tcl_groups_escapes_and_skips_the_clock():
    pins = activity.netlist_pins(NETLIST)
    nets = activity.netlist_nets(NETLIST)
    tcl = activity.activity_tcl(pins, nets, np.array([0.5, 0.5, 2.0, 0.1, 0.123456]),
                                np.array([0.5, 0.5, 0.5, 0.2, 0.5]),
                                inputs={"a[0]", "a[1]", "clk"})
    lines = tcl.splitlines()
    assert tcl.startswith(activity.PIN_PROC)
    assert "asq_pin_activity {_2_/A _2_/B} 0.5 0.5" in lines
    assert "asq_pin_activity {_2_/Y q.reg/D} 0.1235 0.5" in lines
    assert "asq_pin_activity {q.reg/Q _3_/Y} 0.1 0.2" in lines
    assert ("set_power_activity -input_ports [get_ports {a\\[0\\] a\\[1\\]}] "
            "-activity 0.5 -duty 0.5") in lines
    assert "CLK" not in tcl and "clk" not in tcl.replace(activity.PIN_PROC, "")


# ---------------------------------------------------------------------------------------
# Finding the tools.

def test_missing_library_names_the_install_line(monkeypatch, tmp_path):
    monkeypatch.setattr(liberty, "candidates", lambda: [tmp_path])
    with pytest.raises(ToolNotFoundError) as e:
        liberty.find_library()
    assert str(e.value) == (f"OSU 0.18 um cell library (osu018_stdcells.lib) not found: "
                            f"{liberty.INSTALL['library']}")
    assert "\n" not in str(e.value)


def test_missing_sta_names_the_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolNotFoundError, match=r"^sta not found: apt-get install opensta$"):
        liberty.find_tool("sta")


def test_cli_without_the_library_is_one_line_exit_2(monkeypatch, tmp_path, capsys):
    from asq_hw.cli import main
    monkeypatch.setattr(liberty, "candidates", lambda: [tmp_path])
    assert main(["synth", "pe", "--lanes", "1", "--target", "osu018"]) == 2
    err = capsys.readouterr().err
    assert err == (f"asq-hw: error: OSU 0.18 um cell library (osu018_stdcells.lib) not "
                   f"found: {liberty.INSTALL['library']}\n")


def test_cli_activity_needs_the_asic_target(capsys):
    from asq_hw.cli import main
    assert main(["synth", "pe", "--lanes", "1", "--target", "ice40", "--activity", "x"]) == 2
    assert capsys.readouterr().err == ("asq-hw: error: --activity needs --target osu018, "
                                       "not ice40\n")


# ---------------------------------------------------------------------------------------
# Stimulus from a trained model.

@pytest.fixture(scope="module")
def cnn():
    from array_export import trained_cnn

    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    return load_artifact(trained_cnn()), load_dataset("digits").x_test.numpy()[:8]


def test_workload_stimulus_is_whole_dot_products_of_the_fitting_layers(cnn):
    art, images = cnn
    cfg = PEConfig(wbits=art.wbits, abits=4, lanes=4, max_len=1024)
    stim = activity.workload_stimulus(art, images, cfg, "post", rows=2, beats=300, seed=3)
    first = art.compute_layers()[0].name
    used = [x["layer"] for x in stim.source["layers"]]
    assert first not in used and len(used) == len(art.compute_layers()) - 1
    assert stim.act.shape == (stim.beats, 4) and stim.code.shape == (stim.beats, 2, 4)
    assert stim.last[-1] == 1 and 250 <= stim.beats <= 350
    assert sum(x["beats"] for x in stim.source["layers"]) == stim.beats
    assert stim.act.min() >= 0 and stim.act.max() <= 15
    # Useful MACs: every term of every real row (padding lanes carry zero codes).
    by_layer = {lay.name: lay for lay in art.compute_layers()}
    assert stim.macs <= sum(x["dots"] * 2 * by_layer[x["layer"]].fan_in
                            for x in stim.source["layers"])
    assert stim.macs >= int(np.count_nonzero(stim.code)) // 2
    again = activity.workload_stimulus(art, images, cfg, "post", rows=2, beats=300, seed=3)
    assert again.digest() == stim.digest()
    other = activity.workload_stimulus(art, images, cfg, "post", rows=2, beats=300, seed=4)
    assert other.digest() != stim.digest()


def test_expected_results_are_the_golden_dot_products(cnn):
    from golden.pe import pe_dot
    art, images = cnn
    cfg = PEConfig(wbits=art.wbits, abits=4, lanes=4, max_len=1024, variant="dual")
    stim = activity.workload_stimulus(art, images, cfg, "post", rows=1, beats=50)
    want = activity.expected_results(stim, cfg, "post", cfg.acc_bits)
    end = int(np.flatnonzero(stim.last)[0]) + 1
    ref = pe_dot(stim.act[:end].reshape(1, -1), stim.code[:end, 0].reshape(1, -1), cfg)
    assert want.shape == (int(stim.last.sum()), 1, 2)
    assert want[0, 0].tolist() == ref[0].tolist()


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "int"}, r"^the model's weight_quant is 'post': it runs on the post PE, "
                      r"not --kind int$"),
    ({"wbits": 2}, r"^wbits must be the model's 4 for its activity, not 2$"),
    ({"abits": 2}, r"^abits must hold the model's activations \(4 bits, unsigned\), "
                   r"not 2$"),
])
def test_workload_stimulus_refuses_a_model_that_does_not_fit(cnn, kwargs, message):
    art, images = cnn
    assert art.wbits == 4
    kind = kwargs.pop("kind", "post")
    cfg = PEConfig(**{"wbits": 4, "abits": 4, "lanes": 4, **kwargs})
    with pytest.raises(UserError, match=message):
        activity.workload_stimulus(art, images, cfg, kind)


# ---------------------------------------------------------------------------------------
# The real tools.

MAC = """\
module mac8 (input clk, input rst, input [7:0] a, input [7:0] b, output reg [19:0] acc);
  always @(posedge clk)
    if (rst) acc <= 0; else acc <= acc + a * b;
endmodule
"""


@pytest.mark.synth
@needs_tools
def test_mac_area_timing_and_the_cache():
    from asq_hw.synth import synthesize_asic
    r = synthesize_asic(MAC, "mac8")
    assert r.ff == 20 and r.cell_types.get("DFFPOSX1") == 20
    assert r.cells == sum(r.cell_types.values())
    assert 5_000 < r.area_um2 < 50_000
    assert 1.0 < r.critical_path_ns < 8.0
    assert r.fmax_mhz == pytest.approx(1e3 / r.critical_path_ns)
    assert r.transistors > 1000 and r.power_mw is None
    d = r.to_dict()
    assert list(d)[:10] == ["lut", "ff", "carry", "dsp", "bram", "fmax_mhz", "transistors",
                            "area_um2", "cells", "critical_path_ns"]
    assert d["lut"] is None and d["bram"] is None
    again = synthesize_asic(MAC, "mac8")
    assert again.cached == ("asic", "cmos") and again.area_um2 == r.area_um2


def _stimulus(cfg, beats, rng, zero=False):
    act = rng.integers(0, 2 ** cfg.abits, (beats, cfg.lanes))
    code = rng.integers(0, 2 ** cfg.wbits, (beats, 1, cfg.lanes))
    if zero:
        act[:], code[:] = 0, 0
    last = (np.arange(beats) % 4 == 3).astype(np.int64)
    return activity.Stimulus(act, code, last, beats * cfg.lanes, {"test": True})


@pytest.mark.synth
@needs_tools
def test_power_follows_activity_and_checks_the_netlist(monkeypatch):
    from asq_hw.synth import PowerJob, synthesize_asic
    from hw.gen import generate_pe
    cfg = PEConfig(wbits=3, abits=3, lanes=2, max_len=64, variant="dual")
    text, man = generate_pe(cfg)
    rng = np.random.default_rng(0)
    busy = synthesize_asic(text, "post_pe", transistors=False, power=PowerJob(
        _stimulus(cfg, 200, rng), cfg, "post", cfg.acc_bits, man["latency"]))
    idle = synthesize_asic(text, "post_pe", transistors=False, power=PowerJob(
        _stimulus(cfg, 200, rng, zero=True), cfg, "post", cfg.acc_bits, man["latency"]))
    assert busy.cached == () and idle.cached == ("asic",)
    for r in (busy, idle):
        p = r.power_mw
        assert p["total"] == pytest.approx(p["internal"] + p["switching"] + p["leakage"],
                                           rel=1e-4)
        assert r.activity["cycles"] >= 200 and r.activity["macs"] == 400
    assert idle.activity["mean_activity"] < 0.5 * busy.activity["mean_activity"]
    assert idle.power_mw["switching"] < 0.5 * busy.power_mw["switching"]
    assert busy.energy_pj_per_mac == pytest.approx(
        busy.power_mw["total"] * busy.critical_path_ns * busy.activity["cycles"] / 400)

    # A netlist whose results differ from the reference gets no power figure.
    real = activity.expected_results
    monkeypatch.setattr(activity, "expected_results",
                        lambda *a: real(*a) + (np.arange(len(real(*a))) == 5)[:, None, None])
    with pytest.raises(SynthError, match=r"differ from the reference \(1 of 50 dot"):
        synthesize_asic(text, "post_pe", transistors=False, use_cache=False, power=PowerJob(
            _stimulus(cfg, 200, rng), cfg, "post", cfg.acc_bits, man["latency"]))


@pytest.mark.synth
@pytest.mark.slow
@needs_tools
def test_cli_synth_pe_osu018_with_activity_json(capsys):
    from array_export import trained_cnn

    from asq_hw.cli import main
    args = ["synth", "pe", "--wbits", "4", "--abits", "4", "--lanes", "2", "--max-len",
            "256", "--kind", "post", "--target", "osu018", "--activity", str(trained_cnn()),
            "--beats", "120", "--images", "4"]
    assert main(args + ["--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["lut"] is None and d["ff"] > 0 and d["area_um2"] > 0 and d["cells"] > 0
    assert d["fmax_mhz"] == pytest.approx(1e3 / d["critical_path_ns"])
    assert d["power_mw"]["total"] > 0 and d["energy_pj_per_mac"] > 0
    assert d["activity"]["weight_quant"] == "post" and d["activity"]["images"] == 4
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("post_pe W4A4 lut lanes 2")
    assert f"energy_pj_per_mac {d['energy_pj_per_mac']:>11.3f}" in out
    assert "(cached: asic, cmos, asic-power)" in out
