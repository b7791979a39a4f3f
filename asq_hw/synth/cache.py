"""On-disk cache of synthesis results, keyed by everything that determines them.

A key is a JSON-able dict: the stage, the SHA-256 of the Verilog text, the top module, the
target, the tool versions and the exact flow (Yosys script, nextpnr arguments, wrapper text,
seed). Its SHA-256 names a JSON file holding the key and the value, so a file whose stored
key differs (a hash collision, a hand-edited file) or that does not parse is recomputed and
rewritten. Files are written atomically (asq_hw/outputs.py), so concurrent runs
(pytest -n 2, a calibration sweep) see either nothing or a whole entry.

Location: `$ASQ_HW_CACHE/synth` if ASQ_HW_CACHE is set (the asq-hw cache root), else
`~/.cache/asq-hw/synth`. Delete the folder to clear it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from asq_hw.outputs import write_text


def cache_dir() -> Path:
    root = os.environ.get("ASQ_HW_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "asq-hw"
    return base / "synth"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_hash(key: dict) -> str:
    return text_hash(json.dumps(key, sort_keys=True, separators=(",", ":")))


def load(key: dict) -> dict | None:
    """The cached value for `key`, or None if absent, unreadable or stored under another key."""
    path = cache_dir() / f"{key_hash(key)}.json"
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry.get("value")


def store(key: dict, value: dict) -> None:
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / f"{key_hash(key)}.json",
               json.dumps({"key": key, "value": value}, sort_keys=True, indent=1))


def cached(key: dict, compute: Callable[[], dict], *, use_cache: bool = True
           ) -> tuple[dict, bool]:
    """(value, hit): the stored value for `key`, else `compute()`, stored before returning."""
    if use_cache:
        value = load(key)
        if value is not None:
            return value, True
    value = compute()
    if use_cache:
        store(key, value)
    return value, False
