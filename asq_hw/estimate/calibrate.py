"""Calibration: synthesise the grid (grid.py), fit the model's coefficients, report errors.

    records = measure(grid("full"), TARGETS, jobs=2)       # synthesis, cached on disk
    coefs = fit(records)                                    # per-target coefficients
    table = error_table(records, coefs)                     # relative errors per resource

Fitting (model.py says which quantities are fitted and which are exact):
- lut (per target) and transistors: weighted least squares on relative error, coefficients
  kept non-negative (a negative one is dropped and the rest refitted), the constant free;
- mul_carry (per target): the INT multipliers' carry cells per product bit;
- timing (ice40, ecp5): the stage delays of model.timing_stages as one linear function per
  target, fitted to the measured periods (1000 / fmax) by alternating between assigning
  each design its slowest predicted stage and least squares on those stages.

The error table reports in-sample errors and, for the fitted quantities, leave-one-out
errors (each design predicted by coefficients fitted without it), the honest figure for a
design the grid does not contain.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import statistics
import time

import numpy as np

from asq_hw.estimate.grid import Point
from asq_hw.estimate.model import (
    CMOS_FEATURES,
    KEYS,
    LUT_FEATURES,
    TARGETS,
    TIMING_FEATURES,
    XC7_SPEEDUP,
    carry_cells,
    cmos_features,
    fabric_mul_bits,
    lut_features,
    resources,
    timing_stages,
)
from asq_hw.estimate.structure import structure

PNR_TARGETS = ("ice40", "ecp5")


def point_structure(p: Point):
    return structure(p.cfg, p.kind, p.rows or 1)


def design_text(p: Point) -> tuple[str, str]:
    """(Verilog text, top module) of a grid point."""
    if p.rows is not None:
        from hw.gen_array import generate_array
        text, man = generate_array(p.cfg, p.rows)
    else:
        from hw.gen import generate_pe
        text, man = generate_pe(p.cfg, p.kind)
    return text, man["top"]


def _measure_one(p: Point, targets: tuple[str, ...]) -> list[dict]:
    from asq_hw.synth import synthesize

    text, top = design_text(p)
    out = []
    for t in targets:
        t0 = time.perf_counter()
        r = synthesize(text, top, t, fmax=t in PNR_TARGETS, transistors=True)
        out.append({"point": p, "target": t, "measured": {k: getattr(r, k) for k in KEYS},
                    "cells": r.cells, "fmax_note": r.fmax_note, "device": r.device,
                    "seconds": time.perf_counter() - t0, "seconds_tools": dict(r.seconds),
                    "cached": list(r.cached)})
    return out


def _in_order(fn, items: list, jobs: int, progress=None) -> list:
    """[fn(item) for item in items], in `jobs` processes when jobs > 1 (fn picklable);
    `progress(done, total, result)` as each finishes."""
    results: dict[int, object] = {}

    def done(i, value):
        results[i] = value
        if progress:
            progress(len(results), len(items), value)

    if jobs <= 1:
        for i, item in enumerate(items):
            done(i, fn(item))
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            futs = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for fut in concurrent.futures.as_completed(futs):
                done(futs[fut], fut.result())
    return [results[i] for i in range(len(items))]


def measure(points: list[Point], targets: tuple[str, ...], jobs: int = 1,
            progress=None) -> list[dict]:
    """Synthesise every point for every target (cached; see asq_hw/synth); records in
    point order. `progress(done, total, record_list)` after each point."""
    per_point = _in_order(functools.partial(_measure_one, targets=targets), points, jobs,
                          progress)
    return [r for recs in per_point for r in recs]


def _stock_one(p: Point) -> dict:
    from asq_hw.synth import stock_ecp5_luts

    text, top = design_text(p)
    return stock_ecp5_luts(text, top)


def flow_check(records: list[dict], jobs: int = 1) -> list[dict]:
    """The ecp5 flow's LUTs against stock synth_ecp5 (ABC9) for every POST design with an
    ecp5 record: [{'label', 'flow', 'stock' (None if ABC9 failed), 'error'}] (cached)."""
    recs = [r for r in records if r["target"] == "ecp5" and r["point"].kind == "post"]
    stock = _in_order(_stock_one, [r["point"] for r in recs], jobs)
    return [{"label": r["point"].label, "flow": r["measured"]["lut"], "stock": s["lut"],
             "error": s["error"]} for r, s in zip(recs, stock, strict=True)]


def flow_lines(rows: list[dict]) -> list[str]:
    """The report's section on the ecp5 flow against stock ABC9."""
    done = [r for r in rows if r["stock"] is not None]
    failed = [r for r in rows if r["stock"] is None]
    lines = ["## ECP5 flow against stock synth_ecp5", "",
             "The ecp5 ground truth maps with classic ABC to LUT4s because stock synth_ecp5 "
             "(ABC9) is unreliable in this Yosys (asq_hw/synth/yosys.py). How far that is "
             "from stock ABC9's LUT4 sites, on the POST designs above and held out:", ""]
    if done:
        d = [r["flow"] / r["stock"] - 1 for r in done]
        lines.append(f"- ABC9 finished on {len(done)} of {len(rows)}: the flow's LUTs differ "
                     f"by median {_pct(statistics.median(abs(x) for x in d))}, max "
                     f"{_pct(max(abs(x) for x in d))} (mean signed {_pct(statistics.mean(d))}"
                     f"; as many or more on {sum(x >= 0 for x in d)} of them).")
        far = sorted(done, key=lambda r: -abs(r["flow"] / r["stock"] - 1))[:3]
        lines.append("- farthest: " + "; ".join(
            f"{r['label']} {r['flow']} vs {r['stock']}" for r in far) + ".")
    if failed:
        why: dict[str, list[str]] = {}
        for r in failed:
            why.setdefault(r["error"].split("ERROR: ", 1)[-1], []).append(r["label"])
        lines.append(f"- ABC9 failed on {len(failed)}: " + "; ".join(
            f"{', '.join(labels)} ({msg})" for msg, labels in why.items()) + ".")
    return lines + [""]


