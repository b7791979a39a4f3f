"""What the generated RTL contains, derived from the configuration alone (no elaboration).

`structure(cfg, kind, rows)` mirrors `hw/array.PostArray` for kind 'post' (a PE is the same
circuit with one row: `hw/pe.PostPE` = ActStage + one PostCore) and `hw/baselines.IntPE` /
`PotPE` for 'int' / 'pot'. It walks the RTL's blocks bit by bit as a small symbolic netlist:
every signal bit is a hashable *token* naming the function it computes (an input bit, a
register of some D token, a decoder output or LUT ROM column as a truth table, a term bit
as the tuple of value bits it selects, an adder output bit), with structural hashing. That
makes the flip-flop count exact rather than an upper bound, because synthesis (Yosys
`opt_merge`, `opt_dff`, `opt_clean`) does the same:

- a register whose D is a constant (a decoder field that cannot vary, a dead `dual` slot,
  a constant LUT column) is no flip-flop, nor is one whose output nothing uses (the LUT of
  a wbits-2 `lut` PE, whose odd field is always 0);
- registers with the same D token and the same control merge into one (term bits that
  equal the negation carry; sign-extension copies in the adder tree's registers).

Every lane of a row has the same shape (only its inputs differ), and every row of the array
too (rows share the activation stage and the valid/last chain, which synthesis merges
across rows), so one lane is analysed and replicated: the cost of an estimate does not
grow with rows and little with lanes.

The walk also records what the LUT model needs (asq_hw/estimate/model.py): the adders'
widths (carry cells follow exactly), every distinct term-former bit with its data and
select inputs, the decoder outputs and the ROM columns as truth tables.
"""

from __future__ import annotations

import dataclasses
import functools

from asq_hw.config import PEConfig
from asq_hw.designs import DESIGN_KINDS
from golden.baselines import baseline_acc_bits
from hw.baselines import baseline_term_width, pot_shift_shape
from hw.datapath import TREE_LEVELS_PER_STAGE, term_width, tree_stages
from hw.decode import decode_row, shift_shape
from hw.lut import lut_contents, lut_shape
from hw.pe import pe_latency, post_value_shape

ZERO, ONE = 0, 1

# Register controls: 'e' clock enable only (reset-less data), 'er' enable + sync reset,
# 'rom' the LUT ROM's read register (synthesis keeps it apart from the activation register
# even where a ROM column equals an activation bit).
EN, EN_RST, ROM = "e", "er", "rom"


@dataclasses.dataclass(frozen=True)
class Structure:
    """The blocks of one design (see the module docstring). Counts are of the whole design.

    ff: flip-flops after constant removal and merging; ff_raw: every register bit of the
    RTL; ff_groups: ff by block (act, lut, decode, term, control, tree, acc); adders:
    the Adders of one row (tree adders and accumulators; every row has the same);
    terms: (data inputs, select inputs) of every distinct term-former bit of one lane
    (rows x lanes such lanes); decoders: truth tables (over the code's magnitude bits) of
    one lane's distinct non-trivial decoder outputs;
    rom: (depth, width, live column truth tables) of one lane's LUT ROM, or None; roms:
    how many such ROMs (one per lane, whatever `rows`); rom_regs: their read-register bits
    (all ROMs), which a block RAM absorbs; muls: (act bits, weight bits, product bits) of
    each multiplier (INT baseline); last_chain: length of the reset-less `last` register
    chain (one shift register on xc7); tree_stages, term_width, value_width, acc_bits: the
    datapath's shape.
    """

    kind: str
    cfg: PEConfig
    rows: int
    acc_bits: int
    term_width: int
    value_width: int
    tree_stages: int
    ff: int
    ff_raw: int
    ff_groups: dict
    adders: tuple
    dsp_adders: tuple     # an INT PE's adders when DSPs sum its product pairs (else empty)
    terms: tuple          # one lane's (every core has rows x lanes of them)
    shifter: tuple        # the whole design's
    decoders: tuple       # one lane's
    rom: tuple | None
    roms: int
    rom_regs: int
    muls: tuple
    last_chain: int
    slots: int
    masked_carry_bits: int
    first_tree_reg: int


def sext(bits: list, width: int) -> list:
    """Sign-extend (repeat the top token) or truncate a token list to `width`."""
    if len(bits) >= width:
        return list(bits[:width])
    return list(bits) + [bits[-1]] * (width - len(bits))


