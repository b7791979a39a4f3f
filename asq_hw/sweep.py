"""Design-space sweeps (`asq-hw sweep`): the estimator over a cross product of
configurations, in parallel processes, optionally back-annotated with real synthesis.

A configuration (`SweepPoint`) is a design kind ('post' arrays of `rows` x `lanes` POST PEs,
or the 'int' / 'pot' baseline PEs, which exist only as single PEs: rows = 1), a PEConfig and
a target FPGA. `cross_product` builds the list from the flags; `estimate_all` runs the
estimator (asq_hw.estimate) over it with a process pool; `pick_for_synthesis` chooses N of
them spread evenly over the estimated LUT range; `synthesize_all` runs those through Yosys /
nextpnr, J at a time (asq_hw.parallel, which stops the tools on an interrupt); `pareto_flags` marks
the points that no other point of the same target and precision beats on both cost (LUTs)
and peak throughput (rows * lanes MACs per cycle at fmax). `write_outputs` writes DIR/sweep.csv and
DIR/sweep_pareto.png atomically.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import time
from pathlib import Path

from asq_hw import plots
from asq_hw.config import ROWS_RANGE, PEConfig, _check_int
from asq_hw.designs import DESIGN_KINDS, PNR_TARGETS, RESOURCE_KEYS, TARGETS
from asq_hw.errors import UserError
from asq_hw.estimate import estimate
from asq_hw.outputs import ensure_writable, figure_png, write_bytes, write_text
from asq_hw.parallel import pmap
from asq_hw.progress import Progress
from asq_hw.synth import synthesize
from asq_hw.synth.tools import tool_version
from hw.gen import generate_pe
from hw.gen_array import generate_array

CSV_NAME = "sweep.csv"
PLOT_NAME = "sweep_pareto.png"


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    kind: str
    cfg: PEConfig
    rows: int
    target: str

    @property
    def design(self) -> str:
        return "array" if self.kind == "post" and self.rows > 1 else "pe"

    @property
    def kind_label(self) -> str:
        return f"POST-{self.cfg.variant}" if self.kind == "post" else self.kind.upper()

    @property
    def short(self) -> str:
        c = self.cfg
        return f"{self.kind_label} W{c.wbits}A{c.abits} {self.rows}x{c.lanes}"


def estimate_point(kind: str, cfg: PEConfig, rows: int | None, target: str) -> dict:
    """The estimator's lut, ff, carry, dsp, bram, fmax_mhz, transistors (asq_hw.estimate)
    for one design: a POST rows x lanes array (rows > 1) or PE (rows None or 1), or an
    'int' / 'pot' baseline PE."""
    array = kind == "post" and rows is not None and rows > 1
    return dict(estimate(cfg, target, kind=kind, rows=rows if array else None).values)


def check_accumulator(cfg: PEConfig, acc_bits: int | None) -> None:
    """Refuse an explicit accumulator narrower than the safe width for cfg.max_len terms
    (it would overflow, and a sweep should compare designs that compute the same sums)."""
    if acc_bits is not None and acc_bits < cfg.safe_acc_bits:
        raise UserError(
            f"acc-bits {acc_bits} is below the safe width {cfg.safe_acc_bits} for max-len "
            f"{cfg.max_len} (wbits {cfg.wbits}, abits {cfg.abits}"
            f"{' signed' if cfg.act_signed else ''}, {cfg.variant}): dot products that long "
            "would overflow; refused (omit --acc-bits for the safe width, or lower --max-len)")


def cross_product(kinds, wbits, abits, variants, rows, lanes, targets, *, signed=False,
                  frac_bits=8, max_len=4096, acc_bits=None) -> tuple[list[SweepPoint], int]:
    """(points, skipped): every combination; baselines (int, pot) only at rows = 1 and with
    no variant of their own (one point per other combination). `skipped` counts the
    baseline configurations with rows > 1, which have no design."""
    for k in kinds:
        if k not in DESIGN_KINDS:
            raise ValueError(f"kind must be one of {', '.join(DESIGN_KINDS)}, not {k!r}")
    for t in targets:
        if t not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {t!r}")
    for r in rows:
        _check_int("rows", r, *ROWS_RANGE)
    points, seen, skipped = [], set(), set()
    for kind, w, a, v, r, q, t in itertools.product(kinds, wbits, abits, variants, rows, lanes,
                                                    targets):
        if kind != "post":
            if r != 1:
                skipped.add((kind, w, a, r, q, t))
                continue
            v = "lut"
        cfg = PEConfig(wbits=w, abits=a, act_signed=signed, variant=v, frac_bits=frac_bits,
                       lanes=q, max_len=max_len)
        check_accumulator(cfg, acc_bits)
        if acc_bits is not None:
            cfg = cfg.replace(acc_bits=acc_bits)
        key = (kind, cfg, r, t)
        if key in seen:          # a baseline repeated once per --variant
            continue
        seen.add(key)
        points.append(SweepPoint(kind, cfg, r, t))
    return points, len(skipped)


def _estimate_chunk(items: list[tuple[str, dict, int, str]]) -> list[dict]:
    return [estimate_point(k, PEConfig.from_dict(c), r, t) for k, c, r, t in items]


def estimate_all(points: list[SweepPoint], jobs: int = 1, progress=None) -> list[dict]:
    """Estimates of every point, in order; `jobs` worker processes (1: in this process).
    `progress(n)` is called with the number of points finished after each chunk."""
    items = [(p.kind, p.cfg.to_dict(), p.rows, p.target) for p in points]
    # Chunks of work big enough to outweigh sending them to a worker, small enough for
    # every worker to get several (and for the progress bar to move).
    size = 16 if jobs <= 1 else max(1, min(64, len(items) // (4 * jobs) or 1))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    done = [0]

    def arrived(i, chunk):
        done[0] += len(chunk)
        if progress:
            progress(done[0])
    results = pmap(_estimate_chunk, chunks, jobs, on_result=arrived)
    return [e for chunk in results for e in chunk]


def pick_for_synthesis(rows: list[dict], n: int) -> list[int]:
    """Indices of n points spread evenly over the estimated-LUT order (smallest and largest
    included), so back-annotation covers the whole range; all of them if n >= len."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["lut"], i))
    if n >= len(order):
        return order
    if n == 1:
        return [order[len(order) // 2]]
    return sorted({order[round(j * (len(order) - 1) / (n - 1))] for j in range(n)})


def synth_point(p: SweepPoint) -> dict:
    """Generate the design's Verilog and synthesise it (SynthResult.to_dict)."""
    if p.design == "array":
        text, man = generate_array(p.cfg, p.rows)
    else:
        text, man = generate_pe(p.cfg, p.kind)
    r = synthesize(text, man["top"], p.target, fmax=True, transistors=True)
    return r.to_dict()


def synthesize_all(points: list[SweepPoint], indices: list[int], jobs: int = 1,
                   progress=None) -> dict[int, dict]:
    """{index: synthesis result} of points[indices], `jobs` at a time (asq_hw.parallel:
    on failure or interrupt the running tools are stopped). `progress(n)` after each."""
    results = pmap(synth_point, [points[i] for i in indices], jobs,
                   progress=progress and (lambda done, total: progress(done)))
    return dict(zip(indices, results, strict=True))


def pareto_flags(rows: list[dict], cost: str = "lut", value: str = "peak_gmacs") -> list[bool]:
    """Within each group of equal precision and target (target, wbits, abits, signed): not
    dominated by a point with cost <= and value >=, one strictly. Comparing only designs
    of the same precision is what makes the front meaningful (fewer bits are always
    cheaper). A point without the value (no fmax) is never on a front."""
    def group(r):
        return (r["target"], r.get("wbits"), r.get("abits"), r.get("signed"))
    flags = []
    for r in rows:
        if r.get(value) is None or r.get(cost) is None:
            flags.append(False)
            continue
        dominated = any(
            q is not r and group(q) == group(r) and q.get(value) is not None
            and q[cost] <= r[cost] and q[value] >= r[value]
            and (q[cost] < r[cost] or q[value] > r[value]) for q in rows)
        flags.append(not dominated)
    return flags


CSV_FIELDS = (["kind", "variant", "wbits", "abits", "signed", "rows", "lanes", "frac_bits",
               "max_len", "acc_bits", "target", "design"] + list(RESOURCE_KEYS)
              + ["macs_per_cycle", "peak_gmacs", "lut_per_mac", "pareto"]
              + [f"synth_{k}" for k in RESOURCE_KEYS] + ["synth_device", "lut_error"])


def table(points: list[SweepPoint], estimates: list[dict], synth: dict[int, dict]) -> list[dict]:
    """One row per point: the configuration, the estimate, derived figures, and the
    synthesis results where there are some (lut_error = estimate / synthesis - 1)."""
    rows = []
    for i, (p, e) in enumerate(zip(points, estimates, strict=True)):
        c = p.cfg
        macs = p.rows * c.lanes
        r = {"kind": p.kind, "variant": c.variant if p.kind == "post" else "",
             "wbits": c.wbits, "abits": c.abits, "signed": int(c.act_signed), "rows": p.rows,
             "lanes": c.lanes, "frac_bits": c.frac_bits, "max_len": c.max_len,
             "acc_bits": c.acc_bits, "target": p.target, "design": p.design,
             **{k: e.get(k) for k in RESOURCE_KEYS}, "macs_per_cycle": macs,
             "peak_gmacs": None if e.get("fmax_mhz") is None else macs * e["fmax_mhz"] / 1e3,
             "lut_per_mac": e["lut"] / macs,
             "kind_label": p.kind_label, "short": p.short}
        s = synth.get(i)
        for k in RESOURCE_KEYS:
            r[f"synth_{k}"] = None if s is None else s.get(k)
        r["synth_device"] = None if s is None else s.get("device")
        r["lut_error"] = (e["lut"] / s["lut"] - 1) if s is not None and s.get("lut") else None
        rows.append(r)
    for r, f in zip(rows, pareto_flags(rows), strict=True):
        r["pareto"] = int(f)
    return rows


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else
                        f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in CSV_FIELDS})
    return buf.getvalue()


