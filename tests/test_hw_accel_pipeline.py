"""LayerPipeline on the trained width-4 digits CNN: each layer, its buffer loaded with
golden's input codes of that layer and started with golden's beta_in, writes golden's
next_x into the next buffer, ends with golden's beta_out (or golden's logits) in
layer_cycles(i)."""

import numpy as np
import pytest

from tests.pipeline_bench import simulate


@pytest.fixture(scope="module")
def net():
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_digits
    from tests.array_export import trained_cnn
    return load_artifact(trained_cnn()), load_digits().x_test.numpy()


def run_network(art, x_test, variant, rows, lanes, images, ready=(True,)):
    from asq_hw.mapper import array_config
    from golden.network import GoldenNetwork
    from hw.accel.pipeline import LayerPipeline

    cfg = array_config(art, variant, lanes)
    dut = LayerPipeline.for_network(art, cfg, rows)
    g = GoldenNetwork(art, variant, cfg.frac_bits).run(x_test[:images], trace=True)
    jobs, want = [], []
    for i, rec in enumerate(g.records):
        for b in range(images):
            jobs.append((i, rec.x[b], int(rec.beta_in[b])))
            want.append((i, rec, b))
    runs = simulate(dut, jobs, ready)
    mask = (1 << cfg.abits) - 1
    for run, (i, rec, b) in zip(runs, want, strict=True):
        assert run.beta_out == rec.beta_out[b]
        if rec.next_x is not None:
            codes = (rec.next_x[b].reshape(-1) & mask).tolist()
            assert run.writes == [(dut.plans[i + 1].buffer, a, c) for a, c in enumerate(codes)]
            assert run.logits == []
        else:
            assert run.writes == []
            k = rec.out.shape[1]
            assert run.logits == [(int(v), int(j == k - 1)) for j, v in enumerate(rec.out[b])]
        if tuple(ready) == (True,):
            assert run.cycles == dut.layer_cycles(i)
    return dut, runs


@pytest.mark.slow
@pytest.mark.parametrize("variant,rows,lanes,images", [("lut", 8, 8, 2), ("dual", 3, 5, 1)])
def test_every_layer_of_the_trained_network_matches_golden(net, variant, rows, lanes, images):
    dut, runs = run_network(*net, variant, rows, lanes, images)
    assert len(runs) == 4 * images


@pytest.mark.slow
def test_logit_back_pressure(net):
    rng = np.random.default_rng(3)
    run_network(*net, "lut", 4, 4, 1, ready=(rng.random(23) > 0.7).tolist())


def test_memories_and_cycles_are_listed(net):
    from asq_hw.mapper import array_config
    from hw.accel.pipeline import LayerPipeline

    art, _ = net
    from amaranth.hdl import Fragment

    dut = LayerPipeline.for_network(art, array_config(art, "lut", 8), 8)
    Fragment.get(dut, None)                   # elaborated: no unused-elaboratable warning
    mems = dict((n, (d, w)) for n, d, w in dut.memories())
    assert mems["rq_ustore"] == (256, 16)     # conv0: 4 x 8 x 8 u values of 16 bits
    assert mems["act_buffer1"] == (256, 8)
    assert [dut.layer_cycles(i) for i in range(4)] == [816, 710, 495, 34]
