"""sim/accelsim.py without a simulator: the input beats, the first-bad-layer diagnosis from
probe records, merging shards; and the hex lines of `verilog accel --vectors`."""

import numpy as np
import pytest

from asq_hw.commands.accel import hex_lines
from sim.accelsim import AccelRun, first_bad_layer, input_beats, merge


def test_input_beats_are_bit_patterns_in_chw_order():
    codes = np.array([[[[-1, 2], [3, -128]]]])
    assert input_beats(codes, 8) == [[255, 2, 3, 128]]


def test_hex_lines_are_twos_complement_of_the_width():
    assert hex_lines([-1, 5, -(1 << 54)], 55) == "7fffffffffffff\n00000000000005\n40000000000000\n"


@pytest.fixture(scope="module")
def cnn():
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from asq_hw.mapper import array_config
    from golden.network import GoldenNetwork
    from hw.accel.top import Accelerator, model_only
    from tests.array_export import trained_cnn

    art = load_artifact(trained_cnn())
    acc = model_only(Accelerator(art, array_config(art, "lut", 4), 4))
    x = load_dataset("digits").x_test[:1].numpy()
    return acc, GoldenNetwork(art, "lut", acc.cfg.frac_bits), x


def golden_probe(acc, net, x) -> list:
    mask = (1 << acc.cfg.abits) - 1
    res = net.run(x, trace=True)
    return [[i, a, int(v) & mask] for i, r in enumerate(res.records[:-1])
            for a, v in enumerate(np.asarray(r.next_x).reshape(-1))]


def test_first_bad_layer_names_the_layer_whose_codes_differ(cnn):
    acc, net, x = cnn
    abits = acc.cfg.abits
    probe = golden_probe(acc, net, x)
    names = [lay.name for lay in net.layers]
    assert first_bad_layer(abits, net, x, probe) == names[-1]     # codes right: the logits
    bad = [list(p) for p in probe]
    k = next(j for j, p in enumerate(bad) if p[0] == 1)
    bad[k][2] ^= 1
    assert first_bad_layer(abits, net, x, bad) == names[1]
    assert first_bad_layer(abits, net, x, [p for p in probe if p[0] != 0]) == names[0]


def run(n, bad=None):
    z = np.zeros((n, 2), dtype=np.int64)
    return AccelRun(1, 1, "lut", "icarus", {"cycles_per_image": 5}, z.copy(), z.copy(),
                    np.zeros(n), np.zeros(n), np.full(n, 5), np.ones(n, bool), 10, 1.0, 1.0,
                    first_bad_image=bad, first_bad_layer=None if bad is None else "conv1")


def test_merge_keeps_image_order_and_the_first_bad_image():
    m = merge([run(2), run(3, bad=1)], [0, 2], 4.0)
    assert m.images == 5 and m.first_bad_image == 3 and m.first_bad_layer == "conv1"
    assert m.verified_macs_per_s == 5 * 10 / 4.0 and m.cycle_errors == 0
