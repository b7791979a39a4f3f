"""asq_hw/estimate/network.py: the estimator's cycles against the RTL array's measured cycles
(every layer of the trained digits CNN, and random layer shapes streamed through the same
RTL build), and its throughput and memory arithmetic. The RTL runs reuse the array tests'
Verilator build (8 x 8, lut) and trained network (tests/array_export.py)."""

import math

import numpy as np
import pytest
from array_export import trained_cnn

from asq_hw import mapper
from asq_hw.artifact import load_artifact
from asq_hw.estimate.network import blocks_for, estimate_network
from tests.simulators import needs_verilator

ROWS, LANES = 8, 8


@pytest.fixture(scope="module")
def art():
    return load_artifact(trained_cnn())


def test_cycles_are_the_mappers_and_figures_follow(art):
    r = estimate_network(art, 3, 5, 100.0, "dual", images=3)
    model = mapper.network_cycles(art, "dual", 3, 5)
    assert [(le["name"], le["cycles_per_image"]) for le in r["layers"]] == model
    assert [le["cycles"] for le in r["layers"]] == [3 * c for _, c in model]
    assert r["cycles"] == 3 * r["cycles_per_image"] == 3 * sum(c for _, c in model)
    lms = mapper.map_network(art, 3, 5)
    macs = sum(lm.macs for lm in lms)
    assert r["macs_per_image"] == macs
    assert r["inferences_per_s"] == pytest.approx(100e6 / r["cycles_per_image"])
    assert r["macs_per_s"] == pytest.approx(macs * r["inferences_per_s"])
    assert r["latency_s"] == pytest.approx(r["cycles_per_image"] / 100e6)
    assert 0 < r["utilization"] < 1
    assert r["macs_per_cycle"] == pytest.approx(r["utilization"] * 15)
    # Weights as streamed: every tile's beats of P x Q codes, padding included.
    wbits = art.wbits
    assert r["weight_bits"] == sum(lm.tiles * lm.beats_per_dot * 15 * wbits for lm in lms)
    assert r["weight_bits_raw"] == sum(lm.outputs * lm.fan_in * wbits for lm in lms)
    assert r["weight_bits"] >= r["weight_bits_raw"]


def test_block_rams_count_capacity_and_word_width():
    assert blocks_for(0, 8, "ice40") == 0
    assert blocks_for(4096, 16, "ice40") == 1
    assert blocks_for(4097, 16, "ice40") == 2
    assert blocks_for(100, 64, "ice40") == 4                    # 16-bit ports
    assert blocks_for(100, 64, "ecp5") == 2                     # 36-bit ports


def test_bad_clock(art):
    with pytest.raises(ValueError, match=r"^clock_mhz must be a number from 0\.001 to "
                                         r"1e\+06 \(MHz\), not 0$"):
        estimate_network(art, 2, 2, 0)


@needs_verilator
@pytest.mark.rtl
@pytest.mark.slow
def test_every_layer_of_the_digits_network_takes_the_estimated_cycles(art):
    from asq_hw.data import load_digits
    from sim import netrun

    x = load_digits().x_test.numpy()[:2]
    r = netrun.run_network(art, x, ROWS, LANES, "lut", "verilator")
    assert r.ok, r.errors
    est = estimate_network(art, ROWS, LANES, 100.0, "lut", images=2)
    assert [(s.name, s.cycles) for s in r.layers] == [(le["name"], le["cycles"])
                                                      for le in est["layers"]]
    assert r.cycles == est["cycles"]


@needs_verilator
@pytest.mark.rtl
@pytest.mark.slow
def test_random_layer_shapes_take_the_estimated_cycles(art):
    from hw.gen_array import generate_array
    from sim import runner
    from sim.arrayjob import LayerJob

    cfg = mapper.array_config(art, "lut", LANES)
    b = runner.build(cfg, "verilator", design=generate_array(cfg, ROWS))
    lat = mapper.network_latency(cfg)
    rng = np.random.default_rng(5)
    shapes = [(1, 1, 1), (ROWS, LANES, 1), (ROWS + 1, LANES + 1, 2)]
    shapes += [(int(rng.integers(1, 40)), int(rng.integers(1, 80)), int(rng.integers(1, 12)))
               for _ in range(5)]
    lms, jobs = [], []
    for k, n, positions in shapes:                 # random beats, two images each
        lm = mapper.LayerMap("l", "linear", k, n, positions, ROWS, LANES)
        code_w, act_w = ROWS * LANES * cfg.wbits, LANES * cfg.abits
        codes = rng.integers(0, 2, (lm.tiles * lm.beats_per_dot, code_w)) + ord("0")
        acts = rng.integers(0, 2, (2 * positions * lm.beats_per_dot, act_w)) + ord("0")
        lms.append(lm)
        jobs.append(LayerJob(lm.name, lm.tiles, positions, lm.beats_per_dot,
                             acts.astype(np.uint8), codes.astype(np.uint8)))
    results, _ = runner.run_array(b, jobs)
    for (k, n, positions), lm, res in zip(shapes, lms, results, strict=True):
        want = lm.cycles(lat)
        assert res.cycles == [want, want], (k, n, positions)
        assert want == math.ceil(k / ROWS) * positions * math.ceil(n / LANES) + lat
