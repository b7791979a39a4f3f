"""The standard networks as layer shapes, without weights and without PyTorch.

A `Network` is its compute layers (convolutions and fully connected layers, the work of
the array) in execution order; each says which tensor it reads, which tensor is added to
its output (a residual shortcut) and which pooling follows. That is all the cycle model
(asq_hw/mapper.py) and the memory figures need, so an accelerator can be sized for
ImageNet networks at their real input sizes without training one.

The networks:

- `cnn`: the digits CNN of asq_hw/models.py (`digits_cnn`): conv(c) -> conv(2c) -> maxpool
  -> conv(2c) -> maxpool -> linear, 3x3 convs with padding 1; layer names as in its
  artifact (conv0, conv1, conv2, linear3). Its width c defaults to 16 (ModelConfig).
- `resnet20`: CIFAR ResNet-20 (He et al. 2016, section 4.2): 3x3 conv(16), three stages of
  three basic blocks at 16, 32, 64 channels (stride 2 entering stages 2 and 3), global
  average pool, linear. The shortcuts are parameter-free (the paper's option A: the block
  input subsampled by the stride and zero-padded in channels), the layout of the usual
  40.55 M MAC count. (asq_hw/models.py's trainable ResNet20 uses 1x1 projections instead.)
- `resnet18` / `resnet34`: the ImageNet layout (torchvision's `resnet18` / `resnet34`):
  7x7/2 conv(64) with padding 3, 3x3/2 max pool with padding 1, four stages of 2,2,2,2 /
  3,4,6,3 basic blocks at 64, 128, 256, 512 channels (stride 2 entering stages 2 to 4,
  where the shortcut is a 1x1 stride-2 convolution, a compute layer), global average
  pool, linear. Layer names as torchvision's modules (conv1, layer1.0.conv1, ...,
  layer2.0.downsample, fc).

Element-wise work is not array work: the residual add, the ReLU and pooling are applied on
each layer's output as it leaves the array (with the requantization, on the host), so a
layer's output tensor is its codes after them. Every compute layer except the first reads
unsigned activation codes; the first reads the signed 8-bit network input (INPUT_BITS,
as models.INPUT_BITS).
"""

from __future__ import annotations

import dataclasses
import math

NETWORKS = ("cnn", "resnet20", "resnet18", "resnet34")
INPUT_BITS = 8          # the network input quantizer (signed 8-bit), as asq_hw/models.py
INPUT = "input"         # the name of the network input tensor
# Bounds of --input and --classes: far above any real network, low enough that a typo
# does not build a layer of 2**40 positions.
DIM_RANGE = (1, 4096)
CLASSES_RANGE = (1, 100_000)
WIDTH_RANGE = (4, 1024)

# Standard width and classes per network (the paper's and torchvision's).
DEFAULT_WIDTH = {"cnn": 16, "resnet20": 16, "resnet18": 64, "resnet34": 64}
DEFAULT_CLASSES = {"cnn": 10, "resnet20": 10, "resnet18": 1000, "resnet34": 1000}
DEFAULT_INPUT = {"cnn": (1, 8, 8), "resnet20": (3, 32, 32), "resnet18": (3, 224, 224),
                 "resnet34": (3, 224, 224)}


@dataclasses.dataclass(frozen=True)
class Pool:
    """Pooling after a layer: `max` over k x k windows at `stride` with `padding`, or
    `avg` over the whole feature map (global average pooling, k = stride = 0)."""

    kind: str
    k: int = 0
    stride: int = 0
    padding: int = 0

    def out_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        if self.kind == "avg":
            return 1, 1
        return tuple(_conv_out(d, self.k, self.stride, self.padding) for d in hw)

    def ops(self, channels: int, hw: tuple[int, int]) -> int:
        """Element operations: comparisons of a max pool (k*k - 1 per output), additions
        of an average pool (one per input element)."""
        if self.kind == "avg":
            return channels * hw[0] * hw[1]
        oh, ow = self.out_hw(hw)
        return channels * oh * ow * (self.k * self.k - 1)


