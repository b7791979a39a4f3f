"""Calibration's measurements: every grid point (grid.py) synthesised for every target,
the ecp5 flow against stock synth_ecp5, and the cost of an estimate against a synthesis.

    records = measure(grid("full"), TARGETS, jobs=2)       # synthesis, cached on disk

A record is {'point', 'target', 'measured' (the RESOURCE_KEYS), 'cells', 'fmax_note',
'device', 'seconds', 'seconds_tools' (each tool's time as first computed), 'cached'}.
"""

from __future__ import annotations

import datetime
import statistics
import time

from asq_hw.config import PEConfig
from asq_hw.designs import PNR_TARGETS, RESOURCE_KEYS, TARGETS
from asq_hw.estimate.grid import Point
from asq_hw.estimate.logic import table_luts
from asq_hw.estimate.model import resources
from asq_hw.estimate.structure import decoder_tables, rom_columns, structure
from asq_hw.results import pmap_saved
from asq_hw.synth import jobs as synth_jobs
from asq_hw.synth import stock_ecp5_luts
from asq_hw.synth.jobs import SynthJob
from asq_hw.synth.tools import tool_version


def point_structure(p: Point):
    return structure(p.cfg, p.kind, p.rows or 1)


def design_text(p: Point) -> tuple[str, str]:
    """(Verilog text, top module) of a grid point."""
    return synth_jobs.design_text(p.kind, p.cfg, p.rows)


def synth_job(p: Point, target: str) -> SynthJob:
    return SynthJob(p.kind, p.cfg, p.rows, target, fmax=target in PNR_TARGETS)


def record(p: Point, target: str, value: dict) -> dict:
    """A calibration record from a synthesis result (synth_jobs.run)."""
    return {"point": p, "target": target,
            "measured": {k: value[k] for k in RESOURCE_KEYS},
            "cells": value["cells"], "fmax_note": value["fmax_note"],
            "device": value["device"], "seconds": value["wall_s"],
            "seconds_tools": dict(value["seconds"]), "cached": list(value["cached"])}


def measure(points: list[Point], targets: tuple[str, ...], jobs: int = 1,
            progress=None, *, executor=None, tally=None) -> list[dict]:
    """Synthesise every point for every target, each pair an item of one parallel map
    (`jobs` local processes, or `executor`: a Dask cluster's); records in point order.
    Each result is saved as it arrives (asq_hw.results) and the stages are cached
    (asq_hw/synth), so an interrupted calibration resumes where it stopped.
    `progress(done, total, [record])` after each pair."""
    pairs = [(p, t) for p in points for t in targets]
    # Largest designs first: on many workers the slowest syntheses (the 8x8 arrays' place
    # and route) then start at once instead of last.
    order = sorted(range(len(pairs)),
                   key=lambda i: -(pairs[i][0].rows or 1) * pairs[i][0].cfg.lanes)
    todo = [synth_job(*pairs[i]) for i in order]
    done = [0]

    def arrived(j, value):
        done[0] += 1
        if progress:
            progress(done[0], len(pairs), [record(*pairs[order[j]], value)])
    values = pmap_saved(synth_jobs.run, todo, [j.key() for j in todo], "synth", jobs=jobs,
                        executor=executor, tally=tally, on_result=arrived)
    by_pair = dict(zip(order, values, strict=True))
    return [record(p, t, by_pair[i]) for i, (p, t) in enumerate(pairs)]


def worker_facts(targets: tuple[str, ...]) -> dict:
    """What a Dask worker must share with this machine for calibration (the tools of
    `targets`, the synthesis code): asq_hw.cluster.connect compares them."""
    jobs = [synth_job(Point("post", PEConfig()), t) for t in targets]
    return synth_jobs.facts(synth_jobs.tools_of(jobs))


def _stock_one(p: Point) -> dict:
    text, top = design_text(p)
    return stock_ecp5_luts(text, top)


def flow_check(records: list[dict], jobs: int = 1, *, executor=None) -> list[dict]:
    """The ecp5 flow's LUTs against stock synth_ecp5 (ABC9) for every POST design with an
    ecp5 record: [{'label', 'flow', 'stock' (None if ABC9 failed), 'error'}] (cached)."""
    recs = [r for r in records if r["target"] == "ecp5" and r["point"].kind == "post"]
    points = [r["point"] for r in recs]
    keys = [{**synth_job(p, "ecp5").key(), "job": "stock_ecp5_luts"} for p in points]
    stock = pmap_saved(_stock_one, points, keys, "synth", jobs=jobs, executor=executor)
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
