"""What integer ASQ costs per image: the widths, parameters and operations of each compute
layer's requantization unit and of the adapter unit on its output, next to its MACs.

Counted per image, from the steps of golden.asq_int (docs/arithmetic.md, "Integer ASQ"):
a multiply-accumulate, a multiply and an add are one operation each; the reciprocal is one
operation (a 17-cycle serial division). `asq_ops` are the operations that exist only
because beta varies per sample - the per-sample multipliers M = C * b_in, the reciprocal,
the multiplies of requantization (a shift when beta = 1) and the whole adapter - so
`--no-adapter` networks have none, while the static rescale every quantized network needs
(A * C + D, round, saturate) is reported but not counted as ASQ.

A residual add (golden/residual.py) is counted with its main branch: per element one add
(main + shortcut), and for an identity shortcut its alignment x * (b * AM) (one multiply,
one rounding add; b * AM once per image, ASQ-only when the block input's beta varies).
"""

from __future__ import annotations

import dataclasses

from golden import asq_int as Q


@dataclasses.dataclass(frozen=True)
class LayerShape:
    """What the cost of compute layer `name` depends on.

    macs: the layer's multiply-accumulates per image; outputs K, slots (2 for dual),
    positions: output positions per image before the integer ops; acc_bits: the
    accumulator width; scale_bits: the width of C (golden.asq_int.scale_bits); input_beta:
    whether the layer's input beta varies (its input has an adapter). For the layer
    feeding codes (logits=False): next_positions and next_channels, the positions and
    channels after the integer ops (requantization runs on their product; a flatten makes
    one position of C*H*W channels), ubits, and `adapter`, the (in, out) shapes of the
    next layer's input adapter (empty without one).
    """

    name: str
    macs: int
    outputs: int
    slots: int
    positions: int
    acc_bits: int
    scale_bits: int
    input_beta: bool
    logits: bool
    next_positions: int = 0
    next_channels: int = 0
    ubits: int = 0
    adapter: tuple[tuple[int, int], ...] = ()
    shortcut: str = ""             # "identity" | "projection": the layer ends a residual add
    shortcut_beta: bool = False    # an identity shortcut's input beta varies


def layer_cost(s: LayerShape) -> dict:
    """The cost of one layer as a JSON-ready dict: {name, macs, requant {widths, params,
    ops}, adapter {widths, params, ops} or None, asq_ops, asq_pct (of macs)}."""
    k, slots = s.outputs, s.slots
    mw = s.scale_bits + Q.BETA_BITS
    rq_widths = {"acc": s.acc_bits, "C": s.scale_bits, "M": mw,
                 "product": s.acc_bits + mw}
    per_sample_mul = k * slots if s.input_beta else 0
    ops = {"mul": per_sample_mul + s.positions * k * slots, "add": s.positions * k * slots,
           "div": 0}
    asq = per_sample_mul
    if s.shortcut:
        elements = s.positions * k
        ops["add"] += elements                      # main + shortcut
        if s.shortcut == "identity":
            ops["mul"] += elements + int(s.shortcut_beta)
            ops["add"] += elements                  # the alignment's rounding
            asq += int(s.shortcut_beta)
    adapter = None
    if not s.logits:
        rq_widths.update(u=s.ubits, reciprocal=Q.RECIP_BITS,
                         requant_product=s.ubits + Q.RECIP_BITS)
        elements = s.next_positions * s.next_channels
        ops["add"] += elements  # the rounding constant of requantization
        if s.adapter:
            ops["mul"] += elements
            ops["div"] = 1
            asq += elements + 1
            adapter = _adapter_cost(s)
            asq += adapter["ops"]["mac"] + adapter["ops"]["mul"] + adapter["ops"]["add"]
    params = {"C": k * slots, "D": k}
    return {"name": s.name, "macs": s.macs,
            "requant": {"widths": rq_widths, "params": params, "ops": ops},
            "adapter": adapter, "asq_ops": asq,
            "asq_pct": 100.0 * asq / s.macs if s.macs else 0.0}


def _adapter_cost(s: LayerShape) -> dict:
    c = s.adapter[0][0]
    n = s.next_positions
    pm, _ = Q.pool_params(n)
    pool_bits = s.ubits + (n - 1).bit_length()
    acc_bits = [Q.adapter_acc_bits(fan_in, s.ubits, True) if j == 0 else
                Q.adapter_acc_bits(fan_in, Q.ADAPTER_ACT_BITS, False)
                for j, (fan_in, _) in enumerate(s.adapter)]
    widths = {"pool_sum": pool_bits, "weight": 8, "bias": Q.ADAPTER_BIAS_BITS,
              "acc": acc_bits, "hidden": Q.ADAPTER_ACT_BITS, "beta": Q.BETA_BITS}
    params = {"weights": sum(i * o for i, o in s.adapter),
              "biases": sum(o for _, o in s.adapter), "exponents": len(s.adapter)}
    ops = {"mac": sum(i * o for i, o in s.adapter),
           "mul": 0 if pm == 1 else c,
           "add": n * c + sum(o for _, o in s.adapter)}  # pool sums and rounding, biases
    return {"widths": widths, "params": params, "ops": ops}


def network_cost(shapes: list[LayerShape]) -> dict:
    """{layers: [layer_cost], macs, asq_ops, asq_pct}: the per-layer costs and totals."""
    layers = [layer_cost(s) for s in shapes]
    macs = sum(lay["macs"] for lay in layers)
    asq = sum(lay["asq_ops"] for lay in layers)
    return {"layers": layers, "macs": macs, "asq_ops": asq,
            "asq_pct": 100.0 * asq / macs if macs else 0.0}



def cost_table(cost: dict) -> list[str]:
    """network_cost as Markdown table rows (a header, one row per layer and a total):
    layer, MACs, requantization multiplies / adds, adapter MACs / parameters, ASQ-only
    operations and their share of the MACs."""
    rows = ["| layer | MACs | requant mul / add | adapter it feeds: MACs / params | ASQ ops "
            "| ASQ / MACs |",
            "|---|---|---|---|---|---|"]
    for lay in cost["layers"]:
        ops = lay["requant"]["ops"]
        ad = lay["adapter"]
        adapter = "-" if ad is None else \
            f"{ad['ops']['mac']:,} / {ad['params']['weights'] + ad['params']['biases']:,}"
        rows.append(f"| {lay['name']} | {lay['macs']:,} | {ops['mul']:,} / {ops['add']:,} | "
                    f"{adapter} | {lay['asq_ops']:,} | {lay['asq_pct']:.2f} % |")
    rows.append(f"| total | {cost['macs']:,} | | | {cost['asq_ops']:,} | "
                f"{cost['asq_pct']:.2f} % |")
    return rows