@dataclasses.dataclass(frozen=True)
class Layer:
    """One compute layer: `op` 'conv' (k x k, stride, padding, no bias) or 'linear' (the
    flattened input; in_hw (1, 1), in_channels its features). `source` is the tensor it
    reads (INPUT or a layer's name); `add` the tensor added to its output before the ReLU
    (a residual shortcut: a projection layer's name, or a block input for the identity /
    option-A shortcut), None for none; `pool` what follows, None for none."""

    name: str
    op: str
    in_channels: int
    in_hw: tuple[int, int]
    outputs: int
    k: int = 1
    stride: int = 1
    padding: int = 0
    source: str = INPUT
    add: str | None = None
    pool: Pool | None = None

    @property
    def conv_hw(self) -> tuple[int, int]:
        """The output feature map of the layer itself (before pooling)."""
        if self.op == "linear":
            return 1, 1
        return tuple(_conv_out(d, self.k, self.stride, self.padding) for d in self.in_hw)

    @property
    def out_hw(self) -> tuple[int, int]:
        """The output tensor's feature map (after pooling)."""
        return self.pool.out_hw(self.conv_hw) if self.pool else self.conv_hw

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.k * self.k

    @property
    def positions(self) -> int:
        h, w = self.conv_hw
        return h * w

    @property
    def macs(self) -> int:
        return self.outputs * self.fan_in * self.positions

    @property
    def output_size(self) -> int:
        h, w = self.out_hw
        return self.outputs * h * w

    @property
    def adds(self) -> int:
        """Residual additions: one per element of the layer's output (before pooling)."""
        return self.outputs * self.positions if self.add is not None else 0

    @property
    def pool_ops(self) -> int:
        return self.pool.ops(self.outputs, self.conv_hw) if self.pool else 0


@dataclasses.dataclass(frozen=True)
class Network:
    name: str
    input_shape: tuple[int, int, int]
    classes: int
    width: int
    layers: tuple[Layer, ...]

    @property
    def macs(self) -> int:
        return sum(lay.macs for lay in self.layers)

    def last_uses(self) -> dict[str, int]:
        """For every tensor (INPUT and each layer's output), the index of the last layer
        that reads it (its own index for a tensor nothing reads: the logits)."""
        last = {INPUT: 0}
        for i, lay in enumerate(self.layers):
            last[lay.name] = i
            for t in (lay.source, lay.add):
                if t is not None:
                    last[t] = i
        return last


def _conv_out(d: int, k: int, stride: int, padding: int) -> int:
    return (d + 2 * padding - k) // stride + 1


