"""`asq-hw sim TARGET`: build generated RTL for an HDL simulator and verify it with cocotb
against the golden model.

Target `pe`: the POST PE of the given flags (as `asq-hw verilog pe`), checked with random
dot products under random input gaps and output back-pressure, then with a network layer's
dot products: real codes and activations from a trained export (--export DIR or
$ASQ_HW_EXPORT; the first layer with the PE's wbits, abits and signedness) or else a seeded
synthetic layer; that phase has no back-pressure, so it also measures the latency against
the manifest. Prints dot products verified, mismatches and simulated cycles; exits 1 on
any mismatch.

Target `model`: a trained artifact's whole network through the RTL PE array (P x Q), layer
by layer, on the first K images of its data set's test split (sim/netrun.py): every
accumulator against the golden model, the next layer's input requantized on the host from
the RTL's accumulators, the predictions against an independent golden run (and PyTorch
fake-quant when the artifact folder holds the training checkpoint). Prints per-layer cycles
(measured, which must equal the mapper's model, beats + latency per image), accumulators
checked, mismatches, predictions and verified MACs per second; exits 1 on any mismatch.
"""

from __future__ import annotations

import time

from asq_hw.cluster import HELP
from asq_hw.commands.args import Choice, check_int, check_rows, checked
from asq_hw.commands.verilog import add_design_command, add_pe_args, pe_config
from asq_hw.config import VARIANTS
from asq_hw.toolchain import SIMULATORS


def register(sub, help: str) -> None:
    add_design_command(sub, "sim", help, __doc__, (_register_pe, _register_model,
                                                            _register_accel),
                       metavar="TARGET")


def _register_pe(targets) -> None:
    p = targets.add_parser("pe", help="one POST PE",
                           description="Build the PE, stream dot products through it and "
                                       "compare every result with golden.pe_dot.")
    add_pe_args(p)
    p.add_argument("--sim", default=None, action=Choice, allowed=SIMULATORS,
                   help="simulator (default: $SIM, else verilator)")
    p.add_argument("--vectors", type=int, default=1000,
                   help="random dot products (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="stimulus seed (default 0)")
    p.add_argument("--export", default=None,
                   help="trained export folder for the real-weights phase "
                        "(default $ASQ_HW_EXPORT; none: a synthetic layer)")
    p.add_argument("--waves", action="store_true", help="record a waveform (also WAVES=1)")
    p.add_argument("--build-dir", default=None,
                   help="root of the build folders (default $ASQ_HW_BUILD, else build)")
    p.set_defaults(func=run_pe)


# Random dot products per run: a million take minutes to simulate; more only exhaust memory.
MAX_VECTORS = 1_000_000


def pe_phases(cfg, vectors: int, seed: int, export=None) -> list[dict]:
    """The phases `sim pe` runs (see the module docstring)."""
    from sim.workloads import export_folder, export_layer

    check_int("vectors", vectors, 1, MAX_VECTORS)   # each is a stored stimulus
    check_int("seed", seed, 0, 2**63 - 2)          # the network phase uses seed + 1
    folder = export_folder(export)
    if folder is not None:
        export_layer(folder, cfg)              # fails now, before the build, if none fits
    return [
        {"name": "random", "kind": "random", "count": vectors,
         "max_terms": min(cfg.max_len, 16 * cfg.lanes), "seed": seed,
         "p_gap": 0.2, "p_stall": 0.3},
        {"name": "network", "kind": "network", "seed": seed + 1,
         "export": str(folder) if folder else None, "p_gap": 0.1, "p_stall": 0.0},
    ]


def run_pe(args) -> int:
    from sim import runner

    cfg = pe_config(args)
    phases = pe_phases(cfg, args.vectors, args.seed, args.export)
    sim = checked(runner.sim_name, args.sim)       # a bad $SIM is the user's to fix
    t0 = time.perf_counter()
    build = runner.build(cfg, sim, root=args.build_dir, waves=True if args.waves else None)
    t_build = time.perf_counter() - t0
    man = build.manifest
    print(f"{man['top']}: wbits {cfg.wbits}, abits {cfg.abits} "
          f"{'signed' if cfg.act_signed else 'unsigned'}, {cfg.variant}, lanes {cfg.lanes}, "
          f"F {cfg.frac_bits}, acc_bits {cfg.acc_bits}, latency {man['latency']} "
          f"(manifest); {sim}, build {t_build:.1f} s in {build.dir}")
    t0 = time.perf_counter()
    report = runner.run(build, phases)
    t_run = time.perf_counter() - t0
    dots = bad = cycles = 0
    late = []
    for r in report:
        lat = ("" if r["latency_min"] is None else
               f", latency {r['latency_min']}" if r["latency_min"] == r["latency_max"] else
               f", latency {r['latency_min']}..{r['latency_max']}")
        print(f"  {r['workload']}: {r['verified']} of {r['dots']} dot products verified "
              f"({r['terms']} terms), {r['mismatches']} mismatches, {r['cycles']} cycles "
              f"(gaps {r['p_gap']:.0%}, stalls {r['p_stall']:.0%}){lat}")
        for i, want, got in r["first_mismatches"]:
            print(f"    dot product {i}: expected {want}, got {got}")
        dots += r["verified"]
        bad += r["mismatches"]
        if r["p_stall"] == 0 and r["dots"] and not (
                r["latency_min"] == r["latency_max"] == man["latency"]):
            late.append(r["workload"])
        cycles += r["cycles"]
    print(f"dot products verified: {dots}, mismatches: {bad}, simulated cycles: {cycles} "
          f"({t_run:.1f} s)")
    wave = runner.waveform(build)
    if wave is not None:
        print(f"waveform: {wave}")
    if late:
        print(f"latency differs from the manifest's {man['latency']} in: {', '.join(late)}")
    return 1 if bad or late else 0


def _register_model(targets) -> None:
    p = targets.add_parser(
        "model", help="a trained network through the RTL PE array, checked against golden",
        description="Stream the first K test images of an artifact's data set through the "
                    "RTL array layer by layer; compare every accumulator with the golden "
                    "model and the predictions with golden (and PyTorch fake-quant if the "
                    "folder holds the checkpoint). Exit 1 on any mismatch.")
    p.add_argument("dir", help="artifact folder (asq-hw train --out DIR)")
    p.add_argument("--rows", type=int, default=8, help="array rows P (default 8)")
    p.add_argument("--lanes", type=int, default=8, help="array lanes Q (default 8)")
    p.add_argument("--images", type=int, default=None,
                   help="first K test images (default: the whole test split)")
    p.add_argument("--variant", default="lut", action=Choice, allowed=VARIANTS, quoted=True,
                   help="POST MAC variant (default lut)")
    p.add_argument("--frac-bits", type=int, default=None,
                   help="F of the lut variant (default: the artifact's)")
    p.add_argument("--sim", default=None, action=Choice, allowed=SIMULATORS,
                   help="simulator (default: $SIM, else verilator)")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 folder, for cifar10 artifacts")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: images, accumulators_checked, mismatches, "
                        "prediction_mismatches (against golden), cycles (all images), layers "
                        "[{name, cycles (all images), macs (verified, all images), "
                        "cycles_per_image, ...}], verified_macs_per_s, and more")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="simulate shards of the images in J processes (default 1: all "
                        "images in this one)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help=HELP)
    p.add_argument("--waves", action="store_true", help="record a waveform (also WAVES=1)")
    p.add_argument("--build-dir", default=None,
                   help="root of the build folders (default $ASQ_HW_BUILD, else build)")
    p.set_defaults(func=run_model)


