import math
import re

import pytest

from asq_hw import PEConfig


def spec_safe_width(wbits, abits, signed, variant, frac_bits, max_len):
    j = ((2 ** (wbits - 1) - 1) - 1) // 2
    a = abits - 1 if signed else abits
    f = frac_bits if variant == "lut" else 0
    return a + f + j + math.ceil(math.log2(max_len)) + 1


@pytest.mark.parametrize("wbits", range(2, 7))
@pytest.mark.parametrize("abits", range(2, 9))
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_default_acc_bits_is_the_spec_safe_width(wbits, abits, signed, variant):
    for frac_bits, max_len in [(1, 1), (8, 576), (16, 4096), (5, 1000)]:
        cfg = PEConfig(wbits=wbits, abits=abits, act_signed=signed, variant=variant,
                       frac_bits=frac_bits, max_len=max_len)
        assert cfg.acc_bits == spec_safe_width(wbits, abits, signed, variant, frac_bits,
                                               max_len)
        assert not cfg.wraps


def test_derived_quantities_match_spec_table():
    assert [PEConfig(wbits=w).J for w in range(2, 7)] == [0, 1, 3, 7, 15]
    assert [PEConfig(wbits=w).M for w in range(2, 7)] == [1, 3, 7, 15, 31]
    cfg = PEConfig(abits=5, act_signed=True)
    assert (cfg.act_min, cfg.act_max) == (-16, 15)
    cfg = PEConfig(abits=5)
    assert (cfg.act_min, cfg.act_max, cfg.code_max) == (0, 31, 15)


def test_explicit_smaller_acc_bits_means_wrapping():
    cfg = PEConfig(acc_bits=8)
    assert cfg.acc_bits == 8 and cfg.wraps


def test_frozen_and_round_trips_through_dict():
    cfg = PEConfig(wbits=3, abits=6, act_signed=True, variant="dual", lanes=4, max_len=77)
    with pytest.raises(AttributeError):
        cfg.wbits = 4
    assert PEConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.replace(max_len=4096).acc_bits == PEConfig(
        wbits=3, abits=6, act_signed=True, variant="dual", lanes=4, max_len=4096).acc_bits


@pytest.mark.parametrize("field, value, message", [
    ("wbits", 1, "wbits must be an integer from 2 to 6, not 1"),
    ("wbits", 7, "wbits must be an integer from 2 to 6, not 7"),
    ("wbits", 4.0, "wbits must be an integer from 2 to 6, not 4.0"),
    ("wbits", True, "wbits must be an integer from 2 to 6, not True"),
    ("abits", 1, "abits must be an integer from 2 to 8, not 1"),
    ("abits", 9, "abits must be an integer from 2 to 8, not 9"),
    ("act_signed", 1, "act_signed must be True or False, not 1"),
    ("variant", "fast", "variant must be one of 'lut', 'dual', not 'fast'"),
    ("frac_bits", 0, "frac_bits must be an integer from 1 to 16, not 0"),
    ("frac_bits", 17, "frac_bits must be an integer from 1 to 16, not 17"),
    ("lanes", 0, "lanes must be an integer from 1 to 64, not 0"),
    ("lanes", 65, "lanes must be an integer from 1 to 64, not 65"),
    ("max_len", 0, "max_len must be an integer from 1 to 16777216, not 0"),
    ("max_len", 2**24 + 1, "max_len must be an integer from 1 to 16777216, not 16777217"),
    ("acc_bits", 1, "acc_bits must be an integer from 2 to 64, not 1"),
    ("acc_bits", 65, "acc_bits must be an integer from 2 to 64, not 65"),
    ("acc_bits", "32", "acc_bits must be an integer from 2 to 64, not '32'"),
])
def test_every_invalid_field_is_named_with_value_and_range(field, value, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        PEConfig(**{field: value})


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=r"^unknown PEConfig field 'bits'; fields are "):
        PEConfig.from_dict({"bits": 4})


def test_widest_legal_config_fits_int64():
    cfg = PEConfig(wbits=6, abits=8, frac_bits=16, max_len=2**24)
    assert cfg.acc_bits == 64
