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
import threading

from asq_hw.errors import Terminated, UserError

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


# Commands that run YoWASP tools (Yosys through Amaranth's Verilog back end, nextpnr).
TOOL_COMMANDS = ("demo", "verilog", "sim", "synth", "sweep", "calibrate")


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import warnings

    from asq_hw.outputs import removing_created_folders_on_failure

    previous = signal.signal(signal.SIGTERM, _terminate) \
        if threading.current_thread() is threading.main_thread() else None
    notes: list[str] = []
    try:
        args = build_parser().parse_args(argv)     # imports torch for some commands: slow
        with warnings.catch_warnings(record=True) as caught, \
                removing_created_folders_on_failure():
            warnings.simplefilter("always")
            if args.command in TOOL_COMMANDS:
                from asq_hw.toolchain import writable_cache_home
                note = writable_cache_home()
                if note:
                    notes.append(note)
            try:
                status = int(args.func(args) or 0)
            finally:
                notes += [str(w.message) for w in caught]
        # Warnings only after a command that did its job: an error is one line, alone.
        for note in dict.fromkeys(notes):
            print(f"asq-hw: warning: {note.splitlines()[0]}", file=sys.stderr)
        return status
    except BrokenPipeError:
        # The reader of stdout has gone (`asq-hw ... | head`): nothing left to say.
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (UserError, ValueError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"asq-hw: error: {msg}", file=sys.stderr)
        return 2
    except Terminated:
        print("asq-hw: interrupted (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("asq-hw: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
