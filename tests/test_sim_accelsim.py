"""sim/accelsim.py: the input beats, the first-bad-layer diagnosis from probe records, a
sharded run equal to one run; and the hex lines of `verilog accel --vectors`."""

import numpy as np
import pytest

from asq_hw.commands.accel import hex_lines
from sim.accelsim import first_bad_layer, input_beats
from tests.simulators import needs_icarus, needs_verilator


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


@pytest.mark.slow
@pytest.mark.rtl
@needs_icarus
def test_two_shards_equal_one_run(cnn, tmp_path):
    # The workers only stream their slices; golden, the comparison and the order stay here.
    from asq_hw.data import load_dataset
    from sim.accelsim import run_accel, run_sharded

    acc, net, _ = cnn
    x = load_dataset("digits").x_test[:4].numpy()
    one = run_accel(net.artifact, x, 2, 3, "lut", "icarus", clean=4, build_root=tmp_path)
    two = run_sharded(net.artifact, x, 2, 3, "lut", "icarus", shards=2, jobs=2, clean=2,
                      build_root=tmp_path)
    for r in (one, two):
        assert r.ok and r.images == 4 and r.mismatches == 0
    np.testing.assert_array_equal(one.logits, two.logits)
    np.testing.assert_array_equal(two.logits, two.want)
    assert list(two.cycles) == list(one.cycles) == [one.cycles_per_image] * 4


@pytest.mark.slow
@pytest.mark.rtl
@needs_verilator
def test_a_corrupted_weight_rom_is_caught_and_its_layer_named(cnn, tmp_path):
    # Every word of the second layer's weight ROM inverted in the Verilog: the stream bench
    # must see wrong logits, and the probe rerun must blame that layer, not an earlier one.
    import re

    from asq_hw.data import load_dataset
    from sim.accelsim import generate, run_accel

    acc, net, _ = cnn
    text, man = generate(net.artifact, 2, 3, "lut")

    def invert(m):
        width = int(m.group(2))
        return f"{m.group(1)}{width}'h{(~int(m.group(3), 16)) & ((1 << width) - 1):x};"

    bad, n = re.subn(r"(\n\s*layer1\[\d+\] = )(\d+)'h([0-9a-f]+);", invert, text)
    assert n > 0
    x = load_dataset("digits").x_test[:2].numpy()
    r = run_accel(net.artifact, x, 2, 3, "lut", "verilator", clean=1, build_root=tmp_path,
                  design=(bad, man))
    assert not r.ok and r.mismatches > 0
    assert r.first_bad_image == 0 and r.first_bad_layer == net.layers[1].name
