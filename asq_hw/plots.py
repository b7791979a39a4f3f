"""The report's figures (matplotlib, Agg backend: no display needed), from summary dicts.

Each function returns a matplotlib Figure; asq_hw.outputs.write_figure saves it atomically.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

COLORS = {"POST-lut": "#1f77b4", "POST-dual": "#17becf", "POST": "#1f77b4",
          "POT": "#ff7f0e", "INT": "#2ca02c"}
MARKERS = {"POST-lut": "o", "POST-dual": "D", "POST": "o", "POT": "s", "INT": "^"}


def _label(q: str) -> str:
    return q.upper()


def accuracy_vs_wbits(sweep: dict, main: dict | None = None):
    """Golden accuracy (%) against weight bits, one line per weight quantizer; `main`
    ({wbits, accuracy, label}) adds the main model as a star."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    quants = []
    for p in sweep["points"]:
        if p["weight_quant"] not in quants:
            quants.append(p["weight_quant"])
    for q in quants:
        pts = sorted((p for p in sweep["points"] if p["weight_quant"] == q),
                     key=lambda p: p["wbits"])
        lab = _label(q)
        ax.plot([p["wbits"] for p in pts], [100 * p["golden"] for p in pts],
                marker=MARKERS[lab], color=COLORS[lab], label=f"{lab} (golden)")
    if main is not None:
        ax.plot([main["wbits"]], [100 * main["accuracy"]], marker="*", markersize=14,
                linestyle="none", color="#d62728", label=main["label"])
    ax.set_xlabel("weight bits")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xticks(sorted({p["wbits"] for p in sweep["points"]}
                         | ({main["wbits"]} if main is not None else set())))
    ax.set_title(f"digits CNN, A{sweep['abits']}: accuracy vs weight bits "
                 f"({sweep['float_epochs']}+{sweep['epochs']} epochs)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


# The y axes of `pareto`: (point key, Pareto flag key, axis label, scale to the axis).
PARETO_AXES = {
    "accuracy": ("accuracy", "pareto", "test accuracy (%)", 100.0),
    "sqnr": ("quant_sqnr_db", "pareto_sqnr", "logit SQNR vs the QAT network in float (dB)",
             1.0),
}


def pareto(par: dict, axis: str = "accuracy"):
    """Estimated LUTs against golden accuracy (`axis` "accuracy") or the golden logits'
    quantization SQNR ("sqnr"), every (quantizer / variant, wbits); the Pareto-optimal
    points joined by a step line. Points without a finite SQNR are left out of that plot."""
    key, flag, ylabel, scale = PARETO_AXES[axis]
    points = [p for p in par["points"] if p.get(key) is not None]
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    labels = []
    for p in points:
        if p["label"] not in labels:
            labels.append(p["label"])
    for lab in labels:
        pts = [p for p in points if p["label"] == lab]
        ax.scatter([p["lut"] for p in pts], [scale * p[key] for p in pts],
                   marker=MARKERS.get(lab, "o"), color=COLORS.get(lab), label=lab, zorder=3)
        for p in pts:
            ax.annotate(f"W{p['wbits']}", (p["lut"], scale * p[key]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    front = sorted((p for p in points if p[flag]), key=lambda p: p["lut"])
    if front:
        ax.step([p["lut"] for p in front], [scale * p[key] for p in front],
                where="post", color="#555555", linewidth=1, alpha=0.7, label="Pareto front",
                zorder=2)
    ax.set_xlabel("estimated LUTs")
    ax.set_ylabel(ylabel)
    ax.set_title(f"LUTs vs {'accuracy' if axis == 'accuracy' else 'SQNR'}: {par['design']}",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def layer_cycles(layers: list[dict], rows: int, lanes: int):
    """Cycles per image of each layer (bars) and the array's utilisation (second axis)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    names = [lay["name"] for lay in layers]
    xs = range(len(layers))
    bars = ax.bar(xs, [lay["cycles"] for lay in layers], color="#1f77b4", width=0.6,
                  label="cycles / image")
    for b, lay in zip(bars, layers, strict=True):
        ax.annotate(f"{lay['cycles']}", (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("array cycles per image")
    ax2 = ax.twinx()
    ax2.plot(list(xs), [100 * lay["utilization"] for lay in layers], color="#d62728",
             marker="o", label="utilisation")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("MAC utilisation (%)")
    ax.set_title(f"per-layer cycles on the {rows}x{lanes} array", fontsize=10)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12),
              ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def sweep_pareto(rows: list[dict], x: str, y: str, title: str):
    """`asq-hw sweep`'s plot: every configuration as a point (x vs y, colour = PE kind), the
    Pareto front of each precision (target, wbits, abits) as a step line through its points
    (smaller x, larger y); synthesised LUTs as open circles."""
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["kind_label"], []).append(r)
    for lab, rs in groups.items():
        ax.scatter([r[x] for r in rs], [r[y] for r in rs], s=16, alpha=0.7, label=lab,
                   color=COLORS.get(lab), marker=MARKERS.get(lab, "o"), zorder=3)
    fronts: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["pareto"]:
            fronts.setdefault((r["target"], r["wbits"], r["abits"]), []).append(r)
    styles = ("-", "--", ":", "-.")
    many = len(fronts) > len(styles)
    for i, (key, front) in enumerate(sorted(fronts.items())):
        front.sort(key=lambda r: r[x])
        # Few fronts: each its own style and legend entry; many: thin grey lines, one entry.
        label = (f"front {key[0]} W{key[1]}A{key[2]}" if not many else
                 f"Pareto fronts ({len(fronts)}: per target and precision)" if i == 0 else None)
        ax.step([r[x] for r in front], [r[y] for r in front], where="post",
                color="#777777" if many else "#333333", linewidth=0.6 if many else 1,
                linestyle="-" if many else styles[i], label=label, zorder=2)
    synth = [r for r in rows if r.get("synth_lut") is not None]
    if synth and x == "lut":
        ax.scatter([r["synth_lut"] for r in synth], [r[y] for r in synth], s=40,
                   facecolors="none", edgecolors="black", label="synthesised LUTs", zorder=4)
    ax.set_xlabel({"lut": "estimated LUTs"}.get(x, x.replace("_", " ")))
    ax.set_ylabel({"peak_gmacs": "peak GMAC/s (rows x lanes x fmax)"}.get(y, y.replace("_", " ")))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