def model_report(r, sim: str, variant: str, fq, fq_note) -> dict:
    """The --json object of a sim/netrun.NetRun."""
    import numpy as np

    layers = [{"name": s.name, "cycles": s.cycles, "macs": s.macs,
               "cycles_per_image": s.cycles_per_image, "beats_per_image": s.beats_per_image,
               "macs_per_image": s.macs_per_image, "utilization": s.utilization,
               "accumulators": s.accumulators, "mismatches": s.mismatches,
               "cycle_model_errors": s.cycle_errors,
               "latency": [s.latency_min, s.latency_max], "stream_s": s.stream_s}
              for s in r.layers]
    out = {"images": r.images, "accumulators_checked": r.accumulators_checked,
           "mismatches": r.mismatches, "prediction_mismatches": r.prediction_mismatches,
           "cycles": r.cycles, "layers": layers,
           "verified_macs_per_s": r.verified_macs / r.wall_s if r.wall_s else 0.0,
           "verified_macs": r.verified_macs, "cycles_per_image": r.cycles_per_image,
           "rows": r.rows, "lanes": r.lanes, "variant": variant, "sim": sim,
           "latency": r.latency, "wall_s": r.wall_s,
           "stream_s": sum(s.stream_s for s in r.layers),
           "fakequant_mismatches": None if fq is None else
           int(np.sum(fq[:len(r.preds)] != r.preds)) + (r.images - len(r.preds)),
           "fakequant_note": fq_note, "errors": r.errors, "ok": r.ok}
    return out


