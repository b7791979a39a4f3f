"""Data sets from local files: the fixed digits split and the CIFAR-10 folder loader."""

import codecs
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
    with pytest.raises(UserError, match=r"^data_dir must be a folder holding data_batch_1, "
                                        r".* not '.*nowhere': no such folder$"):
        load_cifar10(tmp_path / "nowhere")
    root = tmp_path / "c"
    _fake_cifar(root)
    (root / "data_batch_3").unlink()
    (root / "test_batch").unlink()
    with pytest.raises(UserError, match=r"c: CIFAR-10 batch files missing: data_batch_3, "
                                        r"test_batch \(the python version's"):
        load_cifar10(root)
    _write_batch(root / "test_batch", 3, 9)
    _write_batch(root / "data_batch_3", 4, 3, label_key=b"fine_labels")
    with pytest.raises(UserError, match=r"data_batch_3: field 'labels' must be a list of 4 "
                                        r"integers from 0 to 9, not nothing$"):
        load_cifar10(root)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    with open(root / "data_batch_3", "wb") as fh:
        pickle.dump(Evil(), fh)
    with pytest.raises(UserError, match=r"refusing to load builtins.print"):
        load_cifar10(root)

    class Rot13:
        def __reduce__(self):
            return (codecs.encode, ("text", "rot13"))
    with open(root / "data_batch_3", "wb") as fh:
        pickle.dump(Rot13(), fh)
    with pytest.raises(UserError, match=r"refusing to load _codecs.encode with 'rot13'"):
        load_cifar10(root)


def test_cifar_loader_reads_protocol_2_and_numpy_1_names(tmp_path):
    """The original files are protocol 2 and name numpy 1's `numpy.core.multiarray`."""
    root = tmp_path / "c"
    _fake_cifar(root)
    rng = np.random.default_rng(1)
    d = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [4, 2]}
    blob = pickle.dumps(d, protocol=2).replace(b"numpy._core.multiarray",
                                               b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in blob
    (root / "test_batch").write_bytes(blob)
    data = load_cifar10(root)
    assert data.y_test.tolist() == [4, 2]
    assert np.allclose(data.x_test.numpy() * np.array(data.std).reshape(1, 3, 1, 1)
                       + np.array(data.mean).reshape(1, 3, 1, 1),
                       d[b"data"].reshape(2, 3, 32, 32), atol=1e-3)


def _bad_batch(root, name, d):
    with open(root / name, "wb") as fh:
        pickle.dump(d, fh)


@pytest.mark.parametrize("batch, message", [
    ({b"data": np.zeros((4, 3072), np.float32), b"labels": [0] * 4},
     r"field 'data' must be a uint8 array of shape \(N, 3072\) with N >= 1, not a float32 "
     r"array of shape \(4, 3072\)$"),
    ({b"data": np.zeros((4, 1024), np.uint8), b"labels": [0] * 4},
     r"field 'data' must be .*, not a uint8 array of shape \(4, 1024\)$"),
    ({b"data": [[0] * 3072] * 4, b"labels": [0] * 4}, r"field 'data' must be .*, not a list$"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2]},
     r"field 'labels' must be a list of 4 integers from 0 to 9, not 3 values$"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 10, 2]},
     r"field 'labels' must hold integers from 0 to 9, not 10$"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, -1, 1, 2]},
     r"field 'labels' must hold integers from 0 to 9, not -1$"),
    ({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1.5, 1, 2]},
     r"field 'labels' must be a list of 4 integers"),
    ([1, 2, 3], r"not a CIFAR-10 python batch \(the top level must be a dict, not a list\)$"),
])
def test_cifar_loader_names_the_bad_field(tmp_path, batch, message):
    root = tmp_path / "c"
    _fake_cifar(root)
    _bad_batch(root, "data_batch_2", batch)
    with pytest.raises(UserError, match=r"data_batch_2: " + message):
        load_cifar10(root)


def test_cifar_loader_accepts_numpy_labels_and_refuses_non_pickles(tmp_path):
    root = tmp_path / "c"
    _fake_cifar(root)
    rng = np.random.default_rng(5)
    _bad_batch(root, "data_batch_5", {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                                      b"labels": np.array([3, 9])})
    assert load_cifar10(root).y_train[-2:].tolist() == [3, 9]
    (root / "test_batch").write_text("label,pixels\n3,0 0 0\n")
    with pytest.raises(UserError, match=r"test_batch: not a CIFAR-10 python batch \("):
        load_cifar10(root)


def test_digits_refuses_a_data_dir(tmp_path):
    with pytest.raises(UserError, match=r"^data_dir is read only for cifar10, not for digits"):
        load_dataset("digits", str(tmp_path))


def test_unknown_dataset_is_refused():
    with pytest.raises(UserError, match=r"^dataset must be one of digits, cifar10, not 'mnist'$"):
        load_dataset("mnist")