def _check(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{field} must be an integer from {lo} to {hi}, not {value!r}")


class _Builder:
    """Appends layers, tracking the current tensor's name, channels and feature map."""

    def __init__(self, shape: tuple[int, int, int]):
        self.layers: list[Layer] = []
        self.tensor, self.channels, self.hw = INPUT, shape[0], (shape[1], shape[2])

    def conv(self, name: str, cout: int, k: int, stride: int = 1, padding: int | None = None,
             source: str | None = None, channels: int | None = None, hw=None,
             add: str | None = None, pool: Pool | None = None, advance: bool = True) -> Layer:
        lay = Layer(name, "conv", channels or self.channels, hw or self.hw, cout, k, stride,
                    k // 2 if padding is None else padding, source or self.tensor, add, pool)
        if min(lay.conv_hw) < 1 or min(lay.out_hw) < 1:
            raise ValueError(f"input is too small: {name} of a {lay.in_hw[0]}x"
                             f"{lay.in_hw[1]} feature map gives no output")
        self.layers.append(lay)
        if advance:
            self.tensor, self.channels, self.hw = name, cout, lay.out_hw
        return lay

    def linear(self, name: str, outputs: int) -> Layer:
        features = self.channels * self.hw[0] * self.hw[1]
        lay = Layer(name, "linear", features, (1, 1), outputs, source=self.tensor)
        self.layers.append(lay)
        self.tensor, self.channels, self.hw = name, outputs, (1, 1)
        return lay

    def basic_block(self, prefix: str, cout: int, stride: int, projection: bool) -> None:
        """conv3x3(stride) -> conv3x3, plus the shortcut: a 1x1 projection (`projection`
        and a shape change), else the block input (identity, or option A when the shape
        changes: subsampled and zero-padded, no weights)."""
        x, cin, hw = self.tensor, self.channels, self.hw
        shortcut = x
        self.conv(f"{prefix}.conv1", cout, 3, stride)
        if projection and (stride != 1 or cin != cout):
            shortcut = f"{prefix}.downsample"
            self.conv(shortcut, cout, 1, stride, 0, source=x, channels=cin, hw=hw,
                      advance=False)
        self.conv(f"{prefix}.conv2", cout, 3, 1, add=shortcut)


def cnn(shape, classes: int, width: int) -> list[Layer]:
    """The digits CNN (asq_hw/models.digits_cnn); H and W must be multiples of 4."""
    if shape[1] % 4 or shape[2] % 4:
        raise ValueError(f"input must have a height and width divisible by 4 for the cnn, "
                         f"not {','.join(map(str, shape))!r}")
    b, c = _Builder(shape), width
    b.conv("conv0", c, 3)
    b.conv("conv1", 2 * c, 3, pool=Pool("max", 2, 2))
    b.conv("conv2", 2 * c, 3, pool=Pool("max", 2, 2))
    b.linear("linear3", classes)
    return b.layers


def resnet20(shape, classes: int, width: int) -> list[Layer]:
    """CIFAR ResNet-20 with option-A shortcuts (module docstring)."""
    b = _Builder(shape)
    b.conv("conv1", width, 3)
    for stage, cout in enumerate((width, 2 * width, 4 * width)):
        for i in range(3):
            stride = 2 if (stage > 0 and i == 0) else 1
            b.basic_block(f"layer{stage + 1}.{i}", cout, stride, projection=False)
    _global_pool(b)
    b.linear("fc", classes)
    return b.layers


def imagenet_resnet(shape, classes: int, width: int, blocks) -> list[Layer]:
    """ResNet-18/34 in the ImageNet layout with 1x1 projection shortcuts (module
    docstring); `blocks` per stage."""
    b = _Builder(shape)
    b.conv("conv1", width, 7, 2, 3, pool=Pool("max", 3, 2, 1))
    for stage, n in enumerate(blocks):
        cout = width * 2 ** stage
        for i in range(n):
            stride = 2 if (stage > 0 and i == 0) else 1
            b.basic_block(f"layer{stage + 1}.{i}", cout, stride, projection=True)
    _global_pool(b)
    b.linear("fc", classes)
    return b.layers


def _global_pool(b: _Builder) -> None:
    """Global average pooling fused into the last layer (the block's conv2)."""
    last = b.layers[-1]
    b.layers[-1] = dataclasses.replace(last, pool=Pool("avg"))
    b.hw = (1, 1)


def build_network(name: str, input_shape=None, classes: int | None = None,
                  width: int | None = None) -> Network:
    """The layer shapes of network `name` for images of `input_shape` (C, H, W) and
    `classes` outputs (defaults: the network's standard input, classes and width).
    ValueError, naming the field, for values out of range."""
    if name not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, not {name!r}")
    shape = tuple(DEFAULT_INPUT[name] if input_shape is None else input_shape)
    if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int)
                              or not DIM_RANGE[0] <= d <= DIM_RANGE[1] for d in shape):
        raise ValueError(f"input must be C,H,W: three integers from {DIM_RANGE[0]} to "
                         f"{DIM_RANGE[1]}, not {','.join(map(str, shape))!r}")
    classes = DEFAULT_CLASSES[name] if classes is None else classes
    width = DEFAULT_WIDTH[name] if width is None else width
    _check("classes", classes, *CLASSES_RANGE)
    _check("width", width, *WIDTH_RANGE)
    if name == "cnn":
        layers = cnn(shape, classes, width)
    elif name == "resnet20":
        layers = resnet20(shape, classes, width)
    else:
        layers = imagenet_resnet(shape, classes, width,
                                 (2, 2, 2, 2) if name == "resnet18" else (3, 4, 6, 3))
    assert all(math.prod(lay.out_hw) >= 1 for lay in layers)
    return Network(name, shape, classes, width, tuple(layers))