def write_outputs(rows: list[dict], out) -> tuple[Path, Path]:
    """DIR/sweep.csv and DIR/sweep_pareto.png, rendered first and written atomically."""
    out = Path(out)
    targets = sorted({r["target"] for r in rows})
    with_fmax = [r for r in rows if r["peak_gmacs"] is not None]
    if with_fmax:
        fig = plots.sweep_pareto(with_fmax, "lut", "peak_gmacs",
                                 f"estimated LUTs vs peak GMAC/s ({', '.join(targets)}); "
                                 f"{len(rows)} configurations")
    else:   # xc7 only: no fmax, plot LUTs per MAC against MACs per cycle instead
        for r in rows:
            r["pareto"] = 0
        fig = plots.sweep_pareto(rows, "lut", "macs_per_cycle",
                                 f"estimated LUTs vs MACs per cycle ({', '.join(targets)})")
    png = figure_png(fig)
    text = csv_text(rows)
    return write_text(out / CSV_NAME, text), write_bytes(out / PLOT_NAME, png)


def run_sweep(points: list[SweepPoint], out, *, synth: int = 0, jobs: int = 1,
              progress=None) -> tuple[list[dict], dict]:
    """Estimate, optionally synthesise `synth` of them, write the outputs. Returns (rows,
    timings). `progress`: an asq_hw.progress.Progress or None."""
    pr = progress or Progress(False)
    out = ensure_writable(out)
    if not points:
        raise UserError("the sweep has no configuration (baselines exist only for rows 1)")
    if synth:
        tool_version("yosys")
        for t in {p.target for p in points} & set(PNR_TARGETS):
            tool_version(f"nextpnr-{t}")
    t0 = time.perf_counter()
    with pr.step("estimate", total=len(points), unit="cfg") as bar:
        est = estimate_all(points, jobs, lambda n: bar.update(n - bar.n))
    pre = table(points, est, {})
    chosen = pick_for_synthesis(pre, synth) if synth else []
    results = {}
    if chosen:
        with pr.step("synthesis", total=len(chosen), unit="cfg") as bar:
            results = synthesize_all(points, chosen, jobs, lambda n: bar.update(n - bar.n))
    rows = table(points, est, results)
    write_outputs(rows, out)
    return rows, {"total_s": time.perf_counter() - t0, **pr.times}
