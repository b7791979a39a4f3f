"""`asq-hw sim TARGET`: build generated RTL for an HDL simulator and verify it with cocotb
against the golden model.

Target `pe`: the POST PE of the given flags (as `asq-hw verilog pe`), checked with random
dot products under random input gaps and output back-pressure, then with a network layer's
dot products: real codes and activations from a trained export (--export DIR or
$ASQ_HW_EXPORT; the first layer with the PE's wbits, abits and signedness) or else a seeded
synthetic layer; that phase has no back-pressure, so it also measures the latency against
the manifest. Prints dot products verified, mismatches and simulated cycles; exits 1 on
any mismatch. A new target (the model) adds `_register_<name>(targets)` and its name to
TARGETS.
"""

from __future__ import annotations

import time

from asq_hw.commands.verilog import add_pe_args, pe_config

TARGETS = ("pe",)


def register(sub) -> None:
    p = sub.add_parser("sim", help="verify generated RTL with cocotb against the golden model",
                       description=__doc__)
    targets = p.add_subparsers(dest="target", required=True, metavar="TARGET")
    for name in TARGETS:
        globals()[f"_register_{name}"](targets)


def _register_pe(targets) -> None:
    p = targets.add_parser("pe", help="one POST PE",
                           description="Build the PE, stream dot products through it and "
                                       "compare every result with golden.pe_dot.")
    add_pe_args(p)
    p.add_argument("--sim", default=None, choices=("verilator", "icarus"),
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


def pe_phases(cfg, vectors: int, seed: int, export=None) -> list[dict]:
    """The phases `sim pe` runs (see the module docstring)."""
    from asq_hw.errors import UserError
    from sim.workloads import export_folder, export_layer

    if vectors < 1:
        raise UserError(f"vectors must be a positive integer, not {vectors}")
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
    sim = runner.sim_name(args.sim)
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
