"""Synthesis of a generated design as one item of a parallel map (asq_hw.parallel, local
processes or a Dask cluster), shared by `asq-hw sweep --synth` and `asq-hw calibrate`.

    job = SynthJob("post", cfg, rows=None, target="ice40")    # rows None: the PE
    value = run(job)                  # on a worker: generate, synthesise (SynthResult.to_dict)
    job.key()                         # what decides the value (asq_hw.results saves by it)
    facts(tools_of(jobs))             # tool versions + code fingerprint all workers must share

The key names the design (kind, configuration, array rows), the target and the measured
stages, the versions of the tools, and a fingerprint of the code that generates and
measures the design (hw/, golden/, asq_hw/config.py, asq_hw/synth/, the Amaranth version):
the Verilog text that the stage caches of asq_hw/synth/cache.py key on is a function of
those, and generating it takes seconds, too long to do on the client for every point.
"""

from __future__ import annotations

import dataclasses
import functools
import time

from asq_hw.config import PEConfig
from asq_hw.designs import PNR_TARGETS

# What generates and measures a design; a change to any of them changes every key.
CODE = ("hw", "golden", "asq_hw/config.py", "asq_hw/designs.py", "asq_hw/synth")


@dataclasses.dataclass(frozen=True)
class SynthJob:
    """One design on one target. rows None: the PE of `kind`; an int: a POST array of
    rows x cfg.lanes PEs (hw/gen_array.py). fmax: place and route (ice40, ecp5 only)."""

    kind: str
    cfg: PEConfig
    rows: int | None
    target: str
    fmax: bool = True
    transistors: bool = True

    def tools(self) -> tuple[str, ...]:
        return ("yosys",) + ((f"nextpnr-{self.target}",)
                             if self.fmax and self.target in PNR_TARGETS else ())

    def key(self) -> dict:
        from asq_hw.synth.tools import tool_version
        return {"job": "synthesize", "kind": self.kind, "cfg": self.cfg.to_dict(),
                "rows": self.rows, "target": self.target, "fmax": self.fmax,
                "transistors": self.transistors,
                "tools": {t: tool_version(t) for t in self.tools()}, "code": code_fingerprint()}


@functools.cache
def code_fingerprint() -> str:
    from asq_hw.results import fingerprint
    return fingerprint(*CODE, versions=("amaranth",))


# A worker often gets the same design for another target next: generating it takes seconds.
@functools.lru_cache(maxsize=4)
def design_text(kind: str, cfg: PEConfig, rows: int | None) -> tuple[str, str]:
    """(Verilog text, top module) of a PE (rows None) or a POST array."""
    if rows is not None:
        from hw.gen_array import generate_array
        text, man = generate_array(cfg, rows)
    else:
        from hw.gen import generate_pe
        text, man = generate_pe(cfg, kind)
    return text, man["top"]


def run(job: SynthJob) -> dict:
    """Generate and synthesise (asq_hw.synth.synthesize, its stages cached on this machine):
    SynthResult.to_dict() and `wall_s`, this call's wall time."""
    from asq_hw.synth import synthesize

    t0 = time.perf_counter()
    text, top = design_text(job.kind, job.cfg, job.rows)
    r = synthesize(text, top, job.target, fmax=job.fmax, transistors=job.transistors)
    return {**r.to_dict(), "wall_s": time.perf_counter() - t0}


def tools_of(jobs) -> tuple[str, ...]:
    return tuple(sorted({t for j in jobs for t in j.tools()}))


def facts(tools: tuple[str, ...]) -> dict:
    """The versions of `tools` and the code fingerprint: what every Dask worker must have
    as this machine does (asq_hw.cluster.connect checks it). ToolNotFoundError if a tool is
    missing."""
    from asq_hw.synth.tools import tool_version
    return {**{t: tool_version(t) for t in tools}, "code": code_fingerprint()}
