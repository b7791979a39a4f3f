"""The demo report's accelerator section (markdown lines) and its area plot: the whole
network on chip (hw/accel) beside the array-only figures."""

from __future__ import annotations

PARTS = ("array", "memories", "requant_adapter", "control")
PART_NAMES = {"array": "POST array", "memories": "memories (weights, buffers, tables)",
              "requant_adapter": "requantization + ASQ adapter unit",
              "control": "control (sequencer, address generation, streams)"}
PLOT = "plots/accel_area.png"


def _n(v, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.{digits}f}"


def accel_markdown(a: dict, arr_thr: dict, target: str) -> list[str]:
    """The report lines of the summary's `accel` record; `arr_thr` the array-only
    throughput, for comparison."""
    L = []
    add = L.append
    rtl, est, syn, thr = a.get("rtl"), a.get("estimated"), a.get("synthesized"), \
        a.get("throughput") or {}
    add("## The whole accelerator")
    add("")
    add(f"The whole network on chip (docs/accel.md): image codes in, integer logits out; "
        f"weights in on-chip ROMs, activations in ping-pong buffers, im2col by an address "
        f"generator, the {a['rows']}x{a['lanes']} POST array ({a['variant']}), the integer "
        f"requantization and ASQ adapter unit and the sequencer (`{a['verilog']}`).")
    add("")
    if rtl is not None:
        ok = rtl["mismatches"] == 0 and rtl["ok"]
        add(f"- RTL ({rtl['sim']}): {'**bit-exact**' if ok else '**MISMATCHES**'}: "
            f"{rtl['logits_checked']:,} logits of {rtl['images']} test images checked, "
            f"{rtl['mismatches']} mismatches, accuracy {100 * rtl['accuracy']:.2f} %; "
            f"{rtl['clean_images']} images with input back to back measured "
            f"{rtl['measured_cycles_per_image']} cycles (manifest {rtl['cycles_per_image']:,}), "
            f"the rest with random input gaps and output back-pressure; "
            f"{rtl['verified_macs_per_s'] / 1e6:.2f} M verified MAC/s in simulation")
        if rtl.get("first_bad_layer"):
            add(f"- first mismatching layer: {rtl['first_bad_layer']} (image "
                f"{rtl['first_bad_image']})")
    add(f"- cycles per image (first input beat to last logit): {a['cycles_per_image']:,}; "
        f"back to back one image every {a['interval']:,} cycles"
        + (f" (estimator: {est['cycles_per_image']:,})" if est else ""))
    if thr.get("images_per_s"):
        add(f"- throughput at the {thr['fmax_source']} fmax {_n(thr['fmax_mhz'], 1)} MHz: "
            f"**{_n(thr['images_per_s'])} images/s** image in to logits out, everything "
            f"counted; the array alone (host doing the rest): "
            f"{_n(arr_thr.get('images_per_s'))} images/s at "
            f"{_n(arr_thr.get('fmax_mhz'), 1)} MHz ({arr_thr.get('cycles_per_image', 0):,} "
            "cycles)")
    add("")
    if est is not None:
        add(f"Area on {target}, estimated by part (`asq-hw estimate accel`), synthesised "
            "totals beside it:")
        add("")
        add(f"![accelerator area]({PLOT})")
        add("")
        add("| part | LUTs | FFs | BRAMs |")
        add("|---|---:|---:|---:|")
        for p in PARTS:
            b = est["breakdown"].get(p, {})
            add(f"| {PART_NAMES[p]} | {_n(b.get('lut'))} | {_n(b.get('ff'))} | "
                f"{_n(b.get('bram'))} |")
        add(f"| total, estimated | {_n(est['lut'])} | {_n(est['ff'])} | {_n(est['bram'])} |")
        if syn is not None:
            add(f"| total, synthesised | {_n(syn['lut'])} | {_n(syn['ff'])} | "
                f"{_n(syn['bram'])} |")
        add("")
        add(f"fmax: estimated {_n(est['fmax_mhz'], 1)} MHz"
            + (f", place and route {_n(syn['fmax_mhz'], 1)} MHz" if syn and syn["fmax_mhz"]
               else "")
            + (f" ({syn['fmax_note']})" if syn and syn.get("fmax_note") else ""))
        add("")
    if a.get("synth_error"):
        add(f"**Accelerator synthesis failed**: {a['synth_error']}")
        add("")
    return L


def area_plot(a: dict):
    """Stacked bars: LUTs and FFs of each part (estimated)."""
    import matplotlib.pyplot as plt

    b = a["estimated"]["breakdown"]
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    bottoms = [0, 0]
    colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
    for p, c in zip(PARTS, colors, strict=True):
        vals = [max(0, b.get(p, {}).get("lut") or 0), max(0, b.get(p, {}).get("ff") or 0)]
        ax.bar(["LUTs", "FFs"], vals, bottom=bottoms, color=c, label=PART_NAMES[p], width=0.5)
        bottoms = [x + y for x, y in zip(bottoms, vals, strict=True)]
    ax.set_ylabel("count (estimated)")
    ax.set_title(f"accelerator {a['rows']}x{a['lanes']} {a['variant']}: area by part",
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig
