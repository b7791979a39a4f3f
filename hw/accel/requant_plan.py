"""What the requantization + ASQ adapter unit computes per layer, from the artifact
(plain Python): the integer parameters, the ROM contents, the widths and the cycle model.

One `RqLayer` per compute layer i, all numbers golden's (`golden.network.GoldenNetwork` with
the array's frac_bits): the static scale C (K, slots) and D (K,), the rescale shift
S = shift + BETA_FRAC - U_FRAC, u's width ubits(i), the post ops as (relu, pool kernel,
flat), the pooled output (K, H', W') the u-store holds at c*H'*W' + h'*W' + w', the global
pool's (PM, PS), the next layer's adapter (golden.asq_int.AdapterLayer list, empty: beta_out
= BETA_ONE) and its code range. The hardware supports relu, maxpool with kernel == stride
(floor mode) and flatten after a compute layer, and nothing before the first one;
`network_rq` refuses anything else with a ValueError naming the op.

Cycle model of one layer (exact; tests/test_hw_accel_pipeline.py measures it). Edge 0
accepts the start; a start held valid is accepted again at edge `cycles`:

    x_last  = SETUP + D + latency - 1 + (dots - 1) * max(D, P)   edge of the last result
    run     = x_last + P + RUN_TAIL                               its last element written
    logits layer:   cycles = run
    otherwise:      cycles = run + adapt + DIV_CYCLES + store + REQ_TAIL
                    adapt  = sum over adapter Linear layers of (in * out + ADAPT_TAIL)

(`store` = K * H' * W', the requantization pass reads one u word per cycle.) The array
hands a result beat to the unit at most every max(D, P) cycles: the unit's bank takes one
beat of P accumulators and feeds one to the multiplier chain per cycle.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from golden import asq_int as Q
from golden.network import GoldenNetwork
from hw.accel.plan import SETUP, LayerPlan
from hw.accel.table import ubits

# Edges from the last element leaving the bank to the end of the run phase (the element
# pipeline s1..s6 and the phase switch).
RUN_TAIL = 8
# Edges from a logit's element leaving the bank to its transfer on the logit stream.
LOGIT_TAIL = 5
# Edges one adapter Linear layer needs beyond its in * out MACs (the a1..a5 drain).
ADAPT_TAIL = 5
# The serial divider: the start edge, RECIP_BITS quotient bits, the edge that sees it done.
DIV_CYCLES = 2 + Q.RECIP_BITS
# The requantization pass beyond one u word per edge (read, multiply, round, write).
REQ_TAIL = 4
# The global pool pass beyond one channel per edge (sums read, scale and write, switch).
POOL_TAIL = 2
# The reciprocal's dividend 2**RECIP_SHIFT + b // 2 has RECIP_SHIFT + 1 bits; its top
# RECIP_SHIFT + 1 - RECIP_BITS bits are below BETA_MIN, so the divider starts there.
DIVIDEND_BITS = Q.RECIP_SHIFT + 1


def sbits(lo: int, hi: int) -> int:
    """Two's complement width holding lo .. hi."""
    return max((v if v >= 0 else -v - 1).bit_length() for v in (int(lo), int(hi))) + 1


def sbound(mag: int) -> int:
    """Two's complement width holding -mag .. mag."""
    return sbits(-mag, mag)


@dataclasses.dataclass(frozen=True, eq=False)
class RqLayer:
    """The requantization unit's view of compute layer i (module docstring)."""

    name: str
    outputs: int                   # K
    out_hw: tuple[int, int]        # (Ho, Wo) of the array's results
    slots: int
    mult: np.ndarray               # C (K, slots) int64
    bias: np.ndarray               # D (K,) int64
    shift: int                     # S, the rescale's round shift
    acc_bound: int
    logits: bool
    ubits: int = 0                 # u's width (0 for the logits layer)
    relu: bool = False
    pool: int = 1                  # maxpool kernel = stride, 1 without
    flat: bool = False             # the output after post ops is a vector
    adapter: tuple = ()            # the next layer's golden.asq_int.AdapterLayer list
    code_lo: int = 0               # the next layer's code range
    code_hi: int = 0
    # Residual blocks (docs/accel.md, "Residual blocks"): hold = the layer's rescaled u
    # (no relu) stays in the u-store for the next layer's projection add, and the layer
    # ends after its run; add = "identity" | "projection": the layer completes a residual
    # add (its own u saturated to rubits without relu, plus the shortcut term, saturated to
    # ubits, then relu / global pool / flatten as the add's ops); gpool: the global average
    # pool of golden.residual.avgpool (a pass over the channel sums after the run).
    hold: bool = False
    add: str = ""
    rubits: int = 0                # the layer's own u width (0: ubits)
    align_mult: int = 0            # identity shortcut: AM, AS (golden.residual.identity)
    align_shift: int = 0
    gpool: bool = False

    @property
    def own_ubits(self) -> int:
        """The width the layer's own rescaled u saturates to."""
        return self.rubits or self.ubits

    @property
    def gpool_params(self) -> tuple[int, int]:
        """(PM, PS) of the global average pool over the layer's output positions."""
        return Q.pool_params(self.out_hw[0] * self.out_hw[1])

    @property
    def pooled_hw(self) -> tuple[int, int]:
        return self.out_hw[0] // self.pool, self.out_hw[1] // self.pool

    @property
    def pooled(self) -> int:
        """Positions per channel after the post ops (H' * W')."""
        return self.pooled_hw[0] * self.pooled_hw[1]

    @property
    def store(self) -> int:
        """u-store words the layer leaves for the requantization pass (0 for the logits
        layer; K after a global pool)."""
        if self.logits:
            return 0
        return self.outputs if self.gpool else self.outputs * self.pooled

    @property
    def run_store(self) -> int:
        """u-store words the layer's run writes."""
        return 0 if self.logits else self.outputs * self.pooled

    @property
    def pool_params(self) -> tuple[int, int]:
        """(PM, PS) of the adapter's global pool; (1, 0) when u is a vector (its own mean)."""
        return (1, 0) if self.flat else Q.pool_params(self.pooled)

    @property
    def adapter_dims(self) -> list[tuple[int, int]]:
        """(in, out) of each adapter Linear layer."""
        return [(a.weight.shape[1], a.weight.shape[0]) for a in self.adapter]

    @property
    def adapter_inputs(self) -> int:
        """Values the adapter's first layer reads: the u-store (flat) or channel means."""
        return self.store if self.flat else self.outputs

    @staticmethod
    def last_result(plan: LayerPlan, latency: int) -> int:
        """x_last: the edge the array hands the unit its last result beat."""
        d, p = plan.beats_per_dot, plan.rows
        return SETUP + d + latency - 1 + (plan.dots - 1) * max(d, p)

    def last_logit(self, plan: LayerPlan, latency: int) -> int:
        """The logits layer: the edge its last logit (channel K - 1, element (K-1) % P of
        the last bank) leaves on the logit stream, logit_ready high."""
        if not self.logits:
            raise ValueError(f"{self.name} is not the logits layer")
        return (self.last_result(plan, latency) + (self.outputs - 1) % plan.rows + 1
                + LOGIT_TAIL)

    def cycles(self, plan: LayerPlan, latency: int) -> int:
        """Edges from the start edge to the next edge that can accept a start (module
        docstring)."""
        x_last = self.last_result(plan, latency)
        run = x_last + plan.rows + RUN_TAIL
        if self.logits or self.hold:
            return run
        adapt = sum(i * o + ADAPT_TAIL for i, o in self.adapter_dims)
        pool = self.outputs + POOL_TAIL if self.gpool else 0
        return run + pool + adapt + DIV_CYCLES + self.store + REQ_TAIL


def post_op_form(name: str, ops, out_hw, is_linear: bool) -> tuple[bool, int, bool]:
    """(relu, pool kernel, flat) of the ops after compute layer `name`; ValueError for any
    op the accelerator does not run."""
    return post_op_form_pool(name, ops, out_hw, is_linear, False)[:3]


def post_op_form_pool(name: str, ops, out_hw, is_linear: bool,
                      residual: bool) -> tuple[bool, int, bool, bool]:
    """(relu, pool kernel, flat, global pool): post_op_form, with the global average pool
    (on a conv output, before flatten) after a residual add (`residual`)."""
    relu, pool, flat, gpool = False, 1, is_linear, False
    for op in ops:
        if op.op == "avgpool" and residual and not (flat or gpool or pool != 1):
            gpool = True
        elif residual and op.op == "maxpool":
            raise ValueError(f"maxpool after the residual add of {name} is not supported "
                             "by the accelerator")
        elif op.op == "relu" and gpool:
            raise ValueError(f"relu after the global pool after {name} is not supported "
                             "by the accelerator")
        elif op.op == "relu":
            relu = True
        elif op.op == "maxpool":
            if op.kernel != op.stride:
                raise ValueError(f"maxpool after {name} has kernel {op.kernel} and stride "
                                 f"{op.stride}; the accelerator pools with kernel == stride")
            if flat or pool != 1:
                raise ValueError(f"maxpool after {name} follows "
                                 f"{'a vector' if flat else 'another maxpool'}; the "
                                 "accelerator pools once, on a conv output")
            if op.kernel > min(out_hw):
                raise ValueError(f"maxpool kernel {op.kernel} after {name} exceeds its "
                                 f"output {out_hw}")
            pool = op.kernel
        elif op.op == "flatten":
            flat = True
        else:
            raise ValueError(f"op {op.op!r} after {name} is not supported by the "
                             "accelerator (relu, maxpool, flatten are)")
    return relu, pool, flat, gpool


def network_rq(golden) -> list[RqLayer]:
    """The RqLayer of every compute layer of a golden.network.GoldenNetwork."""
    # A flatten before the first layer (an MLP) is free: the input codes arrive in (c, h, w)
    # order, the flattened vector's order, and the first layer reads them as N channels.
    for op in golden.pre_ops:
        if op.op != "flatten":
            raise ValueError(f"op {op.op!r} before the first compute layer is not supported "
                             "by the accelerator (flatten is)")
    out = []
    n = len(golden.layers)
    for i, lay in enumerate(golden.layers):
        st = golden.scales[i]
        mult = np.asarray(st.mult, dtype=np.int64).reshape(st.mult.shape[0], -1)
        out_hw = tuple(lay.out_hw) if lay.op == "conv" else (1, 1)
        common = dict(name=lay.name, outputs=mult.shape[0], out_hw=out_hw,
                      slots=mult.shape[1], mult=mult,
                      bias=np.asarray(st.bias, dtype=np.int64),
                      shift=st.shift + Q.BETA_FRAC - Q.U_FRAC,
                      acc_bound=golden.arith[i].acc_bound(), logits=lay.is_logits)
        if lay.is_logits != (i == n - 1):
            raise ValueError(f"layer {lay.name}: the accelerator needs logits from the last "
                             "layer only")
        if lay.is_logits:
            if golden.post_ops[i]:
                raise ValueError(f"op {golden.post_ops[i][0].op!r} after the logits layer "
                                 f"{lay.name} is not supported by the accelerator")
            if out_hw != (1, 1):
                raise ValueError(f"the logits layer {lay.name} has {out_hw} output "
                                 "positions; the accelerator streams one per channel")
            out.append(RqLayer(**common))
            continue
        extra, ops, dest = {}, golden.post_ops[i], golden.dest[i]
        if lay.output == "residual":
            extra, ops, dest = _residual_role(golden, i)
        relu, pool, flat, gpool = post_op_form_pool(lay.name, ops, out_hw, lay.op == "linear",
                                                    bool(extra.get("add")))
        nxt = golden.arith[dest]
        rq = RqLayer(**common, ubits=Q.u_bits(nxt.abits), relu=relu, pool=pool, flat=flat,
                     adapter=() if extra.get("hold") else tuple(golden.adapters[dest]),
                     code_lo=nxt.act_min, code_hi=nxt.act_max, gpool=gpool,
                     **extra)
        if rq.adapter and rq.adapter_dims[0][0] != rq.adapter_inputs:
            raise ValueError(f"the adapter after {lay.name} takes {rq.adapter_dims[0][0]} "
                             f"inputs, the layer gives {rq.adapter_inputs}")
        out.append(rq)
    return out


