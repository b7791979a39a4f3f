"""`asq-hw verilog TARGET`: generate Verilog and its manifest (spec section 6).

Targets: `pe` writes DIR/post_pe.v and DIR/post_pe.json (or the int_pe / pot_pe baselines
with --kind); `array` writes DIR/post_array.v and DIR/post_array.json (P rows x Q lanes).
A new target adds a function `_register_<name>(targets)` here and to `register`. The
configuration is validated (PEConfig) before anything is written;
files are written atomically.
"""

from __future__ import annotations

from asq_hw.commands.args import Choice, check_rows, checked, output_errors
from asq_hw.config import VARIANTS, PEConfig
from asq_hw.errors import UserError


def add_pe_args(p) -> None:
    """The PEConfig flags, shared by `verilog pe` and `sim pe`."""
    d = PEConfig()
    p.add_argument("--wbits", type=int, default=d.wbits, help=f"weight code bits ({d.wbits})")
    p.add_argument("--abits", type=int, default=d.abits, help=f"activation bits ({d.abits})")
    p.add_argument("--signed", action="store_true", help="two's complement activations")
    p.add_argument("--variant", default=d.variant, action=Choice, allowed=VARIANTS, quoted=True,
                   help=f"lut (one accumulator, activation LUT) or dual ({d.variant})")
    p.add_argument("--lanes", type=int, default=d.lanes, help=f"lanes Q ({d.lanes})")
    p.add_argument("--frac-bits", type=int, default=d.frac_bits,
                   help=f"LUT fraction bits F ({d.frac_bits})")
    p.add_argument("--max-len", type=int, default=d.max_len,
                   help=f"longest dot product without overflow ({d.max_len})")
    p.add_argument("--acc-bits", type=int, default=None,
                   help="accumulator width (default: the safe width for --max-len; smaller "
                        "wraps)")


def add_kind_arg(p) -> None:
    """--kind: the POST PE or a baseline PE on the same ports."""
    from asq_hw.designs import DESIGN_KINDS as KINDS
    p.add_argument("--kind", default="post", action=Choice, allowed=KINDS,
                   help="post (default) or a baseline: int (multiplier), pot (shift only)")


def add_design_command(sub, name: str, help: str, doc: str, registrars,
                       metavar: str = "DESIGN") -> None:
    """Add `asq-hw NAME DESIGN ...`: each of `registrars` adds one DESIGN sub-parser."""
    p = sub.add_parser(name, help=help, description=doc)
    designs = p.add_subparsers(dest="design", required=True, metavar=metavar)
    for add in registrars:
        add(designs)


def pe_config(args) -> PEConfig:
    """The PEConfig of the flags; UserError (one line naming the field) if invalid. An
    --acc-bits with a baseline --kind is refused: those PEs size their own accumulator."""
    kind = getattr(args, "kind", "post")
    if kind != "post" and args.acc_bits is not None:
        raise UserError(f"acc-bits {args.acc_bits}: applies to --kind post only; the {kind} "
                        "baseline PE sizes its own accumulator for --max-len (omit --acc-bits)")
    return checked(PEConfig, wbits=args.wbits, abits=args.abits, act_signed=args.signed,
                   variant=args.variant, frac_bits=args.frac_bits, lanes=args.lanes,
                   max_len=args.max_len, acc_bits=args.acc_bits)


def register(sub, help: str) -> None:
    add_design_command(sub, "verilog", help, __doc__,
                       (_register_pe, _register_array, _register_accel), metavar="TARGET")


def _register_pe(targets) -> None:
    p = targets.add_parser("pe", help="one POST PE: DIR/post_pe.v + DIR/post_pe.json",
                           description="Write the PE's Verilog (top module post_pe) and its "
                                       "manifest (config, latency, ports with roles).")
    add_pe_args(p)
    add_kind_arg(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run_pe)


def run_pe(args) -> int:
    from asq_hw.outputs import ensure_writable
    from hw.gen import write_pe

    cfg = pe_config(args)                      # fails here, before any file is touched
    ensure_writable(args.out)
    with output_errors():
        v, j, man = write_pe(cfg, args.out, args.kind)
    acc = man.get("acc_bits", cfg.acc_bits)
    print(f"wrote {v} and {j}: top {man['top']}, latency {man['latency']} cycles, "
          f"acc_bits {acc}{' (wraps past max_len)' if cfg.wraps and args.kind == 'post' else ''}")
    return 0


def _register_array(targets) -> None:
    p = targets.add_parser(
        "array", help="a P x Q POST array: DIR/post_array.v + DIR/post_array.json",
        description="Write the array's Verilog (top module post_array: P rows of the PE's "
                    "weight side sharing one activation stage, so one LUT per lane) and its "
                    "manifest (config, rows, latency, ports with roles, packing). The PE "
                    "flags give every row's arithmetic; --lanes is Q.")
    p.add_argument("--rows", type=int, required=True, help="rows P (PEs, output channels)")
    add_pe_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run_array)


def run_array(args) -> int:
    from asq_hw.outputs import ensure_writable
    from hw.gen_array import write_array

    cfg = pe_config(args)                      # fails here, before any file is touched
    check_rows(args.rows)
    ensure_writable(args.out)
    with output_errors():
        v, j, man = write_array(cfg, args.rows, args.out)
    print(f"wrote {v} and {j}: top {man['top']}, {man['rows']} rows x {man['lanes']} lanes, "
          f"{cfg.variant}, latency {man['latency']} cycles, acc_bits {cfg.acc_bits}"
          f"{' (wraps past max_len)' if cfg.wraps else ''}")
    return 0


def _register_accel(targets) -> None:
    from asq_hw.commands.accel import register_verilog
    register_verilog(targets)
