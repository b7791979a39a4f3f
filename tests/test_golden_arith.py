"""Layer arithmetic: the GEMM terms sum to the PE's accumulators, slot factors turn them
into the real dot product, and acc_bound bounds them."""

import numpy as np
import pytest
from layer_configs import CONFIGS, config_id, random_inputs

from golden.arith import LayerArith, layer_terms
from golden.codes import act_lut
from golden.pe import pe_matmul
from golden.schemes import weight_levels

RNG = np.random.default_rng(7)


def _terms_sum(acts, codes, arith):
    """The accumulators from layer_terms with plain int64 numpy (no planner)."""
    out = np.zeros((acts.shape[0], codes.shape[0], arith.slots), dtype=np.int64)
    for t in layer_terms(arith):
        if t.operand == "x":
            op = acts.astype(np.int64)
        else:
            cfg = arith.pe_config()
            op = act_lut(cfg)[acts - cfg.act_min]
        w = (t.weight << t.shift)[codes]
        out[..., t.slot] += t.mult * (op @ w.T)
    return out if arith.slots == 2 else out[..., 0]


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c[0] == "post"], ids=config_id)
def test_terms_sum_to_pe_matmul(cfg):
    arith = LayerArith(*cfg)
    acts, codes = random_inputs(RNG, arith, 8, 5)
    assert np.array_equal(_terms_sum(acts, codes, arith),
                          pe_matmul(acts, codes, arith.pe_config()))


@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
def test_slot_factors_give_the_real_dot_product(cfg):
    arith = LayerArith(*cfg)
    acts, codes = random_inputs(RNG, arith, 6, 4)
    acc = _terms_sum(acts, codes, arith)
    a = acc if arith.slots == 2 else acc[..., None]
    real = sum(f * a[..., s] for s, f in enumerate(arith.slot_factors()))
    exact = acts @ weight_levels(arith.scheme, arith.wbits)[codes].T
    # exact up to the LUT rounding of the lut variant: |LUT[x] - x 2**F / sqrt 2| <= 1/2,
    # shifted by sh <= J and scaled by 2**-(J + F): at most 2**-F / 2 per term
    lut = arith.scheme == "post" and arith.variant == "lut"
    tol = arith.n * 0.5 * 2.0**-arith.frac_bits if lut else 1e-9
    assert np.all(np.abs(real - exact) <= tol + 1e-9 * np.abs(exact))
    assert np.abs(a).sum(axis=-1).max() <= arith.acc_bound()


def test_bad_layer_arith_is_named():
    with pytest.raises(ValueError, match=r"^weight_quant must be one of post, pot, int"):
        LayerArith("fp", 4, 4, False, "lut", 8, 9)
    with pytest.raises(ValueError, match=r"^wbits must be an integer from 2 to 6, not 7$"):
        LayerArith("post", 7, 4, False, "lut", 8, 9)
    with pytest.raises(ValueError, match=r"^weight_quant 'pot' has no POST PE configuration"):
        LayerArith("pot", 4, 4, False, "lut", 8, 9).pe_config()
