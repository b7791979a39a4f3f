"""Accuracy of a trained model folder (written by `asq-hw train`) on its data set's test
split: the float model, the fake-quantized PyTorch model and the golden integer network
(read from the artifact only), and their agreement. `asq-hw eval`, `asq-hw sim model` and
the demo use it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from asq_hw.artifact import load_artifact
from asq_hw.data import load_dataset
from asq_hw.errors import UserError
from asq_hw.train import CHECKPOINT_NAME, deterministic, load_checkpoint_meta, predict
from golden.network import GoldenNetwork


def evaluate(directory, variant: str = "lut", frac_bits: int | None = None,
             data_dir=None, threads: int = 1) -> dict:
    """{'images', 'float_acc', 'fakequant_acc', 'golden_acc', 'agreement'} (fractions in
    [0, 1]; agreement: golden top-1 == fake-quant top-1). UserError when the checkpoint and
    the artifact come from different runs or the data set does not match the artifact."""
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
        float_pred = predict(float_model, data.x_test).numpy()
        fq_pred = predict(qat_model, data.x_test).numpy()
    golden = GoldenNetwork(art, variant, frac_bits).run(data.x_test.numpy())
    return {"images": int(y.shape[0]),
            "float_acc": float(np.mean(float_pred == y)),
            "fakequant_acc": float(np.mean(fq_pred == y)),
            "golden_acc": float(np.mean(golden.preds == y)),
            "agreement": float(np.mean(golden.preds == fq_pred))}


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
