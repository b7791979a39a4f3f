"""`asq-hw calibrate [--grid small|full] [--targets T ...] [--jobs N] [--check]`: fit or check
the estimator against synthesis.

Synthesises every design of the grid (asq_hw/estimate/grid.py; with the full grid also 12
random designs outside it, checked but never fitted on) for every target with
`asq_hw.synth` (results cached on disk, so a repeated run takes seconds), fits the
estimator's coefficients (asq_hw/estimate/calibrate.py) and writes them, with their
provenance, to asq_hw/estimate/coefficients.json; then writes the error table (per target
and resource: median and max relative error, in-sample and leave-one-out) with the commands
that reproduce it to docs/estimator-accuracy.md. With --check nothing is refitted: the
committed coefficients are evaluated and only the report is written. With ecp5 among the
targets the report also compares the ecp5 flow's LUTs with stock synth_ecp5 (ABC9) on the
POST designs (asq_hw/synth/yosys.py says why they differ). Files are written
atomically. Exit status 1 when an accuracy goal is missed (the report says which).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

from asq_hw.cluster import HELP
from asq_hw.commands.args import Choice, check_int


def register(sub, help: str) -> None:
    from asq_hw.designs import ASIC_TARGETS, TARGETS
    from asq_hw.estimate.grid import GRIDS
    p = sub.add_parser("calibrate", help=help, description=__doc__)
    p.add_argument("--grid", default="full", action=Choice, allowed=GRIDS,
                   help="design grid (default full: ~64 designs per target)")
    p.add_argument("--targets", nargs="+", default=TARGETS, action=Choice,
                   allowed=TARGETS + ASIC_TARGETS, field="targets",
                   help=f"targets (default: {' '.join(TARGETS)}; {' '.join(ASIC_TARGETS)}: "
                        f"standard cells, its own report --asic-report)")
    p.add_argument("--jobs", type=int, default=1, help="parallel synthesis runs (default 1)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help=HELP)
    p.add_argument("--check", action="store_true",
                   help="evaluate the committed coefficients; do not refit")
    p.add_argument("--coefficients", default=None,
                   help="coefficients file (default asq_hw/estimate/coefficients.json)")
    p.add_argument("--report", default="docs/estimator-accuracy.md",
                   help="where to write the error table (default docs/estimator-accuracy.md)")
    p.add_argument("--asic-report", default="docs/estimator-accuracy-osu018.md",
                   help="where to write the osu018 error table (default "
                        "docs/estimator-accuracy-osu018.md)")
    p.set_defaults(func=run)


def run(args) -> int:
    from asq_hw.cluster import session
    from asq_hw.designs import ASIC_TARGETS
    from asq_hw.errors import UserError
    from asq_hw.estimate import COEFFICIENTS
    from asq_hw.estimate.accuracy import goal_misses
    from asq_hw.estimate.accuracy_report import SHOWN, cell
    from asq_hw.estimate.calibrate import calibrate
    from asq_hw.estimate.grid import grid, holdout
    from asq_hw.estimate.measure import worker_facts
    from asq_hw.outputs import write_text
    from asq_hw.parallel import Tally
    from asq_hw.progress import Progress

    asic = tuple(t for t in args.targets if t in ASIC_TARGETS)
    targets = tuple(t for t in args.targets if t not in ASIC_TARGETS)
    check_int("jobs", args.jobs, 1, 64)
    coef_path = Path(args.coefficients or COEFFICIENTS)
    report = Path(args.report)
    for path in ([report] if targets else []) + ([Path(args.asic_report)] if asic else []):
        if not path.parent.is_dir():
            raise UserError(f"report folder {path.parent} does not exist")
    misses = []
    committed = json.loads(coef_path.read_text()) if coef_path.is_file() else {}
    coefs = dict(committed)
    if asic:
        # The standard-cell calibration runs on local processes (its activity simulations
        # need Icarus and the cell library next to the design).
        from asq_hw.estimate.asic_calibration import calibrate_asic
        t0 = time.perf_counter()
        show = sys.stderr.isatty()

        def progress(done, total, recs):
            if show:
                print(f"  {done}/{total} {recs[0]['point'].label} "
                      f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

        acal = calibrate_asic(args.grid, jobs=args.jobs, check=args.check,
                              committed=committed, progress=progress)
        coefs[asic[0]] = acal.entry
        write_text(Path(args.asic_report), acal.report)
        print(f"{acal.designs} designs x {asic[0]} in {acal.wall_s:.0f} s; wrote "
              f"{args.asic_report}")
        misses += acal.misses
    if not targets:
        if not args.check:
            write_text(coef_path, json.dumps(coefs, indent=1, sort_keys=True) + "\n")
        for m in misses:
            print(f"  goal missed: {m}")
        return 1 if misses else 0
    designs = len(grid(args.grid)) + (len(holdout()) if args.grid == "full" else 0)
    tally = Tally(designs * len(targets))
    with session(args.cluster, functools.partial(worker_facts, targets)) as executor, \
            Progress(sys.stderr.isatty()).step("synthesis", total=tally.total, unit="syn",
                                               tally=tally):
        cal = calibrate(args.grid, targets, jobs=args.jobs, check=args.check,
                        coefficients=coef_path, executor=executor, tally=tally)
    if not args.check:
        # The standard-cell entry is fitted by its own run: keep it.
        keep = {t: coefs[t] for t in ASIC_TARGETS if t in coefs}
        write_text(coef_path, json.dumps({**cal.coefficients, **keep}, indent=1,
                                         sort_keys=True) + "\n")
    write_text(report, cal.report)
    table = cal.post_table
    print(f"{cal.designs} designs x {len(targets)} targets in {cal.wall_s:.0f} s; "
          f"wrote {report}" + ("" if args.check else f" and {coef_path}"))
    for t in targets:
        cells = ", ".join(f"{k} {cell(table[t].get(k), k)}" for k in SHOWN
                          if t in table and k in table[t])
        print(f"  {t}: {cells}")
    misses += goal_misses(table)
    for m in misses:
        print(f"  goal missed: {m}")
    return 1 if misses else 0
