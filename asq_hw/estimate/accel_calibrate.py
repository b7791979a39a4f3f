"""Calibrate the accelerator estimator: synthesise the accelerators of FIT_DESIGNS (and the
HELD_OUT ones, never fitted on), fit accel_coefficients.json, print the accuracy table.

    PYTHONPATH=. python -m asq_hw.estimate.accel_calibrate CNN4_DIR CNN16_DIR [--jobs 2]
        [--check]    # only measure and compare with the committed coefficients

CNN4_DIR: the width-4 digits CNN of tests/array_export.py (`asq-hw train --width 4
--float-epochs 3 --epochs 2`); CNN16_DIR: the width-16 one (`asq-hw train --width 16
--float-epochs 10 --epochs 10`). Every synthesis is Yosys only (counts and memory
decisions, cached: asq_hw/synth/accel.py); fmax comes from the placed designs of the fit
table (FMAX_DESIGNS), also cached.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor

from asq_hw.estimate.accel import ACCEL_COEFFICIENTS

# (network, variant, rows, lanes) per target; ice40 synthesis is about 4x slower, so fewer.
FIT_DESIGNS = {
    "ecp5": [("cnn4", "lut", 2, 2), ("cnn4", "lut", 4, 4), ("cnn4", "dual", 4, 4),
             ("cnn4", "lut", 3, 5), ("cnn4", "lut", 8, 8),
             ("cnn16", "lut", 4, 4), ("cnn16", "lut", 2, 3), ("cnn16", "dual", 3, 3),
             ("cnn16", "lut", 4, 8), ("cnn16", "lut", 8, 8), ("cnn16", "dual", 8, 4)],
    "ice40": [("cnn4", "lut", 2, 2), ("cnn4", "lut", 4, 4), ("cnn4", "dual", 4, 4),
              ("cnn16", "lut", 4, 4), ("cnn16", "dual", 3, 3), ("cnn4", "lut", 3, 5)],
}
HELD_OUT = {"ecp5": [("cnn4", "lut", 6, 3), ("cnn16", "lut", 5, 5), ("cnn16", "dual", 4, 6),
                     ("cnn4", "dual", 8, 2)],
            "ice40": [("cnn4", "lut", 6, 3), ("cnn16", "lut", 5, 5), ("cnn4", "dual", 8, 2)]}
# Placed (nextpnr) for the fmax factor: the fit table's designs, per target.
FMAX_DESIGNS = {"ice40": [("cnn4", "lut", 2, 2)], "ecp5": [("cnn16", "lut", 8, 8)]}


def measure_one(args: tuple) -> dict:
    """Synthesise one design on one target: its counts and the estimator's inputs."""
    net_dir, net, variant, rows, lanes, target, fmax = args
    from asq_hw.artifact import load_artifact
    from asq_hw.estimate.accel import accel_shape
    from asq_hw.synth import synthesize
    from asq_hw.synth.accel import build_accel, counts_with_memories
    from asq_hw.synth.yosys import count_resources

    acc, text, man = build_accel(load_artifact(net_dir), variant, rows, lanes)
    r = counts_with_memories(text, man["top"], target)
    measured = count_resources(r["cells"], target)
    measured["fmax_mhz"] = None
    if fmax:
        measured["fmax_mhz"] = synthesize(text, man["top"], target, transistors=False
                                          ).fmax_mhz
    return {"label": f"{net} {variant} {rows}x{lanes}", "target": target,
            "shape": accel_shape(acc, man), "measured": measured,
            "memories": r["memories"]}


def measure_all(designs: dict, nets: dict, jobs: int, fmax: bool = False) -> list[dict]:
    """Records of `designs` ({target: [(network, variant, rows, lanes)]})."""
    from asq_hw.estimate.accel_fit import record

    work = [(nets[n], n, v, p, q, t, fmax) for t, ds in designs.items() for n, v, p, q in ds]
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        done = list(ex.map(measure_one, work))
    return [record(d["shape"], d["target"], d["measured"], d["label"]) for d in done]


def table_markdown(errors: dict) -> str:
    lines = ["| design | target | LUT measured / est. (err) | FF | carry | BRAM |",
             "|---|---|---|---|---|---|"]
    for r in errors["rows"]:
        cells = [f"{m} / {e} ({d:+.1f} %)" for m, e, d in (r[k] for k in ("lut", "ff",
                                                                          "carry"))]
        bm, be, _ = r["bram"]
        lines.append(f"| {r['label']} | {r['target']} | " + " | ".join(cells)
                     + f" | {bm} / {be} |")
    for t, s in errors["summary"].items():
        lines.append(f"| **{t}** ({s['n']} designs) | | median {s['lut']['median']:.1f} %, "
                     f"max {s['lut']['max']:.1f} % | median {s['ff']['median']:.1f} %, max "
                     f"{s['ff']['max']:.1f} % | median {s['carry']['median']:.1f} %, max "
                     f"{s['carry']['max']:.1f} % | {s['bram_exact']}/{s['n']} exact |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from asq_hw.estimate.accel import estimate_shape, load_accel_coefficients
    from asq_hw.estimate.accel_fit import accel_errors, fit_accel
    from asq_hw.synth.tools import tool_version

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cnn4")
    p.add_argument("cnn16")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--check", action="store_true")
    a = p.parse_args(argv)
    nets = {"cnn4": a.cnn4, "cnn16": a.cnn16}
    fit_recs = measure_all(FIT_DESIGNS, nets, a.jobs)
    held = measure_all(HELD_OUT, nets, a.jobs)
    placed = measure_all(FMAX_DESIGNS, nets, a.jobs, fmax=True)
    if a.check:
        coefs = load_accel_coefficients()
    else:
        coefs = fit_accel(fit_recs, {
            "command": "python -m asq_hw.estimate.accel_calibrate CNN4 CNN16",
            "fit": {t: [" ".join(map(str, d)) for d in ds] for t, ds in FIT_DESIGNS.items()},
            "held_out": {t: [" ".join(map(str, d)) for d in ds] for t, ds in HELD_OUT.items()},
            "fmax": {t: [" ".join(map(str, d)) for d in ds] for t, ds in FMAX_DESIGNS.items()},
            "tools": {"yosys": tool_version("yosys")}}, fmax_records=placed)
        ACCEL_COEFFICIENTS.write_text(json.dumps(coefs, indent=1, sort_keys=True) + "\n")
    print("## fitted on\n")
    print(table_markdown(accel_errors(fit_recs, coefs)))
    print("\n## held out\n")
    print(table_markdown(accel_errors(held, coefs)))
    print("\n## placed (fmax)\n")
    for r in placed:
        e = estimate_shape(r["shape"], r["target"], coefs)
        m = r["measured"]
        print(f"- {r['label']} on {r['target']}: fmax {m['fmax_mhz']} MHz measured, "
              f"{e['fmax_mhz']:.1f} estimated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
