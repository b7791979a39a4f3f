"""Find the ASIC tools and the OSU 0.18 um standard-cell library, or fetch the library.

The ASIC target `osu018` needs three things besides Yosys:

- the OSU 0.18 um library (Oklahoma State University's cells as packaged by Debian's
  `qflow-tech-osu018`): `osu018_stdcells.lib` (Liberty: area, NLDM delay and internal-power
  tables, 1.8 V typical corner) and `osu018_stdcells.v` (the cells' Verilog models, for
  gate-level simulation). It is GPL, so it is never copied into the repository: it is read
  from the installed package, or from Debian's package unpacked into the cache (`fetch`,
  `python -m asq_hw.synth.fetch`), which needs neither root nor the package's ~49
  dependencies (qflow, magic, GTK);
- OpenSTA (`sta`, Debian `opensta`) for timing and power;
- Icarus Verilog (`iverilog`, `vvp`) for the gate-level simulation that measures activity.

Where the library is looked for, in order: `$ASQ_HW_OSU018` (a folder holding both files),
the installed package (`/usr/share/qflow/tech/osu018`), the cache
(`$ASQ_HW_CACHE/osu018`, else `~/.cache/asq-hw/osu018`). A missing piece raises
ToolNotFoundError with the one line that installs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from asq_hw.errors import ToolNotFoundError

PACKAGE = "qflow-tech-osu018"
TECH_DIR = Path("usr/share/qflow/tech/osu018")
LIB_NAME = "osu018_stdcells.lib"
MODELS_NAME = "osu018_stdcells.v"
ENV = "ASQ_HW_OSU018"

INSTALL = {
    "library": f"python -m asq_hw.synth.fetch (apt-get download {PACKAGE} + dpkg-deb -x "
               f"into the cache), or apt-get install {PACKAGE}",
    "sta": "apt-get install opensta",
    "iverilog": "apt-get install iverilog",
}


@dataclasses.dataclass(frozen=True)
class Library:
    """The library's files and the SHA-256 of the Liberty text (part of cache keys)."""

    liberty: Path
    models: Path
    sha256: str


def cache_root() -> Path:
    """Where fetched packages are unpacked: $ASQ_HW_CACHE/osu018 or ~/.cache/asq-hw/osu018."""
    root = os.environ.get("ASQ_HW_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "asq-hw"
    return base / "osu018"


def candidates() -> list[Path]:
    """The folders searched for the library, in order."""
    folders = [Path(os.environ[ENV]).expanduser()] if os.environ.get(ENV) else []
    return folders + [Path("/") / TECH_DIR, cache_root() / TECH_DIR]


def find_library() -> Library:
    """The first folder of `candidates()` holding both files; ToolNotFoundError if none."""
    for folder in candidates():
        lib, models = folder / LIB_NAME, folder / MODELS_NAME
        if lib.is_file() and models.is_file():
            return Library(lib, models, hashlib.sha256(lib.read_bytes()).hexdigest())
    raise ToolNotFoundError(f"OSU 0.18 um cell library ({LIB_NAME}) not found: "
                            f"{INSTALL['library']}")


def find_tool(name: str) -> Path:
    """Path of `sta`, `iverilog` or `vvp`; ToolNotFoundError names the package."""
    path = shutil.which(name)
    if path is None:
        key = "sta" if name == "sta" else "iverilog"
        raise ToolNotFoundError(f"{name} not found: {INSTALL[key]}")
    return Path(path)


def tool_version(name: str) -> str:
    """The tool's version line (part of cache keys): `sta -version`, `iverilog -V`."""
    flag = "-version" if name == "sta" else "-V"
    proc = subprocess.run([str(find_tool(name)), flag], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def missing() -> str | None:
    """The first missing piece of the osu018 flow as its one-line error, or None."""
    try:
        find_library()
        for tool in ("sta", "iverilog", "vvp"):
            find_tool(tool)
    except ToolNotFoundError as e:
        return str(e)
    return None


def fetch(dest: Path | None = None) -> Library:
    """Download Debian's package with `apt-get download` and unpack it (`dpkg-deb -x`) into
    `dest` (default: cache_root()); returns the library found there. Needs apt, not root."""
    dest = cache_root() if dest is None else Path(dest)
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise ToolNotFoundError(f"{tool} not found: fetching {PACKAGE} needs a Debian "
                                    f"or Ubuntu system")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="asq-osu018-") as tmp:
        # A world-readable folder, so apt's sandbox user can write the .deb into it.
        os.chmod(tmp, 0o777)
        proc = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        debs = sorted(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if proc.returncode != 0 or not debs:
            err = (proc.stderr.strip().splitlines() or ["no .deb downloaded"])[-1]
            raise ToolNotFoundError(f"apt-get download {PACKAGE} failed: {err} "
                                    f"(run apt-get update first?)")
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(dest)], check=True)
    folder = dest / TECH_DIR
    lib = folder / LIB_NAME
    return Library(lib, folder / MODELS_NAME, hashlib.sha256(lib.read_bytes()).hexdigest())


def main() -> int:
    """`python -m asq_hw.synth.fetch`: fetch the library unless it is found; print where."""
    try:
        lib = find_library()
    except ToolNotFoundError:
        try:
            lib = fetch()
        except ToolNotFoundError as e:
            print(f"asq-hw: error: {e}", file=sys.stderr)
            return 2
    print(lib.liberty.parent)
    return 0

