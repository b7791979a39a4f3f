"""Training: float pre-training, then quantization-aware fine-tuning (QAT), on the CPU.

Deterministic for a seed: the RNG, the batch order (a seeded generator), the thread count
and torch's deterministic algorithms are all fixed for the duration of `train` and
restored afterwards. The checkpoint (`DIR/checkpoint.safetensors`) keeps both PyTorch
models so `asq-hw eval` can report float and fake-quant accuracy next to the golden
integer network; hardware reads only the artifact (asq_hw.artifact).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from asq_hw.config import ABITS_RANGE, WBITS_RANGE, _check_int
from asq_hw.data import DATASETS, Dataset, load_dataset
from asq_hw.errors import UserError
from asq_hw.models import MODELS, ModelConfig, build_model
from asq_hw.quant import ASQActivation, init_quant, set_quant
from golden.schemes import check_scheme

CHECKPOINT_NAME = "checkpoint.safetensors"
CHECKPOINT_FORMAT = "asq-hw-checkpoint"
THREADS_RANGE = (1, 256)


# QAT learning rates that differ from TrainConfig's by network: ResNet-20's fake-quant ends
# 1.95 points below float on digits at 1e-3 and 0.84 at 3e-4 (30 + 30 epochs, width 8).
QAT_LR_BY_MODEL = {"resnet20": 3e-4}


def default_qat_lr(model: str) -> float:
    """The QAT learning rate `asq-hw train` uses for `model` unless told otherwise."""
    return QAT_LR_BY_MODEL.get(model, TrainConfig.qat_lr)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (with the seed, the result is fixed)."""

    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "cnn"
    width: int = 16
    wbits: int = 4
    abits: int = 4
    weight_quant: str = "post"
    adapter: bool = True
    float_epochs: int = 30
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    qat_lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 1

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, "
                             f"not {self.dataset!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        check_scheme(self.weight_quant)
        _check_int("wbits", self.wbits, *WBITS_RANGE)
        _check_int("abits", self.abits, *ABITS_RANGE)
        _check_int("width", self.width, 4, 1024)
        _check_int("float_epochs", self.float_epochs, 0, 10000)
        _check_int("epochs", self.epochs, 0, 10000)
        _check_int("batch_size", self.batch_size, 1, 1 << 16)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_int("threads", self.threads, *THREADS_RANGE)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ValueError(f"data_dir must be a folder name, not {self.data_dir!r}")
        for name in ("lr", "qat_lr"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, not {v!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, not {self.weight_decay!r}")

    def model_config(self, data: Dataset) -> ModelConfig:
        c, h, w = data.in_shape
        return ModelConfig(name=self.model, wbits=self.wbits, abits=self.abits,
                           weight_quant=self.weight_quant, adapter=self.adapter,
                           width=self.width, in_channels=c, in_hw=(h, w),
                           num_classes=data.num_classes)


@dataclasses.dataclass
class TrainResult:
    config: TrainConfig
    float_model: nn.Module
    qat_model: nn.Module
    float_acc: float
    fakequant_acc: float


@contextlib.contextmanager
def deterministic(seed: int, threads: int):
    """Seeded, deterministic, fixed-thread torch for the block; yields a seeded generator
    for batch order. Restores the previous thread count and determinism flag."""
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Top-1 predictions of `model` in eval mode."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]).argmax(dim=1)
                      for i in range(0, x.shape[0], batch_size)])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x) == y).float().mean())


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """CIFAR augmentation: random crop with 4-pixel zero padding and horizontal flip."""
    b, _, h, w = x.shape
    xp = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (b,), generator=gen)
    dx = torch.randint(0, 9, (b,), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.stack([xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    out[flip] = out[flip].flip(-1)
    return out


def _fit(model: nn.Module, data: Dataset, epochs: int, lr: float, weight_decay: float,
         cfg: TrainConfig, gen: torch.Generator, desc: str, progress: bool) -> None:
    """Adam with a cosine learning-rate schedule over every step; weight decay on conv and
    linear weights only (not on BN, biases, alphas, steps or adapters)."""
    if epochs == 0:
        return
    # The adapters' Linear layers are quantizer parameters, not network weights.
    adapter_ids = {id(p) for m in model.modules() if isinstance(m, ASQActivation)
                   and m.adapter is not None for p in m.adapter.parameters()}
    decay = [m.weight for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m.weight) not in adapter_ids]
    ids = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.Adam([{"params": decay, "weight_decay": weight_decay},
                            {"params": rest, "weight_decay": 0.0}], lr=lr)
    n = data.x_train.shape[0]
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / (epochs * steps_per_epoch))))
    bar = tqdm(range(epochs), desc=desc, file=sys.stderr, disable=not progress,
               leave=False, dynamic_ncols=True)
    for _ in bar:
        model.train()
        perm = torch.randperm(n, generator=gen)
        total, correct, seen = 0.0, 0, 0
        for start in range(0, n, cfg.batch_size):
            idx = perm[start:start + cfg.batch_size]
            x, y = data.x_train[idx], data.y_train[idx]
            if data.name == "cifar10":
                x = _augment(x, gen)
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == y).sum())
            seen += len(idx)
        bar.set_postfix(loss=f"{total / seen:.3f}", train_acc=f"{correct / seen:.3f}")


