"""A network's co-simulation in shards of images (sim/shards.py): the merged run is the run
over all images."""

import numpy as np
import pytest
from array_export import trained_cnn

from sim import shards
from sim.netrun import LayerStats, NetRun, run_network
from tests.simulators import needs_verilator


def test_shard_bounds_cover_the_images_in_order():
    assert shards.shard_bounds(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert shards.shard_bounds(2, 8) == [(0, 1), (1, 2)]
    assert shards.shard_bounds(5, 1) == [(0, 5)]


def _run(images, preds, cycles, lat, errors=(), first=()):
    st = LayerStats("conv0", 4, 6, 10, 0.5, cycles=cycles, macs=10 * images,
                    accumulators=3 * images, mismatches=len(first), latency_min=lat[0],
                    latency_max=lat[1], stream_s=0.5, first_mismatches=list(first))
    return NetRun({"wbits": 4}, 2, 2, 2, images, [st], np.array(preds), np.array(preds),
                  1.0, list(errors))


def test_merge_sums_counts_joins_ranges_and_keeps_image_order():
    a = _run(2, [3, 1], 12, (2, 2), first=[((0, 1), 5, 6)])
    b = _run(1, [7], 6, (2, 3), first=[((1, 0), 2, 3)])
    r = shards.merge([a, b], [(0, 2), (2, 3)], wall_s=1.5, positions=[4])
    s = r.layers[0]
    assert r.images == 3 and list(r.preds) == [3, 1, 7] and list(r.golden_preds) == [3, 1, 7]
    assert (s.cycles, s.macs, s.accumulators, s.mismatches) == (18, 30, 9, 2)
    assert (s.latency_min, s.latency_max, s.stream_s) == (2, 3, 1.0)
    # image 2's row 1 is row 2 * 4 + 1 of the whole run
    assert s.first_mismatches == [((0, 1), 5, 6), ((9, 0), 2, 3)] and r.wall_s == 1.5
    bad = shards.merge([a, _run(1, [], 0, (None, None), errors=["conv0: overflow"])],
                       [(0, 2), (2, 3)], wall_s=1.0, positions=[4])
    assert bad.errors == ["images 2..2: conv0: overflow"] and len(bad.preds) == 0
    assert not bad.ok


@pytest.mark.rtl
@pytest.mark.slow
@needs_verilator
def test_two_shards_in_two_processes_equal_one_run():
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset

    art = load_artifact(trained_cnn())
    x = load_dataset("digits").x_test[:4].numpy()
    one = run_network(art, x, 8, 8, "lut", "verilator")
    split = shards.run_sharded(art, x, 8, 8, "lut", "verilator", shards=2, jobs=2)
    assert split.ok and one.ok
    assert list(split.preds) == list(one.preds)
    assert [(s.cycles, s.macs, s.accumulators, s.latency_min, s.latency_max)
            for s in split.layers] == [(s.cycles, s.macs, s.accumulators, s.latency_min,
                                        s.latency_max) for s in one.layers]
