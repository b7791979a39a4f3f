"""The per-target resource, fmax and transistor model over a Structure (structure.py).

What is exact and what is fitted:

- ff: exact from the structure (every register bit, constants removed, identical ones
  merged), then what each target's flow does to them: a LUT ROM placed in block RAM takes
  its read register along; xc7 turns the reset-less `last` chain into one SRL16E shift
  register and keeps the dual variant's sign-gated term bits apart from the carry they
  equal; xc7's DSP48E1 absorbs an INT multiplier's input and product registers.
- carry: exact from the adders after Yosys' `alumacc` merging (structure.py): iCE40 uses
  one SB_CARRY per bit but the top one, ECP5 one CCU2C per two bits, xc7 one CARRY4 per
  four; iCE40 and xc7 drop the carries of repeated sign bits; xc7 puts an INT PE's first
  tree level in its DSP48E1s' post-adders (fabric_adders). INT multipliers built in logic
  add a fitted number per product bit (in DSP blocks, none).
- bram: the ROM goes to block RAM when Yosys' `memory_libmap` finds that cheaper than
  logic (its cost figures per target, below); one ROM per lane.
- dsp: INT multipliers on ecp5 (MULT18X18D, always) and xc7 (DSP48E1, products of at least
  9 bits, Yosys' DSP_Y_MINWIDTH); POST and POT need none.
- lut: a linear combination, with calibrated per-target coefficients, of per-block
  structural counts (LUT_FEATURES): adder bits, the accumulator's clear, carry-save bits of
  merged adders, the term former as a logarithmic shifter (2:1 muxes, half muxes, term
  bits), decoder and ROM truth tables costed as k-input LUT networks, multiplier bits and
  the carry-save bits of an INT PE's merged product adders.
- fmax: the slowest register-to-register stage, each stage's delay a calibrated linear
  function of its LUT levels and carry-chain length (plus block RAM clock-to-out, a
  separate cost per LUT level fed by a block RAM, whose outputs route farther, and a size
  term for routing); no fitted value exists for xc7 (no open place and route), so
  its figure scales ecp5's delays by typical 7-series/ECP5 speed ratios: unverified.
- transistors: linear in the same structural counts, calibrated against Yosys'
  `stat -tech cmos` (target independent).
"""

from __future__ import annotations

import math

from asq_hw.designs import TARGETS
from asq_hw.estimate.logic import mux_luts, table_luts
from asq_hw.estimate.structure import Structure

LUT_K = {"ice40": 4, "ecp5": 4, "xc7": 6}
# Slice multiplexer levels above a LUT that cost no LUT (Xilinx MUXF7 + MUXF8; none on ECP5,
# whose flow maps to LUT4s only, asq_hw/synth/yosys.py).
FREE_MUX_LEVELS = {"ice40": 0, "ecp5": 0, "xc7": 2}

# Yosys memory_libmap's choice for a ROM: logic costs `logic_bit` per bit (its
# -logic-cost-rom: the default 1/16, synth_xilinx 1/64), a block `block_cost` each
# (techlibs: ice40/brams.txt 64, lattice/brams_16kd.txt 128, xilinx/brams_xc4v.txt 129);
# a block RAM is taken only when strictly cheaper. `width` is the widest read port at the
# ROM's depth (up to 256 words here), `bits` a block's capacity.
BRAM_RULES = {
    "ice40": {"logic_bit": 1 / 16, "block_cost": 64, "width": 16, "bits": 4096},
    "ecp5": {"logic_bit": 1 / 16, "block_cost": 128, "width": 36, "bits": 18432},
    "xc7": {"logic_bit": 1 / 64, "block_cost": 129, "width": 36, "bits": 18432},
}

# Term-former counts come in two sets, one for the single-accumulator datapaths (POST lut,
# POT) and one for dual, whose terms are gated per slot: ABC shares the shifted value
# between dual's two slots and gates it per slot, a different mapping per term bit.
TERM_FEATURES = ("mux_full", "mux_half", "term_bits", "term_tree")
LUT_FEATURES = ("adder", "acc_clear", "csa", *TERM_FEATURES,
                *(f"dual_{n}" for n in TERM_FEATURES), "decoder", "rom", "mul", "mul_dsp",
                "mul_csa", "one")
CMOS_FEATURES = ("ff", "adder", "csa", "mux_full", "mux_half", "term_bits", "decoder",
                 "rom", "mul", "one")
TIMING_FEATURES = ("one", "lut_levels", "carry_bits", "bram", "bram_levels", "size")


