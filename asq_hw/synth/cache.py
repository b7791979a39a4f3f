"""On-disk cache of synthesis results, keyed by everything that determines them.

A key is a JSON-able dict: the stage, the SHA-256 of the Verilog text, the top module, the
target, the tool versions and the exact flow (Yosys script, nextpnr arguments, wrapper text,
seed). Its SHA-256 names a JSON file holding the key, the value and the SHA-256 of the
value, so a file whose stored key differs (a hash collision, a hand-edited file), whose
value no longer matches its checksum (altered numbers), whose value the caller's `valid`
check refuses (a string, a missing or mistyped field) or that does not parse is recomputed
and rewritten. Files are written atomically (asq_hw/outputs.py), so concurrent runs
(pytest -n 2, a calibration sweep) see either nothing or a whole entry. A cache folder that
cannot be written costs the cache, not the result: `cached` returns the value and warns
(NotCachedWarning) that it was not stored.

Location: `$ASQ_HW_CACHE/synth` if ASQ_HW_CACHE is set (the asq-hw cache root), else
`~/.cache/asq-hw/synth`. Delete the folder to clear it.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from asq_hw.errors import UserError
from asq_hw.jsonread import checksum, parse_json
from asq_hw.outputs import OutputError, write_text


class NotCachedWarning(UserWarning):
    """A result was computed but could not be stored in the cache."""


def cache_dir() -> Path:
    root = os.environ.get("ASQ_HW_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "asq-hw"
    return base / "synth"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_hash(key: dict) -> str:
    return text_hash(json.dumps(key, sort_keys=True, separators=(",", ":")))


value_hash = checksum    # the checksum stored next to a value


def load(key: dict, valid: Callable[[object], bool] | None = None):
    """The cached value for `key`, or None if absent, unreadable, stored under another key,
    altered since it was stored (checksum) or refused by `valid`."""
    path = cache_dir() / f"{key_hash(key)}.json"
    try:
        entry = parse_json(path.read_bytes(), str(path), lines=True)
    except (OSError, UserError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or "value" not in entry:
        return None
    value = entry["value"]
    if entry.get("sha256") != value_hash(value):
        return None
    if valid is not None and not valid(value):
        return None
    return value


def store(key: dict, value) -> None:
    """Write the entry of `key` (atomically); OSError or OutputError if the folder cannot
    be written."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / f"{key_hash(key)}.json",
               json.dumps({"key": key, "value": value, "sha256": value_hash(value)},
                          sort_keys=True, indent=1, allow_nan=False))


def cached(key: dict, compute: Callable[[], dict], *, use_cache: bool = True,
           valid: Callable[[object], bool] | None = None) -> tuple[dict, bool]:
    """(value, hit): the stored value for `key` (if `valid` accepts it), else `compute()`,
    stored before returning; if storing fails, the value is returned all the same, with a
    NotCachedWarning."""
    if use_cache:
        value = load(key, valid)
        if value is not None:
            return value, True
    value = compute()
    if use_cache:
        try:
            store(key, value)
        except (OSError, OutputError) as exc:
            reason = exc.reason if isinstance(exc, OutputError) else \
                exc.strerror or type(exc).__name__
            warnings.warn(f"synthesis result not cached: {cache_dir()}: {reason}",
                          NotCachedWarning, stacklevel=2)
    return value, False
