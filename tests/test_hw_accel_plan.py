import numpy as np
import pytest

from asq_hw.mapper import LayerMap, tile_codes
from hw.accel.plan import SETUP, LayerPlan, buffer_depths, layer_plan, network_plans
from tests.accel_bench import golden_rows, random_plan


def layer_map(plan):
    return LayerMap(plan.name, "conv", plan.outputs, plan.fan_in, plan.positions, plan.rows,
                    plan.lanes)


def gather(plan, x):
    """The rows the address rule of the module docstring reads from the buffer holding x."""
    (h, w), s, p = plan.in_hw, plan.stride, plan.padding
    off = plan.window_offsets().reshape(-1, 4)
    flat = np.asarray(x).reshape(-1)
    rows = []
    for oh in range(plan.out_hw[0]):
        for ow in range(plan.out_hw[1]):
            base = (oh * s - p) * w + (ow * s - p)
            hh, ww = oh * s - p + off[:, 1], ow * s - p + off[:, 2]
            inside = (off[:, 3] == 1) & (hh >= 0) & (hh < h) & (ww >= 0) & (ww < w)
            rows.append(np.where(inside, flat[np.where(inside, base + off[:, 0], 0)], 0))
    return np.array(rows)


@pytest.mark.parametrize("seed", range(40))
def test_window_offsets_read_golden_im2col(seed):
    rng = np.random.default_rng(seed)
    plan = random_plan(rng, 3, int(rng.integers(1, 6)))
    x = rng.integers(-8, 8, (plan.channels,) + plan.in_hw)
    rows = gather(plan, x)
    want = golden_rows(plan, x)
    assert rows.shape == (plan.positions, plan.beats_per_dot * plan.lanes)
    np.testing.assert_array_equal(rows[:, :plan.fan_in], want)
    assert not rows[:, plan.fan_in:].any()


def test_padding_and_stride_corners():
    # Padding wider than the kernel's reach on a 1 x 1 input; stride larger than the kernel;
    # a kernel as large as the padded input.
    for plan in [LayerPlan("a", 2, 1, (1, 1), (3, 3), 1, 2, 2, 4),
                 LayerPlan("b", 2, 2, (5, 6), (1, 2), 3, 0, 2, 4),
                 LayerPlan("c", 2, 2, (2, 3), (4, 5), 1, 1, 2, 4)]:
        x = np.arange(plan.in_size).reshape((plan.channels,) + plan.in_hw) + 1
        np.testing.assert_array_equal(gather(plan, x)[:, :plan.fan_in], golden_rows(plan, x))


@pytest.mark.parametrize("seed", range(10))
def test_tiling_and_counts_are_the_mappers(seed):
    rng = np.random.default_rng(seed)
    plan = random_plan(rng, int(rng.integers(1, 5)), int(rng.integers(1, 6)))
    lm = layer_map(plan)
    assert (plan.tiles, plan.beats_per_dot, plan.beats, plan.dots) == \
        (lm.tiles, lm.beats_per_dot, lm.beats, lm.dots)
    assert plan.cycles(5) == lm.cycles(5) + SETUP
    codes = rng.integers(0, 16, (plan.outputs, plan.fan_in))
    tc = tile_codes(codes, lm)
    np.testing.assert_array_equal(plan.tile_codes(codes), tc)
    words = plan.weight_words(codes, 4)
    assert len(words) == plan.weight_depth
    got = [[(wd >> (4 * k)) & 15 for k in range(plan.rows * plan.lanes)] for wd in words]
    np.testing.assert_array_equal(np.array(got), tc.reshape(plan.weight_depth, -1))


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match=r"^kernel \(3, 3\) does not fit input \(1, 2\)"):
        LayerPlan("a", 2, 1, (1, 2), (3, 3), 1, 0, 2, 4)
    with pytest.raises(ValueError, match=r"^stride must be at least 1, not 0$"):
        LayerPlan("a", 2, 1, (3, 3), (3, 3), 0, 0, 2, 4)
    with pytest.raises(ValueError, match=r"^buffer must be 0 or 1, not 2$"):
        LayerPlan("a", 2, 1, (3, 3), (3, 3), 1, 0, 2, 4, 2)
    plan = LayerPlan("a", 2, 1, (3, 3), (3, 3), 1, 0, 2, 4)
    with pytest.raises(ValueError, match=r"^codes must have shape \(2, 9\), not \(2, 8\)$"):
        plan.weight_words(np.zeros((2, 8), int), 4)
    with pytest.raises(ValueError, match=r"^codes must be from 0 to 15$"):
        plan.weight_words(np.full((2, 9), 16), 4)


@pytest.fixture(scope="module")
def art():
    from asq_hw.artifact import load_artifact
    from tests.array_export import trained_cnn
    return load_artifact(trained_cnn())


@pytest.mark.slow
def test_network_plans_follow_the_artifact(art):
    plans = network_plans(art, 3, 5)
    layers = art.compute_layers()
    assert [p.name for p in plans] == [lay.name for lay in layers]
    assert [p.buffer for p in plans] == [i % 2 for i in range(len(plans))]
    for plan, lay in zip(plans, layers, strict=True):
        assert plan == layer_plan(lay, 3, 5, plan.buffer)
        assert (plan.fan_in, plan.positions, plan.outputs) == \
            (lay.fan_in, lay.positions, lay.outputs)
        if lay.op == "conv":
            assert plan.out_hw == lay.out_hw
    # Each buffer holds the largest input of the layers that read it.
    assert buffer_depths(plans) == [max(p.in_size for p in plans[b::2]) for b in (0, 1)]
