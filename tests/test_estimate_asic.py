"""The standard-cell (osu018) model and its calibration, on synthetic measurements: the
fits recover the coefficients that generated them, errors and goals are reported."""

import json

import pytest

from asq_hw.config import PEConfig
from asq_hw.estimate import asic_calibration as ac
from asq_hw.estimate.asic import area_features, asic_stages, asic_values
from asq_hw.estimate.grid import Point, grid
from asq_hw.estimate.structure import structure
from asq_hw.synth.liberty import missing

MISSING = missing()

AREA = {"ff": 180.0, "adder": 100.0, "mux_full": 35.0, "term_bits": 60.0, "rom": 28.0,
        "decoder": 14.0, "mul": 170.0, "one": 600.0}
TIMING = {"one": 0.5, "levels": 0.3, "carry_bits": 0.11, "size": 0.1}


def _records(points, area=AREA, timing=TIMING):
    out = []
    for p in points:
        st = structure(p.cfg, p.kind, p.rows or 1)
        f = area_features(st)
        crit = max(sum(timing[n] * s[n] for n in timing) for _, s in asic_stages(st))
        a = sum(v * f[n] for n, v in area.items())
        out.append({"point": p, "target": "osu018",
                    "measured": {"area_um2": a, "cells": a / 4, "ff": st.ff,
                                 "critical_path_ns": crit, "fmax_mhz": 1e3 / crit}})
    return out


def test_fits_recover_the_generating_coefficients():
    recs = _records(grid("full"))
    coefs = {"area": ac.fit_linear(recs, "area_um2"), "cells": ac.fit_linear(recs, "cells"),
             "timing": ac.fit_timing(recs), "energy": {}}
    table = ac.errors(recs, ac.predictions(recs, coefs))
    for k in ("area_um2", "cells", "ff", "critical_path_ns", "fmax_mhz"):
        assert table[k]["max"] < 1e-3, k
    assert ac.goal_misses(table) == []


def test_goals_name_what_is_missed():
    assert ac.goal_misses({"area_um2": {"median": 0.06, "max": 0.2},
                           "fmax_mhz": {"median": 0.1, "max": 0.9}}) == [
        "osu018 area_um2 held-out median 6.0% > 5%", "osu018 area_um2 held-out max 20.0% > 15%"]
    assert ac.goal_misses({}, "leave-one-out") == [
        "osu018 area_um2: no leave-one-out designs", "osu018 fmax_mhz: no leave-one-out designs"]


def test_energy_points_and_model_per_mac(tmp_path):
    cfg = PEConfig(wbits=4, abits=4, lanes=8, max_len=144)
    st = structure(cfg, "int", 1)
    per_cycle = 2.0 * st.ff + 10.0
    pts = [{"label": "INT", "scheme": "int", "variant": "lut", "wbits": 4, "abits": 4,
            "lanes": 8, "max_len": 144, "energy_pj_per_mac": per_cycle / 8 * 1.25,
            "activity": {"macs": 800, "cycles": 125}}]
    path = tmp_path / "asic.json"
    path.write_text(json.dumps({"points": pts}))
    [e] = ac.energy_points(path)
    assert e["point"] == Point("int", cfg) and e["macs_per_cycle"] == 6.4
    assert e["pj_per_cycle"] == pytest.approx(per_cycle)
    assert ac.energy_points(tmp_path / "none.json") == []
    coefs = {"area": AREA, "cells": AREA, "timing": TIMING,
             "energy": {"ff": 2.0, "one": 10.0}}
    assert ac.energy_errors([e], coefs) == [pytest.approx(0.0)]
    v = asic_values(st, coefs)
    assert v["energy_pj_per_mac"] == pytest.approx(per_cycle / 8, abs=1e-4)
    assert v["fmax_mhz"] == pytest.approx(1e3 / v["critical_path_ns"], rel=1e-4)
    assert v["ff"] == st.ff and v["critical_stage"] in {s for s, _ in asic_stages(st)}


def test_estimate_osu018_with_the_committed_coefficients():
    from asq_hw.designs import ASIC_KEYS, RESOURCE_KEYS
    from asq_hw.estimate import estimate
    cfg = PEConfig(wbits=4, abits=4, lanes=8, max_len=144)
    e = estimate(cfg, "osu018", kind="int")
    assert list(e.values)[:len(RESOURCE_KEYS) + len(ASIC_KEYS)] == [*RESOURCE_KEYS,
                                                                    *ASIC_KEYS]
    assert e.values["lut"] is None and e.values["bram"] is None
    assert e.values["ff"] == structure(cfg, "int", 1).ff
    assert e.values["fmax_mhz"] == pytest.approx(1e3 / e.values["critical_path_ns"], rel=1e-3)
    assert e.values["area_um2"] > 0 and e.values["energy_pj_per_mac"] > 0
    arr = estimate(cfg, "osu018", rows=8)
    assert arr.values["area_um2"] > 4 * estimate(cfg, "osu018").values["area_um2"]


def test_estimate_osu018_without_coefficients_says_what_to_run():
    from asq_hw.errors import UserError
    from asq_hw.estimate import estimate, load_coefficients
    coefs = {k: v for k, v in load_coefficients().items() if k != "osu018"}
    with pytest.raises(UserError, match=r"^no osu018 coefficients in the estimator: run "
                                        r"`asq-hw calibrate --targets osu018`$"):
        estimate(PEConfig(), "osu018", coefficients=coefs)


@pytest.mark.synth
@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
def test_calibrate_small_grid_on_osu018_keeps_the_fpga_coefficients(tmp_path, monkeypatch,
                                                                    capsys):
    from asq_hw.cli import main
    from asq_hw.estimate import COEFFICIENTS
    coef = tmp_path / "coefficients.json"
    coef.write_text(COEFFICIENTS.read_text())
    monkeypatch.setattr(ac, "ASIC_JSON", tmp_path / "none.json")   # no energy figures
    report = tmp_path / "osu018.md"
    code = main(["calibrate", "--grid", "small", "--targets", "osu018", "--coefficients",
                 str(coef), "--asic-report", str(report)])
    out = capsys.readouterr().out
    assert out.startswith("7 designs x osu018 in ") and str(report) in out
    new, old = json.loads(coef.read_text()), json.loads(COEFFICIENTS.read_text())
    assert {k: v for k, v in new.items() if k != "osu018"} == \
        {k: v for k, v in old.items() if k != "osu018"}
    assert set(new["osu018"]) == {"provenance", "area", "cells", "timing", "energy"}
    assert new["osu018"]["energy"] == {}
    text = report.read_text()
    assert "| area_um2 leave-one-out | 7 |" in text and "no energy model" in text
    assert code == (0 if "Goals (leave-one-out: area median <= 5 %, max <= 15 %; fmax median "
                         "<= 15 %): met." in text else 1)
