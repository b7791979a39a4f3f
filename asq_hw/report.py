"""The demo's report: OUT/report.md, OUT/report.html (the same, rendered, PNGs embedded),
OUT/summary.json and OUT/plots/*.png, all from the summary dict of asq_hw.demo.run_demo.

Everything is rendered in memory first and written afterwards, each file atomically, so a
failure while rendering writes nothing and the files of one run are never mixed with those
of another except if the process dies in the few milliseconds of the final writes.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from markdown_it import MarkdownIt

from asq_hw.accel_report import PLOT as ACCEL_PLOT
from asq_hw.outputs import figure_png, json_text, write_bytes, write_text
from golden.asq_cost import cost_table

PLOTS = {
    "accuracy_vs_wbits": "plots/accuracy_vs_wbits.png",
    "pareto_luts_accuracy": "plots/pareto_luts_accuracy.png",
    "pareto_luts_sqnr": "plots/pareto_luts_sqnr.png",
    "layer_cycles": "plots/layer_cycles.png",
    "accel_area": ACCEL_PLOT,
}


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


def _db(v) -> str:
    return "-" if v is None else f"{v:.1f} dB"


def _num(v, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def _si(v, unit: str) -> str:
    if v is None:
        return "-"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.2f} {prefix}{unit}"
    return f"{v:.2f} {unit}"


def render_plots(s: dict) -> dict[str, bytes]:
    """{relative path: PNG bytes} of the report's figures."""
    from asq_hw import plots

    m = s["model"]
    main = {"wbits": m["wbits"], "accuracy": s["accuracy"]["golden_lut"],
            "label": f"main model ({m['float_epochs']}+{m['epochs']} epochs)"}
    a = s["array"]
    figs = {}
    acc = s.get("accel")
    if acc is not None and acc.get("estimated") is not None:
        from asq_hw.accel_report import area_plot
        figs[PLOTS["accel_area"]] = figure_png(area_plot(acc))
    return figs | {
        PLOTS["accuracy_vs_wbits"]: figure_png(plots.accuracy_vs_wbits(s["sweep"], main)),
        PLOTS["pareto_luts_accuracy"]: figure_png(plots.pareto(s["pareto"])),
        PLOTS["pareto_luts_sqnr"]: figure_png(plots.pareto(s["pareto"], "sqnr")),
        PLOTS["layer_cycles"]: figure_png(plots.layer_cycles(s["layers"], a["rows"],
                                                             a["lanes"])),
    }