# ---------------------------------------------------------------------------------------
# Fitting.

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
    c = np.array([2.0, 1.0, 0.05, 1.0, 0.0, 0.1])
    choice = None
    for _ in range(iterations):
        new = [int(np.argmax([fv @ c for fv in feats])) for feats, _ in designs]
        if new == choice:
            break
        choice = new
        x = np.array([feats[j] for (feats, _), j in zip(designs, choice, strict=True)])
        y = np.array([p for _, p in designs])
        w = 1.0 / y
        c = nonneg_lstsq(x * w[:, None], y * w, free=(TIMING_FEATURES.index("one"),))
    return _as_dict(TIMING_FEATURES, c)


def fit(records: list[dict]) -> dict:
    """Coefficients of every fitted quantity from calibration records."""
    targets = sorted({r["target"] for r in records}, key=TARGETS.index)
    return {
        "lut": {t: fit_lut(records, t) for t in targets},
        "mul_carry": fit_mul_carry(records),
        "timing": {t: fit_timing(records, t) for t in targets if t in PNR_TARGETS},
        "cmos": fit_cmos(records),
    }


def provenance(records: list[dict], grid_name: str, wall_s: float) -> dict:
    """Where coefficients come from: the command, date, grid, tools and wall time."""
    from asq_hw.synth.tools import tool_version

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


# ---------------------------------------------------------------------------------------
# Errors.

def predictions(records: list[dict], coefs: dict, loo: bool = False) -> list[dict]:
    """Estimated KEYS per record; with `loo`, lut, fmax and transistors from coefficients
    fitted without that record's design (leave-one-out)."""
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
        for k in KEYS:
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


# ---------------------------------------------------------------------------------------
# The report.

GOALS = {"lut": (0.05, 0.15), "ff": (0.05, 0.15), "fmax_mhz": (0.15, None)}
SHOWN = ("lut", "ff", "carry", "bram", "dsp", "fmax_mhz", "transistors")


def _pct(x: float) -> str:
    return "inf" if x == float("inf") else f"{100 * x:.1f}%"


