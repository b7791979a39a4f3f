"""`asq-hw demo [--out build/demo]`: the main job end to end (`make demo`).

Trains the digits CNN with W4A4 POST weights and ASQ activations, exports it to integers,
evaluates it (float, fake-quant, golden lut and dual), writes the Verilog of a P x Q POST
array, co-simulates the network on the RTL array on the first K test images (every
accumulator checked against golden), estimates the array and synthesises it (Yosys +
nextpnr, in the background), sweeps weight bits for the POST / POT / INT quantizers, and
writes OUT/report.md, OUT/report.html, OUT/plots/*.png and OUT/summary.json (keys: README).
Trained models are cached under OUT/models (--fresh retrains). Exit status 1 if the RTL
disagrees with golden anywhere or synthesis fails; the report is written either way.
"""

from __future__ import annotations

import sys

import numpy as np

from asq_hw.commands.args import Choice, CommaList, checked, shown
from asq_hw.config import VARIANTS, WBITS_RANGE, PEConfig
from asq_hw.toolchain import SIMULATORS


def register(sub, help: str) -> None:
    from asq_hw.demo import DemoConfig
    from asq_hw.designs import TARGETS
    d = DemoConfig()
    p = sub.add_parser("demo", help=help, description=__doc__)
    p.add_argument("--out", default=d.out, help=f"output folder (default {d.out})")
    p.add_argument("--rows", type=int, default=d.rows, help=f"array rows P (default {d.rows})")
    p.add_argument("--lanes", type=int, default=d.lanes,
                   help=f"array lanes Q (default {d.lanes})")
    p.add_argument("--variant", default=d.variant, action=Choice, allowed=VARIANTS, quoted=True,
                   help=f"MAC variant of the array (default {d.variant})")
    p.add_argument("--images", type=int, default=d.images,
                   help=f"test images through the RTL (default {d.images})")
    p.add_argument("--sim", default=None, action=Choice, allowed=SIMULATORS,
                   help="simulator (default: $SIM, else verilator)")
    p.add_argument("--target", default=d.target, action=Choice, allowed=TARGETS,
                   help=f"FPGA for estimate and synthesis (default {d.target})")
    p.add_argument("--sweep-wbits", default=d.sweep_wbits, action=CommaList,
                   field="sweep-wbits", help="weight widths of the accuracy sweep (default "
                                             f"{shown(d.sweep_wbits)})")
    p.add_argument("--sweep-epochs", type=int, nargs=2, metavar=("FLOAT", "QAT"),
                   default=(d.sweep_float_epochs, d.sweep_epochs),
                   help="epochs of each sweep training (default "
                        f"{d.sweep_float_epochs} {d.sweep_epochs})")
    p.add_argument("--no-rtl", action="store_true", help="skip the RTL co-simulation")
    p.add_argument("--no-synth", action="store_true", help="skip synthesis (estimate only)")
    p.add_argument("--no-accel", action="store_true",
                   help="skip the whole accelerator (its RTL run on every test image, "
                        "estimate and synthesis); the array steps still run")
    p.add_argument("--fresh", action="store_true", help="retrain instead of reusing the "
                                                       "models cached under OUT/models")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings (width-4 network, 1-2 epochs, 2x4 array, 3 images, "
                        "Icarus, 2-3 bit sweep): a smoke test of every step in about a "
                        "minute, not meaningful figures")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="train the sweep's models on the Dask scheduler at ADDRESS, e.g. "
                        "tcp://host:8786 (default $ASQ_HW_CLUSTER; neither: one after the "
                        "other here)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def level_table() -> str:
    from golden.codes import magnitudes
    lines = ["POST levels (alpha = 1), magnitude code m = 1 .. M:"]
    for w in range(WBITS_RANGE[0], WBITS_RANGE[1] + 1):
        mags = magnitudes(w)[1:]
        shown = ", ".join(f"{v:.4f}" for v in mags[:9]) + (", ..." if len(mags) > 9 else "")
        lines.append(f"  wbits {w}: {2**w - 1:2d} levels, J = {(len(mags) - 1) // 2:2d}: {shown}")
    return "\n".join(lines)


