"""asq_hw/evaluation.py's continuous quality figures: the logit SQNR against the float
network and the per-layer weight quantization MSE, recomputed here from the artifact's
codes and the golden network on a tiny trained digits network."""

import math

import numpy as np
import pytest
import torch

from asq_hw.artifact import load_artifact
from asq_hw.cli import main
from asq_hw.data import load_digits
from asq_hw.evaluation import evaluate, sqnr_db
from asq_hw.quant import QConv2d, QLinear, set_quant
from asq_hw.train import load_checkpoint_meta
from golden.network import GoldenNetwork
from golden.schemes import weight_levels

TINY = ["--width", "4", "--float-epochs", "2", "--epochs", "2", "--batch-size", "128",
        "--quiet"]


def test_sqnr_definition():
    assert sqnr_db([3.0, 4.0], [3.0, 3.0]) == pytest.approx(10 * math.log10(25.0))
    assert sqnr_db([[1.0, -1.0]], [[0.5, -0.5]]) == pytest.approx(10 * math.log10(4.0))
    assert sqnr_db([1.0, 2.0], [1.0, 2.0]) is None             # no noise
    with pytest.raises(ValueError, match=r"^signal and approximation shapes differ"):
        sqnr_db([1.0, 2.0], [1.0])


@pytest.fixture(scope="module", params=["post", "int"])
def trained(tmp_path_factory, request):
    out = tmp_path_factory.mktemp(f"model-{request.param}")
    assert main(["train", *TINY, "--weight-quant", request.param, "--wbits", "3",
                 "--out", str(out)]) == 0
    return out


def test_logit_sqnr_is_golden_against_float(trained):
    r = evaluate(trained)
    art = load_artifact(trained)
    float_model, qat_model, _, _ = load_checkpoint_meta(trained)
    x = load_digits().x_test
    with torch.no_grad():
        f = float_model.eval()(x).double().numpy()
        fq = qat_model.eval()(x).double().numpy()
    g = GoldenNetwork(art, "lut").run(x.numpy())
    # the golden logits dequantized: integer logits times 2**-shift (the output scale)
    deq = g.logits_int * np.exp2(-g.shift.astype(np.float64))[:, None]
    expect = 10 * np.log10(np.sum(f ** 2) / np.sum((f - deq) ** 2))
    assert r["sqnr_db"] == pytest.approx(expect, rel=1e-9)
    assert r["fakequant_sqnr_db"] == pytest.approx(
        10 * np.log10(np.sum(f ** 2) / np.sum((f - fq) ** 2)), rel=1e-6)
    # golden follows fake-quant closely (agreement), so their SQNRs are close
    assert abs(r["sqnr_db"] - r["fakequant_sqnr_db"]) < 1.0


def test_quant_sqnr_is_golden_against_the_qat_network_in_float(trained):
    r = evaluate(trained)
    _, qat_model, _, _ = load_checkpoint_meta(trained)
    x = load_digits().x_test
    g = GoldenNetwork(load_artifact(trained), "lut").run(x.numpy())
    set_quant(qat_model, False)
    with torch.no_grad():
        lat = qat_model.eval()(x).double().numpy()
    expect = 10 * np.log10(np.sum(lat ** 2) / np.sum((lat - g.logits) ** 2))
    assert r["quant_sqnr_db"] == pytest.approx(expect, rel=1e-6)
    # not the float network's figure: the QAT network's own weights, unquantized
    assert r["quant_sqnr_db"] != pytest.approx(r["sqnr_db"], abs=0.01)


def test_weight_mse_is_real_weights_against_the_artifacts_codes(trained):
    r = evaluate(trained)
    art = load_artifact(trained)
    _, qat_model, _, _ = load_checkpoint_meta(trained)
    mods = [m for m in qat_model.modules() if isinstance(m, (QConv2d, QLinear))]
    levels = weight_levels(art.weight_quant, art.wbits)
    assert [w["name"] for w in r["weight_mse"]] == [lay.name for lay in art.compute_layers()]
    for w, m, lay in zip(r["weight_mse"], mods, art.compute_layers(), strict=True):
        real = m.weight.detach().double().numpy().reshape(lay.outputs, -1)
        # The artifact holds integers only: alpha (per output channel) is the quantizer's.
        alpha = m.weight_quant.alpha().detach().double().numpy().reshape(-1, 1)
        deq = levels[art.tensors[f"{lay.name}.codes"].astype(np.int64)] * alpha
        assert w["mse"] == pytest.approx(np.mean((real - deq) ** 2), rel=1e-4)
        assert w["mse"] > 0
        assert w["sqnr_db"] == pytest.approx(
            10 * np.log10(np.sum(real ** 2) / np.sum((real - deq) ** 2)), rel=1e-4)
