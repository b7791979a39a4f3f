"""hw/packing.pack_lanes: lane i at bits [i*bits, (i+1)*bits), two's complement, both the
vectorised path (narrow words) and the Python-int path (wide words, 64-bit fields)."""

import numpy as np
import pytest

from hw.packing import pack_lanes


def _reference(values, bits):
    return [sum((int(x) % (1 << bits)) << (i * bits) for i, x in enumerate(row))
            for row in values]


@pytest.mark.parametrize("lanes,bits", [(1, 4), (3, 5), (8, 7), (9, 8), (4, 64), (64, 4)])
def test_matches_a_plain_reference(lanes, bits):
    rng = np.random.default_rng(lanes * 100 + bits)
    lo, hi = (-(2**63), 2**63 - 1) if bits == 64 else (-(2 ** (bits - 1)), 2**bits - 1)
    v = rng.integers(lo, hi, (17, lanes), endpoint=True, dtype=np.int64)
    assert pack_lanes(v, bits) == _reference(v.tolist(), bits)


def test_no_beats_and_bad_shapes():
    assert pack_lanes(np.zeros((0, 3), np.int64), 4) == []
    with pytest.raises(ValueError, match=r"values must have shape \(beats, lanes\)"):
        pack_lanes(np.zeros(3, np.int64), 4)