def worked_example() -> str:
    from golden.codes import levels
    from golden.pe import pe_dot
    acts = np.array([[3, 15, 7, 0, 9]])
    codes = np.array([1, 2, 11, 5, 4], dtype=np.uint8)  # +1, +0.7071, -0.5, +0.25, +0.3536
    w = levels(4)[codes]
    exact = float((acts[0] * w).sum())
    lines = [f"Worked dot product, W4A4: acts {acts[0].tolist()}, codes {codes.tolist()}",
             f"  weights / alpha = {np.round(w, 4).tolist()}, exact sum = {exact:.6f}"]
    for variant in ("lut", "dual"):
        cfg = PEConfig(wbits=4, abits=4, variant=variant, frac_bits=8, max_len=64)
        y = pe_dot(acts, codes, cfg)[0]
        if variant == "lut":
            approx = y / 2 ** (cfg.J + cfg.frac_bits)
            lines.append(f"  lut  (F=8, acc_bits={cfg.acc_bits}): A = {y}, "
                         f"A / 2**(J+F) = {approx:.6f} (error {approx - exact:+.2e})")
        else:
            val = (y[0] + y[1] / np.sqrt(2)) / 2**cfg.J
            lines.append(f"  dual (acc_bits={cfg.acc_bits}): A_even = {y[0]}, A_odd = {y[1]}, "
                         f"(A_even + A_odd/sqrt2) / 2**J = {val:.6f}")
    return "\n".join(lines)


def demo_config(args):
    """The DemoConfig of the flags; UserError (one line naming the field) if invalid."""
    from asq_hw.demo import DemoConfig
    kw = dict(rows=args.rows, lanes=args.lanes, variant=args.variant, images=args.images,
              sim=args.sim, target=args.target, rtl=not args.no_rtl, synth=not args.no_synth,
              accel=not args.no_accel, fresh=args.fresh, sweep_wbits=tuple(args.sweep_wbits),
              sweep_float_epochs=args.sweep_epochs[0], sweep_epochs=args.sweep_epochs[1])
    if args.quick:
        d = DemoConfig()
        # Explicit flags win over the quick settings.
        changed = {k: v for k, v in kw.items()
                   if k in ("rtl", "synth", "fresh", "target") or v != getattr(d, k)}
        return checked(DemoConfig.quick, args.out, **changed)
    return checked(DemoConfig, out=args.out, **kw)


