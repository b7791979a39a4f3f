"""Design-space sweeps (asq_hw/sweep.py) and `asq-hw sweep`."""

import csv
import io

import pytest

from asq_hw import sweep
from asq_hw.config import PEConfig
from asq_hw.errors import UserError


def test_cross_product_counts_and_baselines_only_as_pes():
    pts, skipped = sweep.cross_product(("post", "int"), (2, 4), (4,), ("lut", "dual"), (1, 8),
                                       (4,), ("ice40", "ecp5"))
    post = [p for p in pts if p.kind == "post"]
    base = [p for p in pts if p.kind == "int"]
    assert len(post) == 2 * 2 * 2 * 2            # wbits x variants x rows x targets
    assert len(base) == 2 * 2                    # wbits x targets, rows 1, one variant
    assert all(p.rows == 1 and p.cfg.variant == "lut" for p in base)
    assert skipped == 2 * 2                      # int at rows 8: wbits x targets
    assert {p.design for p in post} == {"pe", "array"}
    assert len({(p.kind, p.cfg, p.rows, p.target) for p in pts}) == len(pts)


@pytest.mark.parametrize("kw,message", [
    (dict(kinds=("mac",)), "kind must be one of post, int, pot, not 'mac'"),
    (dict(wbits=(7,)), "wbits must be an integer from 2 to 6, not 7"),
    (dict(abits=(1,)), "abits must be an integer from 2 to 8, not 1"),
    (dict(variants=("triple",)), "variant must be one of 'lut', 'dual', not 'triple'"),
    (dict(rows=(0,)), "rows must be an integer from 1 to 1024, not 0"),
    (dict(targets=("asic",)), "target must be one of ice40, ecp5, xc7, not 'asic'"),
])
def test_cross_product_rejects_bad_values(kw, message):
    args = dict(kinds=("post",), wbits=(4,), abits=(4,), variants=("lut",), rows=(1,),
                lanes=(4,), targets=("ice40",))
    args.update(kw)
    with pytest.raises(ValueError) as exc:
        sweep.cross_product(*args.values())
    assert str(exc.value) == message


def test_narrow_accumulator_is_refused_and_safe_one_kept():
    with pytest.raises(UserError) as exc:
        sweep.cross_product(("post",), (4,), (4,), ("lut",), (1,), (4,), ("ice40",),
                            max_len=288, acc_bits=16)
    assert str(exc.value).startswith("acc-bits 16 is below the safe width 25 for max-len 288 "
                                      "(wbits 4, abits 4, lut): dot products that long would "
                                      "overflow; refused")
    pts, _ = sweep.cross_product(("post",), (4,), (4,), ("lut",), (1,), (4,), ("ice40",),
                                 max_len=288, acc_bits=30)
    assert pts[0].cfg.acc_bits == 30 and not pts[0].cfg.wraps


def test_pick_for_synthesis_spreads_over_the_lut_range():
    rows = [{"lut": v} for v in (50, 10, 40, 20, 30)]
    assert sweep.pick_for_synthesis(rows, 2) == [0, 1]          # smallest and largest
    assert sweep.pick_for_synthesis(rows, 3) == [0, 1, 4]       # + the median (30)
    assert sweep.pick_for_synthesis(rows, 9) == [1, 3, 4, 2, 0]
    assert sweep.pick_for_synthesis(rows, 1) == [4]


def test_pareto_per_target_and_precision():
    def r(target, wbits, lut, g):
        return dict(target=target, wbits=wbits, abits=4, signed=0, lut=lut, peak_gmacs=g)
    rows = [r("ice40", 4, 10, 1.0), r("ice40", 4, 20, 0.5), r("ice40", 4, 30, 2.0),
            r("ice40", 2, 5, 3.0),     # cheaper and faster, but another precision
            r("ecp5", 4, 100, 0.1), r("xc7", 4, 5, None), r("ice40", 4, 10, 1.0)]
    assert sweep.pareto_flags(rows) == [True, False, True, True, True, False, True]


def _est(kind, cfg, rows, target):
    """A stand-in with the estimator's keys, for the table/CSV plumbing only."""
    n = (rows or 1) * cfg.lanes
    return {"lut": 10 * n + cfg.wbits, "ff": 5 * n, "carry": n, "dsp": 0, "bram": 0,
            "fmax_mhz": None if target == "xc7" else 100.0 - n, "transistors": 100 * n}


