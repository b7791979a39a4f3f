"""`asq-hw synth pe|array <PE flags> [--rows P] --target ice40|ecp5|xc7|osu018 [--json]
[--activity MODEL_DIR]`: measured resources and fmax (FPGA) or area, timing and power (ASIC).

Generates the PE's Verilog (as `asq-hw verilog pe`), synthesises it with Yosys for the target,
places and routes it in an I/O wrapper with nextpnr for fmax (ice40, ecp5), and counts
transistors with Yosys' CMOS model; prints lut, ff, carry, dsp, bram, fmax_mhz, transistors.
What each figure counts: asq_hw/synth/yosys.py, pnr.py and cmos.py. Results are cached on
disk (~/.cache/asq-hw/synth, or $ASQ_HW_CACHE/synth), so a repeated query is instant.

--target osu018 maps the design onto the OSU 0.18 um standard cells (Debian's
qflow-tech-osu018) and times it with OpenSTA: area_um2, cells, critical_path_ns, fmax_mhz
(lut, carry, dsp, bram do not apply; ff counts flip-flop cells). --activity MODEL_DIR adds
power at fmax and energy per MAC, measured on that trained model's beats on the digits test
images by gate-level simulation (asq_hw/synth/activity.py says how).
"""

from __future__ import annotations

import json

from asq_hw.commands.args import Choice, check_rows
from asq_hw.commands.verilog import add_design_command, add_kind_arg, add_pe_args, pe_config
from asq_hw.errors import UserError

PE_BEATS = 4000
ARRAY_BEATS = 1000


def register(sub, help: str) -> None:
    add_design_command(sub, "synth", help, __doc__,
                       (_register_pe, _register_array, _register_accel))


def _add_synth_args(p) -> None:
    from asq_hw.designs import ASIC_TARGETS
    from asq_hw.designs import TARGETS as FPGAS
    p.add_argument("--target", required=True, action=Choice, allowed=FPGAS + ASIC_TARGETS,
                   help="ice40 (HX8K, LUT4), ecp5 (LUT4 + DSP), xc7 (LUT6, no fmax) or "
                        "osu018 (OSU 0.18 um standard cells)")
    p.add_argument("--activity", metavar="MODEL_DIR", default=None,
                   help="osu018 only: power and energy per MAC on this trained digits "
                        "model's beats (gate-level simulation)")
    p.add_argument("--beats", type=int, default=None,
                   help=f"beats simulated for --activity (default {PE_BEATS} for pe, "
                        f"{ARRAY_BEATS} for array)")
    p.add_argument("--images", type=int, default=32,
                   help="--activity: test images the beats are drawn from (default 32)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--no-fmax", action="store_true", help="skip place and route")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _register_pe(targets) -> None:
    p = targets.add_parser("pe", help="one PE", description=__doc__)
    add_pe_args(p)
    add_kind_arg(p)
    _add_synth_args(p)
    p.set_defaults(func=run_pe)


def run_pe(args) -> int:
    from hw.gen import generate_pe

    cfg = pe_config(args)
    text, man = generate_pe(cfg, args.kind)
    label = (f"{man['top']} W{cfg.wbits}A{cfg.abits}{' signed' if cfg.act_signed else ''} "
             f"{cfg.variant} lanes {cfg.lanes}, acc_bits {man.get('acc_bits', cfg.acc_bits)}")
    return _synth_and_print(args, cfg, text, man["top"], {"kind": args.kind}, label,
                            design=(man, args.kind, 1))


def _register_array(targets) -> None:
    p = targets.add_parser("array", help="a P x Q POST array", description=__doc__)
    p.add_argument("--rows", type=int, required=True, help="rows P (PEs, output channels)")
    add_pe_args(p)
    _add_synth_args(p)
    p.set_defaults(func=run_array)


def run_array(args) -> int:
    from hw.gen_array import generate_array

    cfg = pe_config(args)
    check_rows(args.rows)
    text, man = generate_array(cfg, args.rows)
    label = (f"{man['top']} {args.rows}x{cfg.lanes} W{cfg.wbits}A{cfg.abits}"
             f"{' signed' if cfg.act_signed else ''} {cfg.variant}, acc_bits {cfg.acc_bits}")
    return _synth_and_print(args, cfg, text, man["top"], {"rows": args.rows}, label,
                            design=(man, "post", args.rows))