def run_model(args) -> int:
    import functools
    import json
    import sys

    from asq_hw.artifact import load_artifact
    from asq_hw.cluster import session
    from asq_hw.config import LANES_RANGE
    from asq_hw.data import load_dataset
    from asq_hw.evaluation import fakequant_preds
    from asq_hw.mapper import array_config
    from asq_hw.parallel import Tally
    from asq_hw.progress import Progress
    from sim import runner
    from sim.netrun import run_network
    from sim.shards import run_sharded, worker_facts

    check_int("jobs", args.jobs, 1, 256)
    art = load_artifact(args.dir)
    check_rows(args.rows)
    check_int("lanes", args.lanes, *LANES_RANGE)
    checked(array_config, art, args.variant, args.lanes, args.frac_bits)   # F, widths
    sim = checked(runner.sim_name, args.sim)       # a bad $SIM is the user's to fix
    data = load_dataset(art.dataset, args.data_dir)
    total = data.x_test.shape[0]
    k = total if args.images is None else args.images
    check_int("images", k, 1, total)
    x = data.x_test[:k].numpy()
    show = not args.json and sys.stderr.isatty()
    with session(args.cluster, functools.partial(worker_facts, sim)) as executor:
        if executor is None and args.jobs == 1:
            r = run_network(art, x, args.rows, args.lanes, args.variant, sim, args.frac_bits,
                            build_root=args.build_dir, waves=True if args.waves else None)
        else:
            # A few shards per worker, so a slow one does not hold up the end.
            shards = 2 * (args.jobs if executor is None else executor.workers)
            tally = Tally()
            with Progress(show).step("RTL co-simulation", total=min(shards, k), unit="shard",
                                     tally=tally):
                r = run_sharded(art, x, args.rows, args.lanes, args.variant, sim,
                                args.frac_bits, shards=shards, jobs=args.jobs,
                                executor=executor, build_root=args.build_dir, tally=tally)
    fq, fq_note = fakequant_preds(args.dir, x)
    rep = model_report(r, sim, args.variant, fq, fq_note)
    if args.json:
        print(json.dumps(rep, allow_nan=False))
        return 0 if r.ok else 1
    cfg = r.config
    print(f"post_array {r.rows}x{r.lanes} ({args.variant}, wbits {cfg['wbits']}, abits "
          f"{cfg['abits']} {'signed' if cfg['act_signed'] else 'unsigned'}, F "
          f"{cfg['frac_bits']}, acc_bits {cfg['acc_bits']}, latency {r.latency}), {sim}; "
          f"{art.dataset} test split, {r.images} images")
    print(f"  {'layer':8s} {'beats/img':>9s} {'cycles/img':>10s} {'MACs/img':>9s} {'util':>6s} "
          f"{'cycles':>11s} {'accumulators':>12s} {'mismatches':>10s}")
    for s in r.layers:
        print(f"  {s.name:8s} {s.beats_per_image:9d} {s.cycles_per_image:10d} "
              f"{s.macs_per_image:9d} {100 * s.utilization:5.1f}% {s.cycles:11d} "
              f"{s.accumulators:12d} {s.mismatches:10d}")
        for idx, want, got in s.first_mismatches:
            print(f"    accumulator (row, channel{', slot' if len(idx) == 3 else ''}) {idx}: "
                  f"expected {want}, got {got}")
        if s.cycle_errors:
            print(f"    {s.cycle_errors} images spent other than {s.cycles_per_image} cycles")
        if s.latency_min is not None and not s.latency_min == s.latency_max == r.latency:
            print(f"    measured latency {s.latency_min}..{s.latency_max}, manifest "
                  f"{r.latency}")
    print(f"  {'total':8s} {'':9s} {r.cycles_per_image:10d} "
          f"{sum(s.macs_per_image for s in r.layers):9d} {'':6s} {r.cycles:11d} "
          f"{r.accumulators_checked:12d} {r.mismatches:10d}")
    for e in r.errors:
        print(f"  error: {e}")
    print(f"accumulators checked: {r.accumulators_checked}, mismatches: {r.mismatches}")
    fq_text = (f"PyTorch fake-quant: {fq_note}" if fq is None else
               f"PyTorch fake-quant agrees on {r.images - rep['fakequant_mismatches']} of "
               f"{r.images}")
    print(f"predictions: {r.images - r.prediction_mismatches} of {r.images} identical to "
          f"golden ({r.prediction_mismatches} mismatches); {fq_text}")
    stream = rep["stream_s"]
    print(f"verified MACs/s: {rep['verified_macs_per_s'] / 1e6:.2f} M ({r.verified_macs} MACs "
          f"in {r.wall_s:.1f} s; clock loop {stream:.1f} s, "
          f"{r.cycles / stream / 1e3 if stream else 0:.1f} k cycles/s)")
    return 0 if r.ok else 1


def _register_accel(targets) -> None:
    from asq_hw.commands.accel import register_sim
    register_sim(targets)
