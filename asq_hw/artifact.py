"""The integer artifact: the contract between the PyTorch model and everything downstream.

`DIR/model.safetensors` holds the tensors, `DIR/model.json` the rest (docs/arithmetic.md,
"Integer network pipeline", is the reference). This module is the one place that packs,
unpacks and validates it: `Artifact` and its typed op records, `save_artifact` (tensors
first, JSON last, each atomically), `load_artifact` (reads and validates everything and
refuses a missing, truncated, corrupt, wrong-version or inconsistent artifact with one line
naming the file and the field) and the values every stage derives from a layer
(`layer_pe_config`, `next_layer`, `requant_real`, `layer_arith`, `requant_reference`).
asq_hw.export builds an Artifact from a trained PyTorch model; golden inference
(golden.network), the RTL array simulator and the estimator read only this. numpy only:
the integer arithmetic it checks the stored requantization with is golden's numpy-only
core (golden.arith, golden.requant), which never imports this module.

model.json, version 1:

    format "asq-hw-artifact", version 1, weight_quant post|pot|int, wbits, abits,
    frac_bits (the default F for the lut variant), dataset, num_classes,
    input {shape [C, H, W], mean [C], std [C]}   (x = (pixel - mean) / std, float32)
    ops [...]: executed in order on one tensor; compute ops (conv, linear) and the integer
        ops between them (relu, maxpool {kernel, stride}, flatten). A compute op:
        name, op, in_channels, out_channels, kernel [kh, kw], stride, padding, in_hw, out_hw
        (conv) or in_features, out_features (linear), fan_in N, output "codes" | "logits",
        act_in {abits, signed, step, adapter [tensor prefixes]}: the format of its input
        codes (x_real = code * step * beta), requant {lut: {shift}, dual: {shift}}.
    tensors_sha256: sha256 of model.safetensors; provenance: training facts (free form).

Tensors of compute op `name`:

    name.codes   uint8 (K, N)  weight codes, N index c*kh*kw + i*kw + j (torch's
                               weight.reshape(K, -1)); K = out channels
    name.alpha   float32 (K,)  clipping scale per output channel (before BN folding)
    name.bn_scale float32 (K,) folded BatchNorm scale g = gamma / sqrt(var + eps) (or 1)
    name.bias    float32 (K,)  folded bias b = beta - mean * g + g * conv_bias (or 0)
    name.adapter.<i>.weight / .bias  float32: the ASQ adapter of this op's input
    name.requant.<variant>.mult int64 (K, slots), .offset int64 (K,): the integer
        requantization for beta_in = beta_out = 1 at frac_bits (golden.requant.requant_params)

In memory each op is a frozen record (ConvLayer, LinearLayer, Relu, MaxPool, Flatten) whose
fields are model.json's, in model.json's order; `to_json` writes them back in that order,
so saving a loaded artifact reproduces its files byte for byte. A new field is a record
field, a line in its `to_json` / `from_json` and a check in `_check_json`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
from safetensors.numpy import load, save

from asq_hw.config import ABITS_RANGE, FRAC_BITS_RANGE, SCHEMES, VARIANTS, WBITS_RANGE, PEConfig
from asq_hw.errors import UserError
from asq_hw.outputs import write_bytes
from golden.arith import LayerArith
from golden.requant import requant_params

FORMAT = "asq-hw-artifact"
VERSION = 1
JSON_NAME = "model.json"
TENSORS_NAME = "model.safetensors"
COMPUTE_OPS = ("conv", "linear")
INTEGER_OPS = ("relu", "maxpool", "flatten")


def conv_out_hw(h: int, w: int, kernel: tuple[int, int], stride: int, padding: int):
    """(Ho, Wo) of a convolution over an h x w input (zero padding on every side)."""
    return ((h + 2 * padding - kernel[0]) // stride + 1,
            (w + 2 * padding - kernel[1]) // stride + 1)


# ---------------------------------------------------------------------------------------
# Records.

@dataclasses.dataclass(frozen=True)
class ActIn:
    """The format of a compute op's input codes: x_real = code * step * beta, beta from the
    adapter (the Linear layers under the tensor prefixes `adapter`; none: beta = 1)."""

    abits: int
    signed: bool
    step: float
    adapter: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"abits": self.abits, "signed": self.signed, "step": self.step,
                "adapter": list(self.adapter)}

    @classmethod
    def from_json(cls, d: dict) -> ActIn:
        return cls(d["abits"], d["signed"], d["step"], tuple(d["adapter"]))


@dataclasses.dataclass(frozen=True)
class VariantRequant:
    """The stored requantization of one MAC variant (beta_in = beta_out = 1): the shift;
    the multipliers and offsets are the tensors name.requant.<variant>.mult / .offset."""

    shift: int

    def to_json(self) -> dict:
        return {"shift": self.shift}

    @classmethod
    def from_json(cls, d: dict) -> VariantRequant:
        return cls(d["shift"])


def _requant_json(requant: dict[str, VariantRequant]) -> dict:
    return {v: rq.to_json() for v, rq in requant.items()}


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    """A convolution (model.json op "conv"): K = out_channels outputs at out_hw positions."""

    op: ClassVar[str] = "conv"
    name: str
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: int
    padding: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    fan_in: int
    act_in: ActIn
    output: str = "codes"
    requant: dict[str, VariantRequant] = dataclasses.field(default_factory=dict,
                                                           hash=False)

    @property
    def outputs(self) -> int:
        """K, the output channels."""
        return self.out_channels

    @property
    def positions(self) -> int:
        """Output positions per image, Ho * Wo."""
        return self.out_hw[0] * self.out_hw[1]

    @property
    def is_logits(self) -> bool:
        return self.output == "logits"

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "in_channels": self.in_channels,
                "out_channels": self.out_channels, "kernel": list(self.kernel),
                "stride": self.stride, "padding": self.padding, "in_hw": list(self.in_hw),
                "out_hw": list(self.out_hw), "fan_in": self.fan_in,
                "act_in": self.act_in.to_json(), "output": self.output,
                "requant": _requant_json(self.requant)}

    @classmethod
    def from_json(cls, d: dict) -> ConvLayer:
        return cls(d["name"], d["in_channels"], d["out_channels"], tuple(d["kernel"]),
                   d["stride"], d["padding"], tuple(d["in_hw"]), tuple(d["out_hw"]),
                   d["fan_in"], ActIn.from_json(d["act_in"]), d["output"],
                   {v: VariantRequant.from_json(r) for v, r in d["requant"].items()})


@dataclasses.dataclass(frozen=True)
class LinearLayer:
    """A fully connected layer (model.json op "linear"): K = out_features outputs."""

    op: ClassVar[str] = "linear"
    out_hw: ClassVar[None] = None   # no spatial output
    name: str
    in_features: int
    out_features: int
    fan_in: int
    act_in: ActIn
    output: str = "codes"
    requant: dict[str, VariantRequant] = dataclasses.field(default_factory=dict,
                                                           hash=False)

    @property
    def outputs(self) -> int:
        """K, the output features."""
        return self.out_features

    @property
    def positions(self) -> int:
        return 1

    @property
    def is_logits(self) -> bool:
        return self.output == "logits"

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "in_features": self.in_features,
                "out_features": self.out_features, "fan_in": self.fan_in,
                "act_in": self.act_in.to_json(), "output": self.output,
                "requant": _requant_json(self.requant)}

    @classmethod
    def from_json(cls, d: dict) -> LinearLayer:
        return cls(d["name"], d["in_features"], d["out_features"], d["fan_in"],
                   ActIn.from_json(d["act_in"]), d["output"],
                   {v: VariantRequant.from_json(r) for v, r in d["requant"].items()})


@dataclasses.dataclass(frozen=True)
class Relu:
    """Integer ReLU (model.json op "relu")."""

    op: ClassVar[str] = "relu"

    def to_json(self) -> dict:
        return {"op": self.op}

    @classmethod
    def from_json(cls, d: dict) -> Relu:
        return cls()


@dataclasses.dataclass(frozen=True)
class MaxPool:
    """Square max pooling without padding (model.json op "maxpool")."""

    op: ClassVar[str] = "maxpool"
    kernel: int
    stride: int

    def to_json(self) -> dict:
        return {"op": self.op, "kernel": self.kernel, "stride": self.stride}

    @classmethod
    def from_json(cls, d: dict) -> MaxPool:
        return cls(d["kernel"], d["stride"])


@dataclasses.dataclass(frozen=True)
class Flatten:
    """(B, C, H, W) -> (B, C*H*W) in torch.flatten(x, 1) order (model.json op "flatten")."""

    op: ClassVar[str] = "flatten"

    def to_json(self) -> dict:
        return {"op": self.op}

    @classmethod
    def from_json(cls, d: dict) -> Flatten:
        return cls()


ComputeLayer = ConvLayer | LinearLayer
Op = ConvLayer | LinearLayer | Relu | MaxPool | Flatten
OP_RECORDS: dict[str, type] = {r.op: r for r in (ConvLayer, LinearLayer, Relu, MaxPool,
                                                  Flatten)}


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The network input: shape (C, H, W) and the normalisation x = (pixel - mean) / std."""

    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, d: dict) -> InputSpec:
        return cls(tuple(d["shape"]), tuple(d["mean"]), tuple(d["std"]))


