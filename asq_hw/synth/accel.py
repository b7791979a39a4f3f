"""Synthesis of the whole accelerator (hw/accel/top.py, top `asq_accel`) for one network.

    r = synthesize_accel(artifact, "lut", rows=8, lanes=8, target="ice40")
    r["lut"], ..., r["bram"], r["cycles_per_image"], r["images_per_s"], r["breakdown"]

The seven RESOURCE_KEYS come from `asq_hw.synth.synthesize` (Yosys counts, nextpnr fmax in
the three-pin I/O wrapper; both cached), with two accelerator specifics:

- transistors is None: Yosys' generic CMOS count of a design whose memories are tens of
  kilobits would map every memory bit to gates (a figure of no use, and hours of run time);
- the Yosys run that counts also records its memory decisions (memory_libmap's "mapping
  memory M via CELL" / "using FF mapping for memory M" log lines): `memories` lists each
  memory of the netlist and where it went, so the estimator's placement rule
  (asq_hw/estimate/memory.py) is checked against the tool and not against itself.

`breakdown` is measured as far as synthesis can tell blocks apart in a flattened netlist:
`array` is the P x Q PostArray of the same configuration synthesised alone (cached); `rest`
is the whole accelerator minus that (memories in logic, requantization and adapter unit,
address generation, sequencer). cycles_per_image is an image's latency from its first
input beat to its last logit, `interval` the edges between the first beats of images sent
back to back (both exact: Accelerator.cycles_per_image, .interval); images_per_s = fmax /
interval, everything counted (input, every layer, the logits).
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from asq_hw.designs import RESOURCE_KEYS
from asq_hw.synth import _design_key, _valid_counts, cache, synthesize
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError
from asq_hw.synth.yosys import read_ports, read_stat, run_yosys, synth_script

_MAPPED = re.compile(r"^mapping memory (\S+) via (\S+)$", re.M)
_LOGIC = re.compile(r"^using FF mapping for memory (\S+)$", re.M)
# Yosys' names of the ROMs it infers from case statements (the array's decoders): not
# memories of the design.
_INFERRED = "$auto$proc_rom"


def build_accel(artifact, variant: str, rows: int, lanes: int):
    """The `Accelerator` (not elaborated) and its (Verilog text, manifest)."""
    from asq_hw.mapper import array_config
    from hw.accel.gen import generate_accel
    from hw.accel.top import Accelerator

    acc = Accelerator(artifact, array_config(artifact, variant, lanes), rows)
    text, manifest = generate_accel(acc)
    return acc, text, manifest


def memory_decisions(log: str, top: str) -> list[dict]:
    """[{memory, where: 'logic' | cell name}] from a Yosys log, in log order, without
    the ROMs Yosys inferred from case statements."""
    found = [(m.start(), m.group(1), m.group(2)) for m in _MAPPED.finditer(log)]
    found += [(m.start(), m.group(1), "logic") for m in _LOGIC.finditer(log)]
    out = []
    for _, name, where in sorted(found):
        if _INFERRED in name:
            continue
        name = name.removeprefix(f"{top}.")
        out.append({"memory": name, "where": where.strip("$_").removeprefix("_")})
    return out


def _counts_and_memories(verilog: str, top: str, target: str, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="asq-synth-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        log = run_yosys({"design.v": verilog}, synth_script(top, target), work,
                        timeout_s=timeout_s)
        cells = read_stat(work / "stat.json")
        ports = read_ports(work / "ports.json", top)
        return {"cells": cells, "ports": [list(p) for p in ports],
                "seconds": time.perf_counter() - t0, "memories": memory_decisions(log, top)}


def _valid_memories(v) -> bool:
    return (_valid_counts(v) and isinstance(v.get("memories"), list)
            and all(isinstance(m, dict) and isinstance(m.get("memory"), str)
                    and isinstance(m.get("where"), str) for m in v["memories"]))


def counts_with_memories(verilog: str, top: str, target: str, *, use_cache: bool = True,
                         timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """One Yosys run of `top` for `target`: its cells, ports and memory decisions (cached);
    it also fills `synthesize`'s own counts entry, so that call does not synthesise again."""
    base = _design_key(verilog, top)
    script = synth_script(top, target)
    value, _ = cache.cached({**base, "stage": "counts+memories", "target": target,
                             "script": script},
                            lambda: _counts_and_memories(verilog, top, target, timeout_s),
                            use_cache=use_cache, valid=_valid_memories)
    if use_cache:
        key = {**base, "stage": "counts", "target": target, "script": script}
        if cache.load(key, _valid_counts) is None:
            try:
                cache.store(key, {k: value[k] for k in ("cells", "ports", "seconds")})
            except OSError:
                pass            # only a missed shortcut: synthesize() recomputes it
    return value


