"""The analytical estimator: resources, fmax and transistors of a PE or an array, and the
cycles, throughput and memory of a network mapped on the array, with no synthesis in the
loop.

    from asq_hw.estimate import estimate
    e = estimate(PEConfig(wbits=4, abits=4, lanes=8), "ice40")            # a POST PE
    e = estimate(cfg, "ecp5", rows=8)                                     # an 8 x Q array
    e = estimate(cfg, "xc7", kind="int")                                  # a baseline PE
    e.values["lut"], ..., e.to_dict()       # asq_hw.designs.RESOURCE_KEYS, then details

    from asq_hw.estimate.network import estimate_network                 # a network

The model (asq_hw/estimate/structure.py, model.py) derives every block of the RTL from the
configuration; flip-flops and carry cells are counted exactly, LUTs, fmax and transistors
combine structural counts with per-target coefficients fitted against Yosys and nextpnr
(`asq-hw calibrate`, stored with their provenance in asq_hw/estimate/coefficients.json).
How close it comes is measured in docs/estimator-accuracy.md.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from asq_hw.config import PEConfig
from asq_hw.designs import ASIC_KEYS, ASIC_TARGETS, DESIGN_KINDS, RESOURCE_KEYS, TARGETS
from asq_hw.errors import UserError
from asq_hw.estimate.model import critical_stage, resources, rom_blocks
from asq_hw.estimate.structure import structure

COEFFICIENTS = Path(__file__).with_name("coefficients.json")

__all__ = ["COEFFICIENTS", "Estimate", "estimate",
           "load_coefficients"]


@functools.cache
def _load(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"no estimator coefficients at {path}: run `asq-hw calibrate`"
                        ) from None


def load_coefficients(path=None) -> dict:
    """The calibrated coefficients (coefficients.json, or `path`)."""
    return _load(str(path or COEFFICIENTS))


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Estimated figures of one design on one target: `values` holds the RESOURCE_KEYS
    (asq_hw/designs.py) that `asq-hw synth` measures; the rest says what they rest on."""

    target: str
    kind: str
    rows: int | None
    config: PEConfig
    values: dict
    ff_by_block: dict
    critical_stage: str | None
    rom: str | None
    fmax_note: str | None

    def to_dict(self) -> dict:
        return {**self.values, "target": self.target, "kind": self.kind,
                "rows": self.rows, "config": self.config.to_dict(),
                "ff_by_block": self.ff_by_block, "critical_stage": self.critical_stage,
                "rom": self.rom, "fmax_note": self.fmax_note}


def estimate(cfg: PEConfig, target: str, *, kind: str = "post", rows: int | None = None,
             coefficients: dict | None = None) -> Estimate:
    """Estimate a POST PE (rows None), a rows x cfg.lanes PostArray, or a baseline PE
    (kind 'int' or 'pot') on `target` ('ice40', 'ecp5', 'xc7'). ValueError for a bad
    argument."""
    if target not in TARGETS + ASIC_TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS + ASIC_TARGETS)}, "
                         f"not {target!r}")
    if kind not in DESIGN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DESIGN_KINDS)}, not {kind!r}")
    if rows is not None and kind != "post":
        raise ValueError(f"rows applies to the POST array only, not to kind {kind!r}")
    if rows is not None:
        from asq_hw.config import ROWS_RANGE, _check_int
        _check_int("rows", rows, *ROWS_RANGE)
    coefs = coefficients or load_coefficients()
    st = structure(cfg, kind, rows or 1)
    if target in ASIC_TARGETS:
        return _estimate_asic(st, target, kind, rows, cfg, coefs)
    values = resources(st, target, coefs)
    blocks = rom_blocks(st, target)
    rom = None
    if st.rom is not None:
        depth, width, _ = st.rom
        where = f"{blocks} block RAM{'s' if blocks > 1 else ''} each" if blocks else "logic"
        rom = f"{st.roms} x {depth} x {width} bit ({where}), shared by the rows"
    note = ("estimated from ECP5 stage delays scaled to 7-series speed: no open place and "
            "route checks it" if target == "xc7" else None)
    return Estimate(target, kind, rows, cfg, values, dict(st.ff_groups),
                    critical_stage(st, target, coefs["timing"]), rom, note)


def _estimate_asic(st, target: str, kind: str, rows: int | None, cfg: PEConfig,
                   coefs: dict) -> Estimate:
    """The standard-cell estimate (asq_hw/estimate/asic.py): the RESOURCE_KEYS (lut, carry,
    dsp, bram None), then ASIC_KEYS and energy_pj_per_mac."""
    from asq_hw.estimate.asic import asic_values
    from asq_hw.estimate.model import _linear, cmos_features

    if not coefs.get(target):
        raise UserError(f"no {target} coefficients in the estimator: run `asq-hw calibrate "
                        f"--targets {target}`")
    v = asic_values(st, coefs[target])
    values = dict.fromkeys(RESOURCE_KEYS)
    values.update(ff=v["ff"], fmax_mhz=v["fmax_mhz"],
                  transistors=max(0, round(_linear(coefs["cmos"], cmos_features(st)))))
    values.update({k: v[k] for k in ASIC_KEYS})
    values["energy_pj_per_mac"] = v["energy_pj_per_mac"]
    rom = None
    if st.rom is not None:
        depth, width, _ = st.rom
        rom = f"{st.roms} x {depth} x {width} bit (logic), shared by the rows"
    return Estimate(target, kind, rows, cfg, values, dict(st.ff_groups), v["critical_stage"],
                    rom, None)
