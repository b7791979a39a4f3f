import numpy as np
import pytest

from hw.accel.plan import LayerPlan
from hw.accel.table import Widths, entry_layout, offset_init, offset_layout, table_init
from tests.accel_bench import random_plan


def plans_of(seed, count=4):
    rng = np.random.default_rng(seed)
    rows, lanes = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    return [random_plan(rng, rows, lanes, i % 2, f"l{i}") for i in range(count)]


@pytest.mark.parametrize("seed", range(20))
def test_every_field_fits_its_width(seed):
    # A layout constant truncates silently: reading every field back finds a width too small.
    plans = plans_of(seed)
    w = Widths.of(plans)
    layout = entry_layout(w)
    for entry in table_init(plans):
        const = layout.const(entry)
        assert {k: int(const[k]) for k in entry} == entry
    lanes = offset_layout(w, plans[0].lanes)
    words = offset_init(plans)
    assert len(words) == sum(p.beats_per_dot for p in plans)
    for word in words:
        const = lanes.const(word)
        assert [{k: int(const[i][k]) for k in lane} for i, lane in enumerate(word)] == word


def test_the_table_is_generated_from_the_plans():
    plans = [LayerPlan("a", 5, 2, (6, 7), (3, 2), 2, 1, 2, 3, 0),
             LayerPlan("b", 4, 9, (1, 1), (1, 1), 1, 0, 2, 3, 1)]
    a, b = table_init(plans)
    assert (a["last_tile"], a["last_oh"], a["last_ow"], a["last_beat"]) == \
        (plans[0].tiles - 1, plans[0].out_hw[0] - 1, plans[0].out_hw[1] - 1,
         plans[0].beats_per_dot - 1)
    assert (a["first"], a["first_base"], a["row_step"]) == (-1, -1 * 7 - 1, 2 * 7)
    assert (b["off_base"], b["buffer"]) == (plans[0].beats_per_dot, 1)
    # The offset ROM holds each layer's window_offsets in order.
    words = offset_init(plans)
    flat = np.array([[list(lane.values()) for lane in word] for word in words])
    np.testing.assert_array_equal(
        flat, np.concatenate([p.window_offsets() for p in plans]))


def test_no_plans_is_refused():
    with pytest.raises(ValueError, match=r"^plans must hold at least one layer$"):
        Widths.of([])