def _synthesize_placed(text: str, top: str, target: str, fmax: bool, use_cache: bool,
                       timeout_s: float):
    """`synthesize` with fmax; a design that nextpnr cannot place on the largest device
    (e.g. more logic cells than the HX8K has, once LUTs and flip-flops are packed) is a
    result, not an error: fmax None and the tool's reason in fmax_note (cached as such)."""
    import dataclasses

    if not fmax:
        return synthesize(text, top, target, fmax=False, transistors=False,
                          use_cache=use_cache, timeout_s=timeout_s)
    key = {**_design_key(text, top), "stage": "pnr-failure", "target": target}
    failed = cache.load(key, lambda v: isinstance(v, dict) and isinstance(v.get("note"), str)
                        ) if use_cache else None
    if failed is None:
        try:
            return synthesize(text, top, target, fmax=True, transistors=False,
                              use_cache=use_cache, timeout_s=timeout_s)
        except SynthError as exc:
            lines = [x for x in str(exc).splitlines() if "ERROR" in x] or [str(exc)]
            failed = {"note": f"place and route failed: {lines[0].strip()}"}
            if use_cache:
                try:
                    cache.store(key, failed)
                except OSError:
                    pass
    r = synthesize(text, top, target, fmax=False, transistors=False, use_cache=use_cache,
                   timeout_s=timeout_s)
    return dataclasses.replace(r, fmax_note=failed["note"])


def synthesize_accel(artifact, variant: str, rows: int, lanes: int, target: str, *,
                     fmax: bool = True, use_cache: bool = True,
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Measured figures of the accelerator of `artifact` on a rows x lanes array (module
    docstring): the RESOURCE_KEYS, then cycles_per_image, images_per_s (None without
    fmax), memories, breakdown, and how they were obtained (device, seconds, cached)."""
    from hw.gen_array import generate_array

    acc, text, man = build_accel(artifact, variant, rows, lanes)
    top = man["top"]
    mem = counts_with_memories(text, top, target, use_cache=use_cache, timeout_s=timeout_s)
    r = _synthesize_placed(text, top, target, fmax, use_cache, timeout_s)
    atext, aman = generate_array(acc.cfg, rows)
    arr = synthesize(atext, aman["top"], target, fmax=False, transistors=False,
                     use_cache=use_cache, timeout_s=timeout_s)
    d = r.to_dict()
    cycles, interval = man["cycles_per_image"], acc.interval
    fm = d["fmax_mhz"]
    keys = [k for k in RESOURCE_KEYS if k not in ("fmax_mhz", "transistors")]
    return {
        **{k: d[k] for k in RESOURCE_KEYS},
        "cycles_per_image": cycles,
        "interval": interval,
        "images_per_s": None if fm is None else fm * 1e6 / interval,
        "breakdown": {"array": {k: getattr(arr, k) for k in keys},
                      "rest": {k: d[k] - getattr(arr, k) for k in keys}},
        "memories": mem["memories"],
        "manifest_memories": man["memories"],
        "target": target, "top": top, "rows": rows, "lanes": lanes, "variant": variant,
        "config": acc.cfg.to_dict(),
        "device": d["device"], "seed": d["seed"], "freq_mhz": d["freq_mhz"],
        "fmax_note": d["fmax_note"], "tools": d["tools"], "seconds": d["seconds"],
        "cached": d["cached"],
    }