def _residual_role(golden, i: int) -> tuple[dict, list, int]:
    """(RqLayer fields, the ops after it, the layer its u is in units of) of a layer with
    output "residual": the layer that completes its add (the main branch of an identity
    add, the later of a projection add's two terms) or the held term of a projection add
    (which must run just before the other)."""
    lay = golden.layers[i]
    for j, a in enumerate(golden.adds):
        terms = (golden.add_main[j], golden.add_short[j]) if a.kind == "projection" \
            else (golden.add_main[j],)
        if i not in terms:
            continue
        dest, own = golden.add_dest[j], golden.ubits(i)
        if j in golden.adds_after[i]:
            extra = dict(add=a.kind, rubits=own)
            if a.kind == "identity":
                extra.update(align_mult=a.align_mult, align_shift=a.align_shift)
            return extra, golden.add_post_ops[j], dest
        if max(terms) != i + 1:
            raise ValueError(f"the residual add of {lay.name} needs its other term, "
                             f"{golden.layers[max(terms)].name}, to run next; the "
                             "accelerator holds one residual u-store")
        return dict(hold=True, rubits=own), [], dest
    raise ValueError(f"layer {lay.name} has a residual output that no add reads")


# ---------------------------------------------------------------------------------------
# Widths and ROM contents of one accelerator (all layers).

@dataclasses.dataclass(frozen=True)
class RqWidths:
    """Every width of the unit, proven from the layers' bounds (signed unless noted)."""

    acc: int        # the array's accumulators
    c: int          # C
    d: int          # D
    x: int          # sum_slots A_s * C_s
    value: int      # x * b_in + D (and the logits)
    u: int          # u (the widest layer's ubits)
    sum: int        # a channel's sum of u over its positions
    pool: int       # sum * PM
    h: int          # adapter inputs: u means (signed) or hidden activations (unsigned)
    aacc: int       # adapter accumulator
    store_depth: int
    sums_depth: int
    hidden_depth: int   # one bank of hidden adapter activations
    code: int       # the buffers' codes (abits)

    @classmethod
    def of(cls, layers: list[RqLayer], acc_bits: int, abits: int) -> RqWidths:
        c_max = max(int(np.abs(r.mult).max(initial=0)) for r in layers)
        d_max = max(int(np.abs(r.bias).max(initial=0)) for r in layers)
        x_max = max(r.acc_bound * int(np.abs(r.mult).max(initial=0)) for r in layers)
        v_max = max(r.acc_bound * int(np.abs(r.mult).max(initial=0)) * Q.BETA_MAX
                    + int(np.abs(r.bias).max(initial=0)) for r in layers)
        inner = [r for r in layers if not r.logits]
        u = max([max(r.ubits, r.own_ubits) for r in inner] or [2])
        sums = [r for r in inner if (r.adapter and not r.flat) or r.gpool]
        sum_bits = max([sbound(r.pooled << (r.ubits - 1)) for r in sums] or [u])
        pool_bits = max([sbound((r.pooled << (r.ubits - 1))
                                * max(r.pool_params[0], r.gpool_params[0]))
                         for r in sums] or [u])
        h = max(u, Q.ADAPTER_ACT_BITS + 1)
        aacc = max([Q.adapter_acc_bits(i, r.ubits if k == 0 else Q.ADAPTER_ACT_BITS, k == 0)
                    for r in inner for k, (i, _) in enumerate(r.adapter_dims)] or [2])
        hidden = max([o for r in inner for _, o in r.adapter_dims[:-1]] or [0])
        return cls(acc=acc_bits, c=sbound(c_max), d=sbound(d_max), x=sbound(x_max),
                   value=sbound(v_max), u=u, sum=sum_bits, pool=pool_bits, h=h, aacc=aacc,
                   store_depth=max([r.run_store for r in inner] or [1]),
                   sums_depth=max([r.outputs for r in sums] or [1]),
                   hidden_depth=hidden, code=abits)


