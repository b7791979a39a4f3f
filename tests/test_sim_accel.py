import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.rtl]


@pytest.fixture(scope="module")
def net():
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_digits
    from tests.array_export import trained_cnn
    return load_artifact(trained_cnn()), load_digits().x_test.numpy()


@pytest.mark.parametrize("sim,variant,rows,lanes", [("icarus", "lut", 4, 4),
                                                    ("verilator", "dual", 3, 5)])
def test_every_layer_in_the_hdl_simulator_matches_golden(net, sim, variant, rows, lanes):
    # The generated Verilog of the layer half, each layer's buffer filled with golden's
    # input codes of one test image: every accumulator is golden's, in the modelled cycles.
    from asq_hw.mapper import array_config
    from golden.network import GoldenNetwork
    from hw.accel.core import LayerCore
    from sim.accelrun import run_layers

    art, x_test = net
    core = LayerCore.for_network(art, array_config(art, variant, lanes), rows)
    g = GoldenNetwork(art, variant).run(x_test[1:2], trace=True)
    outs = run_layers(core, [(i, rec.x[0]) for i, rec in enumerate(g.records)], sim)
    assert len(outs) == len(core.plans)
    for out, rec, plan in zip(outs, g.records, core.plans, strict=True):
        np.testing.assert_array_equal(out.acc, rec.acc_rows)
        assert out.cycles == plan.cycles(core.latency)
