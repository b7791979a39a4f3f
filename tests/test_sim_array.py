"""The trained digits CNN through the RTL PE array (cocotb, sim/tb_array.py) on both
simulators, both variants and two array shapes, one of them (3 x 5) dividing none of the
network's channel counts and fan-ins; the array's handshake under gaps and back-pressure on
the RTL; and a corrupted beat that the checker must catch. Builds are cached under
build/sim (sim/runner.py), the trained network too (tests/array_export.py)."""

import numpy as np
import pytest
from array_export import trained_cnn

from asq_hw import mapper
from asq_hw.artifact import load_artifact
from golden.network import GoldenNetwork
from sim import netrun
from tests.simulators import needs_icarus, needs_verilator

pytestmark = pytest.mark.rtl



@pytest.fixture(scope="module")
def net():
    from asq_hw.data import load_digits
    folder = trained_cnn()
    return load_artifact(folder), load_digits().x_test.numpy()


@pytest.mark.slow
@pytest.mark.parametrize("sim,variant,rows,lanes,images", [
    pytest.param("verilator", "lut", 8, 8, 4, marks=needs_verilator),
    pytest.param("icarus", "dual", 3, 5, 2, marks=needs_icarus),
    pytest.param("icarus", "lut", 3, 5, 1, marks=needs_icarus),
    pytest.param("icarus", "dual", 8, 8, 2, marks=needs_icarus),
])
def test_network_runs_bit_exactly_on_the_rtl_array(net, sim, variant, rows, lanes, images):
    art, x_test = net
    x = x_test[:images]
    lms = mapper.map_network(art, rows, lanes)
    if (rows, lanes) == (3, 5):       # padding in every layer, both directions
        assert all(lm.fan_in % lanes and lm.outputs % rows for lm in lms)
    r = netrun.run_network(art, x, rows, lanes, variant, sim)
    assert r.errors == [] and r.mismatches == 0, [s.first_mismatches for s in r.layers]
    slots = 1 if variant == "lut" else 2
    assert r.accumulators_checked == images * slots * sum(lm.positions * lm.outputs
                                                          for lm in lms)
    assert r.verified_macs == images * sum(lm.macs for lm in lms)
    # The RTL chain's predictions (its own accumulators, requantized) are golden's.
    golden = GoldenNetwork(art, variant).run(x).preds
    assert r.preds.tolist() == r.golden_preds.tolist() == golden.tolist()
    # Every image of every layer spent exactly the cycles of the mapper's model.
    model = mapper.network_cycles(art, variant, rows, lanes)
    assert [(s.name, s.cycles) for s in r.layers] == [(n, images * c) for n, c in model]
    assert all(s.cycle_errors == 0 for s in r.layers)
    assert {(s.latency_min, s.latency_max) for s in r.layers} == {(r.latency, r.latency)}
    assert r.ok


@needs_icarus
@pytest.mark.slow
def test_rtl_handshake_under_gaps_and_back_pressure(net):
    from hw.gen_array import generate_array
    from sim import runner
    from sim.arrayjob import StreamJob
    from sim.bfm import random_gaps, random_ready

    art, x_test = net
    cfg = mapper.array_config(art, "lut", lanes=5)
    gold = GoldenNetwork(art, "lut").run(x_test[:1], trace=True)
    rec = gold.records[2]                         # conv2: 16 positions, 3 tiles, 15 beats
    lm = mapper.map_network(art, 3, 5)[2]
    beats = list(mapper.beat_stream(lm, rec.rows, art.codes(art.compute_layers()[2]), cfg))
    acts, codes, lasts = (list(v) for v in zip(*beats, strict=True))
    b = runner.build(cfg, "icarus", design=generate_array(cfg, 3))
    mask = (1 << (3 * cfg.acc_bits)) - 1
    cases = ((1, 0.3, 0.5), (2, 0.4, 0.0))
    streams = []
    for seed, p_gap, p_stall in cases:
        rng = np.random.default_rng(seed)
        streams.append(StreamJob(acts, codes, lasts, random_gaps(rng, len(beats), p_gap),
                                 random_ready(rng, p_stall), lm.dots))
    _, reps = runner.run_array(b, [], streams)
    for (_, _, p_stall), rep in zip(cases, reps, strict=True):
        words = [r[0] & mask for r in rep.results]
        got = mapper.results_to_rows(mapper.unpack_words(words, 3, cfg.acc_bits), lm, 1)
        np.testing.assert_array_equal(got, rec.acc_rows)
        assert rep.cycles > lm.beats
        lats = {e - a for a, e in zip(rep.last_edges, rep.edges, strict=True)}
        if p_stall == 0:
            assert lats == {b.manifest["latency"]}
        else:
            assert max(lats) > b.manifest["latency"]      # the stalls did hold results


def flip_first_code_bit(monkeypatch, layer: str) -> None:
    """Corrupt the co-simulation's beats: bit 0 of row 0, lane 0's code in the first code
    word of `layer`."""
    real = mapper.code_beats

    def flipped(codes, lm, wbits):
        words = real(codes, lm, wbits)
        if lm.name == layer:
            words[0, -1] ^= 1                       # b"0" <-> b"1"
        return words

    monkeypatch.setattr(mapper, "code_beats", flipped)


@needs_icarus
@pytest.mark.slow
def test_a_corrupted_beat_is_caught(net, monkeypatch):
    art, x_test = net
    flip_first_code_bit(monkeypatch, "conv1")
    r = netrun.run_network(art, x_test[:1], 3, 5, "lut", "icarus")
    bad = {s.name: s.mismatches for s in r.layers}
    assert bad["conv0"] == 0 and bad["conv1"] > 0
    assert r.layers[1].first_mismatches and not r.ok
