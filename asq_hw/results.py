"""Results of long batches, saved one by one as they arrive, so nothing is computed twice.

    value = pmap_saved(fn, items, keys, "synth", jobs=2)   # asq_hw.parallel.pmap, resumable

A sweep's syntheses, calibration's and the demo's trainings take minutes to hours, locally or
on a cluster (asq_hw/cluster.py). Each item has a key: a JSON-able dict of everything that
decides its result (the design and the tool versions and a fingerprint of the code that
builds and measures it; a training configuration and the training code's fingerprint).
`pmap_saved` looks every key up first, runs only the items without a saved result, and saves
each new result in this process the moment it arrives, before the batch ends. A batch that is
interrupted (Ctrl-C, a failure, a cluster gone) therefore resumes where it stopped when the
command runs again, and its output is the same as an uninterrupted run's.

Storage: one JSON file per key, `<root>/results/<kind>/<sha256 of the key>.json`, holding the
key and the value; root is $ASQ_HW_CACHE if set, else ~/.cache/asq-hw (asq_hw/synth/cache.py
keeps the synthesis stages beside it). A file whose stored key differs or that does not parse
counts as absent. Files are written atomically (asq_hw/outputs.py), so concurrent runs see
either nothing or a whole entry. Delete the folder to forget the results.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from asq_hw.errors import UserError
from asq_hw.jsonread import checksum, parse_json
from asq_hw.outputs import json_text, write_json


def results_dir(kind: str) -> Path:
    root = os.environ.get("ASQ_HW_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "asq-hw"
    return base / "results" / kind


def key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def _path(kind: str, key: dict) -> Path:
    return results_dir(kind) / f"{key_hash(key)}.json"


def load(kind: str, key: dict):
    """The saved value for `key`, or None when there is none, it is unreadable, saved under
    another key, or altered since it was saved (checksum): then it is computed again."""
    path = _path(kind, key)
    try:
        entry = parse_json(path.read_bytes(), str(path), lines=True)
    except (OSError, UserError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != json.loads(json.dumps(key)) \
            or "value" not in entry or entry.get("sha256") != checksum(entry["value"]):
        return None
    return entry["value"]


def save(kind: str, key: dict, value) -> None:
    path = _path(kind, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = json.loads(json_text(value))        # numpy scalars as numbers, as load sees it
    write_json(path, {"key": key, "value": plain, "sha256": checksum(plain)})


def fingerprint(*sources: str, versions: Sequence[str] = ()) -> str:
    """sha256 over the given source files and folders (paths relative to the repository
    root, every .py below a folder) and the named distributions' versions: what a saved
    result depends on besides its own inputs."""
    import importlib.metadata

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for dist in versions:
        h.update(f"{dist}={importlib.metadata.version(dist)}".encode())
    for rel in sources:
        p = root / rel
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def pmap_saved(fn: Callable, items: Sequence, keys: Sequence[dict], kind: str, *,
               on_result: Callable[[int, object], None] | None = None, tally=None,
               **pmap_kwargs) -> list:
    """[fn(item) for item in items] in input order, like asq_hw.parallel.pmap (same keyword
    arguments), but a saved result is used as is and each new one is saved as it arrives
    (module docstring). `on_result(index, value)` is called for every item, saved ones
    first; a `tally` counts the saved ones as done. Values must be JSON-able."""
    from asq_hw.parallel import pmap

    if len(keys) != len(items):
        raise ValueError(f"keys must be one per item: {len(keys)} keys for {len(items)} items")
    results = [load(kind, k) for k in keys]
    todo = [i for i, r in enumerate(results) if r is None]
    for i, r in enumerate(results):
        if r is not None and on_result:
            on_result(i, r)
    if tally is not None:
        tally.done += len(items) - len(todo)

    def arrived(j: int, value) -> None:
        i = todo[j]
        save(kind, keys[i], value)
        # As a later run will load it: the output must not depend on which run computed it.
        results[i] = json.loads(json_text(value))
        if on_result:
            on_result(i, value)

    if todo:
        pmap(fn, [items[i] for i in todo], on_result=arrived, tally=tally, **pmap_kwargs)
    return results