def rom_blocks(st: Structure, target: str) -> int:
    """Block RAMs of one lane's ROM on `target` (0: the ROM stays in logic)."""
    if st.rom is None:
        return 0
    depth, width, _ = st.rom
    r = BRAM_RULES[target]
    blocks = -(-width // r["width"])
    return blocks if depth * width * r["logic_bit"] > r["block_cost"] * blocks else 0


def int_dsps(st: Structure, target: str) -> int:
    """DSP blocks of an INT baseline's multipliers (one per lane when used)."""
    if not st.muls or target == "ice40":
        return 0
    if target == "ecp5":
        return len(st.muls)
    return sum(1 for a, w, _ in st.muls if a + w >= 9)


def fabric_mul_bits(st: Structure, target: str) -> int:
    """Product bits (act bits x weight bits) of the INT multipliers built in logic on
    `target`: 0 where they are DSP blocks, whose carries are their own."""
    return 0 if int_dsps(st, target) else sum(a * w for a, w, _ in st.muls)


def fabric_adders(st: Structure, target: str) -> tuple:
    """The adders `target`'s flow builds in logic and carry chains: all of st.adders, but
    on xc7 an INT PE whose multipliers are DSP48E1s sums each pair of products in the second
    DSP's post-adder (Yosys `xilinx_dsp`: P = A * B + C), so the tree's first level is gone."""
    if target == "xc7" and int_dsps(st, target):
        return st.dsp_adders
    return st.adders


def lut_features(st: Structure, target: str) -> dict[str, float]:
    """Structural counts behind the LUT estimate (names: LUT_FEATURES)."""
    k, free = LUT_K[target], FREE_MUX_LEVELS[target]
    adders = fabric_adders(st, target)
    if target == "ecp5":       # a CCU2C holds the two LUT4s of its two bits
        add = st.rows * sum(2 * -(-a.width // 2) for a in adders)
    elif target == "ice40":    # its flow finds the pass-through bits (structure.Adder)
        add = st.rows * sum(a.effective - a.trivial for a in adders)
    else:                      # xc7 keeps a LUT per CARRY4 bit
        add = st.rows * sum(a.effective for a in adders)
    full, half, bits = st.shifter
    lanes = st.rows * st.cfg.lanes
    tree = lanes * sum(mux_luts(d + s, k) for d, s in st.terms)
    terms = dict(zip(TERM_FEATURES, (full, half, bits, tree), strict=True))
    dual = st.kind == "post" and st.cfg.variant == "dual"
    rom = 0
    if st.rom is not None and not rom_blocks(st, target):
        rom = st.roms * table_luts(st.rom[2], k, free)
    dec = lanes * sum(table_luts((t,), k, free) for t in st.decoders)
    return {
        "adder": add,
        "acc_clear": st.rows * st.slots * st.acc_bits,
        # An INT PE's merged adders sum products, not terms: their own coefficient.
        "csa": 0 if st.muls else _csa_bits(st, adders),
        "mul_csa": _csa_bits(st, adders) if st.muls else 0,
        **{n: 0 if dual else v for n, v in terms.items()},
        **{f"dual_{n}": v if dual else 0 for n, v in terms.items()},
        "decoder": dec,
        "rom": rom,
        "mul": fabric_mul_bits(st, target),
        "mul_dsp": sum(a * w for a, w, _ in st.muls) if int_dsps(st, target) else 0,
        "one": 1,
    }


def _csa_bits(st: Structure, adders: tuple) -> int:
    """Carry-save adder bits of merged adders: (multi-bit addends - 2) x width each."""
    return st.rows * sum((sum(1 for p in a.ports if p > 2) - 2) * a.width
                         for a in adders if len(a.ports) > 3)


def cmos_features(st: Structure) -> dict[str, float]:
    """Structural counts behind the transistor estimate (names: CMOS_FEATURES); logic is
    costed as 2-input gates."""
    full, half, bits = st.shifter
    rom = st.roms * table_luts(st.rom[2], 2, 0) if st.rom is not None else 0
    dec = st.rows * st.cfg.lanes * sum(table_luts((t,), 2, 0) for t in st.decoders)
    return {
        "ff": st.ff, "adder": st.rows * sum(a.width - a.trivial for a in st.adders),
        "csa": _csa_bits(st, st.adders),
        "mux_full": full, "mux_half": half, "term_bits": bits, "decoder": dec,
        "rom": rom, "mul": sum(a * w for a, w, _ in st.muls), "one": 1,
    }


def flip_flops(st: Structure, target: str) -> int:
    """Flip-flops after `target`'s flow (module docstring)."""
    ff = st.ff
    if rom_blocks(st, target):
        ff -= st.rom_regs
    if target == "xc7":
        if st.last_chain >= 3:
            ff -= st.last_chain
        ff += st.masked_carry_bits
        if int_dsps(st, target):
            a, w, tw = st.muls[0]
            ff -= st.cfg.lanes * (a + w + tw) + (st.first_tree_reg if st.cfg.lanes <= 2 else 0)
    return ff


def carry_cells(st: Structure, target: str) -> int:
    """Carry cells of the adders (module docstring), without the multipliers' own."""
    adders = fabric_adders(st, target)
    if target == "ice40":
        per_row = sum(max(0, a.effective - 1) for a in adders)
    elif target == "ecp5":
        per_row = sum(-(-a.width // 2) for a in adders)
    else:
        per_row = sum(-(-a.effective // 4) for a in adders)
    return st.rows * per_row


def _linear(coefs: dict[str, float], feats: dict[str, float]) -> float:
    return sum(coefs.get(name, 0.0) * value for name, value in feats.items())


def timing_stages(st: Structure, target: str) -> list[tuple[str, dict[str, float]]]:
    """(stage, TIMING_FEATURES) of every register-to-register stage of the design."""
    k = LUT_K[target]
    cfg = st.cfg
    size = math.log2(max(2, st.ff))
    stages = []

    def stage(name, levels, chain=0, bram=0):
        stages.append((name, {"one": 1, "lut_levels": levels, "carry_bits": chain,
                              "bram": bram, "bram_levels": bram * levels, "size": size}))

    if st.kind == "post":
        stage("decode", _depth(cfg.wbits - 1, k))
        blocks = rom_blocks(st, target)
        if st.rom is not None and not blocks:
            stage("rom", _depth(cfg.abits, k))
    # term: value select + shifter + sign, from the stage-1 registers (or the block RAM).
    term_levels = max((_mux_depth(d, k) for d, _ in st.terms), default=1)
    if st.muls:
        a, w, _ = st.muls[0]
        stage("multiply", _depth(a + w, k), 0 if int_dsps(st, target) else a + w,
              bram=1 if int_dsps(st, target) else 0)
    else:
        stage("term", term_levels, bram=1 if rom_blocks(st, target) else 0)
    by_stage: dict[int, list] = {}
    for a in st.adders:
        by_stage.setdefault(a.stage, []).append(a)
    for s, adders in sorted(by_stage.items()):
        chain = max(a.effective if target != "ecp5" else a.width for a in adders)
        csa = max(sum(1 for p in a.ports if p > 2) for a in adders)
        levels = (1 + max(0, math.ceil(math.log(csa / 2, 1.5))) if csa > 2 else 1)
        if s == -1:
            stage("accumulate", 2, chain)
        else:
            stage(f"tree{s}", levels, chain)
    return stages


def _mux_depth(data: int, k: int) -> int:
    """LUT levels of a term bit: a mux over `data` value bits, one select bit per level on
    LUT4s (a 2:1 mux takes 3 of 4 inputs), two on LUT6s (a 4:1 mux takes all 6), then the
    sign XOR and zero gate."""
    per_level = (k - 2) // 2 if k >= 6 else 1
    return 1 + math.ceil(math.log2(max(data, 1)) / per_level)


def _depth(n: int, k: int) -> int:
    """LUT levels of a tree of k-input LUTs over n inputs."""
    return max(1, math.ceil(math.log(max(n, 2)) / math.log(k) - 1e-9))


# Typical speed ratio of a 7-series (-1) to an ECP5 (-6) fabric, from the vendors' data
# sheets (LUT delay ~0.12 vs ~0.22 ns, carry per bit ~0.015 vs ~0.03 ns at the chain):
# used only to give xc7 an fmax figure, which no open place and route can check.
XC7_SPEEDUP = 1.6


def fmax_mhz(st: Structure, target: str, coefs: dict) -> float | None:
    """Estimated fmax: 1000 / the slowest stage's delay (ns)."""
    src = "ecp5" if target == "xc7" else target
    c = coefs.get(src)
    if not c:
        return None
    delays = [_linear(c, f) for _, f in timing_stages(st, src)]
    period = max(delays)
    if target == "xc7":
        period /= XC7_SPEEDUP
    return 1000.0 / period if period > 0 else None


def critical_stage(st: Structure, target: str, coefs: dict) -> str | None:
    src = "ecp5" if target == "xc7" else target
    c = coefs.get(src)
    if not c:
        return None
    return max(timing_stages(st, src), key=lambda s: _linear(c, s[1]))[0]


def resources(st: Structure, target: str, coefs: dict) -> dict:
    """The RESOURCE_KEYS (asq_hw/designs.py) of `st` on `target` with calibrated `coefs`
    (coefficients.json)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    lut_c = coefs["lut"][target]
    lut = _linear(lut_c, lut_features(st, target))
    if target == "xc7" and st.last_chain >= 3:
        lut += 1                                       # the SRL16E
    carry = (carry_cells(st, target)
             + coefs["mul_carry"].get(target, 0.0) * fabric_mul_bits(st, target))
    fmax = fmax_mhz(st, target, coefs["timing"])
    return {
        "lut": max(0, round(lut)),
        "ff": flip_flops(st, target),
        "carry": max(0, round(carry)),
        "dsp": int_dsps(st, target),
        "bram": st.roms * rom_blocks(st, target),
        "fmax_mhz": None if fmax is None else round(fmax, 2),
        "transistors": max(0, round(_linear(coefs["cmos"], cmos_features(st)))),
    }
