"""Calibration without synthesis (asq_hw/estimate: grid.py, fit.py, accuracy.py,
accuracy_report.py): the grid covers the ranges the accuracy goals name; fitting recovers
known coefficients from synthetic measurements; the report states the goals and how to
reproduce it."""

import numpy as np
import pytest

from asq_hw.config import PEConfig
from asq_hw.designs import RESOURCE_KEYS, TARGETS
from asq_hw.estimate.accuracy import error_table, goal_misses, predictions
from asq_hw.estimate.accuracy_report import SHOWN, flow_lines, report_markdown
from asq_hw.estimate.fit import fit_lut, nonneg_lstsq
from asq_hw.estimate.grid import Point, grid
from asq_hw.estimate.measure import point_structure
from asq_hw.estimate.model import LUT_FEATURES, flip_flops, lut_features


def test_full_grid_covers_the_goal_ranges():
    pts = grid("full")
    post = [p for p in pts if p.kind == "post"]
    assert 40 <= len(pts) <= 80
    assert {p.cfg.wbits for p in post} == set(range(2, 7))
    assert {p.cfg.abits for p in post} == set(range(2, 9))
    assert {p.cfg.variant for p in post} == {"lut", "dual"}
    assert {p.cfg.act_signed for p in post} == {False, True}
    assert {p.cfg.lanes for p in post} >= set(range(1, 9))
    assert max(p.rows or 1 for p in post) == 8 and any(
        p.rows == 8 and p.cfg.lanes == 8 for p in post)
    assert {p.kind for p in pts} == {"post", "int", "pot"}
    assert len(set(pts)) == len(pts)
    small = grid("small")
    assert len(small) < 10 and any(p.rows for p in small)
    with pytest.raises(ValueError, match=r"^grid must be one of small, full, not 'x'$"):
        grid("x")


def test_nonneg_lstsq_drops_negative_coefficients():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 10, size=(40, 3))
    y = x @ np.array([2.0, 0.0, 3.0]) - 0.5 * x[:, 1]
    c = nonneg_lstsq(x, y)
    assert c[1] == 0 and (c >= 0).all()
    free = nonneg_lstsq(x, y, free=(1,))
    np.testing.assert_allclose(free, [2.0, -0.5, 3.0], atol=1e-9)


def synthetic_records(truth: dict) -> list[dict]:
    """Records whose measured LUTs follow `truth` exactly (other keys: the estimate's)."""
    recs = []
    for p in grid("full"):
        if p.kind == "int":
            continue
        st = point_structure(p)
        for t in TARGETS:
            f = lut_features(st, t)
            lut = sum(truth[t].get(n, 0) * f[n] for n in LUT_FEATURES)
            recs.append({"point": p, "target": t,
                         "measured": {"lut": lut, "ff": flip_flops(st, t), "carry": 1, "dsp": 0,
                                      "bram": 0, "fmax_mhz": None, "transistors": None}})
    return recs


def test_lut_fit_recovers_known_coefficients():
    truth = {t: {"adder": 1.0 + i / 10, "mux_full": 0.7, "term_bits": 0.9, "rom": 1.2,
                 "acc_clear": 0.8, "one": 5.0} for i, t in enumerate(TARGETS)}
    recs = synthetic_records(truth)
    for t in TARGETS:
        got = fit_lut(recs, t)
        for name, want in truth[t].items():
            assert got[name] == pytest.approx(want, rel=1e-4), (t, name)


def test_report_names_goals_and_commands():
    coefs = {"lut": {t: {"adder": 1.0, "one": 10.0} for t in TARGETS},
             "mul_carry": {}, "timing": {"ice40": {"one": 5.0}, "ecp5": {"one": 4.0}},
             "cmos": {"ff": 30.0}}
    recs = synthetic_records({t: {"adder": 1.0, "one": 10.0} for t in TARGETS})
    est = predictions(recs, coefs)
    prov = {"date": "2026-01-01", "tools": {"yosys": "0.70"}, "grid": "full",
            "targets": list(TARGETS), "wall_s": 12.0}
    text = report_markdown(recs, coefs, prov, est, est, None, "fit")
    assert "asq-hw calibrate --grid full --jobs 2" in text
    assert "LUT and FF median <= 5 %" in text
    table = error_table(recs, est, lambda p: p.kind == "post")
    assert table["ice40"]["lut"]["max"] == pytest.approx(0, abs=1e-9)
    assert table["ice40"]["ff"]["exact"] == table["ice40"]["ff"]["n"]
    assert goal_misses(table) == []


def test_flow_lines_give_the_stock_abc9_comparison():
    rows = [{"label": "a", "flow": 110, "stock": 100, "error": None},
            {"label": "b", "flow": 95, "stock": 100, "error": None},
            {"label": "c", "flow": 100, "stock": 100, "error": None},
            {"label": "d", "flow": 50, "stock": None, "error": "yosys: ERROR: Assert"},
            {"label": "e", "flow": 50, "stock": None, "error": "yosys: ERROR: Assert"}]
    text = "\n".join(flow_lines(rows))
    assert "ABC9 finished on 3 of 5: the flow's LUTs differ by median 5.0%, max 10.0%" in text
    assert "mean signed 1.7%; as many or more on 2 of them" in text
    assert "farthest: a 110 vs 100; b 95 vs 100; c 100 vs 100." in text
    assert "ABC9 failed on 2: d, e (Assert)." in text


def test_report_columns_are_the_resource_keys():
    assert sorted(SHOWN) == sorted(RESOURCE_KEYS) and len(SHOWN) == len(RESOURCE_KEYS)


def test_goal_misses_name_target_key_and_figure():
    table = {"ecp5": {"lut": {"n": 3, "median": 0.08, "max": 0.2, "exact": 0},
                      "fmax_mhz": {"n": 3, "median": 0.1, "max": 0.5, "exact": 0}}}
    assert goal_misses(table) == ["ecp5 lut median 8.0% > 5.0%",
                                      "ecp5 lut max 20.0% > 15.0%"]


def test_point_labels_are_readable():
    assert grid("full")[0].label == "pe lut W2A2s q1 F12 L256"
    assert Point("post", PEConfig(lanes=4), 8).label == "array lut W4A4 8x4 F8 L4096"


def test_holdout_designs_lie_outside_the_grid():
    from asq_hw.estimate.grid import holdout
    held = holdout()
    assert len(held) == 12 and not set(held) & set(grid("full"))
    assert held == holdout()                                   # seeded: the same every run
    assert any(p.rows for p in held) and any(p.rows is None for p in held)
