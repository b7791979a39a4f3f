"""The estimator's errors against calibration records: predictions (in-sample and
leave-one-out), relative errors, error tables and the accuracy goals.

    est = predictions(records, coefs)                      # one estimate per record
    table = error_table(records, est)                       # relative errors per resource

Leave-one-out predicts each design with coefficients fitted without it (fit.py), the
honest figure for a design the grid does not contain.
"""

from __future__ import annotations

import statistics

from asq_hw.designs import PNR_TARGETS, RESOURCE_KEYS
from asq_hw.estimate.fit import fit_cmos, fit_lut, fit_timing
from asq_hw.estimate.measure import point_structure
from asq_hw.estimate.model import resources

# (median, max) |relative error| the POST designs must meet; None: no bound.
GOALS = {"lut": (0.05, 0.15), "ff": (0.05, 0.15), "fmax_mhz": (0.15, None)}


def predictions(records: list[dict], coefs: dict, loo: bool = False) -> list[dict]:
    """Estimated RESOURCE_KEYS per record; with `loo`, lut, fmax and transistors from
    coefficients fitted without that record's design (leave-one-out)."""
    out = []
    for i, r in enumerate(records):
        st = point_structure(r["point"])
        c = coefs
        if loo:
            c = dict(coefs)
            c["lut"] = {**coefs["lut"], r["target"]: fit_lut(records, r["target"], exclude=i)}
            if r["target"] in PNR_TARGETS:
                c["timing"] = {**coefs["timing"],
                               r["target"]: fit_timing(records, r["target"], exclude=i)}
            c["cmos"] = fit_cmos(records, exclude_point=r["point"])
        out.append(resources(st, r["target"], c))
    return out


def rel_err(est, meas) -> float | None:
    if est is None or meas is None:
        return None
    if meas == 0:
        return 0.0 if est == 0 else float("inf")
    return (est - meas) / meas


def error_table(records: list[dict], est: list[dict], subset=None) -> dict:
    """{target: {key: {'n', 'median', 'max', 'exact'}}} of |relative error| (fraction)."""
    table: dict = {}
    for r, e in zip(records, est, strict=True):
        if subset is not None and not subset(r["point"]):
            continue
        for k in RESOURCE_KEYS:
            err = rel_err(e[k], r["measured"][k])
            if err is None:
                continue
            cell = table.setdefault(r["target"], {}).setdefault(k, [])
            cell.append(abs(err))
    out: dict = {}
    for t, keys in table.items():
        out[t] = {k: {"n": len(v), "median": statistics.median(v), "max": max(v),
                      "exact": sum(1 for x in v if x == 0)} for k, v in keys.items()}
    return out


def pct(x: float) -> str:
    """A fraction as the reports print it: '12.3%' (or 'inf')."""
    return "inf" if x == float("inf") else f"{100 * x:.1f}%"


def goal_misses(table: dict) -> list[str]:
    """Which accuracy goals (GOALS, on POST designs) the table misses."""
    misses = []
    for t, keys in table.items():
        for k, (med, mx) in GOALS.items():
            if k == "fmax_mhz" and t not in PNR_TARGETS:
                continue
            s = keys.get(k)
            if s is None:
                continue
            if s["median"] > med:
                misses.append(f"{t} {k} median {pct(s['median'])} > {pct(med)}")
            if mx is not None and s["max"] > mx:
                misses.append(f"{t} {k} max {pct(s['max'])} > {pct(mx)}")
    return misses


def worst(records: list[dict], est: list[dict], key: str, target: str, n: int = 5):
    """The n records of `target` with the largest |relative error| of `key`:
    [(|error|, label, estimate, measured)]."""
    rows = []
    for r, e in zip(records, est, strict=True):
        err = rel_err(e[key], r["measured"][key])
        if r["target"] == target and err is not None:
            rows.append((abs(err), r["point"].label, e[key], r["measured"][key]))
    return sorted(rows, key=lambda x: x[0], reverse=True)[:n]
