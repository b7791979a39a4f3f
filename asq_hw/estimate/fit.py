"""Fitting the estimator's coefficients to calibration records (measure.py).

    coefs = fit(records)                                    # per-target coefficients

model.py says which quantities are fitted and which are exact:
- lut (per target) and transistors: weighted least squares on relative error, coefficients
  kept non-negative (a negative one is dropped and the rest refitted), the constant free;
- mul_carry (per target): the INT multipliers' carry cells per product bit;
- timing (ice40, ecp5): the stage delays of model.timing_stages as one linear function per
  target, fitted to the measured periods (1000 / fmax) by alternating between assigning
  each design its slowest predicted stage and least squares on those stages.

`exclude` / `exclude_point` leave one record or design out (leave-one-out errors,
accuracy.py).
"""

from __future__ import annotations

import numpy as np

from asq_hw.designs import PNR_TARGETS, TARGETS
from asq_hw.estimate.grid import Point
from asq_hw.estimate.measure import point_structure
from asq_hw.estimate.model import (
    CMOS_FEATURES,
    LUT_FEATURES,
    TIMING_FEATURES,
    carry_cells,
    cmos_features,
    fabric_mul_bits,
    lut_features,
    timing_stages,
)


def nonneg_lstsq(x: np.ndarray, y: np.ndarray, free: tuple[int, ...] = ()) -> np.ndarray:
    """Least squares x @ c ~ y with c >= 0 except the columns in `free`: a column whose
    coefficient comes out negative is dropped and the rest refitted."""
    active = [j for j in range(x.shape[1]) if x[:, j].any()]
    while True:
        c = np.zeros(x.shape[1])
        if active:
            sol, *_ = np.linalg.lstsq(x[:, active], y, rcond=None)
            c[active] = sol
        neg = [j for j in active if c[j] < 0 and j not in free]
        if not neg:
            return c
        active.remove(min(neg, key=lambda j: c[j]))


def _weighted_fit(rows: list[dict], names: tuple[str, ...], y: list[float]) -> np.ndarray:
    x = np.array([[r[n] for n in names] for r in rows], dtype=float)
    yv = np.array(y, dtype=float)
    w = 1.0 / np.maximum(yv, 1.0)
    return nonneg_lstsq(x * w[:, None], yv * w, free=(names.index("one"),))


def _as_dict(names, c) -> dict[str, float]:
    return {n: float(round(v, 6)) for n, v in zip(names, c, strict=True) if v != 0.0}


def fit_lut(records: list[dict], target: str, exclude: int | None = None) -> dict:
    """LUT coefficients of `target`: every feature but the multipliers' from the POST and
    POT designs (shift-add datapaths), then `mul` and `mul_dsp` (LUTs per product bit of an
    INT multiplier in logic, or around a DSP block) and `mul_csa` (per carry-save bit of the
    merged product adders) from the INT designs' residuals."""
    muls = ("mul", "mul_dsp", "mul_csa")
    base = tuple(n for n in LUT_FEATURES if n not in muls)
    rows, ints = [], []
    for i, r in enumerate(records):
        if r["target"] != target or i == exclude:
            continue
        f = lut_features(point_structure(r["point"]), target)
        (ints if r["point"].kind == "int" else rows).append((f, r["measured"]["lut"]))
    c = _as_dict(base, _weighted_fit([f for f, _ in rows], base, [v for _, v in rows]))
    if ints:
        x = np.array([[f[n] for n in muls] for f, _ in ints], dtype=float)
        rest = np.array([v - sum(c.get(n, 0.0) * f[n] for n in base) for f, v in ints])
        w = 1.0 / np.array([max(v, 1) for _, v in ints], dtype=float)
        c.update(_as_dict(muls, nonneg_lstsq(x * w[:, None], rest * w)))
    return c


def fit_cmos(records: list[dict], exclude_point: Point | None = None) -> dict:
    seen, rows, y = set(), [], []
    for r in records:
        p = r["point"]
        if p in seen or p == exclude_point or r["measured"]["transistors"] is None:
            continue
        seen.add(p)
        rows.append(cmos_features(point_structure(p)))
        y.append(r["measured"]["transistors"])
    return _as_dict(CMOS_FEATURES, _weighted_fit(rows, CMOS_FEATURES, y))


def fit_mul_carry(records: list[dict]) -> dict:
    """Carry cells per product bit of the INT multipliers built in logic, per target."""
    out = {}
    for t in TARGETS:
        num = den = 0.0
        for r in records:
            if r["target"] != t:
                continue
            st = point_structure(r["point"])
            bits = fabric_mul_bits(st, t)
            if not bits:
                continue
            num += (r["measured"]["carry"] - carry_cells(st, t)) * bits
            den += bits * bits
        out[t] = float(round(num / den, 6)) if den else 0.0
    return out


def fit_timing(records: list[dict], target: str, exclude: int | None = None,
               iterations: int = 30) -> dict:
    """Stage-delay coefficients (ns) of `target` from the measured fmax (see module doc)."""
    designs = []
    for i, r in enumerate(records):
        f = r["measured"]["fmax_mhz"]
        if r["target"] == target and f and i != exclude:
            st = point_structure(r["point"])
            feats = [np.array([s[1][n] for n in TIMING_FEATURES], float)
                     for s in timing_stages(st, target)]
            designs.append((feats, 1000.0 / f))
    if not designs:
        return {}
    return fit_critical_path(designs, TIMING_FEATURES, [2.0, 1.0, 0.05, 1.0, 0.0, 0.1],
                             iterations)


def fit_critical_path(designs: list, names: tuple[str, ...], start, iterations: int = 30
                      ) -> dict:
    """Delay coefficients over `names` from designs [(stage feature vectors, measured
    critical path)]: alternately pick each design's slowest stage under the current
    coefficients and refit them (relative least squares, non-negative but for "one") on
    those stages, until the choice settles."""
    c = np.array(start, float)
    choice = None
    for _ in range(iterations):
        new = [int(np.argmax([fv @ c for fv in feats])) for feats, _ in designs]
        if new == choice:
            break
        choice = new
        x = np.array([feats[j] for (feats, _), j in zip(designs, choice, strict=True)])
        y = np.array([p for _, p in designs])
        w = 1.0 / y
        c = nonneg_lstsq(x * w[:, None], y * w, free=(names.index("one"),))
    return _as_dict(names, c)


def fit(records: list[dict]) -> dict:
    """Coefficients of every fitted quantity from calibration records."""
    targets = sorted({r["target"] for r in records}, key=TARGETS.index)
    return {
        "lut": {t: fit_lut(records, t) for t in targets},
        "mul_carry": fit_mul_carry(records),
        "timing": {t: fit_timing(records, t) for t in targets if t in PNR_TARGETS},
        "cmos": fit_cmos(records),
    }
