"""Accuracy of a trained model folder (written by `asq-hw train`) on its data set's test
split: the float model, the fake-quantized PyTorch model and the golden integer network
(read from the artifact only), and their agreement. `asq-hw eval`, `asq-hw sim model` and
the demo use it.

Besides top-1, two continuous figures that separate quantizers where top-1 saturates:

- `sqnr_db`: the signal-to-quantization-noise ratio of the golden integer network's logits
  against the float network's on the whole test split,
  10 log10(sum f**2 / sum (f - g)**2) over every image and class, f the float logits, g the
  golden integer logits dequantized by the artifact's output scale (golden RunResult.logits);
  `fakequant_sqnr_db` the same with the fake-quant PyTorch logits for g. The float network
  is the pre-training result, before QAT moved its weights, so on the digits CNN this
  figure is dominated by that drift (7-10 dB at every quantizer and width).
- `quant_sqnr_db`: the same ratio with f the logits of the QAT network itself run in float
  (every quantizer off: its latent real weights, unquantized activations, the same BN): the
  noise of quantizing this network's weights and activations alone, which grows with the
  bits and separates the weight quantizers at equal bits.
- `weight_mse`: per compute layer, the mean squared error between the checkpoint's real
  (latent QAT) weights and their dequantized codes (level x alpha, what the forward pass and
  the artifact use), and the same as a ratio in dB (`sqnr_db`: sum w**2 / sum (w - q)**2).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from asq_hw.artifact import load_artifact
from asq_hw.data import load_dataset
from asq_hw.errors import UserError
from asq_hw.quant import QConv2d, QLinear, set_quant
from asq_hw.train import CHECKPOINT_NAME, deterministic, load_checkpoint_meta, predict
from golden.network import GoldenNetwork


def evaluate(directory, variant: str = "lut", frac_bits: int | None = None,
             data_dir=None, threads: int = 1) -> dict:
    """{'images', 'float_acc', 'fakequant_acc', 'golden_acc', 'agreement'} (fractions in
    [0, 1]; agreement: golden top-1 == fake-quant top-1), 'integer_only' (True: the golden
    network is integer from the input codes to the logits), 'asq_cost' (per layer, what
    the integer ASQ units cost per image: golden.network.GoldenNetwork.cost), 'sqnr_db',
    'fakequant_sqnr_db', 'quant_sqnr_db' and 'weight_mse' [{name, mse, sqnr_db}] (module
    docstring). UserError
    when the checkpoint and the artifact come from different runs or the data set does not
    match the artifact."""
    art = load_artifact(directory)
    float_model, qat_model, tcfg, meta = load_checkpoint_meta(directory)
    if meta.get("artifact_sha256") != art.tensors_sha256:
        raise UserError(f"{directory}: checkpoint.safetensors field artifact_sha256 does not "
                        "match model.json: the checkpoint and the artifact come from "
                        "different runs")
    data = load_dataset(art.dataset, data_dir if data_dir is not None else tcfg.data_dir)
    if tuple(data.in_shape) != art.input.shape:
        raise UserError(f"{directory}: artifact input shape {list(art.input.shape)} does not "
                        f"match the {art.dataset} images {list(data.in_shape)}")
    y = data.y_test.numpy()
    with deterministic(tcfg.seed, threads):
        float_logits = logits(float_model, data.x_test)
        fq_logits = logits(qat_model, data.x_test)
        set_quant(qat_model, False)
        latent_logits = logits(qat_model, data.x_test)
        set_quant(qat_model, True)
    float_pred, fq_pred = float_logits.argmax(axis=1), fq_logits.argmax(axis=1)
    net = GoldenNetwork(art, variant, frac_bits)
    golden = net.run(data.x_test.numpy())
    return {"images": int(y.shape[0]),
            "float_acc": float(np.mean(float_pred == y)),
            "fakequant_acc": float(np.mean(fq_pred == y)),
            "golden_acc": float(np.mean(golden.preds == y)),
            "agreement": float(np.mean(golden.preds == fq_pred)),
            "integer_only": True,
            "asq_cost": net.cost(),
            "sqnr_db": sqnr_db(float_logits, golden.logits),
            "fakequant_sqnr_db": sqnr_db(float_logits, fq_logits),
            "quant_sqnr_db": sqnr_db(latent_logits, golden.logits),
            "weight_mse": weight_mse(qat_model, [lay.name for lay in art.compute_layers()])}


def sqnr_db(signal, approx) -> float | None:
    """10 log10(sum signal**2 / sum (signal - approx)**2) in float64 over every element;
    None when approx equals signal (no noise: an infinite ratio, which JSON cannot hold)."""
    f = np.asarray(signal, dtype=np.float64)
    g = np.asarray(approx, dtype=np.float64)
    if f.shape != g.shape:
        raise ValueError(f"signal and approximation shapes differ: {f.shape} vs {g.shape}")
    noise = float(np.sum((f - g) ** 2))
    if noise == 0.0:
        return None
    return 10.0 * math.log10(float(np.sum(f ** 2)) / noise)


def logits(model, x: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """float64 (B, K) outputs of `model` in eval mode (batched as train.predict)."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size])
                          for i in range(0, x.shape[0], batch_size)]).double().numpy()


def weight_mse(qat_model, names: list[str]) -> list[dict]:
    """[{name, mse, sqnr_db}] of every quantized compute layer of `qat_model` in forward
    order (the artifact's compute layers, named by `names`): its real weights against the
    weight quantizer's output (dequantized codes)."""
    mods = [m for m in qat_model.modules() if isinstance(m, (QConv2d, QLinear))]
    if len(mods) != len(names):
        raise ValueError(f"{len(mods)} quantized layers in the model, {len(names)} names")
    out = []
    with torch.no_grad():
        for name, m in zip(names, mods, strict=True):
            w = m.weight.double()
            q = m.weight_quant(m.weight).double()
            out.append({"name": name, "mse": float(torch.mean((w - q) ** 2)),
                        "sqnr_db": sqnr_db(w.numpy(), q.numpy())})
    return out


def fakequant_preds(directory, x):
    """PyTorch fake-quant predictions of images x from DIR/checkpoint.safetensors, or
    (None, reason) when there is no checkpoint from the same training run."""
    if not (Path(directory) / CHECKPOINT_NAME).is_file():
        return None, f"no {CHECKPOINT_NAME} in {directory}"
    _, qat_model, tcfg, meta = load_checkpoint_meta(directory)
    if meta.get("artifact_sha256") != load_artifact(directory).tensors_sha256:
        return None, "the checkpoint comes from another training run than the artifact"
    with deterministic(tcfg.seed, 1):
        return predict(qat_model, torch.from_numpy(x)).numpy(), None
