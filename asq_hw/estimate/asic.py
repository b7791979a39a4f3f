"""Standard-cell (osu018) estimates from the structure: area, cells, critical path, energy.

What is exact and what is fitted (coefficients in coefficients.json under "osu018", fitted
by `asq-hw calibrate --targets osu018` against asq_hw.synth.synthesize_asic):

- ff: exact, the structure's flip-flops (Yosys maps each onto one DFFPOSX1; the library has
  no enable flip-flop, so enables and resets are logic in front of it, costed below);
- area_um2 and cells: linear in the structural counts of the transistor model
  (model.CMOS_FEATURES: flip-flops, adder bits, carry-save bits, shifter muxes, term bits,
  decoder and ROM logic as 2-input gate networks, multiplier bits), one coefficient each
  (um^2 or cells per unit), non-negative, with a free constant;
- critical_path_ns: the slowest register-to-register stage, each stage's delay linear in
  its gate levels (2-input gates), its longest adder's bits (ABC's delay mapping shortens
  ripple chains but their length still dominates) and log2 of the flip-flop count (the
  buffer trees of wide enables and resets); fitted like the FPGA targets' stage delays
  (alternating between each design's slowest predicted stage and least squares);
  fmax_mhz = 1000 / critical_path_ns;
- energy_pj_per_mac: energy per clock cycle linear in the same counts as area (clocked
  flip-flops dominate on this library), fitted to the activity-based figures of
  docs/asic.json (real digits activity, asq_hw/asic_report.py), divided by the MACs per
  cycle (rows x lanes, every lane busy). It stands for that workload's activity: a
  different data distribution switches the logic differently.
"""

from __future__ import annotations

import math

from asq_hw.estimate.model import CMOS_FEATURES, _depth, _linear, _mux_depth, cmos_features
from asq_hw.estimate.structure import Structure

AREA_FEATURES = CMOS_FEATURES
ASIC_TIMING_FEATURES = ("one", "levels", "carry_bits", "size")
GATE_K = 2


def area_features(st: Structure) -> dict[str, float]:
    """Structural counts behind area, cells and energy (names: AREA_FEATURES)."""
    return cmos_features(st)


def asic_stages(st: Structure) -> list[tuple[str, dict[str, float]]]:
    """(stage, ASIC_TIMING_FEATURES) of every register-to-register stage of the design."""
    cfg = st.cfg
    size = math.log2(max(2, st.ff))
    stages = []

    def stage(name, levels, chain=0):
        stages.append((name, {"one": 1, "levels": levels, "carry_bits": chain,
                              "size": size}))

    if st.kind == "post":
        stage("decode", _depth(cfg.wbits - 1, GATE_K))
        if st.rom is not None:
            stage("rom", _depth(cfg.abits, GATE_K))
    if st.muls:
        a, w, _ = st.muls[0]
        stage("multiply", _depth(a + w, GATE_K), a + w)
    else:
        stage("term", max((_mux_depth(d, GATE_K) for d, _ in st.terms), default=1))
    by_stage: dict[int, list] = {}
    for a in st.adders:
        by_stage.setdefault(a.stage, []).append(a)
    for s, adders in sorted(by_stage.items()):
        chain = max(a.effective for a in adders)
        csa = max(sum(1 for p in a.ports if p > 2) for a in adders)
        levels = 1 + max(0, math.ceil(math.log(csa / 2, 1.5))) if csa > 2 else 1
        stage("accumulate" if s == -1 else f"tree{s}", 2 if s == -1 else levels, chain)
    return stages


def critical_path(st: Structure, timing: dict) -> tuple[float, str] | None:
    """(ns, stage) of the slowest stage with the fitted `timing` coefficients."""
    if not timing:
        return None
    delays = [(_linear(timing, f), name) for name, f in asic_stages(st)]
    return max(delays)


def asic_values(st: Structure, coefs: dict) -> dict:
    """area_um2, cells, critical_path_ns, fmax_mhz, energy_pj_per_mac, ff and
    critical_stage of `st` with the "osu018" coefficients `coefs` ({'area', 'cells',
    'timing', 'energy'}); a figure whose coefficients are missing is None."""
    f = area_features(st)
    crit = critical_path(st, coefs.get("timing", {}))
    energy = coefs.get("energy")
    macs_per_cycle = st.rows * st.cfg.lanes
    return {
        "area_um2": round(max(0.0, _linear(coefs["area"], f)), 1),
        "cells": max(0, round(_linear(coefs["cells"], f))),
        "critical_path_ns": None if crit is None else round(crit[0], 4),
        "fmax_mhz": None if crit is None or crit[0] <= 0 else round(1e3 / crit[0], 2),
        "energy_pj_per_mac": (None if not energy else
                              round(max(0.0, _linear(energy, f)) / macs_per_cycle, 4)),
        "ff": st.ff,
        "critical_stage": None if crit is None else crit[1],
    }
