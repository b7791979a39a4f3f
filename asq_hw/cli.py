"""The `asq-hw` command line: one sub-command per stage of the data flow.

Each sub-command lives in its own module under `asq_hw/commands/` and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`. Errors a user
can fix (bad configuration, bad input file, missing tool) end as one line on stderr,
`asq-hw: error: ...`, and exit status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from asq_hw.errors import UserError

# In data-flow order; `asq-hw --help` lists them this way.
COMMANDS = ("demo", "train", "eval", "verilog", "sim", "synth", "estimate", "calibrate", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asq-hw",
        description="Train, export, verify and estimate ASQ + POST quantized networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"asq_hw.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"asq-hw: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asq-hw: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
