"""Data sets from local files: the fixed digits split and the CIFAR-10 folder loader."""

import pickle

import numpy as np
import pytest

from asq_hw.data import load_cifar10, load_dataset, load_digits
from asq_hw.errors import UserError


def test_digits_split_is_fixed_stratified_and_normalised():
    a, b = load_digits(), load_digits()
    assert a.x_train.shape == (1437, 1, 8, 8) and a.x_test.shape == (360, 1, 8, 8)
    assert np.array_equal(a.x_test.numpy(), b.x_test.numpy())
    counts = np.bincount(a.y_test.numpy(), minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    assert float(a.x_train.min()) == -1.0 and float(a.x_train.max()) == 1.0
    # pixels 0..16 map to (p - 8) / 8 exactly
    assert set(np.unique(a.x_test.numpy() * 8 + 8).tolist()) <= set(range(17))


def _write_batch(path, n, seed, label_key=b"labels"):
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
         label_key: rng.integers(0, 10, n).tolist(), b"batch_label": b"x"}
    with open(path, "wb") as fh:
        pickle.dump(d, fh)
    return d


def _fake_cifar(root):
    root.mkdir()
    batches = [_write_batch(root / f"data_batch_{i}", 4, i) for i in range(1, 6)]
    test = _write_batch(root / "test_batch", 3, 9)
    return batches, test


def test_cifar_loader_reads_a_local_batches_folder(tmp_path):
    batches, test = _fake_cifar(tmp_path / "cifar-10-batches-py")
    data = load_dataset("cifar10", tmp_path)  # finds the sub-folder
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (3, 3, 32, 32)
    assert data.y_train.tolist() == sum((b[b"labels"] for b in batches), [])
    px = test[b"data"].reshape(3, 3, 32, 32)[1, 2, 5, 7]
    assert data.x_test[1, 2, 5, 7].item() == pytest.approx((px - data.mean[2]) / data.std[2],
                                                          rel=1e-6)


def test_cifar_loader_refuses_missing_bad_and_malicious_files(tmp_path):
    with pytest.raises(UserError, match="never downloads"):
        load_cifar10(None)
    root = tmp_path / "c"
    _fake_cifar(root)
    (root / "data_batch_3").unlink()
    with pytest.raises(UserError, match=r"data_batch_3: CIFAR-10 batch file not found"):
        load_cifar10(root)
    _write_batch(root / "data_batch_3", 4, 3, label_key=b"fine_labels")
    with pytest.raises(UserError, match=r"data_batch_3: field 'labels'"):
        load_cifar10(root)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    with open(root / "data_batch_3", "wb") as fh:
        pickle.dump(Evil(), fh)
    with pytest.raises(UserError, match=r"refusing to load builtins.print"):
        load_cifar10(root)


def test_unknown_dataset_is_refused():
    with pytest.raises(UserError, match=r"^dataset must be one of digits, cifar10, not 'mnist'$"):
        load_dataset("mnist")
