"""The networks: a small CNN for 8x8 digits (the default), an MLP, and CIFAR ResNet-20.

Every compute layer is a QConv2d / QLinear with its own input quantizer: the first layer's
is the network input quantizer (signed 8-bit, no adapter), the others are ASQ (unsigned
`abits`, adapter unless disabled); a residual block's projection shortcut reads the codes
of the block's first conv. All weights use the chosen scheme at `wbits`. The CNN and MLP
are plain chains (`model.layers`); ResNet-20's blocks model the integer residual add of
golden.residual in the fake-quant forward (docs/arithmetic.md, "Residual add").
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from asq_hw.config import ABITS_RANGE, WBITS_RANGE
from asq_hw.quant import ASQActivation, QConv2d, QLinear, make_weight_quant
from asq_hw.quant.baselines import WEIGHT_QUANTS
from asq_hw.quant.ste import round_half_up_ste
from golden import asq_int as Q
from golden import residual as R

MODELS = ("cnn", "mlp", "resnet20")
INPUT_BITS = 8  # the network input quantizer: signed 8-bit


# Bounds of a buildable network: every field in range, and at most MAX_PARAMETERS weights
# (a checkpoint is read from disk: its widths must not ask torch for tens of gigabytes).
WIDTH_RANGE = (4, 1024)
IN_CHANNELS_RANGE = (1, 4096)
IN_HW_RANGE = (1, 4096)
NUM_CLASSES_RANGE = (1, 1 << 16)
MAX_PARAMETERS = 1 << 28


class ConfigFieldError(ValueError):
    """A ModelConfig field is invalid; `field` names it, the message says what is allowed."""

    def __init__(self, field: str, reason: str, label: str | None = None):
        super().__init__(f"{label or field} {reason}".strip())
        self.field, self.reason = field, reason


def _int_in(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigFieldError(field, f"must be an integer from {lo} to {hi}, not {value!r}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """What build_model needs; stored with checkpoints so eval can rebuild the network.
    Every field is validated on construction (ConfigFieldError, a ValueError naming it)."""

    name: str = "cnn"
    wbits: int = 4
    abits: int = 4
    weight_quant: str = "post"
    adapter: bool = True
    width: int = 16
    in_channels: int = 1
    in_hw: tuple[int, int] = (8, 8)
    num_classes: int = 10

    def __post_init__(self):
        if self.name not in MODELS:
            raise ConfigFieldError("name", f"must be one of {', '.join(MODELS)}, "
                                           f"not {self.name!r}", label="model")
        _int_in("wbits", self.wbits, *WBITS_RANGE)
        _int_in("abits", self.abits, *ABITS_RANGE)
        if self.weight_quant not in WEIGHT_QUANTS:
            raise ConfigFieldError("weight_quant", f"must be one of "
                                   f"{', '.join(WEIGHT_QUANTS)}, not {self.weight_quant!r}")
        if not isinstance(self.adapter, bool):
            raise ConfigFieldError("adapter", f"must be true or false, not {self.adapter!r}")
        _int_in("width", self.width, *WIDTH_RANGE)
        _int_in("in_channels", self.in_channels, *IN_CHANNELS_RANGE)
        hw = self.in_hw
        if not (isinstance(hw, (list, tuple)) and len(hw) == 2 and all(
                not isinstance(v, bool) and isinstance(v, int)
                and IN_HW_RANGE[0] <= v <= IN_HW_RANGE[1] for v in hw)):
            raise ConfigFieldError("in_hw", f"must be [height, width], integers from "
                                            f"{IN_HW_RANGE[0]} to {IN_HW_RANGE[1]}, not {hw!r}")
        object.__setattr__(self, "in_hw", tuple(hw))
        _int_in("num_classes", self.num_classes, *NUM_CLASSES_RANGE)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["in_hw"] = list(self.in_hw)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        if not isinstance(d, dict):
            raise ConfigFieldError("", f"must be a JSON object, not {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigFieldError(str(unknown[0]), "is not a model config field")
        return cls(**d)


class _Factory:
    """Builds quantized layers for one ModelConfig; the first call gets the input quantizer."""

    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.first = True

    def act(self, channels: int) -> ASQActivation:
        if self.first:
            self.first = False
            return ASQActivation(INPUT_BITS, channels, adapter=False, signed=True)
        return ASQActivation(self.cfg.abits, channels, adapter=self.cfg.adapter)

    def conv(self, cin: int, cout: int, k: int = 3, stride: int = 1, padding: int = 1,
             act: ASQActivation | None = None, quantize_input: bool = True) -> QConv2d:
        """A quantized conv; quantize_input=False: no input quantizer (its input is
        already quantized, e.g. a projection shortcut reading its block's codes)."""
        wq = make_weight_quant(self.cfg.weight_quant, self.cfg.wbits, cout, cin * k * k)
        if act is None and quantize_input:
            act = self.act(cin)
        return QConv2d(cin, cout, k, stride=stride, padding=padding, bias=False,
                       weight_quant=wq, act_quant=act)

    def linear(self, cin: int, cout: int, bias: bool = True) -> QLinear:
        wq = make_weight_quant(self.cfg.weight_quant, self.cfg.wbits, cout, cin)
        return QLinear(cin, cout, bias=bias, weight_quant=wq, act_quant=self.act(cin))


class ChainNet(nn.Module):
    """A plain chain of layers (`self.layers`): what the integer pipeline exports."""

    def __init__(self, cfg: ModelConfig, layers: list[nn.Module]):
        super().__init__()
        self.config = cfg
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def digits_cnn(cfg: ModelConfig) -> ChainNet:
    """conv(c) -> conv(2c) -> maxpool -> conv(2c) -> maxpool -> flatten -> linear, with BN and
    ReLU after every conv; c = width. For 8x8 input the classifier sees 2c * 2 * 2 values."""
    f, c = _Factory(cfg), cfg.width
    h, w = cfg.in_hw
    layers = [f.conv(cfg.in_channels, c), nn.BatchNorm2d(c), nn.ReLU(),
              f.conv(c, 2 * c), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
              f.conv(2 * c, 2 * c), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.MaxPool2d(2),
              nn.Flatten(), f.linear(2 * c * (h // 4) * (w // 4), cfg.num_classes)]
    return ChainNet(cfg, layers)


def mlp(cfg: ModelConfig) -> ChainNet:
    """flatten -> linear(8 width) -> linear(8 width) -> linear(classes), BN + ReLU between."""
    f, hidden = _Factory(cfg), 8 * cfg.width
    n_in = cfg.in_channels * cfg.in_hw[0] * cfg.in_hw[1]
    layers = [nn.Flatten(), f.linear(n_in, hidden, bias=False), nn.BatchNorm1d(hidden),
              nn.ReLU(), f.linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden),
              nn.ReLU(), f.linear(hidden, cfg.num_classes)]
    return ChainNet(cfg, layers)


def _sat(t: torch.Tensor, bits: int) -> torch.Tensor:
    return t.clamp(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _u(y: torch.Tensor, s: torch.Tensor, ubits: int) -> torch.Tensor:
    """y in units of the step s with U_FRAC fractional bits, rounded half up and saturated
    (float64, integer-valued): the fake-quant form of golden.asq_int.rescale."""
    return _sat(round_half_up_ste(y / s * 2.0**Q.U_FRAC), ubits).double()


def _conv(mod: QConv2d, x: torch.Tensor) -> torch.Tensor:
    """mod on an input that is already quantized (its weight quantizer still applies)."""
    w = mod.weight if mod.weight_quant is None else mod.weight_quant(mod.weight)
    return F.conv2d(x, w, mod.bias, mod.stride, mod.padding)


class _NextQuant:
    """Holds (without registering it as a submodule) the input quantizer of the layer
    that reads a module's output: its step is the unit of the integer u."""

    quant: ASQActivation | None = None

    def active(self) -> bool:
        """Fake-quant with the next step known: model the integer arithmetic."""
        q = self.quant
        return q is not None and q.enabled and bool(q.initialized)


class BasicBlock(nn.Module):
    """ResNet basic block; the shortcut is a 1x1 conv + BN when the shape changes (option
    B), else the identity. conv1's input quantizer quantizes the block input once; the
    projection conv reads the same codes.

    Fake-quant forward (once the next layer's step s_out is known), golden.residual's
    integer add: the main branch u = round(bn2(conv2) / s_out * 2**U_FRAC), saturated; the
    projection's u likewise; the identity's u = round(x * b * mult * 2**-shift) from the
    block input codes x, their beta code b and (mult, shift) = align_params(s_x / s_out);
    output relu(sat(main + shortcut)) * s_out * 2**-U_FRAC, which the next quantizer turns
    back into exactly that u. Float (or before s_out is initialised): relu(main + shortcut).
    """

    def __init__(self, f: _Factory, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = f.conv(cin, cout, stride=stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = f.conv(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                f.conv(cin, cout, k=1, stride=stride, padding=0, quantize_input=False),
                nn.BatchNorm2d(cout))
        self.relu = nn.ReLU()
        self.next = _NextQuant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        aq = self.conv1.act_quant
        if not (aq.enabled and self.next.active()):
            xq = aq(x)
            out = self.relu(self.bn1(_conv(self.conv1, xq)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (xq if self.shortcut is None else self.shortcut(xq)))
        q, beta, s = aq.quantize(x)
        xq = q.float() * (s * beta).view(-1, 1, 1, 1)
        out = self.relu(self.bn1(_conv(self.conv1, xq)))
        y = self.bn2(self.conv2(out))
        nq = self.next.quant
        s_out = nq.scaled_step(y)
        ubits = Q.u_bits(nq.abits)
        main = _u(y, s_out, ubits)
        if self.shortcut is None:
            ratio = s / s_out
            mult, shift = R.align_params(float(s.detach()) / float(s_out.detach()))
            m = ratio.double() * 2.0**shift
            m = m + (mult - m).detach()                # mult forward, d(ratio) backward
            code = (beta * 2.0**Q.BETA_FRAC).double().view(-1, 1, 1, 1)
            short = _sat(round_half_up_ste(q * code * m * 2.0**-shift), ubits)
        else:
            short = _u(self.shortcut(xq), s_out, ubits)
        u = torch.relu(_sat(main + short, ubits))
        return (u * (s_out.double() * 2.0**-Q.U_FRAC)).float()


class GlobalAvgPool(nn.Module):
    """(B, C, H, W) -> (B, C, 1, 1). Fake-quant (the next step s known): the integer pool
    of golden.residual.avgpool on u = x / s * 2**U_FRAC (x, a block output, is u * s *
    2**-U_FRAC): (sum * PM) * 2**-PS rounded half up, saturated. Float: the mean."""

    def __init__(self):
        super().__init__()
        self.next = _NextQuant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.next.active():
            return x.mean(dim=(2, 3), keepdim=True)
        nq = self.next.quant
        s = nq.step()
        ubits = Q.u_bits(nq.abits)
        u = round_half_up_ste(x / s * 2.0**Q.U_FRAC).double()
        pm, ps = Q.pool_params(x.shape[2] * x.shape[3])
        p = _sat(round_half_up_ste(u.flatten(2).sum(2) * (pm * 2.0**-ps)), ubits)
        return (p * (s.double() * 2.0**-Q.U_FRAC)).float()[:, :, None, None]


class ResNet20(nn.Module):
    """CIFAR ResNet-20 (He et al. 2016, section 4.2): 3x3 conv(16), three stages of three
    basic blocks at 16, 32, 64 channels (stride 2 entering stages 2 and 3), global average
    pool, linear. `width` scales the stage widths (16 gives the standard network). On the
    8x8 digits the stages run at 8x8, 4x4 and 2x2."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        f, c = _Factory(cfg), cfg.width
        blocks: list[nn.Module] = [f.conv(cfg.in_channels, c), nn.BatchNorm2d(c), nn.ReLU()]
        cin = c
        for stage, cout in enumerate((c, 2 * c, 4 * c)):
            for i in range(3):
                blocks.append(BasicBlock(f, cin, cout, 2 if (i == 0 and stage > 0) else 1))
                cin = cout
        pool, head = GlobalAvgPool(), f.linear(cin, cfg.num_classes)
        blocks += [pool, nn.Flatten(), head]
        self.layers = nn.Sequential(*blocks)
        # Each block's output is in units of the next block's input step; the last one's
        # (and the pool's) in units of the classifier's.
        res = [b for b in blocks if isinstance(b, BasicBlock)]
        for b, nxt in zip(res, res[1:], strict=False):
            b.next.quant = nxt.conv1.act_quant
        res[-1].next.quant = head.act_quant
        pool.next.quant = head.act_quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def parameter_count(cfg: ModelConfig) -> int:
    """Parameters and buffers of build_model(cfg), counted without allocating them."""
    with torch.device("meta"):
        model = _build(cfg)
    return sum(t.numel() for t in (*model.parameters(), *model.buffers()))


def build_model(cfg: ModelConfig, check_only: bool = False) -> nn.Module | None:
    """A fresh network for `cfg` (weights from torch's current RNG state). ConfigFieldError
    if the input shape does not fit the network or it would exceed MAX_PARAMETERS;
    `check_only`: only those checks (None)."""
    if cfg.name == "cnn" and (cfg.in_hw[0] % 4 or cfg.in_hw[1] % 4):
        raise ConfigFieldError("in_hw", f"must be divisible by 4 for the cnn, not "
                                        f"{list(cfg.in_hw)}")
    n = parameter_count(cfg)
    if n > MAX_PARAMETERS:
        raise ConfigFieldError("width", f"{cfg.width} with input {cfg.in_channels} x "
                               f"{cfg.in_hw[0]} x {cfg.in_hw[1]} and {cfg.num_classes} classes "
                               f"gives {n:,} parameters, more than {MAX_PARAMETERS:,}")
    return None if check_only else _build(cfg)


def _build(cfg: ModelConfig) -> nn.Module:
    if cfg.name == "cnn":
        return digits_cnn(cfg)
    if cfg.name == "mlp":
        return mlp(cfg)
    return ResNet20(cfg)
