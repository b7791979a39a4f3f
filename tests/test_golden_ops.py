"""im2col in torch's weight order, and the integer ops between layers against torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from golden.ops import flatten, im2col, maxpool, relu

RNG = np.random.default_rng(1234)


@pytest.mark.parametrize("stride,padding,kernel", [(1, 1, (3, 3)), (2, 0, (3, 3)),
                                                   (2, 1, (1, 1)), (1, 2, (3, 2))])
def test_im2col_order_is_torch_weight_reshape_order(stride, padding, kernel):
    x = RNG.integers(0, 16, (2, 3, 7, 6))
    cols = im2col(x, kernel, stride, padding)
    ref = F.unfold(torch.from_numpy(x).double(), kernel, padding=padding, stride=stride)
    assert np.array_equal(cols, ref.transpose(1, 2).reshape(cols.shape).numpy())
    w = RNG.integers(-3, 4, (5, 3) + kernel)
    out = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), None,
                   stride, padding)
    mine = (cols @ w.reshape(5, -1).T).reshape(2, out.shape[2], out.shape[3], 5)
    assert np.array_equal(mine.transpose(0, 3, 1, 2), out.numpy())


def test_integer_ops():
    x = RNG.integers(0, 16, (2, 3, 5, 4))
    pooled = maxpool(x, 2, 2)
    ref = F.max_pool2d(torch.from_numpy(x).double(), 2).numpy()
    assert np.array_equal(pooled, ref) and pooled.shape == (2, 3, 2, 2)
    assert np.array_equal(flatten(x), torch.from_numpy(x).flatten(1).numpy())
    assert np.array_equal(relu(np.array([-3, 0, 4])), [0, 0, 4])
