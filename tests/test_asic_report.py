"""The ASIC report's verdict and page from a summary (no tools needed)."""

from asq_hw import asic_report


def _point(label, scheme, w, a, area, energy, ff=100):
    return {"label": label, "scheme": scheme, "variant": "lut", "wbits": w, "abits": a,
            "lanes": 8, "max_len": 144, "acc_bits": 20, "area_um2": area, "cells": 10,
            "ff": ff, "transistors": 1, "critical_path_ns": 4.0, "fmax_mhz": 250.0,
            "power_mw": {"internal": 8.0, "switching": 2.0, "leakage": 0.0, "total": 10.0},
            "energy_pj_per_mac": energy, "fakequant_acc": 0.99,
            "activity": {"mean_activity": 0.3, "layers": [{"layer": "conv1", "beats": 9}]},
            "seconds": {"asic_map": 1.0, "power_sim": 2.0}}


POINTS = [
    # W2: POST wins area, ties energy; W3: POST loses both
    _point("POST-lut", "post", 2, 4, 90.0, 10.05, ff=90), _point("POT", "pot", 2, 4, 100.0, 10.0),
    _point("INT", "int", 2, 4, 120.0, 12.0, ff=120),
    _point("POST-dual", "post", 3, 4, 150.0, 20.0, ff=150), _point("POT", "pot", 3, 4, 100.0, 16.0),
    _point("INT", "int", 3, 4, 110.0, 15.0, ff=110),
]


def test_verdict_names_wins_ties_and_losses_per_metric():
    area, energy = asic_report.verdict(POINTS)
    assert area == ("- **Area**: POST is smaller than both baselines at W2A4 (POST-lut -10.0% "
                    "vs POT); POST is larger at W3A4 (POST-dual +50.0% vs POT).")
    assert energy == ("- **Energy per MAC**: POST is within 1% of the best baseline at W2A4 "
                      "(POST-lut +0.5% vs POT); POST is larger at W3A4 (POST-dual +33.3% "
                      "vs INT).")


def test_markdown_has_a_row_per_pe_and_says_how_it_was_measured():
    s = {"points": POINTS, "lanes": 8, "images": 32, "beats": 4000, "train_s": 1.0,
         "measure_s": 2.0, "jobs": 2}
    md = asic_report.markdown(s)
    rows = [ln for ln in md.splitlines() if ln.startswith(("| POST", "| POT", "| INT"))]
    assert len(rows) == len(POINTS)
    assert "| POST-lut | 2 | 4 | 20 | 90 | 10 | 90 | 250 | 10.0 (8.0 / 2.0) | 10.05 |" in md
    assert "## How it was measured" in md and "conv1 9" in md
    assert "Internal power (inside the cells, the flip-flops' clock pins included) is 80%-80%" in md
