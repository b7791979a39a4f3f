"""Golden integer network: the step-wise API the RTL array run builds on, and agreement with the
fake-quantized PyTorch model it was exported from."""

import numpy as np
import pytest
import torch

from asq_hw.artifact import layer_pe_config
from asq_hw.data import load_digits
from asq_hw.export import export_model
from asq_hw.quant import QConv2d, QLinear
from asq_hw.train import TrainConfig, predict, train
from golden.network import GoldenNetwork, acc_from_rows, rows_from_acc
from golden.ops import im2col
from golden.pe import pe_matmul


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _trained(digits, **kw):
    cfg = TrainConfig(**{**dict(width=4, float_epochs=3, epochs=3, batch_size=64), **kw})
    result = train(cfg, digits, progress=False)
    return result, export_model(result.qat_model, digits)


@pytest.fixture(scope="module")
def cnn(digits):
    return _trained(digits)


def _torch_codes(model, x):
    """Per compute layer, the integer input codes and beta the fake-quant model used."""
    seen = []
    hooks = [m.register_forward_pre_hook(
        lambda mod, inp: seen.append(mod.act_quant.codes(inp[0])))
        for m in model.modules() if isinstance(m, (QConv2d, QLinear))]
    with torch.no_grad():
        model.eval()
        model(x)
    for h in hooks:
        h.remove()
    return [(c.numpy(), b.numpy()) for c, b in seen]


def test_input_codes_are_bit_exact(cnn, digits):
    result, art = cnn
    net = GoldenNetwork(art, "lut")
    x = digits.x_test[:50]
    assert np.array_equal(net.quantize_input(x.numpy()), _torch_codes(result.qat_model, x)[0][0])


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_trace_rows_and_accumulators_are_the_pe_s(cnn, digits, variant):
    _, art = cnn
    net = GoldenNetwork(art, variant)
    res = net.run(digits.x_test[:6].numpy(), trace=True)
    assert [r.name for r in res.records] == ["conv0", "conv1", "conv2", "linear3"]
    for i, rec in enumerate(res.records):
        layer = net.layers[i]
        cfg = layer_pe_config(art, layer, variant)
        if layer.op == "conv":
            assert np.array_equal(rec.rows, im2col(rec.x, layer.kernel, layer.stride,
                                                   layer.padding))
            assert rec.rows.shape == (6 * layer.positions, layer.fan_in)
        else:
            assert np.array_equal(rec.rows, rec.x)
        assert np.array_equal(rec.acc_rows, pe_matmul(rec.rows, art.codes(layer), cfg))
        assert np.array_equal(acc_from_rows(rec.acc_rows, 6, net.out_hw(i)), rec.acc)
    assert np.array_equal(res.preds, np.argmax(res.logits_int, axis=1))


def test_layer_step_accepts_accumulators_computed_elsewhere(cnn, digits):
    _, art = cnn
    net = GoldenNetwork(art, "dual")
    x = net.quantize_input(digits.x_test[:5].numpy())
    beta = np.ones(5)
    for i in range(len(net.layers)):
        own = net.layer_step(i, x, beta)
        rtl = pe_matmul(own.rows, art.codes(net.layers[i]), net.pe_config(i))
        ext = net.layer_step(i, x, beta, acc_rows=rtl)
        assert np.array_equal(ext.out, own.out) and np.array_equal(ext.beta_out, own.beta_out)
        rq = net.requant_params(i, beta, own.beta_out)
        assert np.array_equal(net.requantize(i, own.acc, rq), own.out)
        x, beta = own.next_x, own.beta_out


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_golden_codes_and_betas_follow_the_fake_quant_model(cnn, digits, variant):
    result, art = cnn
    x = digits.x_test[:100]
    ref = _torch_codes(result.qat_model, x)
    res = GoldenNetwork(art, variant).run(x.numpy(), trace=True)
    for rec, (codes, beta) in zip(res.records, ref, strict=True):
        # beta matches to float32 precision unless an upstream code differed by one step
        rel = np.abs(rec.beta_in / beta - 1)
        assert np.median(rel) < 1e-5 and rel.max() < 0.02
        diff = np.abs(rec.x - codes.reshape(rec.x.shape))
        assert diff.max() <= 1 and np.mean(diff != 0) < 0.01


@pytest.mark.parametrize("kw", [dict(), dict(model="mlp"), dict(weight_quant="pot"),
                                dict(weight_quant="int", adapter=False),
                                dict(wbits=2, abits=2)],
                         ids=["cnn", "mlp", "pot", "int-noadapter", "w2a2"])
def test_golden_predictions_agree_with_fake_quant(cnn, digits, kw):
    result, art = cnn if not kw else _trained(digits, **kw)
    fq = predict(result.qat_model, digits.x_test).numpy()
    for variant in ("lut", "dual"):
        res = GoldenNetwork(art, variant).run(digits.x_test.numpy(), batch_size=128)
        assert np.mean(res.preds == fq) >= 0.97
    assert rows_from_acc(np.zeros((2, 3, 4, 5))).shape == (40, 3)


def test_bad_inputs_are_refused(cnn):
    _, art = cnn
    with pytest.raises(ValueError, match=r"^variant must be one of 'lut', 'dual', not 'x'$"):
        GoldenNetwork(art, "x")
    with pytest.raises(ValueError, match=r"^frac_bits must be an integer from 1 to 16"):
        GoldenNetwork(art, "lut", frac_bits=20)
    with pytest.raises(ValueError, match=r"^images must have shape \(B, 1, 8, 8\)"):
        GoldenNetwork(art).run(np.zeros((2, 8, 8)))
