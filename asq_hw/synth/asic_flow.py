"""`synthesize_asic`: the cached osu018 flow (asic.py, sta.py, activity.py) as one result.

    from asq_hw.synth import synthesize_asic
    r = synthesize_asic(verilog, "post_pe")                       # area and timing
    r.area_um2, r.cells, r.critical_path_ns, r.fmax_mhz, r.ff, r.transistors
    r = synthesize_asic(verilog, "post_pe", power=PowerJob(stim, cfg, "post", acc, lat))
    r.power_mw, r.energy_pj_per_mac                               # on real activity

`to_dict()` gives the FPGA keys first (lut, carry, dsp, bram are None: no such resources on
a standard-cell chip; ff is the number of flip-flop cells; fmax_mhz from OpenSTA;
transistors from Yosys' CMOS model, as for every target), then ASIC_KEYS, then the power
figures when asked for. Each stage is cached (asq_hw/synth/cache.py) under a key holding
the Verilog text's hash, the top, the Yosys / OpenSTA / Icarus versions, the Liberty
file's hash and the flow's scripts; the power stage also the stimulus' hash.
"""

from __future__ import annotations

import dataclasses

from asq_hw.designs import ASIC_KEYS, ASIC_TARGETS, RESOURCE_KEYS
from asq_hw.synth import cache
from asq_hw.synth.asic import ABC_CONSTR, asic_script, run_asic, run_power
from asq_hw.synth.cmos import cmos_script, parse_cmos_stat, run_cmos
from asq_hw.synth.liberty import find_library, find_tool
from asq_hw.synth.liberty import tool_version as native_version
from asq_hw.synth.sta import OUTPUT_LOAD_PF, TIMING_PERIOD_NS
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, tool_version

# Flip-flop cells of the library (ff).
FLOP_CELLS = ("DFFPOSX1", "DFFNEGX1", "DFFSR", "LATCH")
# Changes whenever the bench, the counting or the power commands change meaning.
POWER_FLOW = "activity-v1"

__all__ = ["AsicResult", "PowerJob", "synthesize_asic"]


@dataclasses.dataclass(frozen=True)
class PowerJob:
    """What the power stage needs besides the design: the stimulus
    (asq_hw.synth.activity.Stimulus), the design's PEConfig, its kind (post, int, pot),
    accumulator width and latency (its manifest's)."""

    stimulus: object
    cfg: object
    kind: str
    acc_bits: int
    latency: int


@dataclasses.dataclass(frozen=True)
class AsicResult:
    """Measured figures of one module on osu018 (module docstring)."""

    target: str
    top: str
    area_um2: float
    cells: int
    critical_path_ns: float
    fmax_mhz: float
    ff: int
    transistors: int | None
    cell_types: dict[str, int]
    power_mw: dict | None = None
    energy_pj_per_mac: float | None = None
    activity: dict | None = None
    tools: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    cached: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["cached"] = list(self.cached)
        out = {k: d.pop(k, None) for k in RESOURCE_KEYS}   # lut, carry, dsp, bram: None
        out.update({k: d.pop(k) for k in ASIC_KEYS})
        return {**out, **d}


def synthesize_asic(verilog: str, top: str, *, target: str = "osu018", clock: str = "clk",
                    transistors: bool = True, power: PowerJob | None = None,
                    use_cache: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S
                    ) -> AsicResult:
    """Area, cells, critical path and fmax of `top` on the OSU 0.18 um cells; with `power`,
    also power at fmax and energy per MAC on the stimulus' activity (asq_hw/synth/asic.py
    and activity.py say how each is measured). ToolNotFoundError (one line naming what to
    install) if the library, OpenSTA or, for power, Icarus is missing; SynthError if a tool
    fails or the netlist computes other results than the reference."""
    if target not in ASIC_TARGETS:
        raise ValueError(f"target must be one of {', '.join(ASIC_TARGETS)}, not {target!r}")
    lib = find_library()
    find_tool("sta")
    tools = {"yosys": tool_version("yosys"), "sta": native_version("sta")}
    base = {"verilog": cache.text_hash(verilog), "top": top, "yosys": tools["yosys"],
            "target": target, "liberty": lib.sha256, "script": asic_script(top),
            "constr": ABC_CONSTR, "sta": tools["sta"], "clock": clock,
            "sta_setup": [TIMING_PERIOD_NS, OUTPUT_LOAD_PF]}
    hits = []
    a, hit = cache.cached({**base, "stage": "asic"},
                          lambda: run_asic(verilog, top, clock=clock, timeout_s=timeout_s),
                          use_cache=use_cache)
    hits += ["asic"] if hit else []
    seconds = {f"asic_{k}": v for k, v in a["seconds"].items()}

    n_transistors = None
    if transistors:
        cm, hit = cache.cached(
            {"verilog": base["verilog"], "top": top, "yosys": tools["yosys"],
             "stage": "cmos", "script": cmos_script(top)},
            lambda: run_cmos(verilog, top, timeout_s=timeout_s), use_cache=use_cache)
        hits += ["cmos"] if hit else []
        n_transistors = parse_cmos_stat(cm["stat"])[0]
        seconds["cmos"] = cm["seconds"]

    p = None
    if power is not None:
        find_tool("iverilog")
        find_tool("vvp")
        tools["iverilog"] = native_version("iverilog")
        stim = power.stimulus
        key = {**base, "stage": "asic-power", "flow": POWER_FLOW, "iverilog":
               tools["iverilog"], "stimulus": stim.digest(), "macs": stim.macs,
               "config": power.cfg.to_dict(), "kind": power.kind,
               "acc_bits": power.acc_bits, "latency": power.latency}
        p, hit = cache.cached(
            key, lambda: run_power(verilog, top, stim, power.cfg, power.kind,
                                   power.acc_bits, power.latency, clock=clock,
                                   timeout_s=timeout_s), use_cache=use_cache)
        hits += ["asic-power"] if hit else []
        seconds.update({f"power_{k}": v for k, v in p["seconds"].items()})

    activity = None if p is None else {
        "how": "gate-level simulation (Icarus, zero delay, library cell models) of the "
               "mapped netlist on the model's beats; per-net toggles per cycle and duty "
               "into OpenSTA per pin", **stim.source, "beats": stim.beats,
        "cycles": p["cycles"], "macs": p["macs"], "mean_activity": p["mean_activity"],
        "clock_mhz": 1e3 / p["critical_path_ns"]}
    return AsicResult(
        target=target, top=top, area_um2=a["area_um2"], cells=a["cells"],
        critical_path_ns=a["critical_path_ns"], fmax_mhz=a["fmax_mhz"],
        ff=sum(n for c, n in a["cell_types"].items() if c in FLOP_CELLS),
        transistors=n_transistors, cell_types=a["cell_types"],
        power_mw=None if p is None else p["power_mw"],
        energy_pj_per_mac=None if p is None else p["energy_pj_per_mac"],
        activity=activity, tools=tools, seconds=seconds, cached=tuple(hits))

