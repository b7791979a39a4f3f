"""The networks: shapes, quantizer placement, configuration checks."""

import pytest
import torch

from asq_hw.models import ModelConfig, ResNet20, build_model
from asq_hw.quant import ASQActivation, QConv2d, QLinear, quantizers, set_quant


def _compute_layers(model):
    return [m for m in model.modules() if isinstance(m, (QConv2d, QLinear))]


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_digits_models_classify_8x8_images(name):
    model = build_model(ModelConfig(name=name, width=8))
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_first_layer_takes_signed_8bit_input_and_the_rest_asq():
    model = build_model(ModelConfig(name="cnn", abits=3, width=8))
    acts = [m.act_quant for m in _compute_layers(model)]
    assert (acts[0].abits, acts[0].signed, acts[0].adapter) == (8, True, None)
    assert all((a.abits, a.signed) == (3, False) and a.adapter is not None for a in acts[1:])
    no_adapter = build_model(ModelConfig(name="cnn", adapter=False, width=8))
    assert all(m.act_quant.adapter is None for m in _compute_layers(no_adapter))


def test_every_compute_layer_uses_the_chosen_weight_scheme():
    model = build_model(ModelConfig(name="mlp", weight_quant="pot", wbits=3, width=4))
    wqs = [m.weight_quant for m in _compute_layers(model)]
    assert len(wqs) == 3 and all(q.scheme == "pot" and q.wbits == 3 for q in wqs)


def test_resnet20_is_the_cifar_network():
    cfg = ModelConfig(name="resnet20", in_channels=3, in_hw=(32, 32))
    model = build_model(cfg)
    assert isinstance(model, ResNet20)
    convs = [m for m in model.modules() if isinstance(m, QConv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 19  # + the classifier: 20 weighted layers
    n_params = sum(p.numel() for n, p in model.named_parameters()
                   if n.endswith("weight") and p.dim() > 1 and "adapter" not in n)
    assert 0.26e6 < n_params < 0.29e6  # ~0.27M parameters (He et al.)
    set_quant(model, False)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # one per compute layer except the two projections, which read their block's codes
    assert sum(isinstance(q, ASQActivation) for q in quantizers(model)) == 20


def test_model_config_checks_and_round_trips():
    cfg = ModelConfig(name="mlp", width=6, in_hw=[8, 8])
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"^model must be one of cnn, mlp, resnet20, "
                                         r"not 'vgg'$"):
        ModelConfig(name="vgg")
    with pytest.raises(ValueError, match=r"^width must be an integer from 4 to 1024, not 2$"):
        ModelConfig(width=2)
    with pytest.raises(ValueError,
                       match=r"^in_hw must be divisible by 4 for the cnn, not \[10, 10\]$"):
        build_model(ModelConfig(in_hw=(10, 10)))
