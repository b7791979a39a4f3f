"""`asq-hw sweep`: the resource estimator over a cross product of designs, in parallel.

Every combination of --kind, --wbits, --abits, --variant, --rows, --lanes and --target is
estimated (asq_hw.estimate: LUTs, FFs, carries, DSPs, BRAMs, fmax, transistors) in --jobs
worker processes. POST designs are P x Q arrays (a 1 x Q array is the PE); the INT and POT
baselines exist as single PEs (rows 1; other rows are skipped and counted) with no MAC
variant. --synth N synthesises N of the configurations (spread evenly over the estimated LUT
range) with Yosys and nextpnr, --jobs at a time, and adds the measured figures next to the
estimate. Writes DIR/sweep.csv (one row per design) and DIR/sweep_pareto.png (estimated
LUTs against peak GMAC/s = rows * lanes * fmax, the Pareto front of each target marked),
both atomically.
"""

from __future__ import annotations

import functools
import os
import sys

from asq_hw.cluster import HELP
from asq_hw.commands.args import CommaList, check_int, checked
from asq_hw.config import VARIANTS

# Above this many configurations a sweep runs for minutes: refused unless --max-points says
# the user means it (the estimator does a few hundred per second and job).
MAX_POINTS = 100_000


def register(sub, help: str) -> None:
    from asq_hw.designs import DESIGN_KINDS as KINDS
    from asq_hw.designs import TARGETS
    p = sub.add_parser("sweep", help=help, description=__doc__)
    p.add_argument("--kind", default=("post",), action=CommaList, conv=str, allowed=KINDS,
                   help="PE kinds, comma-separated (default post)")
    p.add_argument("--wbits", default=(2, 3, 4), action=CommaList,
                   help="weight bits, comma-separated (2,3,4)")
    p.add_argument("--abits", default=(4,), action=CommaList, help="activation bits (4)")
    p.add_argument("--variant", default=VARIANTS, action=CommaList, conv=str,
                   allowed=VARIANTS, quoted=True, help="POST MAC variants (lut,dual)")
    p.add_argument("--rows", default=(1,), action=CommaList, help="array rows P (1 = a PE)")
    p.add_argument("--lanes", default=(4, 8), action=CommaList, help="lanes Q (4,8)")
    p.add_argument("--target", default=("ice40",), action=CommaList, conv=str,
                   allowed=TARGETS, help="FPGA targets, comma-separated (ice40)")
    p.add_argument("--signed", action="store_true", help="two's complement activations")
    p.add_argument("--frac-bits", type=int, default=8, help="LUT fraction bits F (8)")
    p.add_argument("--max-len", type=int, default=4096,
                   help="longest dot product the accumulator must hold (4096)")
    p.add_argument("--acc-bits", type=int, default=None,
                   help="accumulator width (default: the safe width for --max-len; narrower "
                        "is refused)")
    p.add_argument("--synth", type=int, default=0, metavar="N",
                   help="also synthesise N configurations (default 0)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help=HELP)
    p.add_argument("--jobs", type=int, default=None, metavar="J",
                   help="worker processes (default: the CPU count)")
    p.add_argument("--max-points", type=int, default=MAX_POINTS, metavar="N",
                   help=f"refuse a cross product of more than N configurations "
                        f"(default {MAX_POINTS:,})")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args) -> int:
    from asq_hw.cluster import session
    from asq_hw.errors import UserError
    from asq_hw.outputs import ensure_writable
    from asq_hw.progress import Progress
    from asq_hw.sweep import (
        CSV_NAME,
        PLOT_NAME,
        cross_product,
        run_sweep,
        sweep_size,
        sweep_tools,
        worker_facts,
    )

    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    check_int("jobs", jobs, 1, 256)
    check_int("synth", args.synth, 0, 100000)
    check_int("max-points", args.max_points, 1, 10**9)
    lists = (args.kind, args.wbits, args.abits, args.variant, args.rows, args.lanes,
             args.target)
    n = sweep_size(*lists)             # from the flags alone: nothing built yet
    if n == 0:
        raise UserError("the sweep has no configuration (baselines exist only for rows 1)")
    if n > args.max_points:
        raise UserError(f"the sweep has {n:,} configurations, more than --max-points "
                        f"{args.max_points:,}: narrow the lists, or pass --max-points {n} "
                        "to run it anyway")
    # cross_product validates every combination (PEConfig, rows) before any work.
    points, skipped = checked(
        cross_product, *lists, signed=args.signed, frac_bits=args.frac_bits,
        max_len=args.max_len, acc_bits=args.acc_bits)
    ensure_writable(args.out)          # a bad --out fails before the size is announced
    check = functools.partial(worker_facts, sweep_tools(points, args.synth))
    with session(args.cluster, check) as executor:
        where = (f"{jobs} job{'s' if jobs != 1 else ''}" if executor is None else
                 f"cluster {executor.address} ({executor.workers} workers)")
        if not args.quiet:             # the size first, before minutes of work
            print(f"sweep: {n:,} configuration{'s' if n != 1 else ''}, "
                  f"{min(args.synth, n)} synthesised, {where}", file=sys.stderr, flush=True)
        rows, times = run_sweep(points, args.out, synth=args.synth, jobs=jobs,
                                progress=Progress(not args.quiet), executor=executor)
    front = [r for r in rows if r["pareto"]]
    print(f"{len(rows)} configurations estimated"
          f"{f' ({skipped} baseline configurations with rows > 1 skipped)' if skipped else ''}, "
          f"{sum(r['synth_lut'] is not None for r in rows)} synthesised, {where}, "
          f"{times['total_s']:.1f} s")
    for target in sorted({r["target"] for r in front}):
        pts = sorted((r for r in front if r["target"] == target), key=lambda r: r["lut"])
        print(f"  {target}: {len(pts)} Pareto-optimal (per precision), cheapest: " +
              ", ".join(f"{r['short']} {r['lut']} LUTs {r['peak_gmacs']:.2f} GMAC/s"
                        for r in pts[:3]))
    syn = [r for r in rows if r["lut_error"] is not None]
    if syn:
        worst = max(syn, key=lambda r: abs(r["lut_error"]))
        print(f"  synthesised: LUT estimate error {min(r['lut_error'] for r in syn):+.1%} .. "
              f"{max(r['lut_error'] for r in syn):+.1%} (worst {worst['short']})")
    print(f"wrote {args.out}/{CSV_NAME} and {args.out}/{PLOT_NAME}")
    sys.stdout.flush()
    return 0