def _synth_and_print(args, cfg, text: str, top: str, extra: dict, label: str,
                     design: tuple) -> int:
    """Synthesise `text` for args.target and print one JSON object (with `extra` and the
    config) or the human table headed by `label`. design: (manifest, kind, rows)."""
    from asq_hw.designs import ASIC_TARGETS
    from asq_hw.synth import synthesize

    if args.target in ASIC_TARGETS:
        return _asic_and_print(args, cfg, text, top, extra, label, design)
    if args.activity is not None:
        raise UserError(f"--activity needs --target {'|'.join(ASIC_TARGETS)}, "
                        f"not {args.target}")

    r = synthesize(text, top, args.target, fmax=not args.no_fmax, use_cache=not args.no_cache)
    if args.json:
        print(json.dumps({**r.to_dict(), **extra, "config": cfg.to_dict()},
                         allow_nan=False))
    else:
        print(format_result(r, label))
    return 0


def format_result(r, label: str) -> str:
    """The human table: one line per key, then where fmax comes from and the run times."""
    from asq_hw.designs import RESOURCE_KEYS as KEYS
    d = r.to_dict()
    lines = [f"{label} on {r.target}:"]
    for k in KEYS:
        v = d[k]
        shown = "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        lines.append(f"  {k:12s} {shown:>10s}")
    if r.fmax_mhz is not None:
        lines.append(f"fmax: nextpnr on {r.device}, seed {r.seed}, constraint "
                     f"{r.freq_mhz:g} MHz, design in a 3-pin I/O wrapper")
    else:
        lines.append(f"fmax: {r.fmax_note}")
    times = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
    lines.append(f"run times: {times}" + (f" (cached: {', '.join(r.cached)})" if r.cached
                                          else ""))
    return "\n".join(lines)


def _asic_and_print(args, cfg, text: str, top: str, extra: dict, label: str,
                    design: tuple) -> int:
    from asq_hw.synth import synthesize_asic
    from asq_hw.synth.liberty import find_library, find_tool

    # Missing tools fail here, before the model and the images are loaded.
    find_library()
    find_tool("sta")
    job = None
    if args.activity is not None:
        find_tool("iverilog")
        job = _power_job(args, cfg, design)
    r = synthesize_asic(text, top, target=args.target, power=job,
                        use_cache=not args.no_cache)
    if args.json:
        print(json.dumps({**r.to_dict(), **extra, "config": cfg.to_dict()}))
    else:
        print(format_asic(r, label))
    return 0


def _power_job(args, cfg, design: tuple):
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from asq_hw.synth import PowerJob
    from asq_hw.synth.activity import workload_stimulus

    man, kind, rows = design
    default = ARRAY_BEATS if man["top"] == "post_array" else PE_BEATS
    beats = default if args.beats is None else args.beats
    if not 1 <= beats <= 1_000_000:
        raise UserError(f"beats must be an integer from 1 to 1000000, not {beats}")
    art = load_artifact(args.activity)
    if art.dataset != "digits":
        raise UserError(f"--activity needs a digits model, not a {art.dataset} one")
    images = load_dataset("digits").x_test.numpy()
    if not 1 <= args.images <= len(images):
        raise UserError(f"images must be an integer from 1 to {len(images)}, "
                        f"not {args.images}")
    stim = workload_stimulus(art, images[:args.images], cfg, kind, rows=rows, beats=beats)
    return PowerJob(stim, cfg, kind, man.get("acc_bits", cfg.acc_bits), man["latency"])


def format_asic(r, label: str) -> str:
    """The human table of an osu018 result: area, cells, timing, power when measured."""
    lines = [f"{label} on {r.target} (OSU 0.18 um standard cells, typical corner):",
             f"  area_um2         {r.area_um2:>12,.0f}",
             f"  cells            {r.cells:>12,d}",
             f"  ff               {r.ff:>12,d}",
             f"  critical_path_ns {r.critical_path_ns:>12.3f}",
             f"  fmax_mhz         {r.fmax_mhz:>12.1f}"]
    if r.transistors is not None:
        lines.append(f"  transistors      {r.transistors:>12,d}  (Yosys CMOS model)")
    if r.power_mw is not None:
        p, a = r.power_mw, r.activity
        lines += [f"  power_mw         {p['total']:>12.3f}  at fmax: internal "
                  f"{p['internal']:.3f}, switching {p['switching']:.3f}, leakage "
                  f"{p['leakage']:.2g}",
                  f"  energy_pj_per_mac {r.energy_pj_per_mac:>11.3f}",
                  f"activity: {a['beats']} beats of the model's layers "
                  f"{', '.join(x['layer'] for x in a['layers'])} ({a['images']} test images), "
                  f"{a['macs']:,} MACs in {a['cycles']:,} cycles, mean net activity "
                  f"{a['mean_activity']:.3f} per cycle; gate-level simulation in Icarus"]
    lines.append("timing: OpenSTA, ideal clock, no wire load; area: cell area only")
    times = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
    lines.append(f"run times: {times}" + (f" (cached: {', '.join(r.cached)})" if r.cached
                                          else ""))
    return "\n".join(lines)


