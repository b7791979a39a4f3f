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
# CIFAR-10's per-channel (R, G, B) mean and standard deviation over the 50,000 training
# images, in pixel units (0..255): the usual constants (0.49140, 0.48216, 0.44653) and
# (0.24703, 0.24349, 0.26159) times 255. Fixed, not computed from the folder, so a partial or
# fake folder normalises like the real one.
CIFAR_MEAN = (125.307, 122.950, 113.865)
CIFAR_STD = (62.993, 62.089, 66.705)
CIFAR_PIXELS = 3 * 32 * 32  # one row of a batch: 1024 R, then 1024 G, then 1024 B, row-major
CIFAR_CLASSES = 10
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
    """Unpickles plain data (dicts, lists, bytes, str, numbers) and numpy arrays only: a
    CIFAR-10 batch holds nothing else (its b"data" is an ndarray, rebuilt from these numpy
    globals; `scalar` for labels saved as numpy integers), and a crafted file cannot name
    any other callable, so it cannot run code. Python 3 writes bytes at protocol 2 (the
    protocol of the original Python 2 files) as `_codecs.encode(text, "latin1")`: that one
    call is allowed too, for latin1 only."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _latin1_bytes(text, encoding):
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError(f"refusing to load _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _describe(v) -> str:
    """What a batch field holds, for an error message."""
    if isinstance(v, np.ndarray):
        return f"a {v.dtype} array of shape {v.shape}"
    return "nothing" if v is None else f"a {type(v).__name__}"


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, 3, 32, 32) pixels, int64 (N,) labels) of one python-version batch file."""
    if not path.is_file():
        raise UserError(f"{path}: CIFAR-10 batch file not found (expected the python "
                        f"version's {', '.join(CIFAR_TRAIN_FILES)} and {CIFAR_TEST_FILE})")
    try:
        with open(path, "rb") as fh:
            # encoding="bytes": the batches were pickled by Python 2 (keys are bytes).
            d = _ArrayUnpickler(fh, encoding="bytes").load()
    except Exception as exc:  # any unpickling failure is a bad file
        raise UserError(f"{path}: not a CIFAR-10 python batch ({exc})") from None
    if not isinstance(d, dict):
        raise UserError(f"{path}: not a CIFAR-10 python batch (the top level must be a dict, "
                        f"not {_describe(d)})")
    data, labels = d.get(b"data"), d.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != CIFAR_PIXELS or data.shape[0] == 0:
        raise UserError(f"{path}: field 'data' must be a uint8 array of shape "
                        f"(N, {CIFAR_PIXELS}) with N >= 1, not {_describe(data)}")
    n = data.shape[0]
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if not isinstance(labels, list) or len(labels) != n or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels):
        got = f"{len(labels)} values" if isinstance(labels, list) else _describe(labels)
        raise UserError(f"{path}: field 'labels' must be a list of {n} integers from 0 to "
                        f"{CIFAR_CLASSES - 1}, not {got}")
    y = np.asarray(labels, dtype=np.int64)
    bad = y[(y < 0) | (y >= CIFAR_CLASSES)]
    if bad.size:
        raise UserError(f"{path}: field 'labels' must hold integers from 0 to "
                        f"{CIFAR_CLASSES - 1}, not {int(bad[0])}")
    return data.reshape(-1, 3, 32, 32), y


def load_cifar10(folder) -> Dataset:
    """CIFAR-10 from `folder` (or its `cifar-10-batches-py` sub-folder): the five training
    batches and the test batch of the python version (`batches.meta`, the class names, is
    not needed: labels are 0..9). Never downloads."""
    if folder is None:
        raise UserError("cifar10 needs --data-dir FOLDER holding the python-version batches "
                        "(asq-hw never downloads data)")
    root = Path(folder)
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    if not root.is_dir():
        raise UserError(f"data_dir must be a folder holding {', '.join(CIFAR_TRAIN_FILES)} "
                        f"and {CIFAR_TEST_FILE} (or their cifar-10-batches-py folder), not "
                        f"{str(folder)!r}: no such folder")
    missing = [n for n in (*CIFAR_TRAIN_FILES, CIFAR_TEST_FILE) if not (root / n).is_file()]
    if missing:
        raise UserError(f"{root}: CIFAR-10 batch files missing: {', '.join(missing)} "
                        f"(the python version's {', '.join(CIFAR_TRAIN_FILES)} and "
                        f"{CIFAR_TEST_FILE})")
    train = [_read_batch(root / name) for name in CIFAR_TRAIN_FILES]
    x_te, y_te = _read_batch(root / CIFAR_TEST_FILE)
    x_tr = np.concatenate([x for x, _ in train])
    y_tr = np.concatenate([y for _, y in train])
    return Dataset("cifar10", normalize(x_tr, CIFAR_MEAN, CIFAR_STD), torch.from_numpy(y_tr),
                   normalize(x_te, CIFAR_MEAN, CIFAR_STD), torch.from_numpy(y_te),
                   CIFAR_MEAN, CIFAR_STD, num_classes=CIFAR_CLASSES)


def load_dataset(name: str, data_dir=None) -> Dataset:
    """The data set `name` (DATASETS); `data_dir` is cifar10's folder and refused for digits,
    which ships with scikit-learn (a folder given there would be silently ignored)."""
    if name == "digits":
        if data_dir is not None:
            raise UserError(f"data_dir is read only for cifar10, not for digits (which ships "
                            f"with scikit-learn); drop --data-dir {str(data_dir)!r}")
        return load_digits()
    if name == "cifar10":
        return load_cifar10(data_dir)
    raise UserError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
