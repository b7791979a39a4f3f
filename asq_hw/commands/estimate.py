"""`asq-hw estimate pe|array|model`: the analytical estimator, no synthesis or simulation.

`pe` and `array` take the flags of `asq-hw synth pe|array` and print the same keys: lut,
ff, carry, dsp, bram, fmax_mhz, transistors (a table, or one JSON object with --json), from
the calibrated model (asq_hw/estimate; its measured error: docs/estimator-accuracy.md).
`model DIR` maps a trained artifact's network on a P x Q array and prints per-layer cycles
(exactly the RTL's: the mapper's cycle model, which `asq-hw sim model` checks), latency,
MACs per cycle, utilisation, inferences/s and MAC/s at --clock-mhz, and the weight and
activation memory; its JSON names layers as `asq-hw sim model --json` does.
`workload --network NAME` does the same for a standard network (the digits CNN, ResNet-20,
ResNet-18/34) at any input size, without weights: its layer shapes come from
asq_hw/workloads.py.
"""

from __future__ import annotations

import json

from asq_hw.commands.args import Choice, check_rows, checked
from asq_hw.commands.verilog import add_design_command, add_kind_arg, add_pe_args, pe_config


def register(sub, help: str) -> None:
    add_design_command(sub, "estimate", help, __doc__,
                       (_register_pe, _register_array, _register_model,
                        _register_workload, _register_accel))


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
        print(json.dumps(e.to_dict(), allow_nan=False))
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
        print(json.dumps(r, allow_nan=False))
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


def _register_workload(targets) -> None:
    from asq_hw.config import VARIANTS
    from asq_hw.workloads import NETWORKS
    p = targets.add_parser(
        "workload", help="a standard network on the array, without weights",
        description="Map a standard network (its layer shapes, no weights, no training) on a "
                    "P x Q array: per-layer and total MACs (convolutions and fully "
                    "connected layers; residual adds and pooling counted apart), cycles "
                    "(the cycle model of `estimate model`, exactly the RTL's), utilisation, "
                    "images/s at a clock, weight and activation memory.")
    p.add_argument("--network", required=True, action=Choice, allowed=NETWORKS,
                   help="cnn (the digits CNN), resnet20 (CIFAR layout, parameter-free "
                        "shortcuts), resnet18 or resnet34 (ImageNet layout)")
    p.add_argument("--input", default=None, metavar="C,H,W",
                   help="input channels, height, width (default: the network's own: 1,8,8 "
                        "cnn, 3,32,32 resnet20, 3,224,224 resnet18/34)")
    p.add_argument("--classes", type=int, default=None,
                   help="outputs of the classifier (default 10, 1000 for resnet18/34)")
    p.add_argument("--width", type=int, default=None,
                   help="first stage's channels (default 16, 64 for resnet18/34)")
    p.add_argument("--rows", type=int, required=True, help="array rows P")
    p.add_argument("--lanes", type=int, required=True, help="array lanes Q")
    p.add_argument("--clock-mhz", type=float, required=True, help="clock frequency in MHz")
    p.add_argument("--wbits", type=int, default=4, help="weight bits (default 4)")
    p.add_argument("--abits", type=int, default=4,
                   help="activation bits of the hidden layers (default 4; the first layer "
                        "reads the signed 8-bit input)")
    p.add_argument("--variant", default="lut", action=Choice, allowed=VARIANTS, quoted=True,
                   help="POST MAC variant (default lut)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object: macs, cycles, images_per_s, weight_bits, "
                        "activation_bits, layers [{name, macs, cycles, ...}], ...")
    p.set_defaults(func=run_workload)


def parse_shape(text: str) -> tuple[int, ...]:
    """--input C,H,W as a tuple of ints (build_network checks the count and ranges)."""
    from asq_hw.errors import UserError
    from asq_hw.workloads import DIM_RANGE
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"input must be C,H,W: three integers from {DIM_RANGE[0]} to "
                        f"{DIM_RANGE[1]}, not {text!r}") from None