def test_table_and_csv(monkeypatch):
    pts, _ = sweep.cross_product(("post", "pot"), (3,), (4,), ("lut",), (1, 2), (2,),
                                 ("ice40",))
    est = [_est(p.kind, p.cfg, p.rows, p.target) for p in pts]
    synth = {0: {"lut": 25, "ff": 9, "carry": 2, "dsp": 0, "bram": 1, "fmax_mhz": 120.0,
                 "transistors": 999, "device": "hx8k-ct256"}}
    rows = sweep.table(pts, est, synth)
    assert [r["short"] for r in rows] == ["POST-lut W3A4 1x2", "POST-lut W3A4 2x2",
                                          "POT W3A4 1x2"]
    assert rows[0]["lut_error"] == pytest.approx(23 / 25 - 1)
    assert rows[1]["peak_gmacs"] == pytest.approx(4 * 96.0 / 1e3)
    parsed = list(csv.DictReader(io.StringIO(sweep.csv_text(rows))))
    assert list(parsed[0]) == sweep.CSV_FIELDS
    assert parsed[0]["synth_lut"] == "25" and parsed[1]["synth_lut"] == ""
    assert parsed[2]["variant"] == "" and parsed[2]["kind"] == "pot"


def test_estimate_all_parallel_equals_serial(monkeypatch):
    monkeypatch.setattr(sweep, "estimate_point", _est)
    pts, _ = sweep.cross_product(("post",), (2, 3), (4,), ("lut", "dual"), (1, 4), (2,),
                                 ("ice40", "xc7"))
    seen = []
    serial = sweep.estimate_all(pts, 1, seen.append)
    assert seen[-1] == len(pts)
    assert serial == [_est(p.kind, p.cfg, p.rows, p.target) for p in pts]
    # Linux forks the pool's workers, so they see the stand-in too; order is kept.
    seen.clear()
    assert sweep.estimate_all(pts, 2, seen.append) == serial
    assert sorted(seen)[-1] == len(pts)


def test_config_roundtrip_for_workers():
    cfg = PEConfig(wbits=3, abits=5, act_signed=True, variant="dual", lanes=3, max_len=100)
    assert PEConfig.from_dict(cfg.to_dict()) == cfg


def test_sweep_command_writes_csv_and_plot(tmp_path, capsys):
    from asq_hw.cli import main
    from asq_hw.estimate import estimate
    from asq_hw.outputs import leftovers

    out = tmp_path / "s"
    assert main(["sweep", "--wbits", "2,3", "--abits", "4", "--variant", "lut,dual", "--rows",
                 "1,2", "--lanes", "2", "--kind", "post,int", "--target", "ice40", "--jobs",
                 "2", "--quiet", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("10 configurations estimated (2 baseline configurations with "
                             "rows > 1 skipped), 0 synthesised, 2 jobs")
    rows = list(csv.DictReader(io.StringIO((out / sweep.CSV_NAME).read_text())))
    assert len(rows) == 2 * 2 * 2 + 2
    assert (out / sweep.PLOT_NAME).read_bytes()[:4] == b"\x89PNG"
    assert leftovers(out) == []
    r = next(r for r in rows if (r["kind"], r["variant"], r["wbits"], r["rows"]) ==
             ("post", "dual", "3", "2"))
    e = estimate(PEConfig(wbits=3, abits=4, variant="dual", lanes=2), "ice40", rows=2).values
    assert int(r["lut"]) == e["lut"] and int(r["ff"]) == e["ff"]
    assert float(r["peak_gmacs"]) == pytest.approx(4 * e["fmax_mhz"] / 1e3, rel=1e-5)
    assert any(r["pareto"] == "1" for r in rows)


@pytest.mark.slow
@pytest.mark.synth
def test_sweep_back_annotates_with_synthesis(tmp_path, capsys):
    from asq_hw.cli import main

    out = tmp_path / "s"
    assert main(["sweep", "--wbits", "2", "--abits", "3", "--variant", "lut", "--rows", "1",
                 "--lanes", "1,2", "--kind", "post,pot", "--target", "ice40", "--synth", "2",
                 "--jobs", "2", "--quiet", "--out", str(out)]) == 0
    assert "4 configurations estimated, 2 synthesised" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO((out / sweep.CSV_NAME).read_text())))
    done = [r for r in rows if r["synth_lut"]]
    assert len(done) == 2
    # the smallest and the largest estimate are the ones synthesised
    luts = sorted(int(r["lut"]) for r in rows)
    assert sorted(int(r["lut"]) for r in done) == [luts[0], luts[-1]]
    for r in done:
        assert int(r["synth_lut"]) > 0 and float(r["synth_fmax_mhz"]) > 0
        assert float(r["lut_error"]) == pytest.approx(int(r["lut"]) / int(r["synth_lut"]) - 1,
                                                      abs=1e-5)