@dataclasses.dataclass(frozen=True, eq=False)
class Artifact:
    """A validated artifact in memory: model.json's fields as typed records and `tensors`
    (name -> numpy array). Treat the tensors as read-only; `dataclasses.replace` or
    `copy_artifact` make a changed copy. Compared by identity (the tensors are arrays)."""

    weight_quant: str
    wbits: int
    abits: int
    frac_bits: int
    dataset: str
    num_classes: int
    input: InputSpec
    ops: tuple[Op, ...]
    tensors: dict[str, np.ndarray]
    provenance: dict = dataclasses.field(default_factory=dict)
    tensors_sha256: str = ""

    def compute_layers(self) -> list[ComputeLayer]:
        """The conv/linear ops, in order."""
        return [op for op in self.ops if op.op in COMPUTE_OPS]

    def layer(self, name: str) -> ComputeLayer:
        for op in self.compute_layers():
            if op.name == name:
                return op
        raise KeyError(name)

    def tensor(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def codes(self, layer: ComputeLayer) -> np.ndarray:
        """Weight codes (K, N) uint8 in im2col order."""
        return self.tensors[f"{layer.name}.codes"]

    def adapter(self, layer: ComputeLayer) -> list[tuple[np.ndarray, np.ndarray]]:
        """The input adapter's Linear layers as (weight, bias); each is followed by ReLU."""
        return [(self.tensors[f"{p}.weight"], self.tensors[f"{p}.bias"])
                for p in layer.act_in.adapter]

    def to_json(self) -> dict:
        """model.json as a dict, in the file's field order."""
        return {"format": FORMAT, "version": VERSION, "weight_quant": self.weight_quant,
                "wbits": self.wbits, "abits": self.abits, "frac_bits": self.frac_bits,
                "dataset": self.dataset, "num_classes": self.num_classes,
                "input": self.input.to_json(), "ops": [op.to_json() for op in self.ops],
                "tensors_sha256": self.tensors_sha256,
                "provenance": copy.deepcopy(self.provenance)}

    @classmethod
    def from_json(cls, meta: dict, tensors: dict[str, np.ndarray]) -> Artifact:
        """The Artifact of a model.json dict that passed the checks (`_check_json`)."""
        return cls(meta["weight_quant"], meta["wbits"], meta["abits"], meta["frac_bits"],
                   meta["dataset"], meta["num_classes"], InputSpec.from_json(meta["input"]),
                   tuple(OP_RECORDS[op["op"]].from_json(op) for op in meta["ops"]), tensors,
                   meta["provenance"], meta["tensors_sha256"])


def copy_artifact(art: Artifact) -> Artifact:
    """A deep copy (for tools that modify an artifact before saving it)."""
    return dataclasses.replace(art, tensors={k: v.copy() for k, v in art.tensors.items()},
                               provenance=copy.deepcopy(art.provenance))


# ---------------------------------------------------------------------------------------
# Derived quantities (the one definition of each).

def layer_arith(layer: ComputeLayer, weight_quant: str, wbits: int, variant: str,
                frac_bits: int):
    """golden.arith.LayerArith of a compute op."""
    a = layer.act_in
    return LayerArith(weight_quant, wbits, a.abits, a.signed, variant, frac_bits, layer.fan_in)


def layer_pe_config(artifact: Artifact, layer: ComputeLayer | str, variant: str,
                    frac_bits: int | None = None) -> PEConfig:
    """The POST PE configuration for one compute layer: wbits of the artifact, abits and
    act_signed of the layer's input, max_len = fan_in, acc_bits the safe width."""
    if isinstance(layer, str):
        layer = artifact.layer(layer)
    if artifact.weight_quant != "post":
        raise UserError(f"weight_quant {artifact.weight_quant!r} does not run on the "
                        "POST PE; only 'post' artifacts have a PEConfig")
    f = artifact.frac_bits if frac_bits is None else frac_bits
    a = layer.act_in
    return PEConfig(wbits=artifact.wbits, abits=a.abits, act_signed=a.signed,
                    variant=variant, frac_bits=f, max_len=layer.fan_in)


def next_layer(artifact: Artifact, layer: ComputeLayer) -> ComputeLayer | None:
    """The compute layer after `layer`, or None for the classifier."""
    layers = artifact.compute_layers()
    i = [op.name for op in layers].index(layer.name)
    return layers[i + 1] if i + 1 < len(layers) else None


def requant_real(artifact: Artifact, layer: ComputeLayer) -> tuple[np.ndarray, np.ndarray]:
    """(r, d), float64 (K,): the layer's output in units of the next layer's step is
    v = r_k * sum_i x_i * level_i * beta_in / beta_out + d_k / beta_out, with
    r_k = ((s_in * alpha_k) * g_k) / s_out and d_k = b_k / s_out (s_out = 1 for logits),
    every factor the float32 value from the artifact widened to float64."""
    name = layer.name
    alpha = artifact.tensors[f"{name}.alpha"].astype(np.float64)
    g = artifact.tensors[f"{name}.bn_scale"].astype(np.float64)
    b = artifact.tensors[f"{name}.bias"].astype(np.float64)
    s_in = float(np.float32(layer.act_in.step))
    nxt = next_layer(artifact, layer)
    s_out = 1.0 if nxt is None else float(np.float32(nxt.act_in.step))
    return (s_in * alpha) * g / s_out, b / s_out


def requant_reference(artifact: Artifact, layer: ComputeLayer, variant: str, frac_bits: int):
    """The layer's golden.requant.Requant for one sample with beta_in = beta_out = 1."""
    r, d = requant_real(artifact, layer)
    arith = layer_arith(layer, artifact.weight_quant, artifact.wbits, variant, frac_bits)
    one = np.ones(1)
    return requant_params(r, d, one, one, arith, logits=layer.is_logits)


def requant_tensors(artifact: Artifact, layer: ComputeLayer, frac_bits: int):
    """(tensors, requant) of a layer: the stored integer requantization of every variant
    (name.requant.<variant>.mult / .offset) and its VariantRequant records."""
    out, shifts = {}, {}
    for variant in VARIANTS:
        rq = requant_reference(artifact, layer, variant, frac_bits)
        out[f"{layer.name}.requant.{variant}.mult"] = rq.mult[0]
        out[f"{layer.name}.requant.{variant}.offset"] = rq.offset[0]
        shifts[variant] = VariantRequant(int(rq.shift[0]))
    return out, shifts


# ---------------------------------------------------------------------------------------
# Writing and reading.

def _tensor_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    return save({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())})


