"""The requantization + ASQ adapter unit on random three-layer networks (conv, conv or
linear, logits linear) with random integer parameters, through LayerPipeline: every code
written, beta_out and every logit equal golden.asq_int's steps on golden.pe's accumulators,
and the cycles equal the model."""

import numpy as np
import pytest

from asq_hw import PEConfig
from golden import asq_int as Q
from golden.network import acc_from_rows
from golden.ops import flatten, maxpool, relu
from golden.pe import pe_matmul
from hw.accel.adapter import ReciprocalDivider
from hw.accel.pipeline import LayerPipeline
from hw.accel.plan import LayerPlan
from hw.accel.requant_plan import RqLayer, RqWidths, network_rq, sbound
from tests.accel_bench import golden_rows
from tests.pipeline_bench import simulate


def random_adapter(rng, fan_in, beta_mode):
    """1 to 3 Linear layers; the last one's bias pushes beta to an extreme when asked."""
    dims = [fan_in] + [int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 3)))] + [1]
    layers = []
    for k in range(len(dims) - 1):
        wt = rng.integers(-127, 128, (dims[k + 1], dims[k]))
        e = int(rng.integers(0, 16))
        bias = rng.integers(-(1 << (e + 10)), 1 << (e + 10), dims[k + 1])
        if k == len(dims) - 2 and beta_mode:
            bias[:] = (1 << 31) - 1 if beta_mode > 0 else -(1 << 31) + 1
        layers.append(Q.AdapterLayer(wt.astype(np.int64), bias.astype(np.int64), e))
    return tuple(layers)


