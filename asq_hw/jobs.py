"""Long tool runs (synthesis, place and route) in child processes that can be stopped.

`Job.start(func, kwargs)` runs `func(**kwargs)` (a module-level function named
"package.module:function", JSON-serialisable arguments and result) in a fresh Python process
with a session of its own, while this process goes on with other work. `Job.result()` waits
and returns the function's result, or raises what it raised, as one line: a UserError
(a tool missing or failing, bad input) comes back as UserError, anything else as
JobError with the exception's type and message.

Why a process group: the YoWASP tools run as grandchildren (asq_hw/synth/tools.py starts
each in a subprocess). `Job.stop()` (also on leaving a `with` block early, e.g. after an
exception or Ctrl-C in this process) signals the whole group, so no orphaned Yosys or
nextpnr keeps running after asq-hw has given up. The result travels through a JSON file in a
temporary folder, written atomically by the child.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from asq_hw.errors import UserError


class JobError(RuntimeError):
    """A job failed with an unexpected exception (not a UserError)."""


class Job:
    def __init__(self, func: str, kwargs: dict, label: str | None = None):
        self.func = func
        self.kwargs = kwargs
        self.label = label or func
        self._tmp = tempfile.TemporaryDirectory(prefix="asq-hw-job-")
        self._result = Path(self._tmp.name) / "result.json"
        self._stderr = Path(self._tmp.name) / "stderr.txt"
        self.proc: subprocess.Popen | None = None
        self.seconds: float | None = None
        self._t0 = 0.0

    @classmethod
    def start(cls, func: str, kwargs: dict, label: str | None = None) -> Job:
        job = cls(func, kwargs, label)
        job._launch()
        return job

    def _launch(self) -> None:
        args = json.dumps({"func": self.func, "kwargs": self.kwargs,
                           "result": str(self._result)})
        self._t0 = time.perf_counter()
        with open(self._stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "asq_hw.jobs", args], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def done(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def wait(self, timeout: float | None = None) -> bool:
        """True once the process has ended (False after `timeout` seconds)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self.seconds is None:
            self.seconds = time.perf_counter() - self._t0
        return True

    def result(self):
        self.wait()
        try:
            out = json.loads(self._result.read_text())
        except (OSError, ValueError):
            tail = self._stderr.read_text(errors="replace").strip().splitlines()
            raise JobError(f"{self.label}: the job process ended (exit "
                           f"{self.proc.returncode}) without a result"
                           f"{': ' + tail[-1] if tail else ''}") from None
        finally:
            self._tmp.cleanup()
        if "error" in out:
            cls = UserError if out["user_error"] else JobError
            raise cls(out["error"] if out["user_error"] else f"{self.label}: {out['error']}")
        return out["value"]

    def stop(self) -> None:
        """Stop the job and every process it started (its process group)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self._tmp.cleanup()

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def resolve(func: str):
    module, _, name = func.partition(":")
    return getattr(importlib.import_module(module), name)


def _child(spec: dict) -> int:
    from asq_hw.outputs import write_json
    try:
        value = resolve(spec["func"])(**spec["kwargs"])
        out = {"value": value}
    except UserError as exc:
        out = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
               "user_error": True}
    except Exception as exc:  # reported to the parent as one line
        out = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
               "user_error": False}
    write_json(spec["result"], out)
    return 0


if __name__ == "__main__":
    sys.exit(_child(json.loads(sys.argv[1])))