def zext(bits: list, width: int) -> list:
    return list(bits[:width]) + [ZERO] * max(0, width - len(bits))


def _canon(truth: tuple[int, ...], inputs: list, tag: str):
    """Token of the function with `truth` (index a: bit i of a is inputs[i]): a constant,
    a copy of one input, or ('fn', tag, inputs, truth)."""
    if not any(truth):
        return ZERO
    if all(truth):
        return ONE
    for i, t in enumerate(inputs):
        if all(((a >> i) & 1) == v for a, v in enumerate(truth)):
            return t
    return ("fn", tag, tuple(inputs), truth)


@functools.cache
def decoder_tables(wbits: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(field, truth table over the wbits-1 magnitude bits) of the decoder's registered
    outputs odd, nonzero and shift bit k (hw/decode.py; neg is the code's sign bit)."""
    rows = [decode_row(m, wbits) for m in range(1 << (wbits - 1))]
    out = [("odd", tuple(r[1] for r in rows)), ("nonzero", tuple(r[2] for r in rows))]
    out += [(f"shift{k}", tuple((r[0] >> k) & 1 for r in rows))
            for k in range(shift_shape(wbits).width)]
    return tuple(out)


@functools.cache
def rom_columns(abits: int, act_signed: bool, frac_bits: int) -> tuple[tuple[int, ...], ...]:
    """The activation ROM (hw/lut.lut_contents) by columns: column j is the truth table
    of word bit j over the abits-bit addresses."""
    cfg = PEConfig(wbits=2, abits=abits, act_signed=act_signed, frac_bits=frac_bits)
    width = lut_shape(cfg).width
    words = [w & ((1 << width) - 1) for w in lut_contents(cfg)]
    return tuple(tuple((w >> j) & 1 for w in words) for j in range(width))


class _Regs:
    """Register bits with merging by (D, control) and constant removal, grouped by block."""

    def __init__(self):
        self.keys: dict = {}          # (d, ctl) -> group
        self.raw: dict = {}           # group -> register bits before merging

    def reg(self, d, ctl: str, group: str):
        self.raw[group] = self.raw.get(group, 0) + 1
        if d in (ZERO, ONE):
            return d
        self.keys.setdefault((d, ctl), group)
        return ("q", d, ctl)

    def groups(self, keep=None) -> dict:
        out: dict = {}
        for key, g in self.keys.items():
            if keep is None or key in keep:
                out[g] = out.get(g, 0) + 1
        return out


def _tokens_in(tok, found: set) -> None:
    """Every register token ('q', ...) inside `tok` (a nested tuple), into `found`."""
    if isinstance(tok, tuple):
        if tok and tok[0] == "q":
            found.add((tok[1], tok[2]))
            return
        for t in tok:
            _tokens_in(t, found)


@dataclasses.dataclass
class _Lane:
    """One lane of one row: its registers (merged within the lane), the tokens of its
    terms and carries per slot, its term-former bits and decoder outputs."""

    regs: _Regs
    terms: list              # per slot: tw tokens
    carries: list            # per slot: token
    term_bits: list          # (data, sel) per distinct term bit
    shifter: tuple           # (full 2:1 muxes, half muxes (one input 0), term bits)
    decoders: list           # truth tables of distinct non-trivial decoder outputs
    rom: tuple | None        # live ROM columns (truth tables)
    rom_regs: int


def _term_inputs(srcs: tuple, combos: list, mask: tuple, shift_toks: list
                 ) -> tuple[int, int]:
    """(data inputs, select inputs) of one term bit: the distinct variable value bits it
    selects among; nz and neg, plus odd and the shift bits where the choice depends on
    them."""
    by = dict(zip(combos, srcs, strict=True))
    odds = sorted({o for o, _ in combos})
    shs = sorted({s for _, s in combos})
    data = {s for s in srcs if s not in (ZERO, ONE)}
    on_shift = any(len({by[(o, s)] for s in shs}) > 1 for o in odds)
    on_odd = len(odds) > 1 and (len(mask) < len(odds)
                                or any(by[(0, s)] != by[(1, s)] for s in shs))
    sel = 2 + on_odd + (sum(t not in (ZERO, ONE) for t in shift_toks) if on_shift else 0)
    return len(data), sel


def _shift_sign(value_of: dict, combos: list, mask: tuple, vw: int, tw: int, signed: bool,
                nz, neg, odd_tok, shift_toks: list, term_bits: list, seen: set):
    """hw/datapath.ShiftSign for one slot: (tw term tokens, carry token).

    A term bit is nz & (neg ^ shifted) where shifted selects value bit b - shift, for the
    (odd, shift) combinations in `combos`, and 0 for odd values not in `mask` (the dual
    variant routes odd exponents to one slot, even ones to the other). Its token is the
    tuple of value tokens it selects: bits with equal tuples are the same function, and one
    that selects 0 everywhere is the carry (nz & neg, masked) itself.
    """
    if not mask:
        return [ZERO] * tw, ZERO
    carry = ("carry", nz, neg, odd_tok, mask)
    bits = []
    for b in range(tw):
        srcs = []
        for odd, sh in combos:
            j = b - sh
            v = value_of[odd]
            srcs.append(ZERO if odd not in mask or j < 0 else
                        v[j] if j < vw else (v[vw - 1] if signed else ZERO))
        srcs = tuple(srcs)
        if not any(srcs):
            bits.append(carry)
            continue
        tok = ("term", nz, neg, odd_tok, tuple(shift_toks), mask, srcs)
        if tok not in seen:
            seen.add(tok)
            term_bits.append(_term_inputs(srcs, combos, mask, shift_toks))
        bits.append(tok)
    return bits, carry


def _log_shifter(value_of: dict, odd, shift_toks: list, masks: list, vw: int, tw: int,
                 signed: bool) -> tuple[int, int, int]:
    """The term former as Yosys builds it before LUT mapping: the value select (odd), a
    logarithmic shifter (one 2:1 mux stage per shift bit, least significant first), then
    per slot the sign XOR and zero/slot gate. Returns (2:1 muxes with two variable
    inputs, muxes with one constant input, term bits that are not constant), with
    structural hashing, so the shared stages of a barrel shifter count once."""
    nodes: dict = {}

    def mux(sel, a, b):                       # sel ? b : a
        if a == b or sel == ZERO:
            return a
        if sel == ONE:
            return b
        key = ("mux", sel, a, b)
        nodes.setdefault(key, (a not in (ZERO, ONE)) + (b not in (ZERO, ONE)))
        return key

    odds = sorted(value_of)
    v = value_of[odds[0]] if len(odds) == 1 else [
        mux(odd, a, b) for a, b in zip(value_of[0], value_of[1], strict=True)]
    v = list(v)
    width = vw + max(0, (1 << len(shift_toks)) - 1) if shift_toks else vw
    fill = v[-1] if signed else ZERO
    v = v + [fill] * (width - vw)
    for i, sel in enumerate(t for t in shift_toks if t not in (ZERO, ONE)):
        d = 1 << i
        v = [mux(sel, v[b], v[b - d] if b >= d else ZERO) for b in range(width)]
    v = (v + [v[-1] if signed else ZERO] * tw)[:tw]
    full = sum(1 for n in nodes.values() if n == 2)
    half = len(nodes) - full
    bits = sum(1 for mask in masks if mask for t in v if t != ZERO)
    return full, half, bits


def _post_lane(cfg: PEConfig, vw: int, tw: int) -> _Lane:
    """Lane 0 of row 0 of a PostArray: ActStage lane, decoder, value select, ShiftSign."""
    regs = _Regs()
    a, w = cfg.abits, cfg.wbits
    ins = [("in", "act", k) for k in range(a)]
    x = [regs.reg(t, EN, "act") for t in ins]
    lut, live = None, None
    if cfg.variant == "lut":
        cols = rom_columns(a, cfg.act_signed, cfg.frac_bits)
        toks = [_canon(c, ins, "rom") for c in cols]
        lut = [regs.reg(t, ROM, "lut") for t in toks]
        live = tuple(dict.fromkeys(c for c, t in zip(cols, toks, strict=True)
                                   if isinstance(t, tuple) and t[0] == "fn"))
    code = [("in", "code", k) for k in range(w)]
    mag = code[:w - 1]
    fields, decoders = {}, []
    for name, truth in decoder_tables(w):
        tok = _canon(truth, mag, "dec")
        if isinstance(tok, tuple) and tok[0] == "fn" and truth not in decoders:
            decoders.append(truth)
        fields[name] = regs.reg(tok, EN, "decode")
    neg = regs.reg(code[w - 1], EN, "decode")
    odd, nz = fields["odd"], fields["nonzero"]
    shift = [t for n, t in fields.items() if n.startswith("shift")]
    # Every value the registers can hold is possible as far as synthesis knows.
    odds = (0,) if odd == ZERO else (0, 1)
    nsh = sum(t not in (ZERO, ONE) for t in shift)
    combos = [(o, s) for o in odds for s in range(1 << nsh)]

    def value(o: int) -> list:
        if cfg.variant == "lut" and o:
            src = lut
        elif cfg.variant == "lut":
            src = [ZERO] * cfg.frac_bits + x
        else:
            src = x
        return sext(src, vw) if cfg.act_signed else zext(src, vw)

    value_of = {o: value(o) for o in odds}
    masks = [odds] if cfg.variant == "lut" else [tuple(o for o in odds if o == s)
                                                  for s in (0, 1)]
    term_bits: list = []
    seen: set = set()
    terms, carries = [], []
    for mask in masks:
        bits, carry = _shift_sign(value_of, combos, mask, vw, tw, cfg.act_signed, nz, neg,
                                  odd, shift, term_bits, seen)
        terms.append(bits)
        carries.append(carry)
    shifter = _log_shifter(value_of, odd, shift, masks, vw, tw, cfg.act_signed)
    return _Lane(regs, terms, carries, term_bits, shifter, decoders, live, 0)


def _baseline_lane(cfg: PEConfig, kind: str, tw: int) -> _Lane:
    """Lane 0 of a baseline PE: ActStage lane (no LUT), code register, multiplier (int) or
    shift = M - m and ShiftSign (pot)."""
    regs = _Regs()
    a, w = cfg.abits, cfg.wbits
    x = [regs.reg(("in", "act", k), EN, "act") for k in range(a)]
    code = [regs.reg(("in", "code", k), EN, "decode") for k in range(w)]
    if kind == "int":
        ins = (tuple(x), tuple(code))
        return _Lane(regs, [[("mul", ins, b) for b in range(tw)]], [ZERO], [], (0, 0, 0),
                     [], None, 0)
    big_m, mag = cfg.M, code[:w - 1]
    value_of = {0: sext(x, a) if cfg.act_signed else zext(x, a)}
    # shift = M - m (hw/baselines.pot_shift_shape); m = 0 gives a shift the decoder's zero
    # gate hides, which synthesis cannot know, so every value of the shift counts.
    nbits = pot_shift_shape(cfg).width
    combos = [(0, s) for s in (range(1 << nbits) if big_m > 1 else range(1))]
    sel = [("potshift", tuple(mag), k) for k in range(nbits)]
    term_bits: list = []
    bits, carry = _shift_sign(value_of, combos, (0,), a, tw, cfg.act_signed,
                              ("nonzero", tuple(mag)), code[w - 1], ZERO, sel, term_bits,
                              set())
    shifter = _log_shifter(value_of, ZERO, sel, [(0,)], a, tw, cfg.act_signed)
    return _Lane(regs, [bits], [carry], term_bits, shifter, [], None, 0)


def _live_lane_regs(lane: _Lane) -> set:
    """The lane's register keys that its terms and carries use, and those they use."""
    found: set = set()
    for tok in [*lane.carries, *(t for slot in lane.terms for t in slot)]:
        _tokens_in(tok, found)
    return found


def macc_may_overflow(port_sizes: list[int], width: int) -> bool:
    """Yosys `alumacc`'s test (passes/techmap/alumacc.cc, macc_may_overflow) of whether an
    addition of signed ports of `port_sizes` bits may need more than `width` bits, with its
    rounding (sizes above 20 bits are summed approximately), so that the estimate merges
    adders exactly where Yosys does."""
    acc_sum = acc_shift = 0
    for sz in sorted(port_sizes):
        while sz - acc_shift > 20:
            if acc_sum & 1:
                acc_sum += 1
            acc_sum >>= 1
            acc_shift += 1
        acc_sum += (1 << (sz - acc_shift)) - 1
    while acc_sum:
        acc_sum >>= 1
        acc_shift += 1
    return acc_shift > width


@dataclasses.dataclass(frozen=True)
class Adder:
    """One carry chain after Yosys' `alumacc`: `width` bits of output, `effective` of them
    needing a carry when the inputs are sign-extensions (ice40 and xc7 save the rest), and
    the addends (`ports`: their widths; a 1-bit carry-in counts as a 2-bit port) that it
    sums: more than three means a carry-save tree in LUTs in front of the chain."""

    width: int
    effective: int
    ports: tuple[int, ...]
    stage: int            # the tree's register stage it sits in; -1: the accumulator
    trivial: int = 0      # low bits whose sum is one addend unchanged (no LUT)


def _effective(tokens: list) -> int:
    """Bits of a signed value without its repeated sign bits (identical top tokens)."""
    n = len(tokens)
    while n > 1 and tokens[n - 1] == tokens[n - 2]:
        n -= 1
    return n


def _tree_and_acc(cfg: PEConfig, lane: _Lane, tw: int, acc_bits: int,
                  dsp_pairs: bool = False):
    """MacBackend's term registers, AdderTree and Accumulator of one row, from lane 0's
    tokens replicated over the lanes: (registers, Adders). `dsp_pairs`: the tree's first
    level summed outside the fabric (a DSP's post-adder), so it is no Adder and no
    alumacc merges it.

    Each RTL adder `a + b + c` is one Yosys $macc of ports (a, b, {0, c}), or (a, b) when c
    is the constant 0 (an INT PE's products carry none); alumacc merges a
    $macc into the one that consumes it (no register between them) when their widths are
    equal or the inner one cannot overflow its width (macc_may_overflow)."""
    regs = _Regs()
    maccs: list[dict] = []
    stage = [0]                   # register stage of the adders being built (0: first)
    first_reg = [0]               # width of the tree's first register (xc7 DSP packing)

    def item(tokens, macc=None, eff=None):
        return {"tok": tokens, "macc": macc, "eff": _effective(tokens) if eff is None else eff}

    def add(a: dict, b: dict, width: int, carry) -> dict:
        ports = []
        for it in (a, b):
            m = it["macc"]
            if m is not None and (maccs[m]["y"] == width or
                                  not macc_may_overflow(maccs[m]["ports"], maccs[m]["y"])):
                ports += maccs[m]["ports"]
                maccs[m]["alive"] = False
            else:
                ports.append(len(it["tok"]))
        if carry != ZERO:     # `+ 0` is gone before alumacc (an INT PE's terms carry none)
            ports.append(2)
        eff = min(width, max(a["eff"], b["eff"]) + 1)
        # Low bits where one addend repeats the carry-in c: c * (2**k - 1) + c = c * 2**k,
        # so the sum's low k bits are the other addend's, no logic (a wbits-2 lut term).
        trivial = 0
        if carry not in (ZERO, ONE):
            for it in (a, b):
                k = 0
                while k < len(it["tok"]) and it["tok"][k] == carry:
                    k += 1
                trivial = max(trivial, k)
        maccs.append({"y": width, "ports": ports, "eff": eff, "alive": True, "stage": stage[0],
                      "trivial": trivial})
        tok = [("add", len(maccs), k) for k in range(width)]
        return item(tok, len(maccs) - 1, eff)

    for s, (slot, carry) in enumerate(zip(lane.terms, lane.carries, strict=True)):
        if carry == ZERO and not any(slot):
            continue                                  # a dead slot (wbits 2 dual, odd)
        # Term and carry registers; lane i's tokens are lane 0's tagged with i.
        level = [item([regs.reg(("L", i, t) if t not in (ZERO, ONE) else t, EN, "term")
                       for t in sext(slot, tw)]) for i in range(cfg.lanes)]
        cs = [regs.reg(("L", i, carry) if carry != ZERO else ZERO, EN, "term")
              for i in range(cfg.lanes)]
        width, depth = tw, 0
        while True:
            done = len(level) == 1
            if done or (depth and depth % TREE_LEVELS_PER_STAGE == 0):
                level = [item([regs.reg(t, EN, "tree") for t in sext(v["tok"], width)])
                         for v in level]
                cs = [regs.reg(c, EN, "tree") for c in cs]
                first_reg[0] = first_reg[0] or width
                stage[0] += 1
            if done:
                break
            width = min(width + 1, acc_bits)
            nxt = []
            for j in range(0, len(level) - 1, 2):
                if dsp_pairs and depth == 0:
                    cs.pop()
                    nxt.append(item([("dsp", j, k) for k in range(width)]))
                else:
                    nxt.append(add(level[j], level[j + 1], width, cs.pop()))
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
            depth += 1
        acc = item([("acc", s, k) for k in range(acc_bits)])
        stage[0] = -1                                 # the accumulator's own stage
        add(acc, item(sext(level[0]["tok"], acc_bits)), acc_bits, cs[0])
        stage[0] = 0
        for k in range(acc_bits):                     # accumulator (reset) and result
            regs.reg(("acc", s, k), EN_RST, "acc")
            regs.reg(("result", s, k), EN, "acc")
    adders = [Adder(m["y"], m["eff"], tuple(m["ports"]), m["stage"], m["trivial"])
              for m in maccs if m["alive"]]
    return regs, adders, first_reg[0]


@functools.lru_cache(maxsize=8192)
def structure(cfg: PEConfig, kind: str = "post", rows: int = 1) -> Structure:
    """The Structure of a `rows` x `cfg.lanes` PostArray (kind 'post'; rows 1 is the
    PostPE) or of a baseline PE (kind 'int' or 'pot', rows 1)."""
    if not isinstance(cfg, PEConfig):
        raise ValueError(f"cfg must be a PEConfig, not {type(cfg).__name__}")
    if kind not in DESIGN_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DESIGN_KINDS)}, not {kind!r}")
    if kind != "post" and rows != 1:
        raise ValueError(f"rows must be 1 for a {kind} baseline PE, not {rows}")
    q = cfg.lanes
    if kind == "post":
        acc = cfg.acc_bits
        value = post_value_shape(cfg)
        vw = value.width
        tw = term_width(value, cfg.J, acc)
        lane = _post_lane(cfg, vw, tw)
    else:
        acc = baseline_acc_bits(kind, cfg)
        vw = cfg.abits
        tw = baseline_term_width(kind, cfg, acc)
        lane = _baseline_lane(cfg, kind, tw)
    live = _live_lane_regs(lane)
    lane_groups = lane.regs.groups(live)
    shared_lane = {g: n for g, n in lane_groups.items() if g in ("act", "lut")}
    row_lane = {g: n for g, n in lane_groups.items() if g not in ("act", "lut")}
    back, adders, first_reg = _tree_and_acc(cfg, lane, tw, acc)
    dsp_adders = _tree_and_acc(cfg, lane, tw, acc, dsp_pairs=True)[1] if kind == "int" else ()
    back_groups = back.groups()
    ts = tree_stages(q)
    # valid and last through every stage before the accumulator (ActStage, the term stage,
    # the tree: pe_latency - 1 of them), then out_valid. Rows share them (every row's copy
    # has the same D), so they count once.
    before_acc = pe_latency(cfg) - 1
    control = 2 * before_acc + 1
    groups = {g: q * n for g, n in shared_lane.items()}
    groups["control"] = control
    for g, n in row_lane.items():
        groups[g] = groups.get(g, 0) + rows * q * n
    for g, n in back_groups.items():
        groups[g] = groups.get(g, 0) + rows * n
    raw = lane.regs.raw
    ff_raw = (2 + q * (raw.get("act", 0) + raw.get("lut", 0))
              + rows * (q * raw.get("decode", 0) + sum(back.raw.values()) + control - 2))
    rom_regs = q * shared_lane.get("lut", 0)
    # dual: term bits equal to their slot's masked carry (~odd & nz & neg, or odd & ...);
    # merged into the carry register everywhere except on xc7 (see model.py).
    masked = 0
    if kind == "post" and cfg.variant == "dual":
        masked = sum(sum(1 for t in slot if t == c and c != ZERO)
                     for slot, c in zip(lane.terms, lane.carries, strict=True)
                     if c != ZERO and c[3] not in (ZERO, ONE))
    return Structure(
        kind=kind, cfg=cfg, rows=rows, acc_bits=acc, term_width=tw, value_width=vw,
        tree_stages=ts, ff=sum(groups.values()), ff_raw=ff_raw, ff_groups=groups,
        adders=tuple(adders), dsp_adders=tuple(dsp_adders),
        terms=tuple(lane.term_bits),
        shifter=tuple(rows * q * n for n in lane.shifter),
        decoders=tuple(lane.decoders),
        rom=(1 << cfg.abits, len(rom_columns(cfg.abits, cfg.act_signed, cfg.frac_bits)),
             lane.rom) if lane.rom is not None and "lut" in shared_lane else None,
        roms=q if "lut" in shared_lane else 0, rom_regs=rom_regs,
        muls=((cfg.abits, cfg.wbits, tw),) * (q if kind == "int" else 0),
        last_chain=before_acc, first_tree_reg=first_reg,
        masked_carry_bits=rows * q * masked * (2 if q == 1 else 1),
        slots=sum(1 for t, c in zip(lane.terms, lane.carries, strict=True) if c != ZERO or any(t)))
