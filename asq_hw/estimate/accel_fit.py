"""Calibration of the accelerator estimator (asq_hw/estimate/accel.py) against synthesis.

    records = measure_accel(designs, targets)          # Yosys, cached (asq_hw/synth/accel)
    coefs = fit_accel(records)                          # per target, per key
    table = accel_errors(records_held_out, coefs)       # the accuracy table

A record is one synthesised accelerator: its AccelShape's features (accel.features), the
array model's figures for its P x Q array, the memory placements the model predicts and the
measured counts. The fit is what the array model and the memory rule leave unexplained:

    measured - array model - distributed RAM LUT sites  ~  coefficients . FEATURES[key]

by non-negative least squares (asq_hw/estimate/fit.nonneg_lstsq; `one` may be negative),
relative errors weighted equally. Block RAMs are not fitted: the placement rule must match
Yosys exactly (accel_errors reports any difference).
"""

from __future__ import annotations

import datetime
import statistics

import numpy as np

from asq_hw.estimate.accel import FEATURES, estimate_shape, features, placements
from asq_hw.estimate.fit import nonneg_lstsq

KEYS = ("lut", "ff", "carry")


def record(shape, target: str, measured: dict, label: str) -> dict:
    """One calibration record of `shape` on `target` with its `measured` counts."""
    from asq_hw.estimate import estimate

    arr = estimate(shape.cfg, target, rows=shape.rows)
    placed = placements(shape, target)
    return {"label": label, "target": target, "features": features(shape, target, placed),
            "array": {k: arr.values[k] for k in ("lut", "ff", "carry", "bram", "fmax_mhz")},
            "dist_luts": sum(p.luts for p in placed if p.where == "dist"),
            "measured": dict(measured), "shape": shape}


def fit_accel(records: list[dict], provenance: dict | None = None,
              fmax_records: list[dict] = ()) -> dict:
    """{target: {key: {feature: coefficient}, 'fmax_factor': f}} (module docstring);
    fmax_factor: the median of placed fmax over the array model's fmax, over the records
    (and `fmax_records`, used for nothing else) that have a measured fmax."""
    out = {}
    for target in sorted({r["target"] for r in records}):
        rs = [r for r in records if r["target"] == target]
        coefs = {}
        for key in KEYS:
            names = FEATURES[key]
            x = np.array([[r["features"][n] for n in names] for r in rs])
            y = np.array([r["measured"][key] - r["array"][key]
                          - (r["dist_luts"] if key == "lut" else 0) for r in rs], float)
            total = np.array([max(1.0, r["measured"][key]) for r in rs])
            w = 1.0 / total
            c = nonneg_lstsq(x * w[:, None], y * w, free=(names.index("one"),))
            coefs[key] = {n: round(float(v), 6) for n, v in zip(names, c, strict=True)
                          if v != 0.0}
        ratios = [r["measured"]["fmax_mhz"] / r["array"]["fmax_mhz"]
                  for r in [*rs, *(f for f in fmax_records if f["target"] == target)]
                  if r["measured"].get("fmax_mhz") and r["array"]["fmax_mhz"]]
        coefs["fmax_factor"] = round(statistics.median(ratios), 4) if ratios else 1.0
        coefs["fmax_points"] = len(ratios)
        out[target] = coefs
    out["provenance"] = {"date": datetime.date.today().isoformat(),
                         "records": len(records), **(provenance or {})}
    return out


def predict(r: dict, coefs: dict) -> dict:
    return estimate_shape(r["shape"], r["target"], coefs)


def accel_errors(records: list[dict], coefs: dict) -> dict:
    """Per target and key: median and max relative error (in %) over `records`, the
    block-RAM mismatches, and each record's row."""
    rows = []
    for r in records:
        e = predict(r, coefs)
        row = {"label": r["label"], "target": r["target"]}
        for k in (*KEYS, "bram"):
            m = r["measured"][k]
            row[k] = (m, e[k], 100.0 * (e[k] - m) / m if m else 0.0)
        rows.append(row)
    summary = {}
    for t in sorted({r["target"] for r in rows}):
        tr = [r for r in rows if r["target"] == t]
        summary[t] = {k: {"median": statistics.median(abs(r[k][2]) for r in tr),
                          "max": max(abs(r[k][2]) for r in tr)} for k in KEYS}
        summary[t]["bram_exact"] = sum(r["bram"][0] == r["bram"][1] for r in tr)
        summary[t]["n"] = len(tr)
    return {"rows": rows, "summary": summary}