def render_markdown(s: dict) -> str:
    m, acc, arr, rtl = s["model"], s["accuracy"], s["array"], s.get("rtl")
    res, thr, sw = s["resources"], s["throughput"], s["sweep"]
    cfg = arr["config"]
    L = []
    add = L.append
    add("# asq-hw demo report")
    add("")
    add(f"The digits CNN (width {m['width']}) with W{m['wbits']}A{m['abits']} POST weights and "
        f"ASQ activations, trained ({m['float_epochs']} float + {m['epochs']} QAT epochs, "
        f"seed {m['seed']}), exported to integers, checked bit for bit on the "
        f"{arr['rows']}x{arr['lanes']} RTL array of POST PEs ({arr['variant']} variant) and "
        f"measured on {res['target']}. Produced by `asq-hw demo --out {s['config']['out']}`; "
        f"every figure is also in `summary.json`.")
    add("")
    add("## Summary")
    add("")
    add(f"- accuracy on the {acc['images']} test images: float {_pct(acc['float'])}, "
        f"fake-quant {_pct(acc['fakequant'])}, golden integer {_pct(acc['golden_lut'])} (lut) / "
        f"{_pct(acc['golden_dual'])} (dual)")
    if rtl is not None:
        verdict = "**bit-exact**" if rtl["mismatches"] == 0 and rtl["ok"] else \
            "**MISMATCHES**"
        add(f"- RTL ({rtl['sim']}): {verdict}: {rtl['accumulators_checked']:,} accumulators "
            f"checked on {rtl['images']} images, {rtl['mismatches']} mismatches, "
            f"{rtl['images'] - rtl['prediction_mismatches']} of {rtl['images']} predictions "
            f"identical to golden")
    syn, est = res.get("synthesized"), res["estimated"]
    if syn is not None:
        add(f"- {res['design']} on {res['target']} ({res.get('device') or '-'}): "
            f"{_num(syn['lut'])} LUTs, {_num(syn['ff'])} FFs, {_num(syn['bram'])} BRAMs, "
            f"fmax {_num(syn['fmax_mhz'])} MHz (estimated: {_num(est['lut'])} LUTs, "
            f"fmax {_num(est['fmax_mhz'])} MHz)")
    else:
        why = (f"synthesis failed: {res['synth_error']}" if res.get("synth_error")
               else "no synthesis in this run")
        add(f"- {res['design']} on {res['target']}: estimated {_num(est['lut'])} LUTs, "
            f"fmax {_num(est['fmax_mhz'])} MHz ({why})")
    if thr["images_per_s"]:
        add(f"- throughput at the {thr['fmax_source']} fmax: "
            f"{_num(thr['images_per_s'], 0)} images/s, {_si(thr['macs_per_s'], 'MAC/s')} "
            f"({thr['cycles_per_image']:,} cycles per image)")
    add("")

    add(f"## Accuracy ({acc['images']} test images)")
    add("")
    add("| model | accuracy | top-1 agreement with fake-quant |")
    add("|---|---:|---:|")
    add(f"| float (PyTorch) | {_pct(acc['float'])} | |")
    add(f"| fake-quant (PyTorch QAT) | {_pct(acc['fakequant'])} | |")
    add(f"| golden integer, lut (F = {cfg['frac_bits']}) | {_pct(acc['golden_lut'])} | "
        f"{_pct(acc['agreement_lut'])} |")
    add(f"| golden integer, dual | {_pct(acc['golden_dual'])} | "
        f"{_pct(acc['agreement_dual'])} |")
    if rtl is not None:
        fq = "-" if rtl["fakequant_mismatches"] is None else \
            _pct(1 - rtl["fakequant_mismatches"] / rtl["images"])
        add(f"| RTL array, {arr['variant']} (first {rtl['images']} images) | "
            f"{_pct(rtl['accuracy'])} | {fq} |")
    add("")
    cost = s.get("asq_cost")
    if cost is not None:
        add("## ASQ in integer hardware")
        add("")
        add("Inference is integer only: per image and layer the adapter of the next layer's "
            "input (global average pool, int8 Linear layers, beta as a 10-bit fixed-point "
            "code), one reciprocal and the requantization multiplies (docs/arithmetic.md, "
            "\"Integer ASQ\"). Operations per image; *ASQ ops* are those that exist only "
            "because beta varies per image (adapter, reciprocal, per-image multipliers, "
            "requantization multiplies), next to the layer's MACs:")
        add("")
        for row in cost_table(cost):
            add(row)
        add("")
    if rtl is not None:
        add("## RTL co-simulation")
        add("")
        add(f"The network runs layer by layer through the generated `post_array` "
            f"({arr['rows']} rows x {arr['lanes']} lanes, {cfg['abits']}-bit "
            f"{'signed' if cfg['act_signed'] else 'unsigned'} activations, {cfg['wbits']}-bit "
            f"codes, acc_bits {arr['acc_bits']}, latency {arr['latency']}) in {rtl['sim']}; "
            f"every accumulator is compared with the golden model and the next layer's input "
            f"is requantized from the RTL's accumulators. {arr['acc_note']}.")
        add("")
        add("| figure | value |")
        add("|---|---:|")
        add(f"| images | {rtl['images']} |")
        add(f"| accumulators checked | {rtl['accumulators_checked']:,} |")
        add(f"| accumulator mismatches | {rtl['mismatches']} |")
        add(f"| prediction mismatches vs golden | {rtl['prediction_mismatches']} |")
        add(f"| prediction mismatches vs fake-quant | "
            f"{'-' if rtl['fakequant_mismatches'] is None else rtl['fakequant_mismatches']} |")
        add(f"| simulated cycles | {rtl['cycles']:,} |")
        add(f"| measured latency = manifest | {'yes' if rtl['latency_ok'] else 'no'} |")
        add(f"| verified MACs per second (simulation) | "
            f"{_si(rtl['verified_macs_per_s'], 'MAC/s')} |")
        add("")
        for e in rtl["errors"]:
            add(f"- error: {e}")
    add("## Per-layer cycles")
    add("")
    add(f"One image per layer is one stream of beats; cycles = beats + latency "
        f"({arr['latency']}), layers one after another (docs/array.md). Utilisation = "
        f"useful MACs / ({arr['rows']} x {arr['lanes']} MAC slots x beats).")
    add("")
    add(f"![per-layer cycles]({PLOTS['layer_cycles']})")
    add("")
    add("| layer | op | K | N | positions | tiles | beats | cycles | RTL cycles | MACs | "
        "utilisation |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lay in s["layers"]:
        rc = lay.get("rtl_cycles_per_image")
        add(f"| {lay['name']} | {lay['op']} | {lay['outputs']} | {lay['fan_in']} | "
            f"{lay['positions']} | {lay['tiles']} | {lay['beats']:,} | {lay['cycles']:,} | "
            f"{'-' if rc is None else _num(rc, 0)} | {lay['macs']:,} | "
            f"{_pct(lay['utilization'])} |")
    tot_c = sum(lay["cycles"] for lay in s["layers"])
    tot_m = sum(lay["macs"] for lay in s["layers"])
    add(f"| total | | | | | | | {tot_c:,} | | {tot_m:,} | "
        f"{_pct(tot_m / (tot_c * arr['rows'] * arr['lanes']))} |")
    add("")

    add(f"## Resources on {res['target']}: estimated vs synthesised")
    add("")
    add(f"{res['design']} (`{arr['verilog']}`). Estimated: `asq_hw.estimate` from the "
        "configuration alone. Synthesised: Yosys for the counts, nextpnr (I/O wrapper, fixed "
        "seed) for fmax, Yosys' CMOS model for transistors.")
    add("")
    add("| figure | estimated | synthesised | error |")
    add("|---|---:|---:|---:|")
    err = res.get("error") or {}
    for k in ("lut", "ff", "carry", "bram", "dsp", "fmax_mhz", "transistors"):
        sv = None if syn is None else syn.get(k)
        e = err.get(k)
        add(f"| {k} | {_num(est.get(k))} | {_num(sv)} | "
            f"{'-' if e is None else f'{100 * e:+.1f} %'} |")
    add("")
    if syn is not None and res.get("fmax_note"):
        add(f"fmax: {res['fmax_note']}")
        add("")
    if res.get("synth_error"):
        add(f"**Synthesis failed**: {res['synth_error']}")
        add("")
    add("## Throughput")
    add("")
    add("| figure | value |")
    add("|---|---:|")
    add(f"| cycles per image | {thr['cycles_per_image']:,} |")
    add(f"| MACs per image | {thr['macs_per_image']:,} |")
    add(f"| fmax ({thr['fmax_source'] or '-'}) | {_num(thr['fmax_mhz'])} MHz |")
    add(f"| images per second | {_num(thr['images_per_s'], 0)} |")
    add(f"| MACs per second | {_si(thr['macs_per_s'], 'MAC/s')} |")
    add("")
    add("Array time only: the host's im2col, requantization and ASQ adapters between layers "
        "are not counted; the whole accelerator below counts everything.")
    add("")
    if s.get("accel") is not None:
        from asq_hw.accel_report import accel_markdown
        L.extend(accel_markdown(s["accel"], thr, res["target"]))

    add("## Accuracy vs weight bits")
    add("")
    add(f"Every weight quantizer at every width, A{sw['abits']}, trained with a **shorter "
        f"schedule** than the main model ({sw['float_epochs']} float + {sw['epochs']} QAT "
        f"epochs, to fit the demo's time budget); the star is the main model. Golden integer "
        "accuracy (lut for POST).")
    add("")
    add(f"One test image is {100 / acc['images']:.2f} percentage points of accuracy; each "
        "point is one training run (one seed).")
    add("")
    add(f"![accuracy vs weight bits]({PLOTS['accuracy_vs_wbits']})")
    add("")
    add("| quantizer | wbits | float | fake-quant | golden | golden dual | agreement | "
        "logit SQNR vs float | quant SQNR |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in sw["points"]:
        add(f"| {p['weight_quant'].upper()} | {p['wbits']} | {_pct(p['float'])} | "
            f"{_pct(p['fakequant'])} | {_pct(p['golden'])} | {_pct(p.get('golden_dual'))} | "
            f"{_pct(p['agreement'])} | {_db(p.get('sqnr_db'))} | "
            f"{_db(p.get('quant_sqnr_db'))} |")
    add("")
    add("Logit SQNR: 10 log10(sum f^2 / sum (f - g)^2) over the test split, g the golden "
        "integer logits (lut) dequantized by the output scale. *vs float*: f the float "
        "network's logits (before QAT: dominated by the fine-tuning's drift); *quant SQNR*: "
        "f the logits of the same QAT network with every quantizer off, the quantization "
        "noise alone, which separates the quantizers where top-1 saturates.")
    add("")
    add("## LUTs vs accuracy")
    add("")
    add(f"Estimated LUTs of {s['pareto']['design']}, against golden accuracy of the sweep's "
        "models; POST in both MAC variants, POT and INT baseline PEs. The line joins the "
        "Pareto-optimal points (fewer LUTs, higher accuracy).")
    add("")
    add(f"![LUTs vs accuracy]({PLOTS['pareto_luts_accuracy']})")
    add("")
    add("The same PEs against the quant SQNR (the golden logits against the same network in "
        "float), the axis on which the quantizers differ at equal bits:")
    add("")
    add(f"![LUTs vs SQNR]({PLOTS['pareto_luts_sqnr']})")
    add("")
    add("| PE | wbits | est. LUTs | est. FFs | accuracy | Pareto | quant SQNR | Pareto (SQNR) |")
    add("|---|---:|---:|---:|---:|---|---:|---|")
    for p in sorted(s["pareto"]["points"], key=lambda p: (p["label"], p["wbits"])):
        add(f"| {p['label']} | {p['wbits']} | {_num(p['lut'])} | {_num(p['ff'])} | "
            f"{_pct(p['accuracy'])} | {'yes' if p['pareto'] else ''} | "
            f"{_db(p.get('quant_sqnr_db'))} | {'yes' if p.get('pareto_sqnr') else ''} |")
    add("")
    add("## Timings")
    add("")
    add("| step | seconds |")
    add("|---|---:|")
    for k, v in s["timings"].items():
        add(f"| {k} | {v:.1f} |")
    add("")
    add("## Reproduce")
    add("")
    add("```")
    add(f"asq-hw demo --out {s['config']['out']}")
    add(f"asq-hw eval {m['dir']} --variant lut")
    if rtl is not None:
        add(f"asq-hw sim model {m['dir']} --rows {arr['rows']} --lanes {arr['lanes']} "
            f"--variant {arr['variant']} --images {rtl['images']}")
    add("```")
    add("")
    return "\n".join(L)


STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1b1f23}
table{border-collapse:collapse;margin:0.8rem 0}th,td{border:1px solid #d0d7de;
padding:0.25rem 0.6rem}th{background:#f6f8fa}
code{background:#f6f8fa;padding:0.1rem 0.25rem;border-radius:3px}
pre{background:#f6f8fa;padding:0.7rem;overflow-x:auto}pre code{padding:0}
img{max-width:100%;height:auto}h1,h2,h3{border-bottom:1px solid #eaecef;padding-bottom:0.2rem}"""

_MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def render_html(markdown: str, title: str, images: dict[str, bytes]) -> str:
    """One self-contained HTML page of `markdown` (CommonMark with pipe tables, raw HTML
    escaped): every image whose path is a key of `images` is embedded as a data: URI, so
    the page can be mailed or attached on its own. ValueError names an image the Markdown
    links that `images` does not hold."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    missing = []

    def image(renderer, tokens, idx, options, env):
        token = tokens[idx]
        src = token.attrGet("src")
        mime = _MIME.get(Path(src).suffix.lower())
        if src in images and mime:
            token.attrSet("src", f"data:{mime};base64,"
                                 f"{base64.b64encode(images[src]).decode('ascii')}")
        else:
            missing.append(src)
        return default_image(tokens, idx, options, env)

    default_image = md.renderer.rules["image"]
    md.add_render_rule("image", image)
    body = md.render(markdown)
    if missing:
        raise ValueError(f"report images not rendered: {missing}")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}</body>\n</html>\n")


def write_report(summary: dict, out) -> dict[str, Path]:
    """Render everything, then write plots, summary.json, report.md and report.html
    atomically. Returns {name: path}."""
    out = Path(out)
    summary["plots"] = dict(PLOTS)
    pngs = render_plots(summary)
    js = json_text(summary)
    md = render_markdown(summary)
    page = render_html(md, "asq-hw demo report", pngs)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    paths = {}
    for rel, data in pngs.items():
        paths[rel] = write_bytes(out / rel, data)
    paths["summary.json"] = write_text(out / "summary.json", js)
    paths["report.md"] = write_text(out / "report.md", md)
    paths["report.html"] = write_text(out / "report.html", page)
    return paths