def _cell(stats: dict | None, key: str) -> str:
    if stats is None:
        return "-"
    s = f"{_pct(stats['median'])} / {_pct(stats['max'])}"
    if key in ("ff", "carry", "bram", "dsp"):
        s += f" ({stats['exact']}/{stats['n']} exact)"
    return s


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
                misses.append(f"{t} {k} median {_pct(s['median'])} > {_pct(med)}")
            if mx is not None and s["max"] > mx:
                misses.append(f"{t} {k} max {_pct(s['max'])} > {_pct(mx)}")
    return misses


def worst(records: list[dict], est: list[dict], key: str, target: str, n: int = 5):
    rows = []
    for r, e in zip(records, est, strict=True):
        err = rel_err(e[key], r["measured"][key])
        if r["target"] == target and err is not None:
            rows.append((abs(err), r["point"].label, e[key], r["measured"][key]))
    return sorted(rows, key=lambda x: x[0], reverse=True)[:n]


def report_markdown(records: list[dict], coefs: dict, prov: dict, est: list[dict],
                    loo: list[dict], speed: dict | None, mode: str,
                    held: list[dict] | None = None, held_est: list[dict] | None = None,
                    flow: list[dict] | None = None) -> str:
    """docs/estimator-accuracy.md: the error tables, the goals, how to reproduce."""
    def is_post(p):
        return p.kind == "post"

    tables = {
        "POST PEs and arrays (in-sample)": error_table(records, est, is_post),
        "POST PEs and arrays (leave-one-out)": error_table(records, loo, is_post),
        "INT / POT baselines (in-sample)": error_table(records, est, lambda p: not is_post(p)),
    }
    if held:
        tables[f"Held out: {len({r['point'] for r in held})} random POST designs outside the "
               "grid, never fitted on"] = error_table(held, held_est)
    targets = prov["targets"]
    n_post = len({r["point"] for r in records if is_post(r["point"])})
    n_base = len({r["point"] for r in records if not is_post(r["point"])})
    lines = [
        "# Estimator accuracy",
        "",
        "Written by `asq-hw calibrate` (asq_hw/estimate/calibrate.py); do not edit by hand.",
        f"Mode: {mode}. Date: {prov['date']}. Tools: "
        + ", ".join(f"{k} {v}" for k, v in prov["tools"].items()) + ".",
        "",
        f"Grid `{prov['grid']}`: {n_post} POST designs (PEs over every (wbits, abits) pair "
        "2..6 x 2..8, both variants, signed and unsigned, lanes 1..8, frac_bits 4..16, "
        f"arrays 1x8 .. 8x8) and {n_base} baseline PEs (INT, POT), on "
        + ", ".join(targets) + f". Synthesis of the grid, as first computed: "
        f"{prov.get('synth_s', float('nan')):.0f} s of tool time (Yosys, nextpnr, CMOS), "
        f"about that divided by --jobs in wall time; this run took {prov['wall_s']:.0f} s "
        "(results cached on disk).",
        "",
        "Ground truth: Yosys (synth_ice40, synth_ecp5, synth_xilinx) cell counts of the "
        "design, nextpnr fmax of the design in a 3-pin I/O wrapper (ice40 HX8K, ECP5 "
        "25k..85k), Yosys `stat -tech cmos` transistors (asq_hw/synth). The estimate: "
        "asq_hw/estimate (ff and carry counted exactly from the RTL structure; lut, fmax and "
        "transistors from structural counts times the coefficients in "
        "asq_hw/estimate/coefficients.json).",
        "",
        "Each cell: median / max |relative error| over the designs; for ff, carry, bram and "
        "dsp also how many are exact. Leave-one-out: each design predicted by coefficients "
        "fitted without it (ff, carry, bram, dsp are not fitted: the same as in-sample).",
        "",
    ]
    for title, table in tables.items():
        lines += [f"## {title}", "",
                  "| target | " + " | ".join(SHOWN) + " |",
                  "|---" * (len(SHOWN) + 1) + "|"]
        for t in targets:
            if t not in table:
                continue
            lines.append(f"| {t} | " + " | ".join(_cell(table[t].get(k), k) for k in SHOWN)
                         + " |")
        lines.append("")
    post = tables["POST PEs and arrays (in-sample)"]
    post_loo = tables["POST PEs and arrays (leave-one-out)"]
    misses = goal_misses(post)
    misses_loo = goal_misses(post_loo)
    lines += ["## Goals", "",
              "LUT and FF median <= 5 %, max <= 15 %; fmax (ice40, ecp5) median <= 15 %, on "
              "the POST designs.", "",
              "- in-sample: " + ("all met." if not misses else "missed: " + "; ".join(misses)),
              "- leave-one-out: " + ("all met." if not misses_loo
                                     else "missed: " + "; ".join(misses_loo)),
              "- cycles: exactly the RTL's, by construction (asq_hw/mapper.py, checked against "
              "the RTL array in tests/test_estimate_network.py).", ""]
    if speed:
        lines += ["## Speed", "",
                  f"One estimate takes {speed['estimate_ms']:.3f} ms on average over the grid "
                  f"({speed['estimates']} estimates, structure cache cleared first); one "
                  f"synthesis of the same designs took {speed['synth_s']:.1f} s on average "
                  f"(Yosys counts, CMOS and place and route, as first computed): ratio "
                  f"{speed['ratio']:.1e}. `make bench` (asq_hw/bench/estimate_speed.py) "
                  "measures it again.", ""]
    lines += [
        "## Notes", "",
        "- ff, carry, bram and dsp are counted, not fitted: every register bit of the RTL "
        "(asq_hw/estimate/structure.py, checked bit for bit against the Amaranth design), "
        "minus what synthesis provably removes or merges (constant and unused registers, "
        "registers with equal inputs, the block RAM's read register, xc7's SRL16E and DSP48E1 "
        "packing); carry cells from the adders after Yosys' `alumacc` merging, which the "
        "estimator reproduces with Yosys' own overflow test.",
        "- ECP5 is mapped to LUT4s only (\"ECP5 flow against stock synth_ecp5\" below and "
        "asq_hw/synth/yosys.py say why). Classic ABC with 5- to 7-input LUTs (`abc -lut "
        "4:7`, the flow of the first calibration) maps for depth with every LUT size one "
        "unit of delay, so a term bit "
        "became one wide LUT (up to 8 LUT4s) or a small tree depending on the depth of the "
        "whole design: up to 1.9x stock ABC9's LUTs on these designs, and an estimate no "
        "structural count could follow (6.2% median, 31.7% max error).",
        "- xc7 fmax has no ground truth (no open place and route): the estimate scales the "
        "fitted ECP5 stage delays by a 7-series/ECP5 speed ratio of "
        f"{XC7_SPEEDUP} and is not checked.",
        "- Baselines: POT uses the POST model as is; INT adds LUTs per product bit and per "
        "carry-save bit of its merged product adders, fitted on 7 designs per target; ECP5 "
        "and xc7 put the multipliers in DSP blocks, and xc7 also sums each pair of products "
        "in a DSP48E1 post-adder (both counted, asq_hw/estimate/model.py).",
        "",
    ]
    if flow:
        lines += flow_lines(flow)
    lines += ["## Largest LUT errors (in-sample)", ""]
    for title, sub in (("POST", is_post), ("baselines", lambda p: not is_post(p))):
        rec = [(r, e) for r, e in zip(records, est, strict=True) if sub(r["point"])]
        for t in targets:
            for err, label, e, m in worst([r for r, _ in rec], [e for _, e in rec], "lut", t,
                                          3):
                lines.append(f"- {title}, {t}, {label}: estimate {e}, synthesis {m} "
                             f"({_pct(err)})")
    lines += ["", "## Reproduce", "", "```",
              f"asq-hw calibrate --grid {prov['grid']} --jobs 2          # synthesise "
              "(cached), fit, write coefficients.json and this file",
              f"asq-hw calibrate --grid {prov['grid']} --check           # evaluate the "
              "committed coefficients only",
              "asq-hw estimate pe --wbits 4 --abits 4 --lanes 8 --target ice40",
              "asq-hw synth pe --wbits 4 --abits 4 --lanes 8 --target ice40",
              "```", ""]
    return "\n".join(lines)


def measure_speed(records: list[dict], coefs: dict) -> dict:
    """Mean time of one estimate over the grid (caches cleared) and of its synthesis."""
    from asq_hw.estimate.logic import table_luts
    from asq_hw.estimate.structure import decoder_tables, rom_columns

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
