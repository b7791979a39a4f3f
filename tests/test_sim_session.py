"""The host side of the array bench's payloads (no simulator)."""
import numpy as np

from asq_hw import mapper
from sim.session import binstrs, decode_results


def test_binstrs_are_the_packed_words_msb_first():
    v = np.array([[1, -2, 3], [0, 7, -8]])
    strs = binstrs(mapper.pack_bits(v, 4))
    assert strs == [format(w, "012b") for w in mapper.pack_words(v, 4)]
    assert strs[0] == "0011" "1110" "0001"
    assert binstrs(np.zeros((0, 5), np.uint8)) == []


def test_decode_results_round_trip_and_x_bits():
    rng = np.random.default_rng(0)
    v = rng.integers(-(1 << 27), 1 << 27, (6, 8))
    strs = binstrs(mapper.pack_bits(v, 28))
    strs[3] = strs[3][:10] + "x" + strs[3][11:]
    got, ok = decode_results(strs, 8, 28)
    assert ok.tolist() == [True, True, True, False, True, True]
    np.testing.assert_array_equal(got[ok], v[ok])
    assert decode_results([], 8, 28)[0].shape == (0, 8)
