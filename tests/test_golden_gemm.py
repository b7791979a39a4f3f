"""The GEMM planner: every planned part's proven bound is below its exactness limit and
covers the largest output the part can produce."""

import numpy as np
import pytest
from layer_configs import CONFIGS, config_id

from golden.arith import LayerArith
from golden.gemm import FLOAT_LIMITS, INT8_WEIGHT_MAX, _operand_max, part_weights, plan_gemm


@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
def test_plan_bounds_hold_for_the_worst_inputs(cfg):
    """Every part's bound is below its exactness limit and at least the largest |output|
    the part can produce (all activations at the extreme matching each weight's sign)."""
    arith = LayerArith(*cfg)
    for allow in (True, False):
        plan = plan_gemm(arith, allow_int8=allow)
        for p in plan:
            limit = 2**31 if p.dtype == np.int8 else FLOAT_LIMITS[p.dtype]
            assert p.bound < limit
            codes = np.arange(2**arith.wbits).reshape(1, 1, -1)
            w = part_weights(codes, arith, p).astype(np.int64)  # (blocks, ops * codes)
            if p.dtype == np.int8:
                assert np.abs(w).max() <= INT8_WEIGHT_MAX
            om = np.array([_operand_max(arith, o) for o in p.operands])
            w = np.abs(w).reshape(len(p.blocks), len(p.operands), -1)
            worst = arith.n * (w * om[None, :, None]).sum(axis=1).max(axis=1)
            assert np.all(worst <= p.bound)


def test_float_only_plans_have_no_int8_part():
    for cfg in CONFIGS:
        plan = plan_gemm(LayerArith(*cfg), allow_int8=False)
        assert plan is not None and all(p.dtype != np.int8 for p in plan)
