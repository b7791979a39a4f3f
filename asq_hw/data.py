"""Data sets, from local files only: scikit-learn's digits (shipped with the package) and
CIFAR-10 from a folder of the python-pickle batches. Nothing is ever downloaded.

Images come out as float32 (N, C, H, W) tensors normalised as x = (pixel - mean) / std per
channel (float32 arithmetic); `Dataset.mean` / `std` record the constants so the artifact
can state what its input quantizer expects.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import torch

from asq_hw.errors import UserError

DATASETS = ("digits", "cifar10")

DIGITS_SPLIT_SEED = 0      # the fixed train/test split: stratified 80/20
DIGITS_TEST_FRACTION = 0.2
# Pixels are 0..16; this maps them onto [-1, 1].
DIGITS_MEAN, DIGITS_STD = 8.0, 8.0
# The usual CIFAR-10 channel statistics, in pixel units (0..255).
CIFAR_MEAN = (125.307, 122.950, 113.865)
CIFAR_STD = (62.993, 62.089, 66.705)
CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch"


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int = 10

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def normalize(pixels: np.ndarray, mean, std) -> torch.Tensor:
    """(N, C, H, W) pixels -> float32 (pixel - mean[c]) / std[c], computed in float32."""
    p = np.asarray(pixels, dtype=np.float32)
    m = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    return torch.from_numpy(np.ascontiguousarray((p - m) / s))


def load_digits() -> Dataset:
    """scikit-learn's 8x8 digits (1797 images), stratified 80/20 split with seed 0:
    1437 training and 360 test images, the same on every machine."""
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    d = sk_load()
    x = d.images.reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=DIGITS_TEST_FRACTION, stratify=y,
                              random_state=DIGITS_SPLIT_SEED)
    tr, te = np.sort(tr), np.sort(te)
    mean, std = (DIGITS_MEAN,), (DIGITS_STD,)
    return Dataset("digits", normalize(x[tr], mean, std), torch.from_numpy(y[tr]),
                   normalize(x[te], mean, std), torch.from_numpy(y[te]), mean, std)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a CIFAR batch needs nothing else, and a
    crafted file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise UserError(f"{path}: CIFAR-10 batch file not found (expected the python "
                        "version's data_batch_1..5 and test_batch)")
    try:
        with open(path, "rb") as fh:
            d = _ArrayUnpickler(fh, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure is a bad file
        raise UserError(f"{path}: not a CIFAR-10 python batch ({exc})") from None
    if not isinstance(d, dict):
        raise UserError(f"{path}: not a CIFAR-10 python batch (top level is not a dict)")
    data, labels = d.get(b"data"), d.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        raise UserError(f"{path}: field 'data' must be a uint8 array of shape (N, 3072)")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    if labels.shape != (data.shape[0],) or labels.size == 0 \
            or labels.min() < 0 or labels.max() > 9:
        raise UserError(f"{path}: field 'labels' must hold {data.shape[0]} integers 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(folder) -> Dataset:
    """CIFAR-10 from `folder` (or its `cifar-10-batches-py` sub-folder): the five training
    batches and the test batch of the python version. Never downloads."""
    if folder is None:
        raise UserError("cifar10 needs --data-dir FOLDER holding the python-version batches "
                        "(asq-hw never downloads data)")
    root = Path(folder)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    if not root.is_dir():
        raise UserError(f"{root}: CIFAR-10 folder not found")
    train = [_read_batch(root / name) for name in CIFAR_TRAIN_FILES]
    x_te, y_te = _read_batch(root / CIFAR_TEST_FILE)
    x_tr = np.concatenate([x for x, _ in train])
    y_tr = np.concatenate([y for _, y in train])
    return Dataset("cifar10", normalize(x_tr, CIFAR_MEAN, CIFAR_STD), torch.from_numpy(y_tr),
                   normalize(x_te, CIFAR_MEAN, CIFAR_STD), torch.from_numpy(y_te),
                   CIFAR_MEAN, CIFAR_STD)


def load_dataset(name: str, data_dir=None) -> Dataset:
    if name == "digits":
        return load_digits()
    if name == "cifar10":
        return load_cifar10(data_dir)
    raise UserError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
