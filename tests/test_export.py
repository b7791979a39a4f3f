"""The artifact: codes as the quantizer made them, byte-identical round trip, a loader that
refuses every kind of broken artifact with one line naming the file and the field."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from asq_hw.artifact import (
    copy_artifact,
    layer_arith,
    layer_pe_config,
    load_artifact,
    save_artifact,
    write_raw,
)
from asq_hw.data import load_digits
from asq_hw.errors import UserError
from asq_hw.export import export_model
from asq_hw.models import ChainNet, ModelConfig, build_model
from asq_hw.quant import QConv2d, QLinear
from asq_hw.train import TrainConfig, train
from golden import asq_int as Q
from golden.codes import encode


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def trained(digits):
    return train(TrainConfig(width=4, float_epochs=2, epochs=2, batch_size=128), digits,
                 progress=False)


@pytest.fixture(scope="module")
def art(trained, digits):
    return export_model(trained.qat_model, digits, provenance={"note": "test"})


def _compute(model):
    return [m for m in model.modules() if isinstance(m, (QConv2d, QLinear))]


def test_exported_codes_are_the_quantizers_codes(trained, art):
    mods = _compute(trained.qat_model)
    layers = art.compute_layers()
    assert len(mods) == len(layers) == 4
    for mod, layer in zip(mods, layers, strict=True):
        k = mod.weight.shape[0]
        codes = art.codes(layer)
        assert codes.dtype == np.uint8 and codes.shape == (k, layer.fan_in)
        assert np.array_equal(codes, mod.weight_quant.codes(mod.weight).reshape(k, -1).numpy())
        alpha = mod.weight_quant.alpha().detach()
        u = (mod.weight.detach() / alpha.view((-1,) + (1,) * (mod.weight.dim() - 1)))
        assert np.array_equal(codes, encode(u.double().numpy().reshape(k, -1), 4))
    assert all(t.dtype.kind in "iu" for t in art.tensors.values())
    steps = [m.act_quant.step().item() for m in mods]
    assert art.floats.steps == tuple(steps) and art.input_step == steps[0]
    assert art.floats.float_acc is None  # not given to this export


def test_adapters_are_the_fake_quant_integers(trained, art):
    for mod, layer in zip(_compute(trained.qat_model), art.compute_layers(), strict=True):
        lins = [] if mod.act_quant.adapter is None else \
            [m for m in mod.act_quant.adapter if isinstance(m, torch.nn.Linear)]
        stored = art.adapter(layer)
        assert len(stored) == len(lins) and (len(lins) == 0) == (layer.name == "conv0")
        for j, (m, ad) in enumerate(zip(lins, stored, strict=True)):
            ref = Q.adapter_params(m.weight.detach().numpy(), m.bias.detach().numpy(),
                                   Q.U_FRAC if j == 0 else Q.ADAPTER_FRAC)
            assert np.array_equal(ad.weight, ref.weight) and ad.exp == ref.exp
            assert np.array_equal(ad.bias, ref.bias)
            assert art.tensors[f"{layer.name}.adapter.{j}.weight"].dtype == np.int8


def test_layer_description_and_folded_batchnorm(trained, art):
    conv0 = art.compute_layers()[0]
    assert (conv0.op, conv0.in_channels, conv0.out_channels, conv0.kernel, conv0.stride,
            conv0.padding, conv0.in_hw, conv0.fan_in) == ("conv", 1, 4, (3, 3), 1, 1, (8, 8), 9)
    assert conv0.act_in.abits == 8 and conv0.act_in.signed is True
    assert [op.op for op in art.ops] == ["conv", "relu", "conv", "relu", "maxpool", "conv",
                                            "relu", "maxpool", "flatten", "linear"]
    # BN folded into the static scale: per channel, the real multiplier C * 2**-shift / f
    # and offset D * 2**-(shift + 8) are BN(conv) in units of the next step.
    layers = trained.qat_model.layers
    conv, bn = layers[0], layers[1]
    with torch.no_grad():
        g = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).double().numpy()
        b = (bn.bias.double() - bn.running_mean.double() * torch.from_numpy(g)).numpy()
        alpha = conv.weight_quant.alpha().double().numpy()
    s_in, s_out = art.floats.steps[0], art.floats.steps[1]
    for variant in ("lut", "dual"):
        f = layer_arith(conv0, "post", 4, variant, 8).slot_factors()
        c = art.tensors[f"conv0.requant.{variant}.mult"] * 2.0 ** -conv0.requant[variant].shift
        d = art.tensors[f"conv0.requant.{variant}.offset"] \
            * 2.0 ** -(conv0.requant[variant].shift + 8)
        assert np.allclose(c / np.array(f), (s_in * alpha * g / s_out)[:, None], rtol=1e-5)
        assert np.allclose(d, b / s_out, rtol=1e-5, atol=1e-6)


def test_layer_pe_config(art):
    cfg = layer_pe_config(art, "conv1", "dual", 6)
    assert (cfg.wbits, cfg.abits, cfg.act_signed, cfg.variant, cfg.frac_bits, cfg.max_len) \
        == (4, 4, False, "dual", 6, 36)
    first = layer_pe_config(art, art.compute_layers()[0], "lut")
    assert (first.abits, first.act_signed, first.frac_bits, first.max_len) == (8, True, 8, 9)
    pot = dataclasses.replace(art, weight_quant="pot")
    with pytest.raises(UserError, match=r"^weight_quant 'pot' does not run on the POST PE"):
        layer_pe_config(pot, "conv1", "lut")


def test_round_trip_is_byte_identical(art, tmp_path):
    save_artifact(art, tmp_path / "a")
    loaded = load_artifact(tmp_path / "a")
    save_artifact(loaded, tmp_path / "b")
    for name in ("model.json", "model.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert loaded.provenance == {"note": "test"}
    assert loaded.ops == art.ops and loaded.input == art.input


def test_what_the_pipeline_cannot_run_is_refused_in_one_line(digits):
    model = build_model(ModelConfig(name="resnet20", width=4))
    # A projection that is not asq-hw's (1x1 QConv2d reading the block's codes, BN).
    model.layers[6].shortcut = torch.nn.Sequential(torch.nn.AvgPool2d(1),
                                                   torch.nn.BatchNorm2d(8))
    with pytest.raises(UserError, match=r"^export: 6\.shortcut: the projection must be"):
        export_model(model, digits)
    chain = ChainNet(ModelConfig(), [torch.nn.AvgPool2d(2)])
    with pytest.raises(UserError, match=r"^export: 0 \(AvgPool2d\) is not supported"):
        export_model(chain, digits)


# ---- broken artifacts --------------------------------------------------------------------

def _saved(art, path):
    save_artifact(art, path)
    return path


def _rewrite(art, path, meta_fn=None, tensor_fn=None):
    """Write a modified artifact with a matching checksum (a buggy exporter)."""
    bad = copy_artifact(art)
    meta = bad.to_json()
    if meta_fn:
        meta_fn(meta)
    if tensor_fn:
        tensor_fn(bad.tensors)
    write_raw(path, meta, bad.tensors)
    return path


def _error(path) -> str:
    with pytest.raises(UserError) as info:
        load_artifact(path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_missing_folder_and_files(art, tmp_path):
    assert _error(tmp_path / "nope").endswith("nope: artifact folder not found")
    d = _saved(art, tmp_path / "a")
    (d / "model.safetensors").unlink()
    assert "model.safetensors: missing" in _error(d)
    d = _saved(art, tmp_path / "b")
    (d / "model.json").unlink()
    assert "model.json: missing" in _error(d)


def test_truncated_and_corrupt_files(art, tmp_path):
    d = _saved(art, tmp_path / "a")
    blob = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    msg = _error(d)
    assert "model.safetensors: sha256" in msg and "tensors_sha256" in msg
    d = _saved(art, tmp_path / "b")
    text = (d / "model.json").read_text()
    (d / "model.json").write_text(text[: len(text) // 2])
    assert "model.json: not valid JSON" in _error(d)
    d = _saved(art, tmp_path / "c")
    flipped = bytearray((d / "model.safetensors").read_bytes())
    flipped[-3] ^= 0x01
    (d / "model.safetensors").write_bytes(bytes(flipped))
    assert "model.safetensors: sha256" in _error(d)


def test_wrong_version_and_format(art, tmp_path):
    d = _saved(art, tmp_path / "a")
    meta = json.loads((d / "model.json").read_text())
    meta["version"] = 4
    (d / "model.json").write_text(json.dumps(meta))
    assert _error(d).endswith("model.json: field version is 4; this asq-hw reads versions 2 and 3")
    meta["version"], meta["format"] = 1, "onnx"
    (d / "model.json").write_text(json.dumps(meta))
    assert "model.json: field format must be 'asq-hw-artifact'" in _error(d)


@pytest.mark.parametrize("meta_fn,tensor_fn,expect", [
    (lambda m: m["ops"][2].update(fan_in=99), None, "model.json: field ops[2] (conv1).fan_in"),
    (lambda m: m["ops"][2].update(in_hw=[4, 4]), None, "ops[2] (conv1).in_hw"),
    (lambda m: m["ops"][2].update(in_channels=5), None, "ops[2] (conv1).in_channels"),
    (lambda m: m["floats"]["steps"].__setitem__(1, -1.0), None,
     "model.json: field floats.steps: must be positive"),
    (lambda m: m["floats"].update(float_acc=2.0), None,
     "field floats.float_acc: must be null or a fraction from 0 to 1, not 2.0"),
    (lambda m: m["ops"][2]["act_in"].update(step=0.5), None,
     "field ops[2] (conv1).act_in.step: unknown field"),
    (lambda m: m["ops"][5]["act_in"].update(adapter_exp=[16, 0]), None,
     "ops[5] (conv2).act_in.adapter_exp: must be 2 integers from 0 to 15"),
    (lambda m: m["ops"][0]["requant"]["dual"].update(shift=0), None,
     "field ops[0] (conv0).requant.dual.shift: must be an integer from 1 to 54, not 0"),
    (lambda m: m["floats"]["steps"].__setitem__(1, 1e-300), None,
     "field floats.steps: must be positive finite float32 numbers (1.18e-38 to 3.4e+38)"),
    (lambda m: m.update(wbits=9), None, "model.json: field wbits: must be an integer from 2"),
    (lambda m: m.update(colour="red"), None, "model.json: field colour: unknown field"),
    (lambda m: m["ops"].pop(), None, "model.json: field ops: must end with a compute op"),
    (lambda m: m["ops"][4].update(kernel=9), None, "ops[4]: maxpool 9x9 does not fit"),
    (None, lambda t: t.update({"conv1.codes": t["conv1.codes"][:, :-1].copy()}),
     "model.safetensors: tensor conv1.codes: must be uint8 of shape (8, 36)"),
    (None, lambda t: t["conv1.codes"].__setitem__((0, 0), 200),
     "tensor conv1.codes: holds code 200, beyond wbits=4"),
    (None, lambda t: t.update({"conv2.requant.lut.mult":
                               t["conv2.requant.lut.mult"].astype(np.float32)}),
     "tensor conv2.requant.lut.mult: must be int32 of shape (8, 1), not float32"),
    (None, lambda t: t["conv2.requant.dual.mult"].__setitem__((0, 0), -2**23),
     "tensor conv2.requant.dual.mult: holds 8388608; the layer's multipliers are 24-bit"),
    (None, lambda t: t["conv2.adapter.0.weight"].__setitem__((0, 0), -128),
     "tensor conv2.adapter.0.weight: holds -128"),
    (None, lambda t: t.pop("linear3.requant.dual.offset"),
     "tensor linear3.requant.dual.offset: missing"),
    (None, lambda t: t.update(extra=np.zeros(2, np.int8)),
     "tensor extra: is not referenced"),
])
def test_inconsistent_artifacts_name_file_and_field(art, tmp_path, meta_fn, tensor_fn, expect):
    d = _rewrite(art, tmp_path / "x", meta_fn, tensor_fn)
    assert expect in _error(d)
