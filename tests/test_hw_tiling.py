"""hw/tiling.py: the counts the mapper and the accelerator's plan share."""

import dataclasses

import pytest

from hw.tiling import Tiling


@dataclasses.dataclass(frozen=True)
class Layer(Tiling):
    outputs: int
    fan_in: int
    positions: int
    rows: int
    lanes: int


@pytest.mark.parametrize("k,n,pos,p,q,tiles,d", [
    (16, 9, 64, 8, 8, 2, 2),        # the digits CNN's conv0 on 8x8
    (32, 144, 64, 8, 8, 4, 18),
    (10, 128, 1, 8, 8, 2, 16),      # a linear layer: one position
    (7, 5, 3, 8, 8, 1, 1),          # fewer outputs and terms than the array
    (9, 17, 2, 3, 5, 3, 4),
])
def test_counts(k, n, pos, p, q, tiles, d):
    lay = Layer(k, n, pos, p, q)
    assert (lay.tiles, lay.beats_per_dot) == (tiles, d)
    assert lay.dots == tiles * pos and lay.beats == tiles * pos * d


def test_the_mapper_and_the_plan_count_alike():
    from asq_hw.artifact import load_artifact
    from asq_hw.mapper import map_network
    from hw.accel.plan import network_plans
    from tests.array_export import trained_cnn

    art = load_artifact(trained_cnn())
    for rows, lanes in ((8, 8), (3, 5), (1, 1)):
        for lm, plan in zip(map_network(art, rows, lanes), network_plans(art, rows, lanes),
                            strict=True):
            assert (lm.tiles, lm.beats_per_dot, lm.dots, lm.beats) == (
                plan.tiles, plan.beats_per_dot, plan.dots, plan.beats)