def run_workload(args) -> int:
    from asq_hw.estimate.workload import estimate_workload
    from asq_hw.workloads import build_network

    shape = None if args.input is None else parse_shape(args.input)
    # Their ValueErrors are the validation of these flags (shape, classes, width, array,
    # clock, wbits, abits).
    net = checked(build_network, args.network, shape, args.classes, args.width)
    r = checked(estimate_workload, net, args.rows, args.lanes, args.clock_mhz, args.wbits,
                args.abits, args.variant)
    if args.json:
        print(json.dumps(r))
        return 0
    cfg = r["config"]
    print(f"{net.name} {'x'.join(map(str, net.input_shape))}, {net.classes} classes, on "
          f"post_array {args.rows}x{args.lanes} ({args.variant}, wbits {cfg['wbits']}, "
          f"abits {args.abits}, acc_bits {cfg['acc_bits']}, latency {r['latency']}) at "
          f"{args.clock_mhz:g} MHz")
    w = max(8, *(len(le["name"]) for le in r["layers"]))
    print(f"  {'layer':{w}s} {'in':>13s} {'out':>13s} {'k/s':>5s} {'MACs':>13s} "
          f"{'cycles':>11s} {'util':>6s} {'weights (bit)':>13s}  then")
    for le in r["layers"]:
        then = ", ".join(x for x in (f"+ {le['add']}" if le["add"] else "", le["pool"] or "")
                         if x)
        print(f"  {le['name']:{w}s} {'x'.join(map(str, le['in_shape'])):>13s} "
              f"{'x'.join(map(str, le['out_shape'])):>13s} {le['k']}/{le['stride']:<3d} "
              f"{le['macs']:13,d} {le['cycles']:11,d} {100 * le['utilization']:5.1f}% "
              f"{le['weight_bits']:13,d}  {then}")
    print(f"  {'total':{w}s} {'':>13s} {'':>13s} {'':5s} {r['macs']:13,d} {r['cycles']:11,d} "
          f"{100 * r['utilization']:5.1f}% {r['weight_bits']:13,d}")
    print(f"{r['macs'] / 1e6:,.2f} M MACs (convolutions and linear layers), "
          f"{r['adds']:,d} residual adds and {r['pool_ops']:,d} pooling operations on the "
          f"host (not array cycles)")
    print(f"latency {r['latency_s'] * 1e3:.3f} ms per image, {r['images_per_s']:,.2f} "
          f"images/s, {r['macs_per_s'] / 1e9:.3f} GMAC/s, {r['macs_per_cycle']:.2f} "
          f"MACs/cycle of {args.rows * args.lanes}")
    brams = ", ".join(f"{t} {b['weights']} + {b['activations']}" for t, b in r["brams"].items())
    print(f"memory: weights {r['weight_bits']:,d} bit as streamed ({r['weight_bits_raw']:,d} "
          f"bit of codes), activations {r['activation_bits']:,d} bit (largest live "
          f"buffers); block RAMs (weights + activations): {brams}")
    return 0


def _register_accel(targets) -> None:
    from asq_hw.commands.synth import add_accel_args
    p = targets.add_parser(
        "accel", help="the whole accelerator of a trained network",
        description="Estimate the whole accelerator of an artifact (asq_hw/estimate/accel.py): "
                    "the keys of `asq-hw synth accel` from the calibrated array model, the "
                    "memory placement rule and the fitted unit and control terms; "
                    "cycles_per_image exact; images/s at --clock-mhz or the estimated fmax.")
    add_accel_args(p, "it is calibrated for")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="clock for images/s (default: the estimated fmax)")
    p.set_defaults(func=run_accel)


def run_accel(args) -> int:
    from asq_hw.commands.synth import accel_inputs, format_accel
    from asq_hw.errors import UserError
    from asq_hw.estimate.accel import estimate_accel
    from asq_hw.estimate.network import CLOCK_MHZ_RANGE

    if args.clock_mhz is not None and not (
            CLOCK_MHZ_RANGE[0] <= args.clock_mhz <= CLOCK_MHZ_RANGE[1]):
        raise UserError(f"clock-mhz must be from {CLOCK_MHZ_RANGE[0]:g} to "
                        f"{CLOCK_MHZ_RANGE[1]:g}, not {args.clock_mhz:g}")
    art = accel_inputs(args)
    r = estimate_accel(art, args.variant, args.rows, args.lanes, args.target,
                       clock_mhz=args.clock_mhz)
    if args.json:
        print(json.dumps(r, allow_nan=False))
        return 0
    print(format_accel(r, "estimate"))
    return 0
