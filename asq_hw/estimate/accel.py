"""The estimator of the whole accelerator (hw/accel/top.py): resources, block RAMs, fmax,
exact cycles and images/s, with a breakdown by block, and no synthesis.

    from asq_hw.estimate.accel import estimate_accel
    r = estimate_accel(artifact, "lut", rows=8, lanes=8, target="ice40", clock_mhz=None)
    r["lut"], ..., r["bram"], r["cycles_per_image"], r["images_per_s"], r["breakdown"]

The model is a sum of blocks:

- array: the calibrated P x Q PostArray model (asq_hw/estimate: `estimate(cfg, target,
  rows=P)`), unchanged;
- memories: every memory of the accelerator's manifest placed by Yosys' own rule
  (asq_hw/estimate/memory.py): block RAMs counted exactly; distributed RAM cells at their
  LUT sites; ROMs left in logic costed as LUT networks of their address bits;
- requantization + adapter unit and control (address generation, the sequencer and the
  streams): linear in structural counts (FEATURES), with per-target coefficients fitted
  against synthesised accelerators (asq_hw/estimate/accel_fit.py, stored with their
  provenance in accel_coefficients.json).

cycles_per_image is the design's own cycle model (`Accelerator.cycles_per_image`, exact:
the accelerator is constructed, never elaborated; nothing here loads torch), and so is the
interval between images sent back to back (`Accelerator.interval`). fmax is the array
model's fmax times a per-target factor fitted on placed accelerators; images/s is fmax (or
--clock-mhz) over the interval.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from asq_hw.config import PEConfig
from asq_hw.errors import UserError
from asq_hw.estimate.logic import mux_luts, table_luts
from asq_hw.estimate.memory import Placement, block_rams, place_all

ACCEL_COEFFICIENTS = Path(__file__).with_name("accel_coefficients.json")
ACCEL_TARGETS = ("ice40", "ecp5")

# Read combinationally by hw/accel/window.py: no FPGA block RAM has an asynchronous read
# port, so Yosys keeps them in logic whatever their size (measured: "using FF mapping").
# Manifests say so in each memory's `read`; these names are for manifests from before.
COMB_READ = ("sequencer_table", "window_offsets")

# Structural counts behind the fitted part (the non-array, non-memory logic), per key.
FEATURES = {
    "lut": ("one", "addr", "wrom", "rom_logic", "wmux", "dist_mux", "bank", "unit_mul"),
    "ff": ("one", "addr", "rom_ff", "bank"),
    "carry": ("one", "addr", "unit_add"),
}


@dataclasses.dataclass(frozen=True)
class AccelShape:
    """What the estimate rests on, from the accelerator (or its layer half): the array
    configuration and P, the per-layer plans (hw.accel.plan.LayerPlan), the manifest's
    memories, the requantization unit's widths (a dict, None for the layer half alone)
    and the exact cycles per image (None for the layer half)."""

    cfg: PEConfig
    rows: int
    plans: tuple
    memories: tuple
    unit: dict | None
    cycles_per_image: int | None
    slots: int = 1
    rom_words: dict | None = None     # memory name -> its words, where known (weights)


def _ubits(n: int) -> int:
    return max(1, int(n).bit_length())


def with_read_kind(mem: dict) -> dict:
    """The manifest's memory with its read port kind: its `read`, else 'comb' for the names
    in COMB_READ and 'sync' for the rest."""
    read = mem.get("read", "comb" if mem["name"] in COMB_READ else "sync")
    return {**mem, "read": read}


def placements(shape: AccelShape, target: str) -> list[Placement]:
    """Every memory placed on `target`; comb-read ones go to logic (COMB_READ)."""
    mems = [with_read_kind(m) for m in shape.memories]
    sync = [m for m in mems if m["read"] == "sync"]
    placed = {p.name: p for p in place_all(sync, target)}
    out = []
    for m in mems:
        if m["name"] in placed:
            out.append(placed[m["name"]])
        else:
            out.append(Placement(m["name"], m["depth"], m["width"], m["kind"],
                                 m["read_ports"], "logic", None, 0, 0, 1,
                                 m["depth"] * m["width"] / 16))
    return out


def features(shape: AccelShape, target: str, placed: list[Placement] | None = None
             ) -> dict[str, float]:
    """The structural counts of FEATURES (all keys) for `shape` on `target`."""
    placed = placed if placed is not None else placements(shape, target)
    cfg, plans = shape.cfg, shape.plans
    depth = max(p.in_size for p in plans)
    addr = cfg.lanes * _ubits(depth - 1)
    logic_roms = [p for p in placed if p.where == "logic" and p.kind == "rom"]
    sync = {m["name"] for m in map(with_read_kind, shape.memories) if m["read"] == "sync"}
    words = shape.rom_words or {}
    wrom = sum(rom_luts(words[p.name], p.width) for p in logic_roms if p.name in words)
    rom_logic = sum(p.width * (mux_luts(_ubits(p.depth - 1), 4) if p.depth > 1 else 0)
                    for p in logic_roms if p.name not in words)
    rom_ff = sum(p.width for p in logic_roms if p.name in sync)
    wmux = (len(plans) - 1) * shape.rows * cfg.lanes * cfg.wbits
    dist_mux = sum((p.mult_a - 1) * p.width * p.read_ports for p in placed
                   if p.where == "dist")
    u = shape.unit
    bank = shape.slots * shape.rows * cfg.acc_bits if u else 0
    unit_mul = unit_regs = unit_add = 0
    if u:
        unit_mul = sum(a * b for a, b in u["multipliers"])
        unit_add = sum(u["adders"])
        unit_regs = sum(u["registers"])
    f = {"one": 1.0, "addr": addr, "wrom": wrom, "rom_logic": rom_logic, "wmux": wmux,
         "dist_mux": dist_mux, "bank": bank, "unit_mul": unit_mul, "rom_ff": rom_ff,
         "unit_regs": unit_regs, "unit_add": unit_add}
    return {k: float(v) for k, v in f.items()}


def rom_luts(words: list[int], width: int) -> int:
    """LUT4s of a ROM of `words` in logic: its columns as truth tables over the address
    bits (asq_hw.estimate.logic.table_luts; addresses beyond the last word read 0)."""
    n = _ubits(len(words) - 1) if len(words) > 1 else 0
    padded = list(words) + [0] * ((1 << n) - len(words))
    cols = tuple(tuple((w >> b) & 1 for w in padded) for b in range(width))
    return table_luts(cols, 4)


@functools.cache
def _load(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"no accelerator estimator coefficients at {path}") from None


def load_accel_coefficients(path=None) -> dict:
    return _load(str(path or ACCEL_COEFFICIENTS))


def _linear(coefs: dict, f: dict) -> float:
    return sum(c * f[n] for n, c in coefs.items())


def dsp_blocks(shape: AccelShape, target: str) -> int:
    """MULT18X18D of the unit's multipliers on ecp5 (Yosys mul2dsp: 18 x 18 tiles of the
    signed ports, slices of at least DSP_MIN bits per side); none elsewhere."""
    if target != "ecp5" or not shape.unit:
        return 0
    return sum(_tiles(a) * _tiles(b) for a, b in shape.unit["dsp_ports"])


def _tiles(bits: int) -> int:
    """18-bit slices of one factor that take a DSP: a last slice under DSP_MIN bits is left
    to logic (measured: a 37 x 11 product takes 2 MULT18X18D, a 39 x 11 one 3)."""
    return bits // 18 + int(bits % 18 >= DSP_MIN)


DSP_MIN = 2


def estimate_shape(shape: AccelShape, target: str, coefficients: dict | None = None,
                   array_estimate=None) -> dict:
    """The estimate of `shape` on `target` (module docstring): RESOURCE_KEYS, then
    breakdown, memories, cycles_per_image."""
    from asq_hw.estimate import estimate

    if target not in ACCEL_TARGETS:
        raise ValueError(f"target must be one of {', '.join(ACCEL_TARGETS)} for the "
                         f"accelerator, not {target!r}")
    coefs = (coefficients or load_accel_coefficients())[target]
    arr = array_estimate or estimate(shape.cfg, target, rows=shape.rows)
    placed = placements(shape, target)
    f = features(shape, target, placed)
    dist_luts = sum(p.luts for p in placed if p.where == "dist")
    fitted = {k: max(0.0, _linear(coefs[k], f)) for k in FEATURES}
    # The fitted part, split by the features it rests on (memory logic vs the rest).
    mem_lut = sum(coefs["lut"].get(n, 0.0) * f[n]
                  for n in ("wrom", "rom_logic", "wmux", "dist_mux"))
    mem_ff = coefs["ff"].get("rom_ff", 0.0) * f["rom_ff"]
    unit_lut = sum(coefs["lut"].get(n, 0.0) * f[n] for n in ("bank", "unit_mul"))
    unit_ff = sum(coefs["ff"].get(n, 0.0) * f[n] for n in ("bank", "unit_regs"))
    dsp = dsp_blocks(shape, target)
    av = arr.values
    values = {
        "lut": round(av["lut"] + dist_luts + fitted["lut"]),
        "ff": round(av["ff"] + fitted["ff"]),
        "carry": round(av["carry"] + fitted["carry"]),
        "dsp": av["dsp"] + dsp,
        "bram": av["bram"] + block_rams(placed),
        "fmax_mhz": (None if av["fmax_mhz"] is None
                     else av["fmax_mhz"] * coefs.get("fmax_factor", 1.0)),
        "transistors": None,
    }
    memories = [{"name": p.name, "depth": p.depth, "width": p.width, "kind": p.kind,
                 "read_ports": p.read_ports, "where": p.where, "cell": p.cell,
                 "cells": p.cells} for p in placed]
    breakdown = {
        "array": {"lut": av["lut"], "ff": av["ff"], "bram": av["bram"]},
        "memories": {"lut": round(dist_luts + mem_lut), "ff": round(mem_ff),
                     "bram": block_rams(placed)},
        "requant_adapter": {"lut": round(unit_lut), "ff": round(unit_ff), "bram": 0},
    }
    breakdown["control"] = {
        "lut": values["lut"] - sum(b["lut"] for b in breakdown.values()),
        "ff": values["ff"] - sum(b["ff"] for b in breakdown.values()), "bram": 0}
    # The unit's own memories, reported under it rather than under memories.
    rq = [p for p in placed if p.name.startswith("rq_")]
    if rq:
        moved = block_rams(rq)
        breakdown["memories"]["bram"] -= moved
        breakdown["requant_adapter"]["bram"] += moved
    return {**values, "cycles_per_image": shape.cycles_per_image, "breakdown": breakdown,
            "memories": memories, "features": f}


def unit_counts(w, slots: int, pm_max: int = 1) -> dict:
    """The requantization + adapter unit's structural counts from its widths
    (hw.accel.requant_plan.RqWidths; hw/accel/requant.py): its multipliers as (a, b) bits
    (per slot A x C, x x the beta code, the adapters' mean u-sum x PM (`pm_max` the largest
    PM), hidden x weight, the requant u x R), the same as the signed ports the DSP mapper
    tiles (`dsp_ports`), its adders and pipeline registers."""
    from golden import asq_int as Q

    def mults(pm_bits: int) -> list[list[int]]:
        return [[w.acc, w.c] for _ in range(slots)] + [
            [w.x, Q.BETA_BITS + 1], [max(w.sum, w.h, w.u), pm_bits], [w.h, 8],
            [w.u, R_BITS + 1]]

    pm_bits = max(1, pm_max).bit_length()
    adders = [w.x, w.value, w.sum, w.aacc, R_BITS]
    regs = [slots * w.c, w.d, w.x, w.value, w.u, w.sum, w.pool, w.h, w.aacc, 3 * R_BITS]
    # Yosys' mul2dsp tiles signed ports, so the mean's unsigned PM is zero-extended
    # by a bit (requant.py: src0 * {0, PM}); with PM = 1 that is a 2-bit port, which still
    # takes DSP tiles (measured: 11 MULT18X18D where 1-bit PM counted 9).
    return {"multipliers": mults(pm_bits), "dsp_ports": mults(pm_bits + 1),
            "adders": adders, "registers": regs}


R_BITS = 17     # the reciprocal R of the requant multiplier u x R (hw/accel/requant.py)


def accel_shape(acc, manifest: dict) -> AccelShape:
    """The AccelShape of a constructed `Accelerator` and its manifest."""
    unit = acc.pipe.unit
    slots = len(acc.pipe.core.acc_ports)
    feeder = acc.pipe.core.feeder
    words = {f"weights_{p.name}": w for p, w in zip(feeder.plans, feeder.weights, strict=True)}
    return AccelShape(acc.cfg, acc.rows, tuple(acc.pipe.plans), tuple(manifest["memories"]),
                      unit_counts(unit.w, slots, max(r.pool_params[0] for r in unit.layers)),
                      manifest["cycles_per_image"], slots, words)


def estimate_accel(artifact, variant: str, rows: int, lanes: int, target: str, *,
                   clock_mhz: float | None = None, coefficients: dict | None = None) -> dict:
    """The estimate of the accelerator of `artifact` on a rows x lanes array (module
    docstring); images_per_s at clock_mhz, or at the estimated fmax when None."""
    from asq_hw.mapper import array_config
    from hw.accel.gen import accel_manifest
    from hw.accel.top import Accelerator, model_only

    # Read for its plans, memories and cycle model, never elaborated.
    acc = model_only(Accelerator(artifact, array_config(artifact, variant, lanes), rows))
    shape = accel_shape(acc, accel_manifest(acc))
    interval = acc.interval
    r = estimate_shape(shape, target, coefficients)
    clock = clock_mhz if clock_mhz is not None else r["fmax_mhz"]
    return {**{k: r[k] for k in ("lut", "ff", "carry", "dsp", "bram", "fmax_mhz",
                                 "transistors")},
            "cycles_per_image": r["cycles_per_image"],
            "interval": interval,
            "clock_mhz": clock,
            "images_per_s": None if clock is None else clock * 1e6 / interval,
            "breakdown": r["breakdown"], "memories": r["memories"],
            "target": target, "rows": rows, "lanes": lanes, "variant": variant,
            "config": acc.cfg.to_dict()}

