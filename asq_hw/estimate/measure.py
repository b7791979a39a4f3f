"""Calibration's measurements: every grid point (grid.py) synthesised for every target,
the ecp5 flow against stock synth_ecp5, and the cost of an estimate against a synthesis.

    records = measure(grid("full"), TARGETS, jobs=2)       # synthesis, cached on disk

A record is {'point', 'target', 'measured' (the RESOURCE_KEYS), 'cells', 'fmax_note',
'device', 'seconds', 'seconds_tools' (each tool's time as first computed), 'cached'}.
"""

from __future__ import annotations

import datetime
import functools
import statistics
import time

from asq_hw.designs import PNR_TARGETS, RESOURCE_KEYS, TARGETS
from asq_hw.estimate.grid import Point
from asq_hw.estimate.logic import table_luts
from asq_hw.estimate.model import resources
from asq_hw.estimate.structure import decoder_tables, rom_columns, structure
from asq_hw.parallel import pmap
from asq_hw.synth import stock_ecp5_luts, synthesize
from asq_hw.synth.tools import tool_version
from hw.gen import generate_pe
from hw.gen_array import generate_array


def point_structure(p: Point):
    return structure(p.cfg, p.kind, p.rows or 1)


def design_text(p: Point) -> tuple[str, str]:
    """(Verilog text, top module) of a grid point."""
    if p.rows is not None:
        text, man = generate_array(p.cfg, p.rows)
    else:
        text, man = generate_pe(p.cfg, p.kind)
    return text, man["top"]


def _measure_one(p: Point, targets: tuple[str, ...]) -> list[dict]:
    text, top = design_text(p)
    out = []
    for t in targets:
        t0 = time.perf_counter()
        r = synthesize(text, top, t, fmax=t in PNR_TARGETS, transistors=True)
        out.append({"point": p, "target": t,
                    "measured": {k: getattr(r, k) for k in RESOURCE_KEYS},
                    "cells": r.cells, "fmax_note": r.fmax_note, "device": r.device,
                    "seconds": time.perf_counter() - t0, "seconds_tools": dict(r.seconds),
                    "cached": list(r.cached)})
    return out


def measure(points: list[Point], targets: tuple[str, ...], jobs: int = 1,
            progress=None) -> list[dict]:
    """Synthesise every point for every target (cached; see asq_hw/synth); records in
    point order. `progress(done, total, record_list)` after each point."""
    def arrived(i, recs):
        done[0] += 1
        if progress:
            progress(done[0], len(points), recs)
    done = [0]
    per_point = pmap(functools.partial(_measure_one, targets=targets), points, jobs,
                     on_result=arrived)
    return [r for recs in per_point for r in recs]


def _stock_one(p: Point) -> dict:
    text, top = design_text(p)
    return stock_ecp5_luts(text, top)


def flow_check(records: list[dict], jobs: int = 1) -> list[dict]:
    """The ecp5 flow's LUTs against stock synth_ecp5 (ABC9) for every POST design with an
    ecp5 record: [{'label', 'flow', 'stock' (None if ABC9 failed), 'error'}] (cached)."""
    recs = [r for r in records if r["target"] == "ecp5" and r["point"].kind == "post"]
    stock = pmap(_stock_one, [r["point"] for r in recs], jobs)
    return [{"label": r["point"].label, "flow": r["measured"]["lut"], "stock": s["lut"],
             "error": s["error"]} for r, s in zip(recs, stock, strict=True)]


def provenance(records: list[dict], grid_name: str, wall_s: float) -> dict:
    """Where coefficients come from: the command, date, grid, tools and wall time."""
    tools = {"yosys": tool_version("yosys")}
    for t in PNR_TARGETS:
        tools[f"nextpnr-{t}"] = tool_version(f"nextpnr-{t}")
    return {
        "command": f"asq-hw calibrate --grid {grid_name}",
        "grid": grid_name,
        "date": datetime.date.today().isoformat(),
        "points": len({r["point"] for r in records}),
        "targets": sorted({r["target"] for r in records}, key=TARGETS.index),
        "tools": tools,
        "wall_s": round(wall_s, 1),
        # Tool time as each result was first computed (the cache keeps it): what a run
        # from an empty cache costs, divided by --jobs.
        "synth_s": round(sum(sum(r.get("seconds_tools", {}).values()) for r in records), 1),
    }


def measure_speed(records: list[dict], coefs: dict) -> dict:
    """Mean time of one estimate over the grid (caches cleared) and of its synthesis."""
    points = list(dict.fromkeys((r["point"], r["target"]) for r in records))
    for f in (structure, table_luts, decoder_tables, rom_columns):
        f.cache_clear()
    t0 = time.perf_counter()
    for p, t in points:
        resources(point_structure(p), t, coefs)
    est = (time.perf_counter() - t0) / len(points)
    synth = [sum(r["seconds_tools"].values()) for r in records if r.get("seconds_tools")]
    synth_s = statistics.mean(synth) if synth else float("nan")
    return {"estimate_ms": 1000 * est, "estimates": len(points), "synth_s": synth_s,
            "ratio": est / synth_s if synth else float("nan")}
