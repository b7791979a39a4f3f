"""docs/estimator-accuracy.md: the calibration's error tables as Markdown.

`report_markdown` writes the whole page (the error tables per design set and target, the
goals, the speed of an estimate, notes, the ecp5 flow against stock ABC9 from `flow_lines`,
the largest errors and the commands that reproduce it); `cell` formats one table cell.
"""

from __future__ import annotations

import statistics

from asq_hw.estimate.accuracy import error_table, goal_misses, pct, worst
from asq_hw.estimate.model import XC7_SPEEDUP

# The columns of every error table: RESOURCE_KEYS in the order this report has always
# shown them (bram before dsp; tests/test_estimate_calibrate.py checks they are the same keys).
SHOWN = ("lut", "ff", "carry", "bram", "dsp", "fmax_mhz", "transistors")
# The keys counted rather than fitted: their cells also say how many designs are exact.
COUNTED = ("ff", "carry", "bram", "dsp")


def cell(stats: dict | None, key: str) -> str:
    """'median / max' of one error_table cell, with the exact count for COUNTED keys."""
    if stats is None:
        return "-"
    s = f"{pct(stats['median'])} / {pct(stats['max'])}"
    if key in COUNTED:
        s += f" ({stats['exact']}/{stats['n']} exact)"
    return s


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
            lines.append(f"| {t} | " + " | ".join(cell(table[t].get(k), k) for k in SHOWN)
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
                             f"({pct(err)})")
    lines += ["", "## Reproduce", "", "```",
              f"asq-hw calibrate --grid {prov['grid']} --jobs 2          # synthesise "
              "(cached), fit, write coefficients.json and this file",
              f"asq-hw calibrate --grid {prov['grid']} --check           # evaluate the "
              "committed coefficients only",
              "asq-hw estimate pe --wbits 4 --abits 4 --lanes 8 --target ice40",
              "asq-hw synth pe --wbits 4 --abits 4 --lanes 8 --target ice40",
              "```", ""]
    return "\n".join(lines)


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
                     f"by median {pct(statistics.median(abs(x) for x in d))}, max "
                     f"{pct(max(abs(x) for x in d))} (mean signed {pct(statistics.mean(d))}"
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
