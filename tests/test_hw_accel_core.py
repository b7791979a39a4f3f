import numpy as np
import pytest

from asq_hw import PEConfig
from golden.pe import pe_matmul
from hw.accel.core import LayerCore
from hw.accel.plan import LayerPlan
from tests.accel_bench import golden_rows, random_plan, simulate

CASES = [  # (variant, signed, rows P, lanes Q, seed)
    ("lut", True, 3, 2, 0),
    ("dual", False, 2, 3, 1),
    ("lut", False, 1, 4, 2),
    ("dual", True, 4, 1, 3),
]


def random_core(variant, signed, rows, lanes, seed, plans=None):
    rng = np.random.default_rng(seed)
    cfg = PEConfig(wbits=3 + seed % 2, abits=5, act_signed=signed, variant=variant,
                   frac_bits=5, lanes=lanes, max_len=64)
    plans = plans or [random_plan(rng, rows, lanes, i % 2, f"l{i}") for i in range(3)]
    codes = [rng.integers(0, cfg.code_max + 1, (p.outputs, p.fan_in)) for p in plans]
    core = LayerCore(cfg, rows, plans, [p.weight_words(c, cfg.wbits)
                                        for p, c in zip(plans, codes, strict=True)])
    return core, codes, rng


def check(core, codes, rng, order, ready=(True,)):
    cfg = core.cfg
    xs = [rng.integers(cfg.act_min, cfg.act_max + 1, (core.plans[i].channels,)
                       + core.plans[i].in_hw) for i in order]
    runs = simulate(core, list(zip(order, xs, strict=True)), ready)
    for index, x, run in zip(order, xs, runs, strict=True):
        plan = core.plans[index]
        want = pe_matmul(golden_rows(plan, x), codes[index].astype(np.uint8), cfg)
        np.testing.assert_array_equal(run.acc, want)
        assert run.results == plan.dots and run.extra == 0
        if tuple(ready) == (True,):
            assert run.cycles == plan.cycles(core.latency)


@pytest.mark.parametrize("variant,signed,rows,lanes,seed", CASES)
def test_layers_give_golden_accumulators_in_the_modelled_cycles(variant, signed, rows,
                                                                lanes, seed):
    core, codes, rng = random_core(variant, signed, rows, lanes, seed)
    check(core, codes, rng, [1, 0, 2, 1])


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_back_pressure_on_the_results(variant):
    core, codes, rng = random_core(variant, True, 3, 2, 7)
    check(core, codes, rng, [0, 1, 2], ready=(rng.random(89) > 0.5).tolist())


def test_padding_and_stride_corners():
    # Padding beyond the kernel's reach, stride beyond the kernel, a window as large as the
    # padded input, a 1 x 1 input: every lane of some beats falls in the padding.
    plans = [LayerPlan("a", 3, 2, (1, 1), (3, 3), 1, 2, 2, 3, 0),
             LayerPlan("b", 2, 3, (5, 6), (1, 2), 3, 0, 2, 3, 1),
             LayerPlan("c", 4, 1, (2, 3), (4, 5), 1, 1, 2, 3, 0),
             LayerPlan("d", 5, 2, (7, 5), (3, 3), 2, 1, 2, 3, 1)]
    core, codes, rng = random_core("lut", True, 2, 3, 11, plans)
    check(core, codes, rng, [0, 1, 2, 3])


@pytest.fixture(scope="module")
def net():
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_digits
    from tests.array_export import trained_cnn
    return load_artifact(trained_cnn()), load_digits().x_test.numpy()


@pytest.mark.slow
@pytest.mark.parametrize("variant,rows,lanes,images", [("lut", 8, 8, 2), ("dual", 3, 5, 1)])
def test_every_layer_of_the_trained_network_matches_golden(net, variant, rows, lanes, images):
    # Each layer's buffer is filled with golden's input codes of that layer; the core's
    # accumulators must be golden's, in the modelled cycles.
    from asq_hw.mapper import array_config
    from golden.network import GoldenNetwork

    art, x_test = net
    cfg = array_config(art, variant, lanes)
    core = LayerCore.for_network(art, cfg, rows)
    g = GoldenNetwork(art, variant).run(x_test[:images], trace=True)
    jobs, want = [], []
    for i, rec in enumerate(g.records):
        pos = core.plans[i].positions
        for b in range(images):
            jobs.append((i, rec.x[b]))
            want.append(rec.acc_rows[b * pos:(b + 1) * pos])
    runs = simulate(core, jobs)
    assert len(runs) == len(art.compute_layers()) * images
    for (i, _), run, w in zip(jobs, runs, want, strict=True):
        np.testing.assert_array_equal(run.acc, w)
        assert run.cycles == core.plans[i].cycles(core.latency)