def scale_rom(layers: list[RqLayer], w: RqWidths, rows: int) -> tuple[list[int], list[int]]:
    """(words, base per layer): one word per output channel k (padded to whole tiles of
    `rows`, the padding words 0) = C_0 | C_1 .. | D, each field two's complement, C slot s
    at bits [s*c, (s+1)*c), D above the slots."""
    slots = max(r.slots for r in layers)
    words, bases = [], []
    for r in layers:
        bases.append(len(words))
        tiles = -(-r.outputs // rows)
        for k in range(tiles * rows):
            word = 0
            if k < r.outputs:
                for s in range(r.slots):
                    word |= (int(r.mult[k, s]) & ((1 << w.c) - 1)) << (s * w.c)
                word |= (int(r.bias[k]) & ((1 << w.d) - 1)) << (slots * w.c)
            words.append(word)
    return words, bases


def adapter_roms(layers: list[RqLayer]) -> tuple[list[int], list[int], list[int], list[int]]:
    """(weight words, weight base per layer, bias words, bias base per layer): every
    adapter's int8 weights in (Linear layer, output, input) order as 8-bit patterns, its
    int32 biases in (Linear layer, output) order as 32-bit patterns."""
    wts, wb, bias, bb = [], [], [], []
    for r in layers:
        wb.append(len(wts))
        bb.append(len(bias))
        for a in r.adapter:
            wts += [int(v) & 0xFF for v in np.asarray(a.weight).reshape(-1)]
            bias += [int(v) & 0xFFFFFFFF for v in np.asarray(a.bias).reshape(-1)]
    return wts or [0], wb, bias or [0], bb


def rq_memories(layers: list[RqLayer], w: RqWidths, rows: int) -> list[tuple[str, int, int]]:
    """(name, depth, width) of the unit's memories."""
    slots = max(r.slots for r in layers)
    wts, _, bias, _ = adapter_roms(layers)
    mems = [("rq_scale", len(scale_rom(layers, w, rows)[0]), slots * w.c + w.d),
            ("rq_ustore", w.store_depth, w.u),
            ("rq_sums", w.sums_depth, w.sum),
            ("rq_adapter_weights", len(wts), 8),
            ("rq_adapter_bias", len(bias), Q.ADAPTER_BIAS_BITS)]
    if w.hidden_depth:
        mems.append(("rq_hidden", 2 * w.hidden_depth, Q.ADAPTER_ACT_BITS))
    return mems


def requant_layers(artifact, cfg) -> list[RqLayer]:
    """network_rq for `artifact` on the array configuration `cfg`
    (asq_hw.mapper.array_config: its variant and frac_bits)."""
    return network_rq(GoldenNetwork(artifact, cfg.variant, cfg.frac_bits))


__all__ = ["ADAPT_TAIL", "DIV_CYCLES", "POOL_TAIL", "REQ_TAIL", "RUN_TAIL", "RqLayer",
           "RqWidths", "adapter_roms", "network_rq", "post_op_form", "post_op_form_pool",
           "requant_layers", "rq_memories", "scale_rom", "sbits", "sbound", "ubits"]
