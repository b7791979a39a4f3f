"""`asq-hw synth pe|array <PE flags> [--rows P] --target ice40|ecp5|xc7 [--json]`: measured
resources and fmax.

Generates the PE's Verilog (as `asq-hw verilog pe`), synthesises it with Yosys for the target,
places and routes it in an I/O wrapper with nextpnr for fmax (ice40, ecp5), and counts
transistors with Yosys' CMOS model; prints lut, ff, carry, dsp, bram, fmax_mhz, transistors.
What each figure counts: asq_hw/synth/yosys.py, pnr.py and cmos.py. Results are cached on
disk (~/.cache/asq-hw/synth, or $ASQ_HW_CACHE/synth), so a repeated query is instant.
"""

from __future__ import annotations

import json

from asq_hw.commands.args import Choice, check_rows
from asq_hw.commands.verilog import add_design_command, add_kind_arg, add_pe_args, pe_config


def register(sub, help: str) -> None:
    add_design_command(sub, "synth", help, __doc__, (_register_pe, _register_array))


def _add_synth_args(p) -> None:
    from asq_hw.designs import TARGETS as FPGAS
    p.add_argument("--target", required=True, action=Choice, allowed=FPGAS,
                   help="ice40 (HX8K, LUT4), ecp5 (LUT4 + DSP) or xc7 (LUT6, no fmax)")
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
    return _synth_and_print(args, cfg, text, man["top"], {"kind": args.kind}, label)


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
    return _synth_and_print(args, cfg, text, man["top"], {"rows": args.rows}, label)


def _synth_and_print(args, cfg, text: str, top: str, extra: dict, label: str) -> int:
    """Synthesise `text` for args.target and print one JSON object (with `extra` and the
    config) or the human table headed by `label`."""
    from asq_hw.synth import synthesize

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
