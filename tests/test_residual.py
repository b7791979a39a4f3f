"""Residual adds: golden.residual's units against exact rational references, the fake-quant
ResNet's integer add against golden bit for bit, a ResNet exported with random weights
through golden (agreement with fake-quant), the artifact's version 3 records and their
one-line errors."""

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from asq_hw import mapper
from asq_hw.artifact import load_artifact, next_layer, save_artifact, write_raw
from asq_hw.data import load_digits
from asq_hw.errors import UserError
from asq_hw.estimate.network import estimate_network
from asq_hw.export import export_model
from asq_hw.models import BasicBlock, GlobalAvgPool, ModelConfig, build_model
from asq_hw.quant.layers import init_quant
from golden import asq_int as Q
from golden import residual as R
from golden.network import GoldenNetwork

UB = Q.u_bits(4)


def _rhu(v: Fraction) -> int:
    """Round half up, exactly."""
    return math.floor(v + Fraction(1, 2))


def _sat(v: int, bits: int = UB) -> int:
    return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, v))


# ---- golden.residual against rationals ----------------------------------------------------

@pytest.mark.parametrize("ratio", [1.0, 0.7071, 1.37, 2.0**-20, 3.1e-7, 1234.5, 65535.4])
def test_align_params_is_the_nearest_16_bit_multiplier(ratio):
    mult, shift = R.align_params(ratio)
    assert 1 <= mult < 1 << R.ALIGN_BITS and 0 <= shift <= R.ALIGN_SHIFT_MAX
    assert abs(Fraction(mult, 1 << shift) - Fraction(ratio)) <= Fraction(1, 1 << (shift + 1))
    if shift < R.ALIGN_SHIFT_MAX:      # the widest multiplier: one more shift overflows
        assert mult >= 1 << (R.ALIGN_BITS - 1) or round(ratio * 2 ** (shift + 1)) >= 1 << 16
    with pytest.raises(ValueError, match="positive and finite"):
        R.align_params(-ratio)


def test_identity_shortcut_is_exact_rounding_of_x_beta_ratio():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, (6, 3, 2, 2))
    b = np.array([16, 1023, 256, 300, 17, 999])
    x[1] = 15                                     # largest code at the largest beta
    for mult, shift in [(1, 0), (65535, 0), (46341, 16), (40000, 15), (65535, 40)]:
        got = R.identity(x, b, mult, shift, 4, UB)
        for idx in np.ndindex(x.shape):
            v = Fraction(int(x[idx]) * int(b[idx[0]]) * mult, 1 << shift)
            assert got[idx] == _sat(_rhu(v)), (mult, shift, idx)
    assert R.identity(x, b, 65535, 0, 4, UB).max() == (1 << (UB - 1)) - 1   # saturates
    with pytest.raises(ValueError, match="shortcut codes holds 16"):
        R.identity(x + 1, b, 1, 0, 4, UB)
    with pytest.raises(ValueError, match="alignment multiplier"):
        R.identity(x, b, 0, 0, 4, UB)


def test_residual_add_saturates_both_ways_and_checks_widths():
    lim = 1 << (UB - 1)
    main = np.array([lim - 1, -lim, 5, -7, 0])
    short = np.array([lim - 1, -lim, -5, 3, lim - 1])
    assert R.residual_add(main, short, UB).tolist() == [lim - 1, -lim, 0, -4, lim - 1]
    with pytest.raises(ValueError, match="main branch u holds"):
        R.residual_add(main * 2, short, UB)
    with pytest.raises(ValueError, match="residual add of shapes"):
        R.residual_add(main, short[:3], UB)


@pytest.mark.parametrize("hw", [(2, 2), (3, 3), (1, 1)])
def test_avgpool_is_the_rounded_mean(hw):
    rng = np.random.default_rng(1)
    u = rng.integers(-(1 << (UB - 1)), 1 << (UB - 1), (3, 4) + hw)
    got = R.avgpool(u, UB)
    assert got.shape == (3, 4, 1, 1)
    n = hw[0] * hw[1]
    pm, ps = Q.pool_params(n)
    for b, c in np.ndindex(3, 4):
        assert got[b, c, 0, 0] == _sat(_rhu(Fraction(int(u[b, c].sum()) * pm, 1 << ps)))