def train(cfg: TrainConfig, data: Dataset | None = None, progress: bool = True) -> TrainResult:
    """Float pre-training (quantizers off) for cfg.float_epochs, then QAT for cfg.epochs
    starting from the float weights (alphas from the weights, steps from one batch)."""
    data = data if data is not None else load_dataset(cfg.dataset, cfg.data_dir)
    mcfg = cfg.model_config(data)
    with deterministic(cfg.seed, cfg.threads) as gen:
        model = build_model(mcfg)
        set_quant(model, False)
        _fit(model, data, cfg.float_epochs, cfg.lr, cfg.weight_decay, cfg, gen,
             "float", progress)
        float_acc = accuracy(model, data.x_test, data.y_test)
        qat = copy.deepcopy(model)
        init_quant(qat, data.x_train[:256])
        _fit(qat, data, cfg.epochs, cfg.qat_lr, 0.0, cfg, gen, "QAT", progress)
        fq_acc = accuracy(qat, data.x_test, data.y_test)
    model.eval()
    qat.eval()
    return TrainResult(cfg, model, qat, float_acc, fq_acc)


# ---------------------------------------------------------------------------------------
# Checkpoint: both PyTorch models, for eval's float and fake-quant reference numbers.

def save_checkpoint(result: TrainResult, data: Dataset, directory,
                    artifact_sha256: str | None = None) -> Path:
    """Write DIR/checkpoint.safetensors: both models' state dicts and the configurations;
    artifact_sha256 (the artifact's tensors_sha256) ties it to the artifact exported with
    it, so eval never compares an artifact with another run's models."""
    from safetensors.torch import save

    from asq_hw.outputs import write_bytes
    tensors = {f"float.{k}": v.detach().contiguous()
               for k, v in result.float_model.state_dict().items()}
    tensors.update({f"qat.{k}": v.detach().contiguous()
                    for k, v in result.qat_model.state_dict().items()})
    # One metadata key: safetensors does not keep the order of several, and a checkpoint
    # should be byte-identical for the same seed.
    meta = {"asq_hw": json.dumps({
        "format": CHECKPOINT_FORMAT, "version": 1,
        "model_config": result.config.model_config(data).to_dict(),
        "train_config": dataclasses.asdict(result.config),
        "artifact_sha256": artifact_sha256})}
    path = Path(directory) / CHECKPOINT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, save(tensors, metadata=meta))
    return path


def load_checkpoint(directory) -> tuple[nn.Module, nn.Module, TrainConfig]:
    """(float model, fake-quant model, train config) from DIR/checkpoint.safetensors."""
    f, q, tcfg, _ = load_checkpoint_meta(directory)
    return f, q, tcfg


def load_checkpoint_meta(directory) -> tuple[nn.Module, nn.Module, TrainConfig, dict]:
    """load_checkpoint plus the checkpoint's metadata (format, configs, artifact_sha256)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from asq_hw.jsonread import parse_json
    from asq_hw.models import ConfigFieldError

    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        raise UserError(f"{path}: missing (written by asq-hw train next to the artifact; "
                        "eval needs it for the float and fake-quant reference)")
    blob = path.read_bytes()
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError) as exc:
        raise UserError(f"{path}: not a safetensors checkpoint "
                        f"({str(exc).splitlines()[0]})") from None
    # safetensors layout: u64 little-endian header length, JSON header (already checked by
    # load above); our metadata is one JSON string in it.
    header_len = int.from_bytes(blob[:8], "little")
    header = parse_json(blob[8:8 + header_len], f"{path}: header")
    meta_text = header.get("__metadata__", {}).get("asq_hw") \
        if isinstance(header.get("__metadata__"), dict) else None
    if not isinstance(meta_text, str):
        raise UserError(f"{path}: not an asq-hw checkpoint (no asq_hw metadata)")
    meta = parse_json(meta_text, str(path))
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT \
            or meta.get("version") != 1:
        got = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else (meta,)
        raise UserError(f"{path}: field format/version must be {CHECKPOINT_FORMAT!r} "
                        f"version 1, not {' '.join(repr(g) for g in got)}")
    try:
        mcfg = ModelConfig.from_dict(meta.get("model_config"))
        build_model(mcfg, check_only=True)
    except ConfigFieldError as exc:
        field = f"model_config.{exc.field}" if exc.field else "model_config"
        raise UserError(f"{path}: field {field}: {exc.reason}") from None
    tcfg_dict = meta.get("train_config")
    if not isinstance(tcfg_dict, dict):
        raise UserError(f"{path}: field train_config: must be a JSON object")
    try:
        tcfg = TrainConfig(**tcfg_dict)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: field train_config: {exc}") from None
    models = []
    for prefix, quant in (("float.", False), ("qat.", True)):
        m = build_model(mcfg)
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            m.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise UserError(f"{path}: tensors {prefix}*: do not fit the model "
                            f"({str(exc).splitlines()[0]})") from None
        set_quant(m, quant)
        m.eval()
        models.append(m)
    return models[0], models[1], tcfg, meta
