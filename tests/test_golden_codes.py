import re

import numpy as np
import pytest
from reference_model import ref_decode, ref_lut

from asq_hw import PEConfig
from golden.codes import (
    act_lut,
    decode,
    decode_tables,
    encode,
    levels,
    lut_entry,
    magnitudes,
    thresholds,
)


def test_level_table_of_the_spec():
    np.testing.assert_allclose(magnitudes(2)[1:], [1.0])
    np.testing.assert_allclose(magnitudes(3)[1:], [1, 0.7071, 0.5], atol=1e-4)
    np.testing.assert_allclose(magnitudes(4)[1:],
                               [1, 0.7071, 0.5, 0.3536, 0.25, 0.1768, 0.125], atol=1e-4)


@pytest.mark.parametrize("wbits", range(2, 7))
def test_levels_count_and_sign_layout(wbits):
    lv = levels(wbits)
    assert len(np.unique(lv)) == 2**wbits - 1  # the two zeros coincide
    half = 2 ** (wbits - 1)
    assert lv[0] == 0 and lv[half] == 0  # "negative zero" contributes nothing
    np.testing.assert_array_equal(lv[half:], -lv[:half])


@pytest.mark.parametrize("wbits", range(2, 7))
def test_decode_matches_reference(wbits):
    big_m = 2 ** (wbits - 1) - 1
    j = (big_m - 1) // 2
    t = decode_tables(wbits)
    for code in range(2**wbits):
        s, m, e = ref_decode(code, wbits)
        assert decode(code, wbits)[:3] == (s, m, e)
        assert t[code, 0] == (-1 if s else 1)
        assert t[code, 3] == (m != 0)
        if m:
            assert (t[code, 1], t[code, 2]) == (j - e // 2, e % 2)


@pytest.mark.parametrize("wbits", range(2, 7))
def test_encode_round_trips_every_level(wbits):
    lv = levels(wbits)
    codes = encode(lv, wbits)
    np.testing.assert_array_equal(levels(wbits)[codes], lv)
    half = 2 ** (wbits - 1)
    assert codes[half] == 0  # zero is written as code 0


@pytest.mark.parametrize("wbits", range(2, 7))
def test_encode_is_nearest_level_with_ties_to_larger_magnitude(wbits):
    rng = np.random.default_rng(wbits)
    u = np.concatenate([rng.uniform(-1.3, 1.3, 5000), thresholds(wbits), -thresholds(wbits)])
    codes = encode(u, wbits)
    got = levels(wbits)[codes]
    cand = np.unique(levels(wbits))
    clipped = np.clip(u, -1, 1)
    dist = np.abs(clipped[:, None] - cand[None, :])
    best = dist.min(1)
    np.testing.assert_allclose(np.abs(clipped - got), best, atol=1e-15)
    # On a threshold (a tie) the larger magnitude wins.
    tie_codes = encode(thresholds(wbits), wbits)
    mags = np.sort(magnitudes(wbits))
    np.testing.assert_array_equal(np.abs(levels(wbits)[tie_codes]), mags[1:])


def test_encode_rejects_non_finite():
    with pytest.raises(ValueError, match=r"^weights must be finite, not NaN or inf$"):
        encode([0.5, np.nan], 4)


@pytest.mark.parametrize("frac_bits", range(1, 17))
def test_lut_entries_match_reference_for_every_activation(frac_bits):
    for x in range(-128, 256):
        assert lut_entry(x, frac_bits) == ref_lut(x, frac_bits)


def test_act_lut_covers_the_range_and_is_odd_symmetric():
    cfg = PEConfig(abits=6, act_signed=True, frac_bits=12)
    t = act_lut(cfg)
    assert len(t) == 64 and not t.flags.writeable
    xs = np.arange(cfg.act_min, cfg.act_max + 1)
    assert np.all(np.abs(t - xs * 2**12 / np.sqrt(2)) <= 0.5)
    assert t[1 - cfg.act_min] == -t[-1 - cfg.act_min]


def test_decode_rejects_bad_code():
    with pytest.raises(ValueError, match=re.escape("code must be an integer from 0 to 15, not 16")):
        decode(16, 4)


def test_codes_and_the_lut_do_not_load_numba():
    """golden/__init__ imports nothing: the tables (and hw.lut, built on them) stay light."""
    import subprocess
    import sys
    code = "import sys, golden.codes, golden.schemes, hw.lut; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