def summary_screen(s: dict) -> str:
    """The one-screen summary printed at the end."""
    acc, arr, rtl, res, thr = (s["accuracy"], s["array"], s.get("rtl"), s["resources"],
                               s["throughput"])
    m = s["model"]

    def pct(v):
        return "-" if v is None else f"{100 * v:.2f} %"

    lines = [f"asq-hw demo: digits CNN W{m['wbits']}A{m['abits']} POST + ASQ "
             f"({'cached' if m['cached'] else 'trained'}), {s['config']['out']}",
             f"  accuracy ({acc['images']} test images): float {pct(acc['float'])}, "
             f"fake-quant {pct(acc['fakequant'])}, golden lut {pct(acc['golden_lut'])}, "
             f"dual {pct(acc['golden_dual'])}"]
    cost = s.get("asq_cost")
    if cost is not None:
        lines.append(f"  ASQ in integers: {cost['asq_ops']:,} extra operations per image, "
                     f"{cost['asq_pct']:.2f} % of {cost['macs']:,} MACs")
    if rtl is not None:
        lines.append(f"  RTL {arr['rows']}x{arr['lanes']} {arr['variant']} ({rtl['sim']}, "
                     f"{rtl['images']} images): {rtl['accumulators_checked']:,} accumulators, "
                     f"{rtl['mismatches']} mismatches, {rtl['prediction_mismatches']} "
                     f"prediction mismatches, accuracy {pct(rtl['accuracy'])}")
    cyc = " ".join(f"{lay['name']} {lay['cycles']}" for lay in s["layers"])
    lines.append(f"  cycles/image {thr['cycles_per_image']:,} ({cyc})")
    est, syn = res["estimated"], res.get("synthesized")

    def fig(d, k):
        v = None if d is None else d.get(k)
        return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
    lines.append(f"  {res['target']} LUTs est {fig(est, 'lut')} / synth {fig(syn, 'lut')}, "
                 f"FFs {fig(est, 'ff')} / {fig(syn, 'ff')}, fmax {fig(est, 'fmax_mhz')} / "
                 f"{fig(syn, 'fmax_mhz')} MHz")
    if thr["images_per_s"]:
        lines.append(f"  throughput at {thr['fmax_mhz']:.1f} MHz ({thr['fmax_source']}): "
                     f"{thr['images_per_s']:,.0f} images/s, "
                     f"{thr['macs_per_s'] / 1e6:,.1f} M MAC/s")
    a = s.get("accel")
    if a is not None:
        r, ae, asy, at = a.get("rtl"), a.get("estimated"), a.get("synthesized"), \
            a.get("throughput") or {}
        if r is not None:
            lines.append(f"  accelerator {a['rows']}x{a['lanes']} {a['variant']} ({r['sim']}, "
                         f"{r['images']} images): {r['logits_checked']:,} logits, "
                         f"{r['mismatches']} mismatches, cycles/image {a['cycles_per_image']:,} "
                         f"(measured {r['measured_cycles_per_image']})")
        if ae is not None:
            lines.append(f"  accelerator {res['target']} LUTs est {fig(ae, 'lut')} / synth "
                         f"{fig(asy, 'lut')}, BRAMs {fig(ae, 'bram')} / {fig(asy, 'bram')}"
                         + (f"; {asy['fmax_note']}" if asy and asy.get("fmax_note") else ""))
        if at.get("images_per_s"):
            lines.append(f"  accelerator throughput at {at['fmax_mhz']:.1f} MHz "
                         f"({at['fmax_source']}): {at['images_per_s']:,.0f} images/s, image "
                         "in to logits out")
    sw = s["sweep"]
    by_q: dict[str, list[str]] = {}
    for p in sw["points"]:
        by_q.setdefault(p["weight_quant"].upper(), []).append(
            f"W{p['wbits']} {100 * p['golden']:.1f}")
    lines.append(f"  sweep ({sw['float_epochs']}+{sw['epochs']} epochs, golden %): " +
                 "; ".join(f"{q} {', '.join(v)}" for q, v in by_q.items()))
    front = [f"{p['label']} W{p['wbits']}" for p in
             sorted(s["pareto"]["points"], key=lambda p: p["lut"]) if p["pareto"]]
    lines.append(f"  Pareto (est. LUTs vs accuracy): {', '.join(front)}")
    lines.append(f"  report: {s['config']['out']}/report.md, report.html, summary.json, plots/ "
                 f"({s['timings']['total_s']:.0f} s)")
    return "\n".join(lines)


def run(args) -> int:
    from asq_hw.cluster import session
    from asq_hw.demo import run_demo, worker_facts
    from asq_hw.progress import Progress

    cfg = demo_config(args)
    with session(args.cluster, worker_facts) as executor:
        print(level_table())
        print()
        print(worked_example())
        print(flush=True)
        s = run_demo(cfg, Progress(not args.quiet), executor=executor)
    print(summary_screen(s))
    sys.stdout.flush()
    rtl = s.get("rtl")
    if rtl is not None and not rtl["ok"]:
        print("asq-hw: the RTL disagrees with golden; see the report", file=sys.stderr)
        return 1
    if s["resources"]["synth_error"]:
        print(f"asq-hw: synthesis failed ({s['resources']['synth_error']}); the report has "
              "the estimate only", file=sys.stderr)
        return 1
    return 0
