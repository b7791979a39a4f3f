"""The `asq-hw` command line: one sub-command per stage of the data flow.

Each sub-command lives in its own module under `asq_hw/commands/` and exposes
`register(subparsers, help)`, which adds its parser and sets `func(args) -> int`. Only the
module of the command being run is imported (so `asq-hw estimate pe` never loads torch);
the others appear in `asq-hw --help` by name and help line alone, from `COMMANDS`.

Errors a user can fix (bad configuration, bad input file, missing tool: `UserError`) end as
one line on stderr, `asq-hw: error: ...`, and exit status 2; nothing half-written is left
behind. Any other exception is a bug: its traceback is printed with a request to report it,
exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
import traceback

from asq_hw.errors import UserError

# In data-flow order; `asq-hw --help` lists them this way, with these help lines.
COMMANDS = {
    "demo": "run the main job end to end (make demo)",
    "train": "train a quantized network and export its artifact",
    "eval": "compare float, fake-quant and golden integer accuracy",
    "verilog": "generate Verilog and its manifest",
    "sim": "verify generated RTL with cocotb against the golden model",
    "synth": "synthesise and place-and-route: measured resources, fmax",
    "estimate": "analytical resources, fmax, cycles (no synthesis)",
    "calibrate": "fit/check the estimator against synthesis",
    "sweep": "estimate a cross product of designs (CSV + Pareto plot)",
}


def build_parser(load=tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The parser. Commands named in `load` get their full sub-parser (importing their
    module); the others only their name and help line, which is all `asq-hw --help` and an
    unknown command's error need."""
    parser = argparse.ArgumentParser(
        prog="asq-hw",
        description="Train, export, verify and estimate ASQ + POST quantized networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help in COMMANDS.items():
        if name in load:
            importlib.import_module(f"asq_hw.commands.{name}").register(sub, help)
        else:
            sub.add_parser(name, help=help)
    return parser


def _command(argv: list[str]) -> str | None:
    """The sub-command `argv` names: its first word, since the top level has no options
    but --help."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def _stdout_broken() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports POLLERR on the write end
    of such a pipe; the failed write may already have emptied the buffer)."""
    try:
        sys.stdout.flush()
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poll.poll(0))
    except BrokenPipeError:
        return True
    except (OSError, ValueError):       # stdout closed or not a file: not a broken pipe
        return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser((_command(argv),)).parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"asq-hw: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asq-hw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_broken():
            return _bug()
        # The reader of stdout went away (`asq-hw ... | head`): stop quietly, and point
        # stdout at /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:
        return _bug()


def _bug() -> int:
    traceback.print_exc()
    print("asq-hw: internal error: this is a bug, not a problem with your input; please "
          "report it with the command line and the traceback above", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
