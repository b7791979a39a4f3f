"""Calibration (`asq-hw calibrate`): synthesise the grid, fit the model's coefficients or
check the committed ones, and report the errors. Each concern has its module:

    measure.py          records = measure(grid("full"), TARGETS, jobs=2)   # synthesis, cached
    fit.py              coefs = fit(records)                               # per-target
    accuracy.py         table = error_table(records, predictions(records, coefs))
    accuracy_report.py  report_markdown(...)        # docs/estimator-accuracy.md

`calibrate` runs them in that order, as the command does.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from asq_hw.estimate import load_coefficients
from asq_hw.estimate.accuracy import error_table, predictions
from asq_hw.estimate.accuracy_report import report_markdown
from asq_hw.estimate.fit import fit
from asq_hw.estimate.grid import grid, holdout
from asq_hw.estimate.measure import flow_check, measure, measure_speed, provenance


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What a calibration run produced: the coefficients (fitted, or the committed ones
    with check), the report's Markdown, the POST designs' error table (for the goals),
    and how many designs it measured in how long."""

    coefficients: dict
    report: str
    post_table: dict
    designs: int
    wall_s: float


def calibrate(grid_name: str, targets: tuple[str, ...], *, jobs: int = 1, check: bool = False,
              coefficients: Path | None = None, progress=None) -> Calibration:
    """Measure `grid_name` (with the full grid also the held-out designs, never fitted on)
    on `targets`; fit (or, with `check`, load `coefficients`); predict, and write the
    report's text. `progress(done, total, records)` after each design (measure.measure)."""
    points = grid(grid_name)
    t0 = time.perf_counter()
    records = measure(points, targets, jobs, progress)
    held = measure(holdout(), targets, jobs, progress) if grid_name == "full" else []
    wall = time.perf_counter() - t0
    prov = provenance(records + held, grid_name, wall)
    if check:
        coefs = load_coefficients(coefficients)
        mode = (f"check of the committed coefficients (fitted {coefs['provenance']['date']} "
                f"with `{coefs['provenance']['command']}`)")
    else:
        coefs = {"provenance": prov, **fit(records)}
        mode = "fit (coefficients written to asq_hw/estimate/coefficients.json)"
    est = predictions(records, coefs)
    loo = predictions(records, coefs, loo=True)
    speed = measure_speed(records, coefs)
    held_est = predictions(held, coefs)
    flow = flow_check(records + held, jobs) if "ecp5" in targets else None
    text = report_markdown(records, coefs, prov, est, loo, speed, mode, held, held_est, flow)
    return Calibration(coefs, text, error_table(records, est, lambda p: p.kind == "post"),
                       len(points), wall)
