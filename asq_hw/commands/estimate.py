"""`asq-hw estimate pe|array|model`: the analytical estimator, no synthesis or simulation.

`pe` and `array` take the flags of `asq-hw synth pe|array` and print the same keys: lut,
ff, carry, dsp, bram, fmax_mhz, transistors (a table, or one JSON object with --json), from
the calibrated model (asq_hw/estimate; its measured error: docs/estimator-accuracy.md).
`model DIR` maps a trained artifact's network on a P x Q array and prints per-layer cycles
(exactly the RTL's: the mapper's cycle model, which `asq-hw sim model` checks), latency,
MACs per cycle, utilisation, inferences/s and MAC/s at --clock-mhz, and the weight and
activation memory; its JSON names layers as `asq-hw sim model --json` does.
"""

from __future__ import annotations

import json

from asq_hw.commands.args import Choice, check_rows, checked
from asq_hw.commands.verilog import add_design_command, add_kind_arg, add_pe_args, pe_config


def register(sub, help: str) -> None:
    add_design_command(sub, "estimate", help, __doc__,
                       (_register_pe, _register_array, _register_model))


def _add_target(p) -> None:
    from asq_hw.designs import ASIC_TARGETS
    from asq_hw.designs import TARGETS as FPGAS
    p.add_argument("--target", required=True, action=Choice, allowed=FPGAS + ASIC_TARGETS,
                   help="ice40 (LUT4), ecp5 (LUT4 + DSP), xc7 (LUT6; fmax unverified) or "
                        "osu018 (OSU 0.18 um standard cells: area, timing, energy per MAC)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _register_pe(targets) -> None:
    p = targets.add_parser("pe", help="one PE", description=__doc__)
    add_pe_args(p)
    add_kind_arg(p)
    _add_target(p)
    p.set_defaults(func=run_pe)


def _register_array(targets) -> None:
    p = targets.add_parser("array", help="a P x Q POST array", description=__doc__)
    p.add_argument("--rows", type=int, required=True, help="rows P (PEs, output channels)")
    add_pe_args(p)
    _add_target(p)
    p.set_defaults(func=run_array)


def run_pe(args) -> int:
    return _run(args, pe_config(args), args.kind, None)


def run_array(args) -> int:
    check_rows(args.rows)
    return _run(args, pe_config(args), "post", args.rows)


def _run(args, cfg, kind: str, rows: int | None) -> int:
    from asq_hw.estimate import estimate

    e = estimate(cfg, args.target, kind=kind, rows=rows)
    if args.json:
        print(json.dumps(e.to_dict()))
        return 0
    print(format_estimate(e))
    return 0


def format_estimate(e) -> str:
    """The human table: one line per key (as `asq-hw synth`), then what it rests on."""
    from asq_hw.designs import RESOURCE_KEYS as KEYS
    c = e.config
    extra = [k for k in e.values if k not in KEYS]      # a standard-cell target's keys
    top = {"post": "post_pe", "int": "int_pe", "pot": "pot_pe"}[e.kind]
    shape = f"post_array {e.rows}x{c.lanes}" if e.rows is not None else f"{top} lanes {c.lanes}"
    lines = [f"{shape} W{c.wbits}A{c.abits}{' signed' if c.act_signed else ''} "
             f"{c.variant if e.kind == 'post' else e.kind} on {e.target} (estimate):"]
    width = max(12, *map(len, extra)) if extra else 12
    for k in (*KEYS, *extra):
        v = e.values[k]
        shown = "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        lines.append(f"  {k:{width}s} {shown:>10s}")
    if "energy_pj_per_mac" in extra:
        lines.append("energy per MAC: every lane busy, at the digits workload's switching "
                     "activity (docs/asic.md)")
    lines.append("ff by block: " + ", ".join(f"{k} {v}" for k, v in e.ff_by_block.items()))
    if e.rom:
        lines.append(f"LUT ROM: {e.rom}")
    if e.critical_stage:
        lines.append(f"slowest stage: {e.critical_stage}"
                     + (f" ({e.fmax_note})" if e.fmax_note else ""))
    return "\n".join(lines)


def _register_model(targets) -> None:
    from asq_hw.config import VARIANTS
    p = targets.add_parser(
        "model", help="a trained network on the array: cycles, throughput, memory",
        description="Map an artifact's network on a P x Q array: per-layer cycles (exactly "
                    "the RTL's), latency, MACs/cycle, utilisation, inferences/s and MAC/s at "
                    "a clock, weight and activation memory.")
    p.add_argument("dir", help="artifact folder (asq-hw train --out DIR)")
    p.add_argument("--rows", type=int, required=True, help="array rows P")
    p.add_argument("--lanes", type=int, required=True, help="array lanes Q")
    p.add_argument("--clock-mhz", type=float, required=True, help="clock frequency in MHz")
    p.add_argument("--variant", default="lut", action=Choice, allowed=VARIANTS, quoted=True,
                   help="POST MAC variant (default lut)")
    p.add_argument("--frac-bits", type=int, default=None,
                   help="F of the lut variant (default: the artifact's)")
    p.add_argument("--images", type=int, default=1,
                   help="images counted in `cycles` (default 1), as `sim model --images`")
    p.add_argument("--json", action="store_true",
                   help="one JSON object: cycles (all images), cycles_per_image, layers "
                        "[{name, cycles, cycles_per_image, ...}], throughput and memory")
    p.set_defaults(func=run_model)


def run_model(args) -> int:
    from asq_hw.artifact import load_artifact
    from asq_hw.estimate.network import estimate_network

    art = load_artifact(args.dir)
    # Its ValueErrors are the validation of these flags (array shape, clock, images, F).
    r = checked(estimate_network, art, args.rows, args.lanes, args.clock_mhz, args.variant,
                args.frac_bits, args.images)
    if args.json:
        print(json.dumps(r))
        return 0
    cfg = r["config"]
    print(f"post_array {args.rows}x{args.lanes} ({args.variant}, wbits {cfg['wbits']}, abits "
          f"{cfg['abits']} {'signed' if cfg['act_signed'] else 'unsigned'}, acc_bits "
          f"{cfg['acc_bits']}, latency {r['latency']}) at {args.clock_mhz:g} MHz; "
          f"{r['images']} image{'s' if r['images'] > 1 else ''}")
    print(f"  {'layer':8s} {'tiles':>5s} {'beats/img':>9s} {'cycles/img':>10s} "
          f"{'MACs/img':>9s} {'util':>6s} {'cycles':>11s} {'weights (bit)':>13s}")
    for le in r["layers"]:
        print(f"  {le['name']:8s} {le['tiles']:5d} {le['beats_per_image']:9d} "
              f"{le['cycles_per_image']:10d} {le['macs_per_image']:9d} "
              f"{100 * le['utilization']:5.1f}% {le['cycles']:11d} {le['weight_bits']:13d}")
    print(f"  {'total':8s} {'':5s} {'':9s} {r['cycles_per_image']:10d} "
          f"{r['macs_per_image']:9d} {100 * r['utilization']:5.1f}% {r['cycles']:11d} "
          f"{r['weight_bits']:13d}")
    print(f"latency {r['latency_s'] * 1e6:.2f} us per image, {r['inferences_per_s']:.1f} "
          f"inferences/s, {r['macs_per_s'] / 1e6:.2f} M MAC/s, "
          f"{r['macs_per_cycle']:.2f} MACs/cycle of {args.rows * args.lanes}")
    brams = ", ".join(f"{t} {b['weights']} + {b['activations']}" for t, b in r["brams"].items())
    print(f"memory: weights {r['weight_bits']} bit as streamed ({r['weight_bits_raw']} bit of "
          f"codes), activations {r['activation_bits']} bit double-buffered; block RAMs "
          f"(weights + activations): {brams}")
    return 0