def random_network(rng, rows, lanes, variant, beta_mode=0, extreme=False):
    """(cfg, plans, RqLayers, weight codes) of a random conv -> conv|linear -> linear."""
    slots = 1 if variant == "lut" else 2
    cfg = PEConfig(wbits=3, abits=5, act_signed=True, variant=variant, frac_bits=4,
                   lanes=lanes, max_len=400)
    bound = slots << (cfg.acc_bits - 1)
    k0 = int(rng.integers(1, 9))
    while True:
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        pad, stride = int(rng.integers(0, 2)), int(rng.integers(1, 3))
        hw = (int(rng.integers(2, 7)), int(rng.integers(2, 7)))
        p0 = LayerPlan("c0", k0, int(rng.integers(1, 3)), hw, kernel, stride, pad, rows,
                       lanes, 0)
        if min(p0.out_hw) >= 1 and p0.in_size <= 64:
            break
    pool = int(rng.integers(1, min(p0.out_hw) + 1)) if rng.random() < 0.7 else 1
    pooled = (p0.out_hw[0] // pool, p0.out_hw[1] // pool)
    flat0 = rng.random() < 0.4
    k1 = int(rng.integers(1, 8))
    if flat0:
        p1 = LayerPlan("l1", k1, k0 * pooled[0] * pooled[1], (1, 1), (1, 1), 1, 0, rows,
                       lanes, 1)
    else:
        p1 = LayerPlan("c1", k1, k0, pooled, (int(rng.integers(1, 3)),) * 2, 1, 1, rows,
                       lanes, 1)
    p2 = LayerPlan("l2", int(rng.integers(1, 12)), p1.outputs * p1.positions, (1, 1), (1, 1),
                   1, 0, rows, lanes, 0)
    plans = [p0, p1, p2]
    rqs = []
    for i, p in enumerate(plans):
        a_next = int(rng.integers(2, 5))
        ub = Q.u_bits(a_next)
        cbits = 24 if extreme else int(rng.integers(8, 25))
        mult = rng.integers(-(1 << (cbits - 1)) + 1, 1 << (cbits - 1), (p.outputs, slots))
        shift = int(rng.integers(cbits + 4, cbits + 14))
        if extreme:  # the widest C, half of u saturated at either end
            mult = rng.choice([-1, 1], (p.outputs, slots)) * ((1 << (cbits - 1)) - 1)
            shift = cbits
        bias = rng.integers(-(1 << (shift + 12)), 1 << (shift + 12), p.outputs)
        common = dict(name=p.name, outputs=p.outputs, out_hw=p.out_hw, slots=slots,
                      mult=mult.astype(np.int64), bias=bias.astype(np.int64), shift=shift,
                      acc_bound=bound)
        if i == 2:
            rqs.append(RqLayer(**common, logits=True))
            continue
        flat = flat0 if i == 0 else True
        lp = pool if i == 0 else 1
        store = p.outputs * (p.out_hw[0] // lp) * (p.out_hw[1] // lp)
        fan = store if flat else p.outputs
        adapter = random_adapter(rng, fan, beta_mode) if rng.random() < 0.8 else ()
        rqs.append(RqLayer(**common, logits=False, ubits=ub, relu=bool(rng.random() < 0.5),
                           pool=lp, flat=flat, adapter=adapter, code_lo=0,
                           code_hi=(1 << a_next) - 1))
    codes = [rng.integers(0, 1 << cfg.wbits, (p.outputs, p.fan_in)) for p in plans]
    if extreme:  # the largest-magnitude weight codes
        codes = [np.where(rng.random(c.shape) < 0.5, (1 << cfg.wbits) - 1,
                          (1 << (cfg.wbits - 1)) - 1) for c in codes]
    return cfg, plans, rqs, codes


def golden_layer(r: RqLayer, plan, cfg, x, codes, beta):
    """What the unit must produce: (codes written in address order, beta_out, logits)."""
    acc = pe_matmul(golden_rows(plan, x), codes.astype(np.uint8), cfg)
    acc = acc_from_rows(acc, 1, None if plan.positions == 1 else plan.out_hw)
    mult = Q.sample_mult(r.mult, [beta])
    if r.logits:
        return None, Q.BETA_ONE, Q.logits(acc, mult, r.bias, r.acc_bound).reshape(-1)
    static = r.shift - Q.BETA_FRAC + Q.U_FRAC
    u = Q.rescale(acc, mult, r.bias, static, r.ubits, r.acc_bound)
    if r.relu:
        u = relu(u)
    if u.ndim == 4 and r.pool > 1:
        u = maxpool(u, r.pool, r.pool)
    if u.ndim == 4 and r.flat:
        u = flatten(u)
    b_out = Q.adapter_beta(u, list(r.adapter), r.ubits)[0] if r.adapter else Q.BETA_ONE
    out = Q.requantize(u, Q.reciprocal([b_out]), r.ubits, r.code_lo, r.code_hi)
    return out.reshape(-1), int(b_out), None


def check_network(rng, rows, lanes, variant, beta_mode=0, betas=None, ready=(True,),
                  extreme=False, net=None):
    cfg, plans, rqs, codes = net or random_network(rng, rows, lanes, variant, beta_mode,
                                                   extreme)
    weights = [p.weight_words(c, cfg.wbits) for p, c in zip(plans, codes, strict=True)]
    dut = LayerPipeline(cfg, rows, plans, weights, rqs)
    jobs, want = [], []
    for i, p in enumerate(plans):
        x = rng.integers(cfg.act_min, cfg.act_max + 1, (p.channels,) + p.in_hw)
        if extreme:
            x = np.where(x < 0, cfg.act_min, cfg.act_max)
        beta = int(betas[i] if betas else rng.integers(Q.BETA_MIN, Q.BETA_MAX + 1))
        jobs.append((i, x, beta))
        want.append(golden_layer(rqs[i], p, cfg, x, codes[i], beta))
    runs = simulate(dut, jobs, ready)
    for i, (run, (out, b_out, logits)) in enumerate(zip(runs, want, strict=True)):
        if logits is None:
            mask = (1 << cfg.abits) - 1
            assert [a for _, a, _ in run.writes] == list(range(rqs[i].store))
            assert {b for b, _, _ in run.writes} == {plans[i + 1].buffer}
            assert [d for _, _, d in run.writes] == (out & mask).tolist()
            assert run.logits == []
        else:
            assert run.writes == []
            assert [v for v, _ in run.logits] == logits.tolist()
            assert [last for _, last in run.logits] == [0] * (len(logits) - 1) + [1]
        assert run.beta_out == b_out
        if tuple(ready) == (True,):
            assert run.cycles == dut.layer_cycles(i)
    return rqs


CASES = [  # (variant, rows P, lanes Q, seed): D < P, D > P, P = 1 (maxpool hazard)
    ("lut", 4, 8, 0), ("dual", 3, 2, 1), ("lut", 1, 3, 2), ("dual", 1, 4, 3),
    ("lut", 5, 4, 4), ("dual", 2, 8, 5), ("lut", 1, 1, 6), ("lut", 3, 5, 7),
]


@pytest.mark.parametrize("variant,rows,lanes,seed", CASES)
def test_random_layers_match_golden_in_the_modelled_cycles(variant, rows, lanes, seed):
    check_network(np.random.default_rng(seed), rows, lanes, variant)


def test_maxpool_hazard_with_one_row():
    # P = 1, D = 1: consecutive results fall in the same pooling window, so each read
    # needs the word written at the edge before (the bypass); windows cut off by the floor
    # mode too. u kept clear of saturation so that every window has its own maximum.
    import dataclasses

    for seed in range(100, 200):
        rng = np.random.default_rng(seed)
        cfg, plans, rqs, codes = random_network(rng, 1, 8, "lut")
        p0, r0 = plans[0], rqs[0]
        if r0.pool >= 2 and p0.beats_per_dot == 1 and min(p0.out_hw) % r0.pool:
            break
    x = rng.integers(cfg.act_min, cfg.act_max + 1, (p0.channels,) + p0.in_hw)
    acc = pe_matmul(golden_rows(p0, x), codes[0].astype(np.uint8), cfg)
    acc = acc_from_rows(acc, 1, p0.out_hw)
    r0 = dataclasses.replace(r0, bias=np.zeros_like(r0.bias))
    for shift in range(r0.shift - 20, 62):
        u = Q.rescale(acc, Q.sample_mult(r0.mult, [256]), r0.bias,
                      shift - Q.BETA_FRAC + Q.U_FRAC, 40, r0.acc_bound)
        if np.abs(u).max() < 1 << 8:
            break
    assert len(np.unique(u // 16)) > 8
    # beta_out 16: the codes are u / 16, fine enough to tell the window maxima apart
    fan = r0.adapter_inputs
    beta16 = Q.AdapterLayer(np.zeros((1, fan), np.int64), np.array([16]), 0)
    rqs[0] = dataclasses.replace(r0, shift=shift, relu=False, adapter=(beta16,))
    check_network(rng, 1, 8, "lut", betas=(256, 256, 256), net=(cfg, plans, rqs, codes))


@pytest.mark.parametrize("beta_mode,betas", [(1, (16, 1023, 16)), (-1, (1023, 16, 1023))])
def test_beta_extremes(beta_mode, betas):
    rqs = check_network(np.random.default_rng(20 + beta_mode), 2, 3, "lut", beta_mode,
                        betas)
    assert any(r.adapter for r in rqs)


def test_logit_back_pressure():
    rng = np.random.default_rng(30)
    check_network(rng, 3, 2, "dual", ready=(rng.random(41) > 0.6).tolist())


def test_reciprocal_divider_for_every_beta_code():
    from amaranth.sim import Simulator

    dut = ReciprocalDivider()
    got = []

    async def bench(ctx):
        for b in range(Q.BETA_MIN, Q.BETA_MAX + 1):
            ctx.set(dut.b, b)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            edges = 0
            while ctx.get(dut.busy):
                await ctx.tick()
                edges += 1
            got.append((ctx.get(dut.q), edges))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = Q.reciprocal(np.arange(Q.BETA_MIN, Q.BETA_MAX + 1)).tolist()
    assert [q for q, _ in got] == want
    assert {e for _, e in got} == {Q.RECIP_BITS}


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_saturation_corners(variant):
    # The widest C at full scale, inputs and weights at their extremes, beta 1023: the
    # widest values of every step, u saturated at both ends.
    check_network(np.random.default_rng(50), 2, 3, variant, betas=(1023, 1023, 1023),
                  extreme=True)


def test_widths_are_the_proven_bounds():
    # Each width holds its bound and one bit less would not.
    for seed in range(6):
        _, _, rqs, _ = random_network(np.random.default_rng(seed), 2, 3,
                                      "lut" if seed % 2 else "dual")
        w = RqWidths.of(rqs, 20, 5)
        c = [int(np.abs(r.mult).max()) for r in rqs]
        v = max(r.acc_bound * ci * Q.BETA_MAX + int(np.abs(r.bias).max())
                for r, ci in zip(rqs, c, strict=True))
        x = max(r.acc_bound * ci for r, ci in zip(rqs, c, strict=True))
        for bound, bits in ((v, w.value), (x, w.x), (max(c), w.c)):
            assert -(1 << (bits - 1)) <= -bound and bound < 1 << (bits - 1)
            assert bound >= 1 << (bits - 2)
        assert w.u == max(r.ubits for r in rqs if not r.logits)
        sums = [r.pooled << (r.ubits - 1) for r in rqs if r.adapter and not r.flat]
        if sums:
            assert max(sums) <= 1 << (w.sum - 1) and max(sums) > 1 << (w.sum - 3)
    assert sbound(127) == 8 and sbound(128) == 9 and sbound(0) == 1


def test_refused_ops():
    from asq_hw.artifact import MaxPool, Relu
    from hw.accel.requant_plan import post_op_form

    class Pre:
        pre_ops = [Relu()]

    with pytest.raises(ValueError, match=r"^op 'relu' before the first compute layer"):
        network_rq(Pre())
    with pytest.raises(ValueError, match=r"^maxpool after conv0 has kernel 3 and stride 2"):
        post_op_form("conv0", [MaxPool(3, 2)], (8, 8), False)
    with pytest.raises(ValueError, match=r"^maxpool after conv0 follows another maxpool"):
        post_op_form("conv0", [MaxPool(2, 2), MaxPool(2, 2)], (8, 8), False)
    with pytest.raises(ValueError, match=r"^maxpool after fc follows a vector"):
        post_op_form("fc", [MaxPool(2, 2)], (1, 1), True)
    assert post_op_form("conv0", [Relu(), MaxPool(2, 2)], (5, 5), False) == (True, 2, False)