# ---- the fake-quant model computes the same integers ----------------------------------------

@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _random_resnet(digits, seed=0):
    """A width-4 ResNet-20 with random weights, BN statistics from the data and varying
    betas (random adapters), in fake-quant eval mode."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name="resnet20", width=4))
    model.train()
    with torch.no_grad():
        for i in range(4):
            model(digits.x_train[64 * i:64 * (i + 1)])
    init_quant(model, digits.x_train[:256])
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear) and m.weight.shape[0] == 1:   # adapter output
                m.weight.normal_(0, 0.05)
                m.bias.uniform_(0.6, 1.4)
    model.eval()
    return model


@pytest.fixture(scope="module")
def resnet(digits):
    model = _random_resnet(digits)
    return model, export_model(model, digits)


def test_fakequant_identity_block_is_golden_bit_for_bit(resnet, digits):
    """With the main branch zeroed, a block's fake-quant output is relu(identity(x)) of
    golden.residual, from the codes and beta its quantizer produced."""
    model, _ = resnet
    block = model.layers[4]                       # stage 1, second block: identity
    assert isinstance(block, BasicBlock) and block.shortcut is None
    x = torch.relu(torch.randn(40, 4, 8, 8)) * 0.7
    with torch.no_grad():
        saved = block.bn2.weight.clone(), block.bn2.bias.clone()
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
        out = block(x)
        block.bn2.weight.copy_(saved[0])
        block.bn2.bias.copy_(saved[1])
        q, beta = block.conv1.act_quant.codes(x)
    code = (beta.double() * 2**Q.BETA_FRAC).round().long().numpy()
    assert len(set(code.tolist())) > 1            # betas vary per sample
    s_x = block.conv1.act_quant.step().item()
    s_out = block.next.quant.step().item()
    mult, shift = R.align_params(s_x / s_out)
    want = np.maximum(R.identity(q.numpy(), code, mult, shift, 4, UB), 0)
    u = torch.floor(out / s_out * 2**Q.U_FRAC + 0.5).long().numpy()
    assert np.array_equal(u, want)


def test_fakequant_pool_is_golden_bit_for_bit(resnet):
    model, _ = resnet
    pool = [m for m in model.modules() if isinstance(m, GlobalAvgPool)][0]
    s = pool.next.quant.step().item()
    rng = np.random.default_rng(2)
    u = rng.integers(0, 1 << (UB - 1), (30, 16, 2, 2))
    u[0] = (1 << (UB - 1)) - 1
    x = torch.from_numpy(u * s * 2.0**-Q.U_FRAC).float()
    with torch.no_grad():
        got = torch.floor(pool(x) / s * 2**Q.U_FRAC + 0.5).long().numpy()
    assert np.array_equal(got, R.avgpool(u, UB))


# ---- export and golden ------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_golden_agrees_with_fakequant_on_digits(resnet, digits, variant):
    model, art = resnet
    x = digits.x_test
    with torch.no_grad():
        fq = model(x).argmax(1).numpy()
    net = GoldenNetwork(art, variant)
    res = net.run(x.numpy()[:200], trace=True, batch_size=200)
    assert np.mean(res.preds == fq[:200]) >= 0.99
    assert np.array_equal(net.run(x.numpy()).preds[:200], res.preds)
    assert [r.name for r in res.records] == [lay.name for lay in art.compute_layers()]
    assert len(res.adds) == 9
    for rec in res.records:                    # every layer's PE rows and accumulators
        assert rec.rows.dtype.kind == "i" and rec.acc.dtype == np.int64
    for a in res.adds:
        assert a.u.dtype == np.int64 and a.out.dtype == np.int64


def test_export_writes_the_block_structure(resnet):
    _, art = resnet
    kinds = [(op.op, getattr(op, "output", None)) for op in art.ops[:12]]
    assert kinds == [("conv", "codes"), ("relu", None), ("conv", "codes"), ("relu", None),
                     ("conv", "residual"), ("add", None), ("relu", None), ("conv", "codes"),
                     ("relu", None), ("conv", "residual"), ("add", None), ("relu", None)]
    adds = [op for op in art.ops if op.op == "add"]
    assert [a.kind for a in adds] == ["identity"] * 3 + ["projection", "identity",
                                                         "identity"] * 2
    proj = art.layer(adds[3].shortcut)
    assert proj.input == "conv7" and proj.kernel == (1, 1) and proj.stride == 2
    assert next_layer(art, art.layer("conv8")) is art.layer("conv10")    # after the add
    assert next_layer(art, proj) is art.layer("conv10")
    assert [op.op for op in art.ops[-3:]] == ["avgpool", "flatten", "linear"]
    assert art.version == 3


def test_mapper_and_estimate_cover_every_compute_layer(resnet):
    _, art = resnet
    cycles = mapper.network_cycles(art, "lut", rows=4, lanes=4)
    assert [n for n, _ in cycles] == [lay.name for lay in art.compute_layers()]
    est = estimate_network(art, 4, 4, 100.0)
    assert [lay["name"] for lay in est["layers"]] == [n for n, _ in cycles]
    assert [lay["cycles"] for lay in est["layers"]] == [c for _, c in cycles]


def test_cost_counts_the_residual_layers(resnet):
    _, art = resnet
    cost = GoldenNetwork(art).cost()
    assert [lay["name"] for lay in cost["layers"]] == [lay.name for lay in
                                                      art.compute_layers()]
    proj = next(lay for lay in cost["layers"] if lay["name"] == "conv9")
    assert proj["adapter"] is None               # ends at its rescale


# ---- the artifact -----------------------------------------------------------------------

def test_version_3_round_trips_byte_for_byte(resnet, tmp_path):
    _, art = resnet
    save_artifact(art, tmp_path / "a")
    meta = json.loads((tmp_path / "a" / "model.json").read_text())
    assert meta["version"] == 3
    save_artifact(load_artifact(tmp_path / "a"), tmp_path / "b")
    for name in ("model.json", "model.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _broken(art, tmp_path, change) -> str:
    meta, tensors = art.to_json(), dict(art.tensors)
    change(meta)
    write_raw(tmp_path / "x", meta, tensors)
    with pytest.raises(UserError) as e:
        load_artifact(tmp_path / "x")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _add(meta, k):
    return [op for op in meta["ops"] if op["op"] == "add"][k]


@pytest.mark.parametrize("change, expect", [
    (lambda m: _add(m, 0).update(shortcut="conv99"),
     "field ops[5].shortcut: must name an earlier compute op reading the chain's unsigned "
     "codes, not 'conv99'"),
    (lambda m: _add(m, 3).update(shortcut="conv8"),
     "field ops[21].shortcut: must name a residual output of a compute op with its own "
     "input"),
    (lambda m: _add(m, 0).update(main="conv1"),
     "field ops[5].main: must name a residual output"),
    (lambda m: _add(m, 0).update(kind="sum"),
     "field ops[5].kind: must be one of projection, identity, not 'sum'"),
    (lambda m: _add(m, 0).update(align_mult=0),
     "field ops[5].align_mult: must be an integer from 1 to 65535, not 0"),
    (lambda m: _add(m, 3).update(align_mult=3),
     "field ops[21].align_mult: unknown field"),
    (lambda m: m["ops"][20].update(input="conv99"),
     "field ops[20] (conv9).input: must name an earlier compute op that reads the chain"),
    (lambda m: m.update(version=2),
     "field ops[4] (conv2).output: must be 'codes', not 'residual' ('residual' needs "
     "version 3)"),
    (lambda m: m["ops"].pop(5),
     "field ops[5]: relu cannot come before the add of residual output 'conv2'"),
    (lambda m: m["floats"]["steps"].__setitem__(9, 0.5),
     "field floats.steps[9]: must equal steps[7]"),
])
def test_bad_residual_fields_fail_in_one_line(resnet, tmp_path, change, expect):
    _, art = resnet
    assert expect in _broken(art, tmp_path, change)


def test_a_chain_is_version_2_and_refused_as_3(tmp_path):
    from tests.array_export import trained_cnn
    art = load_artifact(trained_cnn())
    assert art.version == 2 and art.to_json()["version"] == 2
    msg = _broken(art, tmp_path, lambda m: m.update(version=3))
    assert msg.endswith("field version: is 3 but the ops form a chain; chain networks are "
                        "version 2")