# -- the whole accelerator (hw/accel/top.py) ---------------------------------------------

ACCEL_TARGETS = ("ice40", "ecp5")


def add_accel_args(p, what: str) -> None:
    """The flags `synth accel` and `estimate accel` share."""
    from asq_hw.config import VARIANTS
    p.add_argument("dir", help="artifact folder (asq-hw train --out DIR)")
    p.add_argument("--rows", type=int, required=True, help="array rows P")
    p.add_argument("--lanes", type=int, required=True, help="array lanes Q")
    p.add_argument("--variant", default="lut", action=Choice, allowed=VARIANTS, quoted=True,
                   help="POST MAC variant (default lut)")
    p.add_argument("--target", required=True, action=Choice, allowed=ACCEL_TARGETS,
                   help=f"ice40 (HX8K) or ecp5 (LFE5U): the FPGAs {what}")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def accel_inputs(args):
    """The artifact of DIR, after checking --rows and --lanes (UserError, one line)."""
    from asq_hw.artifact import load_artifact
    from asq_hw.commands.args import check_int
    from asq_hw.config import LANES_RANGE
    check_rows(args.rows)
    check_int("lanes", args.lanes, *LANES_RANGE)
    return load_artifact(args.dir)


def _register_accel(targets) -> None:
    p = targets.add_parser(
        "accel", help="the whole accelerator of a trained network",
        description="Synthesise and place the whole accelerator of an artifact (hw/accel, "
                    "top asq_accel): lut, ff, carry, dsp, bram, fmax_mhz, transistors "
                    "(not counted for the accelerator: null), cycles_per_image (exact), "
                    "images_per_s at fmax, the memories Yosys put in block RAM or logic, and "
                    "the area split into the array (synthesised alone) and the rest.")
    add_accel_args(p, "with open place and route")
    p.add_argument("--no-fmax", action="store_true", help="skip place and route")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=run_accel)


def run_accel(args) -> int:
    from asq_hw.synth.accel import synthesize_accel

    art = accel_inputs(args)
    r = synthesize_accel(art, args.variant, args.rows, args.lanes, args.target,
                         fmax=not args.no_fmax, use_cache=not args.no_cache)
    if args.json:
        print(json.dumps(r, allow_nan=False))
        return 0
    print(format_accel(r, "synthesised"))
    return 0


def format_accel(r: dict, how: str) -> str:
    """The human table of `synth accel` / `estimate accel`: the seven keys, cycles and
    images/s, then the breakdown and where the memories went."""
    from asq_hw.designs import RESOURCE_KEYS as KEYS
    lines = [f"asq_accel {r['rows']}x{r['lanes']} {r['variant']} on {r['target']} ({how}):"]
    for k in (*KEYS, "cycles_per_image", "interval", "images_per_s"):
        v = r[k]
        shown = "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
        lines.append(f"  {k:16s} {shown:>12s}")
    for block, v in r["breakdown"].items():
        lines.append(f"  {block:16s} " + ", ".join(f"{k} {x}" for k, x in v.items()))
    mems = r["memories"]
    if mems and "where" in mems[0] and "cells" in mems[0]:
        lines.append("memories: " + "; ".join(
            f"{m['name']} {m['depth']}x{m['width']} -> "
            + (f"{m['cells']} {m['cell']}" if m["cell"] else "logic") for m in mems))
    elif mems:
        lines.append("memories (Yosys): " + "; ".join(f"{m['memory']} -> {m['where']}"
                                                      for m in mems))
    if r.get("device"):
        lines.append(f"fmax: nextpnr on {r['device']}")
    elif r.get("fmax_note"):
        lines.append(f"fmax: {r['fmax_note']}")
    return "\n".join(lines)
