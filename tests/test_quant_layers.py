"""QConv2d / QLinear: the float op on quantized inputs and weights; quantizer switches."""

import torch
import torch.nn.functional as F

from asq_hw.quant import (
    ASQActivation,
    POSTWeightQuant,
    QConv2d,
    QLinear,
    init_quant,
    quantizers,
    set_quant,
)


def _close(a, b):
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()


def test_qconv2d_is_conv_of_quantized_input_and_weight():
    torch.manual_seed(0)
    wq, aq = POSTWeightQuant(4, 6, 27), ASQActivation(4, 3)
    conv = QConv2d(3, 6, 3, stride=2, padding=1, weight_quant=wq, act_quant=aq)
    wq.init_from(conv.weight)
    x = torch.rand(2, 3, 7, 7)
    y = conv(x)
    _close(y, F.conv2d(aq(x), wq(conv.weight), None, 2, 1))
    set_quant(conv, False)
    _close(conv(x), F.conv2d(x, conv.weight, None, 2, 1))


def test_qlinear_is_linear_of_quantized_input_and_weight():
    torch.manual_seed(1)
    wq, aq = POSTWeightQuant(3, 5, 8), ASQActivation(4, 8, adapter=False)
    lin = QLinear(8, 5, weight_quant=wq, act_quant=aq)
    wq.init_from(lin.weight)
    x = torch.rand(4, 8)
    _close(lin(x), F.linear(aq(x), wq(lin.weight), lin.bias))


def test_init_quant_sets_alphas_and_steps_and_enables():
    torch.manual_seed(2)
    net = torch.nn.Sequential(
        QConv2d(1, 4, 3, padding=1, weight_quant=POSTWeightQuant(4, 4, 9),
                act_quant=ASQActivation(8, 1, adapter=False, signed=True)),
        torch.nn.ReLU(),
        QConv2d(4, 4, 3, padding=1, weight_quant=POSTWeightQuant(4, 4, 36),
                act_quant=ASQActivation(4, 4)))
    set_quant(net, False)
    assert all(not q.enabled for q in quantizers(net))
    init_quant(net, torch.randn(8, 1, 6, 6))
    assert all(q.enabled for q in quantizers(net))
    w = net[0].weight.detach().abs().reshape(4, -1)
    assert torch.allclose(net[0].weight_quant.alpha(), torch.quantile(w, 0.99, dim=1))
    assert all(bool(q.initialized) for q in quantizers(net) if hasattr(q, "initialized"))
