"""Calibration of the standard-cell (osu018) model: measure, fit, errors, report section.

    records = measure_asic(grid("full"), jobs=2)        # synthesize_asic per design, cached
    epoints = energy_points()                            # docs/asic.json (asic_report)
    coefs = fit_asic(records, epoints)                   # coefficients.json's "osu018"
    lines, misses = asic_report(records, held, coefs, epoints)

What is fitted and how (asq_hw/estimate/asic.py has the model):
- area_um2, cells: weighted least squares on relative error over AREA_FEATURES,
  non-negative but for the constant;
- critical path: the stage delays' coefficients, alternating between each design's slowest
  predicted stage and least squares on those stages (as the FPGA targets' fmax);
- energy: energy per cycle (pJ) over AREA_FEATURES, fitted to the activity-based figures of
  the PEs of docs/asic.json (power at fmax x period x cycles / cycles).

Errors are reported in sample, leave-one-out (each design predicted by coefficients fitted
without it) and on the held-out designs (never fitted on). The goals: area median <= 5 %
and max <= 15 % on the held-out designs, fmax median <= 15 % there.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np

from asq_hw.config import PEConfig
from asq_hw.designs import ASIC_TARGETS
from asq_hw.errors import UserError
from asq_hw.estimate.asic import (
    AREA_FEATURES,
    ASIC_TIMING_FEATURES,
    area_features,
    asic_stages,
    asic_values,
)
from asq_hw.estimate.fit import fit_critical_path, nonneg_lstsq
from asq_hw.estimate.grid import Point, grid, holdout
from asq_hw.estimate.measure import design_text, point_structure
from asq_hw.parallel import pmap
from asq_hw.synth import synthesize_asic

TARGET = ASIC_TARGETS[0]
ASIC_JSON = Path(__file__).resolve().parents[2] / "docs" / "asic.json"
CHECKED = ("area_um2", "cells", "ff", "critical_path_ns", "fmax_mhz")
GOALS = {"area_um2": (0.05, 0.15), "fmax_mhz": (0.15, None)}


def _measure_one(p: Point) -> dict:
    text, top = design_text(p)
    r = synthesize_asic(text, top)
    return {"point": p, "target": TARGET,
            "measured": {"area_um2": r.area_um2, "cells": r.cells, "ff": r.ff,
                         "critical_path_ns": r.critical_path_ns, "fmax_mhz": r.fmax_mhz,
                         "transistors": r.transistors},
            "cell_types": r.cell_types, "seconds_tools": dict(r.seconds),
            "cached": list(r.cached)}


def measure_asic(points: list[Point], jobs: int = 1, progress=None) -> list[dict]:
    """synthesize_asic of every point (cached on disk), in point order; `progress(done,
    total, [record])` after each."""
    done = [0]

    def arrived(_, rec):
        done[0] += 1
        if progress:
            progress(done[0], len(points), [rec])

    return pmap(_measure_one, points, jobs, on_result=arrived)


def energy_points(path: Path | None = None, key: str = "points") -> list[dict]:
    """The activity-based figures of `path` (default ASIC_JSON, asq_hw/asic_report.py's
    asic.json): its PEs ("points", fitted on) or its arrays ("arrays", checked only), each
    with its Point and its measured energy per cycle; [] if there are none."""
    try:
        pts = json.loads(Path(path or ASIC_JSON).read_text()).get(key, [])
    except FileNotFoundError:
        return []
    out = []
    for p in pts:
        cfg = PEConfig(wbits=p["wbits"], abits=p["abits"], variant=p["variant"],
                       lanes=p["lanes"], max_len=p["max_len"])
        a = p["activity"]
        rows = p.get("rows", 1)
        out.append({"point": Point(p["scheme"], cfg, rows if rows > 1 else None),
                    "label": f"{p['label']} W{p['wbits']}A{p['abits']}",
                    "energy_pj_per_mac": p["energy_pj_per_mac"],
                    "pj_per_cycle": p["energy_pj_per_mac"] * a["macs"] / a["cycles"],
                    "macs_per_cycle": a["macs"] / a["cycles"]})
    return out


# ---------------------------------------------------------------------------------------
# Fitting.

def _as_dict(names, c) -> dict[str, float]:
    return {n: float(round(v, 6)) for n, v in zip(names, c, strict=True) if v != 0.0}


def _linear_fit(rows: list[dict], y: list[float]) -> dict:
    x = np.array([[r[n] for n in AREA_FEATURES] for r in rows], dtype=float)
    yv = np.array(y, dtype=float)
    w = 1.0 / np.maximum(yv, 1e-9)
    c = nonneg_lstsq(x * w[:, None], yv * w, free=(AREA_FEATURES.index("one"),))
    return _as_dict(AREA_FEATURES, c)


def fit_linear(records: list[dict], key: str, exclude: int | None = None) -> dict:
    """Coefficients of `key` (area_um2 or cells) over AREA_FEATURES."""
    rows = [(area_features(point_structure(r["point"])), r["measured"][key])
            for i, r in enumerate(records) if i != exclude]
    return _linear_fit([f for f, _ in rows], [v for _, v in rows])


def fit_timing(records: list[dict], exclude: int | None = None, iterations: int = 30
               ) -> dict:
    """Stage-delay coefficients (ns) from the measured critical paths."""
    designs = []
    for i, r in enumerate(records):
        if i == exclude:
            continue
        feats = [np.array([f[n] for n in ASIC_TIMING_FEATURES], float)
                 for _, f in asic_stages(point_structure(r["point"]))]
        designs.append((feats, r["measured"]["critical_path_ns"]))
    return fit_critical_path(designs, ASIC_TIMING_FEATURES, [1.0, 0.2, 0.1, 0.05], iterations)


def fit_energy(epoints: list[dict], exclude: int | None = None) -> dict:
    """Energy per cycle (pJ) over AREA_FEATURES, from the activity-based figures."""
    rows = [(area_features(point_structure(e["point"])), e["pj_per_cycle"])
            for i, e in enumerate(epoints) if i != exclude]
    return _linear_fit([f for f, _ in rows], [v for _, v in rows]) if rows else {}


def fit_asic(records: list[dict], epoints: list[dict]) -> dict:
    """The "osu018" entry of coefficients.json."""
    return {"area": fit_linear(records, "area_um2"), "cells": fit_linear(records, "cells"),
            "timing": fit_timing(records), "energy": fit_energy(epoints)}


# ---------------------------------------------------------------------------------------
# Errors.

def predict(p: Point, coefs: dict) -> dict:
    return asic_values(point_structure(p), coefs)


def predictions(records: list[dict], coefs: dict, loo: bool = False) -> list[dict]:
    """Estimated values per record; with `loo` from coefficients fitted without it."""
    out = []
    for i, r in enumerate(records):
        c = coefs
        if loo:
            c = {**coefs, "area": fit_linear(records, "area_um2", exclude=i),
                 "cells": fit_linear(records, "cells", exclude=i),
                 "timing": fit_timing(records, exclude=i)}
        out.append(predict(r["point"], c))
    return out


def errors(records: list[dict], est: list[dict]) -> dict:
    """{key: {'n', 'median', 'max', 'worst'}} of |relative error| per CHECKED key."""
    table = {}
    for k in CHECKED:
        errs = [(abs(e[k] / r["measured"][k] - 1), r["point"].label)
                for r, e in zip(records, est, strict=True)
                if e[k] is not None and r["measured"][k]]
        if errs:
            table[k] = {"n": len(errs), "median": statistics.median(x for x, _ in errs),
                        "max": max(x for x, _ in errs), "worst": max(errs)[1]}
    return table


def energy_errors(epoints: list[dict], coefs: dict, loo: bool = False) -> list[float]:
    """|relative error| of the energy model against each activity-based figure."""
    out = []
    for i, e in enumerate(epoints):
        c = fit_energy(epoints, exclude=i) if loo else coefs["energy"]
        st = point_structure(e["point"])
        est = sum(v * area_features(st)[n] for n, v in c.items())
        out.append(abs(est / e["pj_per_cycle"] - 1))
    return out


def goal_misses(table: dict, which: str = "held-out") -> list[str]:
    """The GOALS `table` ({key: {'median', 'max'}}) misses, each as one line."""
    misses = []
    for k, (med, mx) in GOALS.items():
        t = table.get(k)
        if t is None:
            misses.append(f"{TARGET} {k}: no {which} designs")
            continue
        if t["median"] > med:
            misses.append(f"{TARGET} {k} {which} median {t['median']:.1%} > {med:.0%}")
        if mx is not None and t["max"] > mx:
            misses.append(f"{TARGET} {k} {which} max {t['max']:.1%} > {mx:.0%}")
    return misses


def _row(name: str, t: dict) -> str:
    return (f"| {name} | {t['n']} | {t['median']:.1%} | {t['max']:.1%} | {t['worst']} |")


def asic_report(records: list[dict], held: list[dict], coefs: dict, epoints: list[dict]
                ) -> tuple[list[str], list[str]]:
    """(Markdown lines of the osu018 section, goal misses)."""
    ins = errors(records, predictions(records, coefs))
    loo = errors(records, predictions(records, coefs, loo=True))
    held_t = errors(held, predictions(held, coefs)) if held else {}
    lines = [f"## Standard cells ({TARGET})", "",
             f"Area, cells and critical path of {len(records)} designs (and {len(held)} "
             "held out) mapped onto the OSU 0.18 um cells by asq_hw.synth.synthesize_asic; "
             "the model is asq_hw/estimate/asic.py. |relative error|:", "",
             "| figure | designs | median | max | worst design |", "|---|---|---|---|---|"]
    for k in CHECKED:
        for name, table in (("", ins), (" leave-one-out", loo), (" held out", held_t)):
            if k in table and not (k == "ff" and name):
                lines.append(_row(f"{k}{name}", table[k]))
    if epoints and coefs.get("energy"):
        e_in, e_loo = energy_errors(epoints, coefs), energy_errors(epoints, coefs, loo=True)
        lines += ["", f"Energy per MAC: the model's energy per cycle against the "
                  f"activity-based figure of {len(epoints)} PEs (docs/asic.json: POST lut, "
                  f"POST dual, POT, INT at W2..W6, A4 and A8, each on its own trained "
                  f"model's activity): median {statistics.median(e_in):.1%}, max "
                  f"{max(e_in):.1%} in sample; leave-one-out median "
                  f"{statistics.median(e_loo):.1%}, max {max(e_loo):.1%}. It stands for "
                  f"that workload's activity (every lane busy)."]
        arrays = energy_points(key="arrays")
        if arrays:
            errs = energy_errors(arrays, coefs)
            lines.append("On the arrays of docs/asic.json (never fitted on): " + ", ".join(
                f"{a['label']} {e:.1%}" for a, e in zip(arrays, errs, strict=True)) + ".")
    else:
        lines += ["", "Energy per MAC: no activity-based figures (docs/asic.json; "
                  "`python -m asq_hw.asic_report` writes it), so no energy model."]
    # Without held-out designs (the small grid) the goals apply to leave-one-out.
    which = "held-out" if held else "leave-one-out"
    misses = goal_misses(held_t if held else loo, which)
    lines += ["", f"Goals ({which}: area median <= 5 %, max <= 15 %; fmax median <= 15 %): "
              + ("met." if not misses else "missed: " + "; ".join(misses) + "."), ""]
    return lines, misses


# ---------------------------------------------------------------------------------------
# The whole run (`asq-hw calibrate --targets osu018`).

@dataclasses.dataclass(frozen=True)
class AsicCalibration:
    """The "osu018" entry of coefficients.json (fitted, or the committed one with check),
    the report page, the goals missed, and how many designs were measured in how long."""

    entry: dict
    report: str
    misses: list
    designs: int
    wall_s: float


def calibrate_asic(grid_name: str, *, jobs: int = 1, check: bool = False,
                   committed: dict | None = None, progress=None) -> AsicCalibration:
    """Measure `grid_name` (and, with the full grid, the held-out designs) on osu018, fit
    the model (or, with `check`, take `committed`'s "osu018" entry) and write the report."""
    import datetime

    from asq_hw.synth.liberty import tool_version as native_version
    from asq_hw.synth.tools import tool_version

    points = grid(grid_name)
    t0 = time.perf_counter()
    records = measure_asic(points, jobs, progress)
    held = measure_asic(holdout(), jobs, progress) if grid_name == "full" else []
    wall = time.perf_counter() - t0
    epoints = energy_points()
    prov = {"command": f"asq-hw calibrate --grid {grid_name} --targets {TARGET}",
            "grid": grid_name, "date": datetime.date.today().isoformat(),
            "points": len(points), "held_out": len(held),
            "energy_points": len(epoints),
            "tools": {"yosys": tool_version("yosys"), "sta": native_version("sta")},
            "wall_s": round(wall, 1),
            "synth_s": round(sum(sum(r["seconds_tools"].values())
                                 for r in records + held), 1)}
    if check:
        entry = (committed or {}).get(TARGET)
        if not entry:
            raise UserError(f"no {TARGET} coefficients to check: run `asq-hw calibrate "
                            f"--targets {TARGET}` first")
        mode = f"check of the committed coefficients (fitted {entry['provenance']['date']})"
    else:
        entry = {"provenance": prov, **fit_asic(records, epoints)}
        mode = "fit (coefficients written to asq_hw/estimate/coefficients.json, \"osu018\")"
    lines, misses = asic_report(records, held, entry, epoints)
    page = [f"# Estimator accuracy: standard cells ({TARGET})", "",
            f"Written by `{prov['command']}{' --check' if check else ''}`: {mode}. "
            f"{len(points)} designs and {len(held)} held out, {prov['wall_s']:.0f} s "
            f"(synthesis and timing as first computed: {prov['synth_s']:.0f} s of tool "
            f"time; the cache makes a repeat fast). Tools: Yosys {prov['tools']['yosys']}, "
            f"OpenSTA {prov['tools']['sta']}.", "", *lines[2:]]
    return AsicCalibration(entry, "\n".join(page), misses, len(points), wall)
