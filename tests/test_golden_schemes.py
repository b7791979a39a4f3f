"""Weight scheme tables: POST is golden.codes' table, the baselines' levels, thresholds at
the midpoints and encode picking the nearest level (ties to the larger magnitude)."""

import numpy as np
import pytest

from asq_hw.config import SCHEMES
from golden import codes
from golden.schemes import encode_weights, weight_levels, weight_magnitudes, weight_thresholds

RNG = np.random.default_rng(1234)


def test_post_scheme_is_the_golden_codes():
    for w in range(2, 7):
        assert np.array_equal(weight_levels("post", w), codes.levels(w))
        u = RNG.normal(0, 0.6, 500)
        assert np.array_equal(encode_weights(u, "post", w), codes.encode(u, w))


def test_baseline_magnitudes():
    assert weight_magnitudes("pot", 4).tolist() == [0.0, 1.0, 0.5, 0.25, 0.125, 0.0625,
                                                    0.03125, 0.015625]
    assert weight_magnitudes("int", 3).tolist() == [0.0, 1 / 3, 2 / 3, 1.0]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("wbits", [2, 3, 4, 6])
def test_encode_is_the_nearest_level_ties_to_the_larger(scheme, wbits):
    levels = weight_levels(scheme, wbits)
    u = np.concatenate([RNG.uniform(-1.3, 1.3, 2000), weight_thresholds(scheme, wbits),
                        -weight_thresholds(scheme, wbits)])
    got = levels[encode_weights(u, scheme, wbits)]
    dist = np.abs(np.clip(u, -1, 1)[:, None] - levels[None, :])
    best = dist.min(axis=1)
    assert np.allclose(np.abs(np.clip(u, -1, 1) - got), best, rtol=0, atol=1e-15)
    ties = dist <= best[:, None] + 1e-15
    largest = np.where(ties, np.abs(levels)[None, :], -1.0).max(axis=1)
    assert np.array_equal(np.abs(got), largest)


def test_bad_scheme_and_non_finite_weights():
    with pytest.raises(ValueError, match=r"^weight_quant must be one of post, pot, int, not "
                                         r"'fp8'$"):
        encode_weights([0.5], "fp8", 4)
    with pytest.raises(ValueError, match=r"^weights must be finite, not NaN or inf$"):
        encode_weights([np.nan], "pot", 4)
