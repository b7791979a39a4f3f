"""Ground truth for the estimator: open-source synthesis and place and route, from PyPI only.

    from asq_hw.synth import synthesize
    r = synthesize(verilog_text_or_path, top="post_pe", target="ecp5")
    r.lut, r.ff, r.carry, r.dsp, r.bram, r.fmax_mhz, r.transistors
    r.to_dict()           # those seven KEYS first, then how they were obtained

Three stages, each cached on disk (asq_hw/synth/cache.py) by a hash of the Verilog text, the
top module, the target, the tool versions and the flow:

- resource counts: Yosys synth_ice40 / synth_ecp5 / synth_xilinx of the module itself
  (what each key counts per target: asq_hw/synth/yosys.py);
- fmax: the module inside a three-pin I/O wrapper (asq_hw/synth/wrapper.py), placed and
  routed by nextpnr-ice40 / nextpnr-ecp5 with a fixed seed and clock constraint
  (asq_hw/synth/pnr.py); None for xc7, which has no open place and route;
- transistors: Yosys' `stat -tech cmos` after a generic synthesis (asq_hw/synth/cmos.py),
  the same for every target.

The ASIC target `osu018` (standard cells, OpenSTA, gate-level activity) has its own entry
point, `synthesize_asic` (asq_hw/synth/asic_flow.py).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from asq_hw.designs import RESOURCE_KEYS
from asq_hw.synth import cache
from asq_hw.synth.asic_flow import AsicResult, PowerJob, synthesize_asic
from asq_hw.synth.cmos import cmos_script, parse_cmos_stat, run_cmos
from asq_hw.synth.pnr import DEVICES, PNR_TARGETS, SEED, measure_fmax, nextpnr_args
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError, tool_version
from asq_hw.synth.wrapper import PLAIN_ID, WRAPPER_TOP, wrap
from asq_hw.synth.yosys import check_target, count_resources, synth_counts, synth_script

__all__ = ["AsicResult", "PowerJob", "SynthError", "SynthResult", "read_design",
           "stock_ecp5_luts", "synthesize", "synthesize_asic"]


@dataclasses.dataclass(frozen=True)
class SynthResult:
    """Measured figures of one module on one target (see the module docstrings for what
    each counts). fmax_mhz is None for xc7, when not asked for, or when the design does not
    fit the largest device (fmax_note says which); transistors is None when not asked for.
    `seconds` holds each stage's wall time when it was computed; `cached` names the stages
    served from the cache in this call."""

    target: str
    top: str
    lut: int
    ff: int
    carry: int
    dsp: int
    bram: int
    fmax_mhz: float | None
    transistors: int | None
    cells: dict[str, int]
    device: str | None = None
    seed: int | None = None
    freq_mhz: float | None = None
    fmax_note: str | None = None
    tools: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    cached: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["cached"] = list(self.cached)
        return {**{k: d.pop(k) for k in RESOURCE_KEYS}, **d}


def read_design(design: str | os.PathLike) -> str:
    """Verilog text from a path (a PathLike, or a one-line str naming an existing file) or
    from the text itself."""
    if isinstance(design, os.PathLike) or ("\n" not in design and Path(design).is_file()):
        return Path(design).read_text()
    if "module" not in design:
        raise ValueError(f"design must be Verilog text or an existing file, not {design[:60]!r}")
    return design


def synthesize(design: str | os.PathLike, top: str, target: str, *,
               clocks: tuple[str, ...] = ("clk",), fmax: bool = True, transistors: bool = True,
               seed: int = SEED, use_cache: bool = True,
               timeout_s: float = DEFAULT_TIMEOUT_S) -> SynthResult:
    """Resource counts, fmax and transistor count of module `top` for `target`.

    design: Verilog text or a path to it. target: 'ice40', 'ecp5' or 'xc7'. clocks: the
    module's clock inputs (tied to the one wrapper clock for fmax). fmax / transistors: set
    False to skip those stages (the fields are then None). Raises ValueError for a bad
    argument, ToolNotFoundError if a YoWASP package is missing, SynthError if a tool fails
    or times out (timeout_s applies to each tool run).
    """
    check_target(target)
    if not isinstance(top, str) or not PLAIN_ID.match(top):
        raise ValueError(f"top must be a plain Verilog module name, not {top!r}")
    verilog = read_design(design)
    base = _design_key(verilog, top)
    tools = {"yosys": base["yosys"]}
    hits = []

    syn, hit = cache.cached(
        {**base, "stage": "counts", "target": target, "script": synth_script(top, target)},
        lambda: _raw_counts(verilog, top, target, timeout_s), use_cache=use_cache,
        valid=_valid_counts)
    hits += ["counts"] if hit else []
    counts = count_resources(syn["cells"], target)
    seconds = {"synth": syn["seconds"]}

    n_transistors = None
    if transistors:
        cm, hit = cache.cached(
            {**base, "stage": "cmos", "script": cmos_script(top)},
            lambda: run_cmos(verilog, top, timeout_s=timeout_s), use_cache=use_cache,
            valid=_valid_cmos)
        hits += ["cmos"] if hit else []
        n_transistors = parse_cmos_stat(cm["stat"])[0]
        seconds["cmos"] = cm["seconds"]

    pnr = {"fmax_mhz": None, "device": None, "seed": None, "freq_mhz": None, "note": None}
    if not fmax:
        pnr["note"] = "not measured (fmax=False)"
    elif target not in PNR_TARGETS:
        pnr["note"] = f"no open place and route for {target}"
    else:
        ports = [tuple(p) for p in syn["ports"]]
        tools[f"nextpnr-{target}"] = tool_version(f"nextpnr-{target}")
        key = {**base, "stage": "pnr", "target": target, "clocks": list(clocks),
               "nextpnr": tools[f"nextpnr-{target}"],
               "wrapper": cache.text_hash(wrap(top, ports, clocks=clocks)),
               "script": synth_script(WRAPPER_TOP, target, netlist="netlist.json"),
               "devices": [[n, nextpnr_args(target, a, seed=seed), c]
                           for n, a, c in DEVICES[target]]}
        pnr, hit = cache.cached(
            key, lambda: measure_fmax(verilog, top, target, ports, clocks=clocks, seed=seed,
                                      timeout_s=timeout_s), use_cache=use_cache,
            valid=_valid_pnr)
        hits += ["pnr"] if hit else []
        seconds["pnr_synth"] = pnr["synth_seconds"]
        seconds["pnr"] = pnr["pnr_seconds"]

    return SynthResult(
        target=target, top=top, **counts, fmax_mhz=pnr["fmax_mhz"], transistors=n_transistors,
        cells=syn["cells"], device=pnr["device"], seed=pnr["seed"],
        freq_mhz=pnr["freq_mhz"] if pnr["device"] else None, fmax_note=pnr["note"],
        tools=tools, seconds=seconds, cached=tuple(hits))


def stock_ecp5_luts(design: str | os.PathLike, top: str, *, use_cache: bool = True,
                    timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """LUT4 sites of `top` after stock synth_ecp5 (ABC9), counted as the ecp5 flow counts
    them: {'lut': int or None, 'error': None or the tool's one-line error}. Stock ABC9 fails
    on some designs here (asq_hw/synth/yosys.py says how); such a failure is a result, not
    an exception, and is cached like one."""
    verilog = read_design(design)
    key = {**_design_key(verilog, top), "stage": "stock-counts", "target": "ecp5",
           "script": synth_script(top, "ecp5", stock=True)}

    def compute():
        try:
            return {"cells": _raw_counts(verilog, top, "ecp5", timeout_s, stock=True)["cells"],
                    "error": None}
        except SynthError as e:
            return {"cells": None, "error": str(e).splitlines()[0]}

    value, _ = cache.cached(key, compute, use_cache=use_cache, valid=_valid_stock)
    if value["cells"] is None:
        return {"lut": None, "error": value["error"]}
    return {"lut": count_resources(value["cells"], "ecp5")["lut"], "error": None}


# The shapes of the cached values, checked on every cache hit: an entry that does not have
# its stage's shape (hand-edited, from a buggy version) is recomputed, never used.

def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v, none: bool = False) -> bool:
    return (v is None and none) or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                    and v >= 0)


def _cells(v) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and _count(n) for k, n in v.items())


def _valid_counts(v) -> bool:
    return (isinstance(v, dict) and _cells(v.get("cells")) and _number(v.get("seconds"))
            and isinstance(v.get("ports"), list)
            and all(isinstance(p, list) and len(p) == 3 and isinstance(p[0], str)
                    and isinstance(p[1], str) and _count(p[2]) for p in v["ports"]))


def _valid_stock(v) -> bool:
    return isinstance(v, dict) and (
        (_cells(v.get("cells")) and v.get("error") is None)
        or (v.get("cells") is None and isinstance(v.get("error"), str)))


def _valid_cmos(v) -> bool:
    stat = v.get("stat") if isinstance(v, dict) else None
    return (isinstance(stat, dict) and _cells(stat.get("num_cells_by_type"))
            and isinstance(stat.get("estimated_num_transistors", "0"), (str, int))
            and _number(v.get("seconds")))


def _valid_pnr(v) -> bool:
    return (isinstance(v, dict) and _number(v.get("fmax_mhz"), none=True)
            and _number(v.get("freq_mhz"), none=True) and _number(v.get("synth_seconds"))
            and _number(v.get("pnr_seconds"))
            and all(v.get(k) is None or isinstance(v.get(k), str) for k in ("device", "note"))
            and (v.get("seed") is None or _count(v.get("seed"))))


def _design_key(verilog: str, top: str) -> dict:
    """What every cached result of a design depends on: its text, top and Yosys version."""
    return {"verilog": cache.text_hash(verilog), "top": top, "yosys": tool_version("yosys")}


def _raw_counts(verilog: str, top: str, target: str, timeout_s: float,
                stock: bool = False) -> dict:
    # Cache the raw cell histogram, not the counts: a change to the classification in
    # yosys.py then applies to cached entries too.
    r = synth_counts(verilog, top, target, stock=stock, timeout_s=timeout_s)
    return {key: r[key] for key in ("cells", "ports", "seconds")}

