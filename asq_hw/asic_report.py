"""PE area and energy per MAC on standard cells: POST (lut, dual) against POT and INT.

    python -m asq_hw.asic_report [--out docs] [--models build/asic/models]
                                 [--wbits 2,3,4,5,6] [--abits 4,8] [--beats 4000] [--jobs 2]

For every weight scheme, weight bits W and activation bits A, a digits CNN is trained (or
reused: asq_hw.demo.train_cached, the demo sweep's 10 + 10 epochs) with that scheme at WxAx.
Its PE (8 lanes, max_len the network's largest fan-in, so the accumulator is the safe width
for it) is mapped onto the OSU 0.18 um cells and timed (asq_hw.synth.synthesize_asic), and
driven in gate-level simulation with the model's own beats on the digits test images for
power at fmax and energy per useful MAC (asq_hw/synth/activity.py). POST models run on both
the `lut` and the `dual` PE. Writes OUT/asic.md (table, the verdict, how it was measured),
OUT/img/asic_pe.png and OUT/asic.json (every figure, for the energy model).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from asq_hw.errors import UserError
from asq_hw.parallel import Background, pmap

KINDS = (("POST-lut", "post", "lut"), ("POST-dual", "post", "dual"), ("POT", "pot", "lut"),
         ("INT", "int", "lut"))
LANES = 8
IMAGES = 32
ARRAY_BEATS = 1000


def model_dir(models: Path, scheme: str, wbits: int, abits: int) -> Path:
    return models / f"{scheme}-w{wbits}a{abits}"


def train_models(models: Path, wbits, abits, log=print) -> dict:
    """Train (or reuse) every scheme x W x A model; {(scheme, w, a): cache record}."""
    from asq_hw.data import load_dataset
    from asq_hw.demo import DemoConfig, train_cached

    data = load_dataset("digits")
    recs = {}
    for a, scheme, w in itertools.product(abits, ("post", "pot", "int"), wbits):
        tcfg = DemoConfig(out=str(models), abits=a).train_config(scheme, w, sweep=True)
        rec = train_cached(tcfg, model_dir(models, scheme, w, a), data)
        log(f"model {scheme} W{w}A{a}: fake-quant {100 * rec['fakequant_acc']:.2f} %"
            + (" (cached)" if rec["cached"] else f" ({rec['train_s']:.0f} s)"))
        recs[(scheme, w, a)] = rec
    return recs


def measure_point(label: str, scheme: str, variant: str, wbits: int, abits: int,
                  folder: str, beats: int, rows: int = 1) -> dict:
    """One PE's figures, or with rows > 1 a rows x LANES POST array's (runs in a worker
    process)."""
    from asq_hw.artifact import load_artifact
    from asq_hw.config import PEConfig
    from asq_hw.data import load_dataset
    from asq_hw.synth import PowerJob, synthesize_asic
    from asq_hw.synth.activity import workload_stimulus
    from hw.gen import generate_pe

    t0 = time.perf_counter()
    art = load_artifact(folder)
    max_len = max(lay.fan_in for lay in art.compute_layers())
    cfg = PEConfig(wbits=wbits, abits=abits, variant=variant, lanes=LANES, max_len=max_len)
    images = load_dataset("digits").x_test.numpy()[:IMAGES]
    stim = workload_stimulus(art, images, cfg, scheme, rows=rows, beats=beats)
    if rows > 1:
        from hw.gen_array import generate_array
        text, man = generate_array(cfg, rows)
    else:
        text, man = generate_pe(cfg, scheme)
    acc_bits = man.get("acc_bits", cfg.acc_bits)
    r = synthesize_asic(text, man["top"],
                        power=PowerJob(stim, cfg, scheme, acc_bits, man["latency"]))
    return {"label": label, "scheme": scheme, "variant": variant, "wbits": wbits,
            "abits": abits, "rows": rows, "lanes": LANES, "max_len": max_len, "acc_bits": acc_bits,
            "area_um2": r.area_um2, "cells": r.cells, "ff": r.ff,
            "transistors": r.transistors, "critical_path_ns": r.critical_path_ns,
            "fmax_mhz": r.fmax_mhz, "power_mw": r.power_mw,
            "energy_pj_per_mac": r.energy_pj_per_mac, "activity": r.activity,
            "seconds": r.seconds, "cached": list(r.cached),
            "wall_s": time.perf_counter() - t0, "model": folder}


def _measure_task(task: tuple) -> dict:
    return measure_point(*task)


def run(out: Path, models: Path, wbits, abits, beats: int, jobs: int, array_rows: int = 8,
        log=print) -> dict:
    from asq_hw.outputs import ensure_writable, write_json, write_text
    from asq_hw.synth.liberty import missing

    err = missing()
    if err is not None:
        raise UserError(err)
    ensure_writable(out)
    ensure_writable(out / "img")
    t0 = time.perf_counter()
    # Training runs in a worker of its own: PyTorch's threads in this process would make
    # the measuring workers forked from it hang on a lock they inherit.
    with Background(train_models, models, wbits, abits) as job:
        recs = job.result()
    train_s = time.perf_counter() - t0
    tasks = [(label, scheme, variant, w, a, str(model_dir(models, scheme, w, a)), beats)
             for a, w, (label, scheme, variant) in itertools.product(abits, wbits, KINDS)]
    t1 = time.perf_counter()

    def arrived(_, p):
        log(f"{p['label']} W{p['wbits']}A{p['abits']}: {p['area_um2']:,.0f} um^2, "
            f"{p['fmax_mhz']:.0f} MHz, {p['energy_pj_per_mac']:.2f} pJ/MAC "
            f"({p['wall_s']:.0f} s{', cached' if p['cached'] else ''})")

    # The POST arrays at W4A4 (if measured): the activation LUT shared by the rows.
    arrays = [(f"{label} {array_rows}x{LANES}", "post", variant, 4, 4,
               str(model_dir(models, "post", 4, 4)), ARRAY_BEATS, array_rows)
              for label, scheme, variant in KINDS
              if scheme == "post" and array_rows > 1 and 4 in wbits and 4 in abits]
    done = pmap(_measure_task, tasks + arrays, jobs, on_result=arrived)
    points, array_points = done[:len(tasks)], done[len(tasks):]
    for p in done:
        p["fakequant_acc"] = recs[(p["scheme"], p["wbits"], p["abits"])]["fakequant_acc"]
    summary = {"points": points, "arrays": array_points, "lanes": LANES, "images": IMAGES,
               "beats": beats, "train_s": train_s,
               "measure_s": time.perf_counter() - t1, "jobs": jobs}
    write_json(out / "asic.json", summary)
    from asq_hw.outputs import write_figure
    write_figure(out / "img" / "asic_pe.png", figure(points))
    write_text(out / "asic.md", markdown(summary))
    return summary


def figure(points: list[dict]):
    """Area and energy per MAC against weight bits, one line per PE kind and A."""
    from asq_hw.plots import COLORS, MARKERS, plt

    fig, axes = plt.subplots(1, 2, figsize=(10.0, 3.9))
    for key, ax, scale, ylab in (("area_um2", axes[0], 1e-3, "PE area (1000 um^2)"),
                                 ("energy_pj_per_mac", axes[1], 1.0, "energy per MAC (pJ)")):
        for (label, _, _), a in itertools.product(KINDS, sorted({p["abits"] for p in points})):
            pts = sorted((p for p in points if p["label"] == label and p["abits"] == a),
                         key=lambda p: p["wbits"])
            if pts:
                ax.plot([p["wbits"] for p in pts], [p[key] * scale for p in pts],
                        marker=MARKERS[label], color=COLORS[label],
                        linestyle="-" if a == 4 else "--", label=f"{label} A{a}")
        ax.set_xlabel("weight bits")
        ax.set_ylabel(ylab)
        ax.set_xticks(sorted({p["wbits"] for p in points}))
        ax.grid(alpha=0.3)
    axes[0].set_title("8-lane PE on OSU 0.18 um cells: area", fontsize=10)
    axes[1].set_title("energy per MAC at fmax, real digits activity", fontsize=10)
    axes[1].legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


TIE = 0.01


def verdict(points: list[dict]) -> list[str]:
    """Plain sentences, per metric: at which (W, A) the best POST PE is smaller than the
    best baseline, within TIE of it, or larger (and by how much)."""
    out = []
    for key, what in (("area_um2", "Area"), ("energy_pj_per_mac", "Energy per MAC")):
        groups: dict[str, list[str]] = {"wins": [], "ties": [], "loses": []}
        for a, w in sorted({(p["abits"], p["wbits"]) for p in points}):
            pts = [p for p in points if p["abits"] == a and p["wbits"] == w]
            post = min((p for p in pts if p["scheme"] == "post"), key=lambda p: p[key])
            base = min((p for p in pts if p["scheme"] != "post"), key=lambda p: p[key])
            ratio = post[key] / base[key] - 1
            where = "ties" if abs(ratio) < TIE else "wins" if ratio < 0 else "loses"
            groups[where].append(f"W{w}A{a} ({post['label']} {ratio:+.1%} vs "
                                 f"{base['label']})")
        parts = []
        if groups["wins"]:
            parts.append(f"POST is smaller than both baselines at {', '.join(groups['wins'])}")
        if groups["ties"]:
            parts.append(f"POST is within {TIE:.0%} of the best baseline at "
                         f"{', '.join(groups['ties'])}")
        if groups["loses"]:
            parts.append(f"POST is larger at {', '.join(groups['loses'])}")
        out.append(f"- **{what}**: " + "; ".join(parts) + ".")
    return out


def _share(p: dict) -> float:
    return p["power_mw"]["internal"] / p["power_mw"]["total"]


def _corr(points: list[dict], x: str, y: str) -> float:
    import numpy as np
    return float(np.corrcoef([p[x] for p in points], [p[y] for p in points])[0, 1])


def _array_lines(s: dict) -> list[str]:
    """The arrays' section: area per row and energy per MAC against the PE's."""
    arrays = s.get("arrays") or []
    if not arrays:
        return []
    lines = ["## Arrays: the LUT shared by the rows", "",
             f"The same W4A4 POST model on a {arrays[0]['rows']} x {s['lanes']} array "
             f"({ARRAY_BEATS} beats; one activation stage and, for lut, one LUT per lane "
             "for all rows):", "",
             "| design | area (um^2) | per row | the PE's area | fmax (MHz) | energy "
             "(pJ/MAC) | the PE's energy |", "|---|---|---|---|---|---|---|"]
    for a in arrays:
        pe = next((p for p in s["points"] if p["variant"] == a["variant"]
                   and p["scheme"] == "post" and p["wbits"] == a["wbits"]
                   and p["abits"] == a["abits"]), None)
        pe_energy = "-" if pe is None else f"{pe['energy_pj_per_mac']:.2f}"
        pe_area = "-" if pe is None else f"{pe['area_um2']:,.0f}"
        lines.append(f"| {a['label']} | {a['area_um2']:,.0f} | "
                     f"{a['area_um2'] / a['rows']:,.0f} | {pe_area} | {a['fmax_mhz']:.0f} | "
                     f"{a['energy_pj_per_mac']:.2f} | {pe_energy} |")
    lines += ["", "Sharing the activation stage (and lut's LUTs) over the rows makes each row "
              "smaller and each MAC cheaper than in a lone PE. The INT and POT baselines exist "
              "as PEs only, so how much an array of them would gain is not measured here: the "
              "PE table below compares like with like."]
    return lines + [""]


def markdown(s: dict) -> str:
    pts = s["points"]
    lines = [
        "# PE area and energy per MAC on standard cells: POST vs POT vs INT",
        "",
        "Generated by `python -m asq_hw.asic_report` (asq_hw/asic_report.py); every figure "
        "below is in `docs/asic.json`.",
        "",
        "![PE area and energy per MAC](img/asic_pe.png)",
        "",
        "## Where POST wins",
        "",
        *verdict(pts),
        "",
        "What drives it (read with the table below):",
        "",
        "- At W2 POST's levels are POT's ({0, +-1}): the dual PE and the POT PE compute "
        "the same terms and come out within a few percent; the lut PE has no LUT then "
        "(its odd field is always 0) but keeps the fraction bits in its accumulator.",
        "- The lut PE carries one activation LUT (2^A entries of A + F bits) per lane, and "
        "its terms and accumulator carry F = 8 fraction bits: at A8 the 256-entry LUTs "
        "dominate. In the P x Q array the LUT is shared by all P rows (one per lane), "
        "which this single-PE comparison does not credit; the baselines exist as PEs only.",
        "- The dual PE has no LUT but two accumulators (even and odd exponents) and wider "
        "shifters; INT's multiplier is small at these widths and its terms are only W + A "
        "bits, while POT's and POST's terms are shifted activations whose shift range grows "
        "as 2^(W-1), so their adder trees and accumulators widen fast with W (see the acc "
        "bits column).",
        f"- Internal power (inside the cells, the flip-flops' clock pins included) is "
        f"{min(_share(p) for p in pts):.0%}-{max(_share(p) for p in pts):.0%} of the "
        f"total; across the {len(pts)} PEs energy per MAC tracks area (correlation "
        f"{_corr(pts, 'area_um2', 'energy_pj_per_mac'):.2f}) and the flip-flop count "
        f"({_corr(pts, 'ff', 'energy_pj_per_mac'):.2f}).",
        "",
        *_array_lines(s),
        "## Table",
        "",
        f"One {s['lanes']}-lane PE per row; `max_len` is the model's largest fan-in "
        "(the accumulator is the safe width for it). Power and energy at the PE's own fmax "
        "on the activity of its own trained model (fake-quant accuracy on the 360 test "
        "images in the last column).",
        "",
        "| PE | W | A | acc bits | area (um^2) | cells | FFs | fmax (MHz) | power (mW) "
        "internal / switching | energy (pJ/MAC) | mean activity | accuracy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in pts:
        pw = p["power_mw"]
        lines.append(
            f"| {p['label']} | {p['wbits']} | {p['abits']} | {p['acc_bits']} | "
            f"{p['area_um2']:,.0f} | {p['cells']:,} | {p['ff']} | {p['fmax_mhz']:.0f} | "
            f"{pw['total']:.1f} ({pw['internal']:.1f} / {pw['switching']:.1f}) | "
            f"{p['energy_pj_per_mac']:.2f} | {p['activity']['mean_activity']:.3f} | "
            f"{100 * p['fakequant_acc']:.2f} % |")
    sim_s = [p["seconds"].get("power_sim", 0) for p in pts]
    map_s = [p["seconds"].get("asic_map", 0) for p in pts]
    layers = pts[0]["activity"]["layers"] if pts else []
    shares = ", ".join(f"{x['layer']} {x['beats']}" for x in layers)
    lines += [
        "",
        "## How it was measured",
        "",
        "- **Models**: one digits CNN per scheme, W and A (the demo sweep's schedule, 10 "
        "float + 10 QAT epochs, seed 0), so every PE runs the weights and activations of a "
        "network trained for it. POST models run on the `lut` and the `dual` PE.",
        "- **Area, cells, fmax**: Yosys 0.70 maps the PE onto the OSU 0.18 um cells "
        "(Debian `qflow-tech-osu018`, typical corner, 1.8 V) with ABC's buffering and "
        "sizing; OpenSTA 2.0.17 times it (ideal clock, inputs at the edge, outputs loaded "
        "with 10 fF, no wire load). Area is cell area (no placement, no wiring). "
        "asq_hw/synth/asic.py and sta.py.",
        f"- **Activity**: {s['beats']} beats of the model's real stream for a 1-row "
        f"array (the PE computes every output channel in turn), taken as runs of "
        f"consecutive dot products from {s['images']} test images, each layer's share "
        f"of beats as in the network (e.g. "
        f"{shares}); only layers whose "
        "input fits the PE's unsigned A-bit activations (not the first, which takes the "
        "signed 8-bit image). The mapped netlist runs in Icarus with the library's cell "
        "models (zero delay) and every net is sampled once per cycle; each net's "
        "transitions per cycle and duty go to OpenSTA per pin. Glitches are not counted "
        "(functional activity, as from an RTL SAIF). Every result of the netlist is "
        "checked against the reference PE model before power is reported. "
        "asq_hw/synth/activity.py.",
        "- **Energy per MAC** = power at fmax x clock period x simulated cycles / useful "
        "MACs (padding lanes excluded). The estimator's energy model (`asq-hw estimate "
        "--target osu018`) is fitted to these figures; its error is in "
        "docs/estimator-accuracy-osu018.md.",
        "- **Not modelled**: wires (no placement or routing), the clock tree (ideal clock), "
        "glitches, and the SRAM or register files that would feed the PE.",
        f"- **Run time** ({s['jobs']} processes on this shared 2-core machine): this run "
        f"trained for {s['train_s']:.0f} s and measured for {s['measure_s']:.0f} s, reusing "
        f"what the cache held (models, synthesis, power); computed afresh, a PE takes "
        f"{min(map_s):.0f}-{max(map_s):.0f} s of mapping and "
        f"{min(sim_s):.0f}-{max(sim_s):.0f} s of gate-level simulation (the times as "
        f"first measured), timing and power under a second each"
        + "".join(f"; the {a['label']} array {a['seconds'].get('power_map', 0):.0f} s and "
                  f"{a['seconds'].get('power_sim', 0):.0f} s" for a in s.get("arrays") or [])
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m asq_hw.asic_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs")
    p.add_argument("--models", default="build/asic/models")
    p.add_argument("--wbits", default="2,3,4,5,6")
    p.add_argument("--abits", default="4,8")
    p.add_argument("--beats", type=int, default=4000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--array-rows", type=int, default=8,
                   help="also the POST lut and dual arrays of this many rows at W4A4 "
                        "(0: none)")
    p.add_argument("--markdown-only", action="store_true",
                   help="rewrite OUT/asic.md and the plot from OUT/asic.json")
    args = p.parse_args(argv)
    if args.markdown_only:
        import json

        from asq_hw.outputs import write_figure, write_text
        s = json.loads((Path(args.out) / "asic.json").read_text())
        write_figure(Path(args.out) / "img" / "asic_pe.png", figure(s["points"]))
        write_text(Path(args.out) / "asic.md", markdown(s))
        return 0
    try:
        wbits = [int(x) for x in args.wbits.split(",")]
        abits = [int(x) for x in args.abits.split(",")]
        run(Path(args.out), Path(args.models), wbits, abits, args.beats, args.jobs,
            args.array_rows)
    except (UserError, ValueError) as e:
        print(f"asq-hw: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