def _json_bytes(meta: dict) -> bytes:
    return (json.dumps(meta, indent=1, allow_nan=False) + "\n").encode()


def write_raw(directory, meta: dict, tensors: dict[str, np.ndarray]) -> None:
    """Write the two files without validation (tensors first, JSON last, each atomically),
    setting meta["tensors_sha256"]. save_artifact is the validated entry point."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    blob = _tensor_bytes(tensors)
    meta = dict(meta, tensors_sha256=hashlib.sha256(blob).hexdigest())
    write_bytes(d / TENSORS_NAME, blob)
    write_bytes(d / JSON_NAME, _json_bytes(meta))


def save_artifact(artifact: Artifact, directory) -> None:
    """Validate and write DIR/model.safetensors and DIR/model.json. Fields are written in
    model.json's order, so saving a loaded artifact reproduces what save_artifact wrote,
    byte for byte."""
    validate(artifact, str(Path(directory) / JSON_NAME))
    write_raw(directory, artifact.to_json(), artifact.tensors)


def load_artifact(directory) -> Artifact:
    """Read and validate an artifact; UserError (one line naming file and field) if it is
    missing, truncated, corrupt, of another version or inconsistent."""
    d = Path(directory)
    jpath, tpath = d / JSON_NAME, d / TENSORS_NAME
    if not d.is_dir():
        raise UserError(f"{d}: artifact folder not found")
    for p in (jpath, tpath):
        if not p.is_file():
            raise UserError(f"{p}: missing (an artifact is {JSON_NAME} + {TENSORS_NAME})")
    try:
        meta = json.loads(jpath.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{jpath}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise UserError(f"{jpath}: top level must be a JSON object")
    _check_header(meta, jpath)
    blob = tpath.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != meta.get("tensors_sha256"):
        raise UserError(f"{tpath}: sha256 {digest[:12]}... does not match {JSON_NAME} field "
                        "tensors_sha256 (truncated, corrupt or from another export)")
    try:
        tensors = load(blob)
    except Exception as exc:
        raise UserError(f"{tpath}: not a safetensors file ({str(exc).splitlines()[0]})") \
            from None
    ck = _Checker(str(jpath), str(tpath))
    _check_json(meta, tensors, ck)
    art = Artifact.from_json(meta, tensors)
    _check_requant(art, ck)
    return art



# ---------------------------------------------------------------------------------------
# Validation.

def _check_header(meta: dict, where) -> None:
    if meta.get("format") != FORMAT:
        raise UserError(f"{where}: field format must be {FORMAT!r}, not "
                        f"{meta.get('format')!r}")
    v = meta.get("version")
    if v != VERSION:
        raise UserError(f"{where}: field version is {v!r}; this asq-hw reads version "
                        f"{VERSION}")


class _Checker:
    def __init__(self, where: str, tensors_file: str):
        self.where, self.tfile = where, tensors_file

    def fail(self, field: str, msg: str):
        raise UserError(f"{self.where}: field {field}: {msg}")

    def tfail(self, name: str, msg: str):
        raise UserError(f"{self.tfile}: tensor {name}: {msg}")

    def get(self, d: dict, key: str, field: str):
        if not isinstance(d, dict):
            self.fail(field, "must be a JSON object")
        if key not in d:
            self.fail(f"{field}.{key}" if field else key, "missing")
        return d[key]

    def int_in(self, d: dict, key: str, field: str, lo: int, hi: int) -> int:
        v = self.get(d, key, field)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(f"{field}.{key}" if field else key,
                      f"must be an integer from {lo} to {hi}, not {v!r}")
        return v

    def pos_float(self, d: dict, key: str, field: str) -> float:
        v = self.get(d, key, field)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            self.fail(f"{field}.{key}", f"must be a finite positive number, not {v!r}")
        return float(v)

    def tensor(self, tensors: dict, name: str, dtype, shape: tuple) -> np.ndarray:
        if name not in tensors:
            self.tfail(name, "missing")
        t = tensors[name]
        if t.dtype != np.dtype(dtype) or t.shape != tuple(shape):
            self.tfail(name, f"must be {np.dtype(dtype).name} of shape {tuple(shape)}, not "
                             f"{t.dtype.name} of shape {t.shape}")
        if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
            self.tfail(name, "holds NaN or inf")
        return t


def validate(art: Artifact, where: str = JSON_NAME, tensors_file: str | None = None) -> None:
    """Check every field of the artifact and its consistency with the tensors; UserError
    naming the file and field on the first problem."""
    meta = art.to_json()
    ck = _Checker(where, tensors_file or where.replace(JSON_NAME, TENSORS_NAME))
    _check_header(meta, where)
    _check_json(meta, art.tensors, ck)
    _check_requant(art, ck)


def _check_json(meta: dict, tensors: dict[str, np.ndarray], ck: _Checker) -> None:
    """Every field of model.json (a dict with a checked header) and the tensors it names."""
    scheme = ck.get(meta, "weight_quant", "")
    if scheme not in SCHEMES:
        ck.fail("weight_quant", f"must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    wbits = ck.int_in(meta, "wbits", "", *WBITS_RANGE)
    ck.int_in(meta, "abits", "", *ABITS_RANGE)
    ck.int_in(meta, "frac_bits", "", *FRAC_BITS_RANGE)
    if not isinstance(ck.get(meta, "dataset", ""), str):
        ck.fail("dataset", "must be a string")
    n_classes = ck.int_in(meta, "num_classes", "", 1, 1 << 20)
    inp = ck.get(meta, "input", "")
    shp = ck.get(inp, "shape", "input")
    if not (isinstance(shp, list) and len(shp) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shp)):
        ck.fail("input.shape", f"must be three positive integers [C, H, W], not {shp!r}")
    for key in ("mean", "std"):
        v = ck.get(inp, key, "input")
        if not (isinstance(v, list) and len(v) == shp[0]
                and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                        and math.isfinite(x) for x in v)):
            ck.fail(f"input.{key}", f"must be {shp[0]} finite numbers, not {v!r}")
        if key == "std" and any(x <= 0 for x in v):
            ck.fail("input.std", "must be positive")
    if not isinstance(ck.get(meta, "provenance", ""), dict):
        ck.fail("provenance", "must be a JSON object")
    if not isinstance(ck.get(meta, "tensors_sha256", ""), str):
        ck.fail("tensors_sha256", "must be a string")
    known = {"format", "version", "weight_quant", "wbits", "abits", "frac_bits", "dataset",
             "num_classes", "input", "ops", "tensors_sha256", "provenance"}
    extra = sorted(set(meta) - known)
    if extra:
        ck.fail(extra[0], "unknown field")

    ops = ck.get(meta, "ops", "")
    if not isinstance(ops, list) or not ops:
        ck.fail("ops", "must be a non-empty list")
    shape: tuple = tuple(shp)
    used: set[str] = set()
    names: set[str] = set()
    compute = [i for i, op in enumerate(ops) if isinstance(op, dict)
               and op.get("op") in COMPUTE_OPS]
    if not compute or compute[-1] != len(ops) - 1:
        ck.fail("ops", "must end with a compute op (conv or linear) producing the logits")
    first = True
    for idx, op in enumerate(ops):
        f = f"ops[{idx}]"
        kind = ck.get(op, "op", f)
        if kind not in COMPUTE_OPS + INTEGER_OPS:
            ck.fail(f"{f}.op", f"must be one of {', '.join(COMPUTE_OPS + INTEGER_OPS)}, "
                               f"not {kind!r}")
        if kind == "relu":
            _no_extra(ck, op, f, {"op"})
            continue
        if kind == "flatten":
            _no_extra(ck, op, f, {"op"})
            shape = (math.prod(shape),)
            continue
        if kind == "maxpool":
            _no_extra(ck, op, f, {"op", "kernel", "stride"})
            ks = ck.int_in(op, "kernel", f, 1, 64)
            st = ck.int_in(op, "stride", f, 1, 64)
            if len(shape) != 3 or shape[1] < ks or shape[2] < ks:
                ck.fail(f, f"maxpool {ks}x{ks} does not fit input shape {list(shape)}")
            shape = (shape[0], (shape[1] - ks) // st + 1, (shape[2] - ks) // st + 1)
            continue
        name = ck.get(op, "name", f)
        if not isinstance(name, str) or not name or name in names or "." in name:
            ck.fail(f"{f}.name", f"must be a unique non-empty name without '.', not {name!r}")
        names.add(name)
        f = f"ops[{idx}] ({name})"
        if kind == "conv":
            _no_extra(ck, op, f, {"op", "name", "in_channels", "out_channels", "kernel",
                                  "stride", "padding", "in_hw", "out_hw", "fan_in", "act_in",
                                  "output", "requant"})
            cin = ck.int_in(op, "in_channels", f, 1, 1 << 16)
            cout = ck.int_in(op, "out_channels", f, 1, 1 << 16)
            kern = ck.get(op, "kernel", f)
            if not (isinstance(kern, list) and len(kern) == 2
                    and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                            for v in kern)):
                ck.fail(f"{f}.kernel", f"must be [kh, kw] positive integers, not {kern!r}")
            stride = ck.int_in(op, "stride", f, 1, 64)
            pad = ck.int_in(op, "padding", f, 0, 64)
            if len(shape) != 3 or shape[0] != cin:
                ck.fail(f"{f}.in_channels", f"is {cin} but the input has shape {list(shape)}")
            if ck.get(op, "in_hw", f) != [shape[1], shape[2]]:
                ck.fail(f"{f}.in_hw", f"is {op['in_hw']!r} but the input has shape "
                                      f"{list(shape)}")
            oh, ow = conv_out_hw(shape[1], shape[2], tuple(kern), stride, pad)
            if oh < 1 or ow < 1 or ck.get(op, "out_hw", f) != [oh, ow]:
                ck.fail(f"{f}.out_hw", f"must be {[oh, ow]}, not {op.get('out_hw')!r}")
            n = cin * kern[0] * kern[1]
            k = cout
            shape = (cout, oh, ow)
        else:
            _no_extra(ck, op, f, {"op", "name", "in_features", "out_features", "fan_in",
                                  "act_in", "output", "requant"})
            cin = ck.int_in(op, "in_features", f, 1, 1 << 24)
            k = ck.int_in(op, "out_features", f, 1, 1 << 24)
            if shape != (cin,):
                ck.fail(f"{f}.in_features", f"is {cin} but the input has shape {list(shape)}")
            n = cin
            shape = (k,)
        if ck.get(op, "fan_in", f) != n:
            ck.fail(f"{f}.fan_in", f"must be {n}, not {op['fan_in']!r}")
        last = idx == len(ops) - 1
        if ck.get(op, "output", f) != ("logits" if last else "codes"):
            ck.fail(f"{f}.output", f"must be {'logits' if last else 'codes'!r}, not "
                                   f"{op['output']!r}")
        if last and k != n_classes:
            ck.fail(f"{f}.out_channels" if kind == "conv" else f"{f}.out_features",
                    f"is {k} but num_classes is {n_classes}")
        if last and kind == "conv" and shape[1:] != (1, 1):
            ck.fail(f"{f}.out_hw", "the classifier conv must produce 1x1 outputs")
        a = ck.get(op, "act_in", f)
        _no_extra(ck, a, f"{f}.act_in", {"abits", "signed", "step", "adapter"})
        abits = ck.int_in(a, "abits", f"{f}.act_in", *ABITS_RANGE)
        signed = ck.get(a, "signed", f"{f}.act_in")
        if not isinstance(signed, bool):
            ck.fail(f"{f}.act_in.signed", f"must be true or false, not {signed!r}")
        if not first and (signed or abits != meta["abits"]):
            ck.fail(f"{f}.act_in", f"inner layers take unsigned {meta['abits']}-bit codes, "
                                   f"not {'signed' if signed else 'unsigned'} {abits}-bit")
        ck.pos_float(a, "step", f"{f}.act_in")
        adapter = ck.get(a, "adapter", f"{f}.act_in")
        if not isinstance(adapter, list) or not all(isinstance(p, str) for p in adapter):
            ck.fail(f"{f}.act_in.adapter", "must be a list of tensor name prefixes")
        if first and adapter:
            ck.fail(f"{f}.act_in.adapter", "the network input has no adapter")
        width = cin
        for j, prefix in enumerate(adapter):
            if prefix != f"{name}.adapter.{j}":
                ck.fail(f"{f}.act_in.adapter[{j}]", f"must be {name}.adapter.{j!r}")
            wt = tensors.get(f"{prefix}.weight")
            if wt is None or wt.ndim != 2:
                ck.tfail(f"{prefix}.weight", "missing or not a matrix")
            out_w = 1 if j == len(adapter) - 1 else wt.shape[0]
            ck.tensor(tensors, f"{prefix}.weight", np.float32, (out_w, width))
            ck.tensor(tensors, f"{prefix}.bias", np.float32, (out_w,))
            used |= {f"{prefix}.weight", f"{prefix}.bias"}
            width = out_w
        codes = ck.tensor(tensors, f"{name}.codes", np.uint8, (k, n))
        if codes.size and codes.max() >= 2**wbits:
            ck.tfail(f"{name}.codes", f"holds code {int(codes.max())}, beyond wbits={wbits}")
        alpha = ck.tensor(tensors, f"{name}.alpha", np.float32, (k,))
        if np.any(alpha <= 0):
            ck.tfail(f"{name}.alpha", "must be positive")
        ck.tensor(tensors, f"{name}.bn_scale", np.float32, (k,))
        ck.tensor(tensors, f"{name}.bias", np.float32, (k,))
        used |= {f"{name}.{t}" for t in ("codes", "alpha", "bn_scale", "bias")}
        rq = ck.get(op, "requant", f)
        _no_extra(ck, rq, f"{f}.requant", set(VARIANTS))
        for variant in VARIANTS:
            v = ck.get(rq, variant, f"{f}.requant")
            _no_extra(ck, v, f"{f}.requant.{variant}", {"shift"})
            ck.int_in(v, "shift", f"{f}.requant.{variant}", 1, 62)
            slots = 2 if variant == "dual" and scheme == "post" else 1
            ck.tensor(tensors, f"{name}.requant.{variant}.mult", np.int64, (k, slots))
            ck.tensor(tensors, f"{name}.requant.{variant}.offset", np.int64, (k,))
            used |= {f"{name}.requant.{variant}.{t}" for t in ("mult", "offset")}
        first = False
    extra = sorted(set(tensors) - used)
    if extra:
        ck.tfail(extra[0], "is not referenced by model.json")


def _check_requant(art: Artifact, ck: _Checker) -> None:
    """The stored integer requantization against the one derived from the float
    parameters (requant_reference)."""
    for idx, op in enumerate(art.ops):
        if op.op not in COMPUTE_OPS:
            continue
        for variant in VARIANTS:
            try:
                ref = requant_reference(art, op, variant, art.frac_bits)
            except ValueError as exc:
                ck.fail(f"ops[{idx}] ({op.name}).requant.{variant}", str(exc))
            base = f"{op.name}.requant.{variant}"
            if op.requant[variant].shift != int(ref.shift[0]):
                ck.fail(f"ops[{idx}] ({op.name}).requant.{variant}.shift",
                        f"is {op.requant[variant].shift} but the layer's scales give "
                        f"{int(ref.shift[0])}")
            for t, val in (("mult", ref.mult[0]), ("offset", ref.offset[0])):
                if not np.array_equal(art.tensors[f"{base}.{t}"], val):
                    ck.tfail(f"{base}.{t}", "does not match the requantization derived from "
                                            "alpha, bn_scale, bias and the steps")


def _no_extra(ck: _Checker, d, field: str, allowed: set[str]) -> None:
    if not isinstance(d, dict):
        ck.fail(field, "must be a JSON object")
    extra = sorted(set(d) - allowed)
    if extra:
        ck.fail(f"{field}.{extra[0]}", "unknown field")


