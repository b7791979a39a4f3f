"""`RequantUnit`: from the array's accumulators to the next layer's codes (or the logits),
the integer-ASQ contract of golden.asq_int step by step.

    result beats ──> bank (P accumulators) ──one per cycle──> s1 A_s, scale ROM word (C, D)
      s2 A_s * C_s   s3 sum of slots   s4 v = x * b_in + D   s5 u = sat(round(v >> S))
      (relu: lower bound 0), maxpool read-modify-write into the u-store   s6 channel sum
    then   ADAPT: means, adapter Linear layers (one MAC per cycle) -> beta code
           DIV:   R = reciprocal(beta), serial divider
           REQ:   u-store in address order -> clamp(round(u * R >> 20)) -> buffer write port
    logits layer: v goes out on the logit stream in channel order instead.

Phases run one after another (the adapter needs the whole layer first); the cycle model is
hw/accel/requant_plan.py's.

The bank takes a result beat when it is empty or its last element leaves at that edge, so
the array sees one result per max(D, P) cycles. Maxpool (kernel == stride) writes the first
element of each window directly and max()es the others with the stored word; the read for
element e is issued one stage before its write, so the word written at the previous edge
(element e - 1, same window for P = 1) comes from a bypass register. The channel sums (the
adapter's global pool, of the final pooled values) are kept the same way in their own
memory. The logit stream back-pressures the whole element pipeline.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from golden import asq_int as Q
from hw.accel.adapter import ReciprocalDivider, clamp, per_layer, round_shift
from hw.accel.plan import LayerPlan
from hw.accel.requant_plan import (
    ADAPT_TAIL,
    REQ_TAIL,
    RqLayer,
    RqWidths,
    adapter_roms,
    rq_memories,
    scale_rom,
)
from hw.accel.table import ubits

IDLE, RUN, ADAPT, DIV, DIVW, REQ = range(6)


class RequantUnit(wiring.Component):
    """The unit for `layers` (hw.accel.requant_plan.network_rq) running on `plans` with a
    P = `rows` array of `acc_bits` accumulators; codes are `abits` patterns written at
    `addr_bits`-wide buffer addresses.

    Ports: `start` (taken while `idle`) with `layer` and `beta` (the input's beta code);
    `in_valid`, `in_ready`, `in_acc` (slot s, row p at bits [(s*P + p)*acc_bits, ...));
    `wr_buf`, `wr_addr`, `wr_data`, `wr_en` (the buffers' write port); `beta_out`;
    `logit_valid`, `logit_ready`, `logit_data` (signed), `logit_last`.
    """

    def __init__(self, layers: list[RqLayer], plans: list[LayerPlan], rows: int,
                 acc_bits: int, abits: int, addr_bits: int):
        if len(layers) != len(plans) or not layers:
            raise ValueError("layers and plans must describe the same compute layers")
        for r, p in zip(layers, plans, strict=True):
            if (r.outputs, r.out_hw) != (p.outputs, p.out_hw):
                raise ValueError(f"layer {r.name}: outputs {r.outputs} x {r.out_hw} do not "
                                 f"match the plan's {p.outputs} x {p.out_hw}")
        self.layers, self.plans, self.rows = list(layers), list(plans), rows
        self.slots = layers[0].slots
        self.w = RqWidths.of(self.layers, acc_bits, abits)
        if addr_bits < ubits(self.w.store_depth - 1):
            raise ValueError(f"addr_bits {addr_bits} cannot address {self.w.store_depth}")
        self.addr_bits = addr_bits
        super().__init__({
            "start": In(1),
            "layer": In(ubits(len(layers) - 1)),
            "beta": In(Q.BETA_BITS),
            "idle": Out(1),
            "in_valid": In(1),
            "in_ready": Out(1),
            "in_acc": In(self.slots * rows * acc_bits),
            "wr_buf": Out(1),
            "wr_addr": Out(addr_bits),
            "wr_data": Out(abits),
            "wr_en": Out(1),
            "beta_out": Out(Q.BETA_BITS, init=Q.BETA_ONE),
            "logit_valid": Out(1),
            "logit_ready": In(1),
            "logit_data": Out(signed(self.w.value)),
            "logit_last": Out(1),
        })

    def memories(self) -> list[tuple[str, int, int]]:
        return rq_memories(self.layers, self.w, self.rows)

    def elaborate(self, platform):  # noqa: C901 - one datapath, stage by stage
        m = Module()
        w, P, L, S = self.w, self.rows, self.layers, self.slots
        nl = len(L)
        inner = [not r.logits for r in L]

        state = Signal(range(6))
        layer = Signal.like(self.layer)
        beta = Signal(Q.BETA_BITS)
        m.d.comb += self.idle.eq(state == IDLE)

        def const(shape, values, name):
            return per_layer(m, layer, Signal(shape, name=name), values)

        # -- per-layer constants (a small ROM in logic)
        ho, wo = [r.out_hw[0] for r in L], [r.out_hw[1] for r in L]
        dim = ubits(max(ho + wo))
        c_ho1 = const(dim, [h - 1 for h in ho], "c_ho1")
        c_wo1 = const(dim, [x - 1 for x in wo], "c_wo1")
        c_kp1 = const(dim, [r.pool - 1 for r in L], "c_kp1")
        c_hp = const(dim + 1, [r.pooled_hw[0] for r in L], "c_hp")
        c_wp = const(dim + 1, [r.pooled_hw[1] for r in L], "c_wp")
        # counters and addresses: beats, channels, u-store addresses (padding rows too)
        big = ubits(w.store_depth + max(p.dots + (p.tiles + 1) * P * (r.pooled + 1)
                                        + r.out_hw[0] * r.out_hw[1]
                                        for p, r in zip(self.plans, L, strict=True)))
        c_plane = const(big, [r.pooled for r in L], "c_plane")
        c_tstep = const(big, [P * r.pooled for r in L], "c_tstep")
        c_k = const(big, [r.outputs for r in L], "c_k")
        c_dots = const(big, [p.dots for p in self.plans], "c_dots")
        c_logits = const(1, [r.logits for r in L], "c_logits")
        c_sums = const(1, [bool(r.adapter) and not r.flat and not r.logits for r in L],
                       "c_sums")
        c_flat = const(1, [r.flat for r in L], "c_flat")
        c_store = const(big, [r.store for r in L], "c_store")
        c_adapt = const(1, [bool(r.adapter) for r in L], "c_adapt")
        c_buf = const(1, [self.plans[i + 1].buffer if inner[i] else 0 for i in range(nl)],
                      "c_buf")

        # -- memories
        scale_words, scale_base = scale_rom(L, w, P)
        m.submodules.scale = scale = memory.Memory(
            shape=unsigned(S * w.c + w.d), depth=len(scale_words), init=scale_words)
        srd = scale.read_port()
        m.submodules.ustore = ustore = memory.Memory(shape=signed(w.u), depth=w.store_depth,
                                                     init=[])
        urd, uwr = ustore.read_port(), ustore.write_port()
        m.submodules.sums = sums = memory.Memory(shape=signed(w.sum), depth=w.sums_depth,
                                                 init=[])
        qrd, qwr = sums.read_port(), sums.write_port()
        awords, abase, bwords, bbase = adapter_roms(L)
        m.submodules.aweights = awm = memory.Memory(shape=signed(8), depth=len(awords),
                                                    init=[v - 256 if v > 127 else v
                                                          for v in awords])
        bias_init = [v - (1 << 32) if v >> 31 else v for v in bwords]
        m.submodules.abias = abm = memory.Memory(shape=signed(Q.ADAPTER_BIAS_BITS),
                                                 depth=len(bwords), init=bias_init)
        wrd, brd = awm.read_port(), abm.read_port()
        hd = w.hidden_depth
        if hd:
            m.submodules.hidden = hmem = memory.Memory(
                shape=unsigned(Q.ADAPTER_ACT_BITS), depth=2 * hd, init=[])
            hrd, hwr = hmem.read_port(), hmem.write_port()

        # -- RUN: the bank and the beat counters (the beat the array gives next)
        adv = Signal()
        m.d.comb += adv.eq(~self.logit_valid | self.logit_ready)
        loaded = Signal(big)
        ow, oh, pj, pi = (Signal(dim, name=n) for n in ("ow", "oh", "pj", "pi"))
        pw, ph = Signal(dim + 1, name="pw"), Signal(dim + 1, name="ph")
        row_base, tile_base, tile_k = (Signal(big, name=n)
                                       for n in ("row_base", "tile_base", "tile_k"))
        bank = Signal(len(self.in_acc))
        bank_valid, bank_p = Signal(), Signal(range(P))
        e_k, e_addr = Signal(big), Signal(big)
        b_full, b_first, b_last, b_pos0 = Signal(), Signal(), Signal(), Signal()
        leave = bank_valid & adv
        m.d.comb += self.in_ready.eq(
            (state == RUN) & (loaded != c_dots) & (~bank_valid | ((bank_p == P - 1) & adv)))
        load = self.in_valid & self.in_ready
        with m.If(load):
            m.d.sync += [
                bank.eq(self.in_acc), bank_valid.eq(1), bank_p.eq(0), loaded.eq(loaded + 1),
                e_k.eq(tile_k), e_addr.eq(tile_base + row_base + pw),
                b_full.eq((ph < c_hp) & (pw < c_wp)),
                b_first.eq((pi == 0) & (pj == 0)),
                b_last.eq((pi == c_kp1) & (pj == c_kp1)),
                b_pos0.eq((ph == 0) & (pw == 0)),
            ]
            with m.If(ow == c_wo1):
                m.d.sync += [ow.eq(0), pj.eq(0), pw.eq(0)]
                with m.If(oh == c_ho1):
                    m.d.sync += [oh.eq(0), pi.eq(0), ph.eq(0), row_base.eq(0),
                                 tile_k.eq(tile_k + P), tile_base.eq(tile_base + c_tstep)]
                with m.Else():
                    m.d.sync += oh.eq(oh + 1)
                    with m.If(pi == c_kp1):
                        m.d.sync += [pi.eq(0), ph.eq(ph + 1), row_base.eq(row_base + c_wp)]
                    with m.Else():
                        m.d.sync += pi.eq(pi + 1)
            with m.Else():
                m.d.sync += ow.eq(ow + 1)
                with m.If(pj == c_kp1):
                    m.d.sync += [pj.eq(0), pw.eq(pw + 1)]
                with m.Else():
                    m.d.sync += pj.eq(pj + 1)
        with m.Elif(leave):
            m.d.sync += [bank_p.eq(bank_p + 1), e_k.eq(e_k + 1), e_addr.eq(e_addr + c_plane)]
            with m.If(bank_p == P - 1):
                m.d.sync += bank_valid.eq(0)

        # -- the element pipeline s1..s7 (moves with adv)
        ab = len(self.in_acc) // (S * P)
        sbase = const(ubits(len(scale_words)), scale_base, "scale_base")
        m.d.comb += [srd.addr.eq(sbase + e_k), srd.en.eq(adv)]
        real = e_k < c_k

        def stage(name, fields):
            return {k: Signal(v, name=f"{name}_{k}") for k, v in fields.items()}

        meta = dict(valid=1, addr=big, k=big, wok=1, first=1, contrib=1, first_c=1, real=1,
                    lastk=1)
        s1 = stage("s1", {**meta, **{f"a{s}": signed(ab) for s in range(S)}})
        s2 = stage("s2", {**meta, **{f"p{s}": signed(ab + w.c) for s in range(S)},
                          "d": signed(w.d)})
        s3 = stage("s3", {**meta, "x": signed(w.x), "d": signed(w.d)})
        s4 = stage("s4", {**meta, "v": signed(w.value)})
        s5 = stage("s5", {**meta, "u": signed(w.u)})
        s6 = stage("s6", {**meta, "u": signed(w.u)})

        def carry(dst, src):
            return [dst[k].eq(src[k]) for k in meta]

        with m.If(adv):
            m.d.sync += [
                s1["valid"].eq(leave), s1["addr"].eq(e_addr), s1["k"].eq(e_k),
                s1["real"].eq(real), s1["lastk"].eq(e_k == c_k - 1),
                s1["wok"].eq(real & b_full & ~c_logits),
                s1["first"].eq(b_first),
                s1["contrib"].eq(real & b_full & b_last & c_sums),
                s1["first_c"].eq(b_pos0),
            ]
            for s in range(S):
                m.d.sync += s1[f"a{s}"].eq(bank.word_select(bank_p + s * P, ab).as_signed())
            m.d.sync += carry(s2, s1)
            for s in range(S):
                c = srd.data.word_select(s, w.c).as_signed()
                m.d.sync += s2[f"p{s}"].eq(s1[f"a{s}"] * c)
            m.d.sync += s2["d"].eq(srd.data[S * w.c:S * w.c + w.d].as_signed())
            m.d.sync += carry(s3, s2)
            total = s2["p0"]
            for s in range(1, S):
                total = total + s2[f"p{s}"]
            m.d.sync += [s3["x"].eq(total), s3["d"].eq(s2["d"])]
            m.d.sync += carry(s4, s3)
            m.d.sync += s4["v"].eq(s3["x"] * Cat(beta, 0).as_signed() + s3["d"])
            m.d.sync += carry(s5, s4)
            m.d.sync += carry(s6, s5)
            # logits: v of every real channel, in order
            m.d.sync += [self.logit_valid.eq(s4["valid"] & s4["real"] & c_logits),
                         self.logit_data.eq(s4["v"]), self.logit_last.eq(s4["lastk"])]
        # s4 -> s5: rescale round shift S and saturation (relu: lower bound 0)
        u4 = Signal(signed(w.u))
        with m.Switch(layer):
            for i, r in enumerate(L):
                if r.logits:
                    continue
                with m.Case(i):
                    lim = 1 << (r.ubits - 1)
                    m.d.comb += u4.eq(clamp(round_shift(s4["v"], r.shift),
                                            0 if r.relu else -lim, lim - 1))
        with m.If(adv):
            m.d.sync += s5["u"].eq(u4)

        # s5: maxpool read-modify-write (the read was issued in s4), bypass for the word
        # written at the previous edge
        byp_en, byp_addr, byp_data = Signal(), Signal(big), Signal(signed(w.u))
        old = Mux(byp_en & (byp_addr == s5["addr"]), byp_data, urd.data)
        new = Signal(signed(w.u))
        m.d.comb += new.eq(Mux(s5["first"] | (s5["u"] > old), s5["u"], old))
        u_we = s5["valid"] & s5["wok"] & adv
        m.d.comb += [uwr.addr.eq(s5["addr"]), uwr.data.eq(new), uwr.en.eq(u_we)]
        with m.If(adv):
            m.d.sync += [byp_en.eq(u_we), byp_addr.eq(s5["addr"]), byp_data.eq(new),
                         s6["u"].eq(new)]
        # s6: the channel sum of the final (pooled) values, the same way
        sb_en, sb_addr, sb_data = Signal(), Signal(big), Signal(signed(w.sum))
        sold = Mux(sb_en & (sb_addr == s6["k"]), sb_data, qrd.data)
        ssum = Signal(signed(w.sum))
        m.d.comb += ssum.eq(Mux(s6["first_c"], 0, sold) + s6["u"])
        q_we = s6["valid"] & s6["contrib"] & adv
        m.d.comb += [qwr.addr.eq(s6["k"]), qwr.data.eq(ssum), qwr.en.eq(q_we)]
        with m.If(adv):
            m.d.sync += [sb_en.eq(q_we), sb_addr.eq(s6["k"]), sb_data.eq(ssum)]

        busy_run = Signal()
        m.d.comb += busy_run.eq(bank_valid | s1["valid"] | s2["valid"] | s3["valid"]
                                | s4["valid"] | s5["valid"] | s6["valid"] | self.logit_valid)

        # -- ADAPT: the adapter's Linear layers, one MAC per cycle
        adims = {(i, k): d for i, r in enumerate(L) for k, d in enumerate(r.adapter_dims)}
        ndeep = max([len(r.adapter) for r in L] + [1])
        al = Signal(range(ndeep))
        key = Signal(len(layer) + len(al))
        m.d.comb += key.eq(Cat(al, layer))

        def akey(i, k):
            return (i << len(al)) | k

        cnt = ubits(max([i for i, _ in adims.values()] + [o for _, o in adims.values()]
                        + [1]))
        a_in1 = per_layer(m, key, Signal(cnt, name="a_in1"),
                          {akey(*ik): d[0] - 1 for ik, d in adims.items()})
        a_out1 = per_layer(m, key, Signal(cnt, name="a_out1"),
                           {akey(*ik): d[1] - 1 for ik, d in adims.items()})
        a_lastl = per_layer(m, key, Signal(name="a_lastl"),
                            {akey(i, k): k == len(L[i].adapter) - 1 for i, k in adims})
        ai, ao = Signal(cnt), Signal(cnt)
        waddr = Signal(ubits(len(awords)))
        baddr = Signal(ubits(len(bwords)))
        issuing, drain = Signal(), Signal(range(ADAPT_TAIL + 1))
        c_wbase = const(len(waddr), abase, "c_wbase")
        c_bbase = const(len(baddr), bbase, "c_bbase")
        m.d.comb += [wrd.addr.eq(waddr), brd.addr.eq(baddr)]
        a1 = stage("a1", dict(valid=1, first=1, last=1, o=cnt))
        a2 = stage("a2", dict(valid=1, first=1, last=1, o=cnt, p=signed(max(w.pool, w.h)),
                              w=signed(8), b=signed(32)))
        a3 = stage("a3", dict(valid=1, first=1, last=1, o=cnt, h=signed(w.h),
                              w=signed(8), b=signed(32)))
        a4 = stage("a4", dict(valid=1, first=1, last=1, o=cnt, m=signed(w.h + 8),
                              b=signed(32)))
        acc = Signal(signed(w.aacc))
        a5_valid, a5_o = Signal(), Signal(cnt)
        src0 = Signal(signed(max(w.sum, w.h, w.u)))
        pm = const(w.pool, [r.pool_params[0] for r in L], "c_pm")
        with m.If(al == 0):
            m.d.comb += src0.eq(Mux(c_flat, urd.data, qrd.data))
        if hd:
            with m.Else():
                m.d.comb += src0.eq(hrd.data)
        m.d.sync += [
            a1["valid"].eq(issuing), a1["first"].eq(ai == 0), a1["last"].eq(ai == a_in1),
            a1["o"].eq(ao),
            a2["valid"].eq(a1["valid"]), a2["first"].eq(a1["first"]),
            a2["last"].eq(a1["last"]), a2["o"].eq(a1["o"]),
            a2["p"].eq(src0 * Mux(al == 0, pm, 1)), a2["w"].eq(wrd.data),
            a2["b"].eq(brd.data),
            a3["valid"].eq(a2["valid"]), a3["first"].eq(a2["first"]),
            a3["last"].eq(a2["last"]), a3["o"].eq(a2["o"]), a3["w"].eq(a2["w"]),
            a3["b"].eq(a2["b"]),
            a4["valid"].eq(a3["valid"]), a4["first"].eq(a3["first"]),
            a4["last"].eq(a3["last"]), a4["o"].eq(a3["o"]), a4["b"].eq(a3["b"]),
            a4["m"].eq(a3["h"] * a3["w"]),
            a5_valid.eq(a4["valid"] & a4["last"]), a5_o.eq(a4["o"]),
        ]
        # a2 -> a3: the global pool's mean (golden.asq_int.global_pool) for the first layer
        h2 = Signal(signed(w.h))
        m.d.comb += h2.eq(a2["p"])
        with m.If(al == 0):
            with m.Switch(layer):
                for i, r in enumerate(L):
                    if r.adapter and not r.flat:
                        with m.Case(i):
                            lim = 1 << (r.ubits - 1)
                            m.d.comb += h2.eq(clamp(round_shift(a2["p"], r.pool_params[1]),
                                                    -lim, lim - 1))
        m.d.sync += a3["h"].eq(h2)
        with m.If(a4["valid"]):
            m.d.sync += acc.eq(Mux(a4["first"], a4["b"], acc) + a4["m"])
        # a5: round shift by E, ReLU + clamp (hidden) or the beta code clamp (last)
        out_h = Signal(Q.ADAPTER_ACT_BITS)
        beta_new = Signal(Q.BETA_BITS)
        with m.Switch(key):
            for (i, k), _ in adims.items():
                with m.Case(akey(i, k)):
                    e = L[i].adapter[k].exp
                    m.d.comb += [
                        out_h.eq(clamp(round_shift(acc, e), 0, (1 << Q.ADAPTER_ACT_BITS) - 1)),
                        beta_new.eq(clamp(round_shift(acc, e), Q.BETA_MIN, Q.BETA_MAX)),
                    ]
        beta_res = Signal(Q.BETA_BITS, init=Q.BETA_ONE)
        with m.If(a5_valid):
            with m.If(a_lastl):
                m.d.sync += beta_res.eq(beta_new)
        if hd:
            m.d.comb += [hwr.addr.eq(al[0] * hd + a5_o),
                         hwr.data.eq(out_h), hwr.en.eq(a5_valid & ~a_lastl),
                         hrd.addr.eq((al[0] ^ 1) * hd + ai)]

        # -- DIV and REQ
        m.submodules.div = div = ReciprocalDivider()
        m.d.comb += div.b.eq(beta_res)
        ra = Signal(big)
        r_issue = Signal()
        r1_valid, r1_addr = Signal(), Signal(big)
        r2_valid, r2_addr, r2_p = Signal(), Signal(big), Signal(signed(w.u + Q.RECIP_BITS + 1))
        req_drain = Signal(range(REQ_TAIL + 1))
        m.d.sync += [r1_valid.eq(r_issue), r1_addr.eq(ra),
                     r2_valid.eq(r1_valid), r2_addr.eq(r1_addr),
                     r2_p.eq(urd.data * Cat(div.q, 0).as_signed())]
        t = Q.U_FRAC + Q.RECIP_SHIFT - Q.BETA_FRAC
        code = Signal(signed(w.u + Q.RECIP_BITS + 1))
        with m.Switch(layer):
            for i, r in enumerate(L):
                if not r.logits:
                    with m.Case(i):
                        m.d.comb += code.eq(clamp(round_shift(r2_p, t), r.code_lo, r.code_hi))
        m.d.sync += [self.wr_en.eq(r2_valid), self.wr_addr.eq(r2_addr),
                     self.wr_data.eq(code[:w.code]), self.wr_buf.eq(c_buf)]

        # -- u-store and sums read addresses by phase
        with m.Switch(state):
            with m.Case(RUN):
                m.d.comb += [urd.addr.eq(s4["addr"]), urd.en.eq(adv), qrd.addr.eq(s5["k"]),
                             qrd.en.eq(adv)]
            with m.Case(ADAPT):
                m.d.comb += [urd.addr.eq(ai), qrd.addr.eq(ai)]
            with m.Case(REQ):
                m.d.comb += urd.addr.eq(ra)

        # -- the phases
        m.d.comb += r_issue.eq(0)
        with m.Switch(state):
            with m.Case(IDLE):
                with m.If(self.start):
                    m.d.sync += [
                        state.eq(RUN), layer.eq(self.layer), beta.eq(self.beta),
                        loaded.eq(0), ow.eq(0), oh.eq(0), pj.eq(0), pi.eq(0), pw.eq(0),
                        ph.eq(0), row_base.eq(0), tile_base.eq(0), tile_k.eq(0),
                    ]
            with m.Case(RUN):
                with m.If((loaded == c_dots) & ~busy_run):
                    with m.If(c_logits):
                        m.d.sync += [state.eq(IDLE), self.beta_out.eq(Q.BETA_ONE)]
                    with m.Elif(c_adapt):
                        m.d.sync += [state.eq(ADAPT), al.eq(0), ai.eq(0), ao.eq(0),
                                     issuing.eq(1), waddr.eq(c_wbase), baddr.eq(c_bbase)]
                    with m.Else():
                        m.d.sync += [state.eq(DIV), beta_res.eq(Q.BETA_ONE)]
            with m.Case(ADAPT):
                with m.If(issuing):
                    m.d.sync += waddr.eq(waddr + 1)
                    with m.If(ai == a_in1):
                        m.d.sync += [ai.eq(0), ao.eq(ao + 1), baddr.eq(baddr + 1)]
                        with m.If(ao == a_out1):
                            m.d.sync += [issuing.eq(0), drain.eq(ADAPT_TAIL - 1)]
                    with m.Else():
                        m.d.sync += ai.eq(ai + 1)
                with m.Elif(drain != 0):
                    m.d.sync += drain.eq(drain - 1)
                with m.Elif(a_lastl):
                    m.d.sync += state.eq(DIV)
                with m.Else():
                    m.d.sync += [al.eq(al + 1), ao.eq(0), issuing.eq(1)]
            with m.Case(DIV):
                m.d.comb += div.start.eq(1)
                m.d.sync += state.eq(DIVW)
            with m.Case(DIVW):
                with m.If(~div.busy):
                    m.d.sync += [state.eq(REQ), ra.eq(0)]
            with m.Case(REQ):
                with m.If(ra != c_store):
                    m.d.comb += r_issue.eq(1)
                    m.d.sync += ra.eq(ra + 1)
                    with m.If(ra == c_store - 1):
                        m.d.sync += req_drain.eq(REQ_TAIL - 1)
                with m.Elif(req_drain != 0):
                    m.d.sync += req_drain.eq(req_drain - 1)
                with m.Else():
                    m.d.sync += [state.eq(IDLE), self.beta_out.eq(beta_res)]
        return m
