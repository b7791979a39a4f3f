"""A small fake CIFAR-10 folder in the exact python-version format: data_batch_1..5 and
test_batch, each a pickled dict with b"data" (uint8 (N, 3072)) and b"labels" (a list of
ints), plus batches.meta, as the real cifar-10-batches-py folder has them."""

import pickle

import numpy as np


def write_fake_cifar(root, train_per_batch: int = 8, test: int = 20, seed: int = 0):
    """Random images into `root` (created): 5 x train_per_batch training images and `test`
    test images. Returns {file name: the dict written}."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name, n in [(f"data_batch_{i}", train_per_batch) for i in range(1, 6)] \
            + [("test_batch", test)]:
        d = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
        with open(root / name, "wb") as fh:
            pickle.dump(d, fh, protocol=2)     # the real files are protocol 2 (Python 2)
        written[name] = d
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"num_cases_per_batch": train_per_batch, b"num_vis": 3072,
                     b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer",
                                      b"dog", b"frog", b"horse", b"ship", b"truck"]},
                    fh, protocol=2)
    return written
