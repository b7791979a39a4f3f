"""POT and INT baselines: same code layout and encode rule, LSQ step for INT."""

import math

import numpy as np
import pytest
import torch

from asq_hw.quant import INTWeightQuant, POTWeightQuant, make_weight_quant
from golden.schemes import encode_weights, weight_levels


def test_pot_levels_are_powers_of_two_in_the_post_code_layout():
    q = POTWeightQuant(4, 1, 4)
    mags = sorted({abs(v) for v in q.levels.tolist()})
    assert mags == [0.0] + [2.0**-e for e in range(6, -1, -1)]
    assert q.levels[1].item() == 1.0 and q.levels[8 + 2].item() == -0.5


def test_int_levels_are_uniform_and_alpha_is_step_times_m():
    q = INTWeightQuant(4, 2, 9)
    assert sorted({abs(v) for v in q.levels.double().numpy().round(6)}) == \
        sorted({round(m / 7, 6) for m in range(8)})
    with torch.no_grad():
        q.step.copy_(torch.tensor([0.1, 0.2]))
    assert torch.allclose(q.alpha(), torch.tensor([0.7, 1.4]))


@pytest.mark.parametrize("cls,scheme", [(POTWeightQuant, "pot"), (INTWeightQuant, "int")])
@pytest.mark.parametrize("wbits", [2, 3, 4, 6])
def test_codes_equal_golden_encode_weights(cls, scheme, wbits):
    q = cls(wbits, 1, 1)
    rng = np.random.default_rng(wbits)
    mags = np.sort(np.unique(np.abs(weight_levels(scheme, wbits))))
    mids = (mags[:-1] + mags[1:]) / 2
    u = np.concatenate([mids, -mids, rng.normal(0, 0.7, 3000), [1.3, -1.3, 0.0]])
    u32 = u.astype(np.float32)
    assert np.array_equal(q.encode(torch.from_numpy(u32)).numpy(),
                          encode_weights(u32.astype(np.float64), scheme, wbits))


def test_int_step_init_and_gradient_scale_are_lsq():
    fan_in, wbits = 25, 4
    q = INTWeightQuant(wbits, 1, fan_in)
    torch.manual_seed(3)
    w = torch.randn(1, fan_in)
    q.init_from(w)
    assert torch.allclose(q.step, 2 * w.abs().mean() / math.sqrt(7))
    g = torch.randn(1, fan_in)
    (q(w) * g).sum().backward()
    v = w / q.step.detach()
    qi = torch.clamp(torch.round(v), -7, 7)
    d = torch.where(v.abs() <= 7, qi - v, torch.sign(v) * 7)  # LSQ d(s*q)/ds
    expect = (g * d).sum() / math.sqrt(fan_in * 7)
    assert torch.allclose(q.step.grad, expect.view(1), atol=1e-5)


def test_make_weight_quant_names_the_allowed_schemes():
    assert isinstance(make_weight_quant("pot", 4, 2, 3), POTWeightQuant)
    with pytest.raises(ValueError, match=r"^weight_quant must be one of post, pot, int, "
                                         r"not 'fp8'$"):
        make_weight_quant("fp8", 4, 2, 3)
