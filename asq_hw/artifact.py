"""The integer artifact: the contract between the PyTorch model and everything downstream.

`DIR/model.safetensors` holds the tensors, `DIR/model.json` the rest (docs/arithmetic.md,
"Integer network pipeline", is the reference). This module is the one place that packs,
unpacks and validates it: `Artifact` and its typed op records, `save_artifact` (tensors
first, JSON last, each atomically), `load_artifact` (reads and validates everything and
refuses a missing, truncated, corrupt, wrong-version or inconsistent artifact with one line
naming the file and the field) and the values every stage derives from a layer
(`layer_pe_config`, `next_layer`, `layer_arith`, `layer_scale`, `layer_adapter`).
asq_hw.export builds an Artifact from a trained PyTorch model; golden inference
(golden.network), the RTL array simulator and the estimator read only this. numpy only:
the integer arithmetic it reads the stored integers with is golden's numpy-only core
(golden.arith, golden.asq_int), which never imports this module.

model.json, version 2 (version 1 held float scales and adapters; it is refused), or version
3 for residual networks (docs/arithmetic.md "Residual add": compute ops with output
"residual" and an optional `input` naming the op whose codes they read, the ops `add` and
`avgpool`; a network without them is written as version 2):

    format "asq-hw-artifact", version 2, weight_quant post|pot|int, wbits, abits,
    frac_bits (the default F for the lut variant), dataset, num_classes,
    input {shape [C, H, W]}
    ops [...]: executed in order on one tensor; compute ops (conv, linear) and the integer
        ops between them (relu, maxpool {kernel, stride}, flatten). A compute op:
        name, op, in_channels, out_channels, kernel [kh, kw], stride, padding, in_hw, out_hw
        (conv) or in_features, out_features (linear), fan_in N, output "codes" | "logits",
        act_in {abits, signed, adapter [tensor prefixes], adapter_exp [E per prefix]}: the
        format of its input codes and its ASQ adapter, requant {lut: {shift}, dual: {shift}}.
    floats {mean [C], std [C], steps [one per compute op], float_acc, fakequant_acc}: every
        floating-point number of the artifact, none of which integer inference computes
        with: the input normalisation x = (pixel - mean) / std (float32), the static steps
        (steps[0] turns x into the input codes, clamp(rint(x / steps[0])); the others are
        folded into the integers), the trained model's reference accuracies (or null).
    tensors_sha256: sha256 of model.safetensors; provenance: training facts (free form).

Tensors of compute op `name`, all integers (golden.asq_int, docs/arithmetic.md "Integer ASQ"):

    name.codes   uint8 (K, N)  weight codes, N index c*kh*kw + i*kw + j (torch's
                               weight.reshape(K, -1)); K = out channels
    name.requant.<variant>.mult int32 (K, slots): the static multipliers C
    name.requant.<variant>.offset int64 (K,): the offsets D (output in units of the next
        step = (sum A * C * b_in + D) * 2**-(shift + BETA_FRAC)) at frac_bits
    name.adapter.<i>.weight int8 (out, in) in [-127, 127], .bias int32 (out,): the ASQ
        adapter of this op's input, real weight = weight * 2**-E (E = act_in.adapter_exp[i])

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
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
from safetensors.numpy import load, save

from asq_hw.config import ABITS_RANGE, FRAC_BITS_RANGE, SCHEMES, VARIANTS, WBITS_RANGE, PEConfig
from asq_hw.errors import UserError
from asq_hw.jsonread import read_json
from asq_hw.outputs import write_bytes
from golden import asq_int as Q
from golden import residual as R
from golden.arith import LayerArith

FORMAT = "asq-hw-artifact"
VERSION = 3        # the newest version written (chain networks are still written as 2)
JSON_NAME = "model.json"
TENSORS_NAME = "model.safetensors"
COMPUTE_OPS = ("conv", "linear")
INTEGER_OPS = ("relu", "maxpool", "flatten")
# Version 3 adds residual networks: the ops below, compute ops with output "residual" and
# an `input` field. A network without them is written as version 2, as before.
RESIDUAL_OPS = ("avgpool", "add")
VERSIONS = (2, 3)
# Layer names: printed in tables and used in tensor names, so plain identifiers only.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
FLOAT32_TINY = float(np.finfo(np.float32).tiny)     # smallest normal float32
FLOAT32_MAX = float(np.finfo(np.float32).max)


def conv_out_hw(h: int, w: int, kernel: tuple[int, int], stride: int, padding: int):
    """(Ho, Wo) of a convolution over an h x w input (zero padding on every side)."""
    return ((h + 2 * padding - kernel[0]) // stride + 1,
            (w + 2 * padding - kernel[1]) // stride + 1)


# ---------------------------------------------------------------------------------------
# Records.

@dataclasses.dataclass(frozen=True)
class ActIn:
    """The format of a compute op's input codes: x_real = code * step * beta, beta per
    sample from the adapter (the integer Linear layers under the tensor prefixes `adapter`,
    with exponents `adapter_exp`; none: beta = 1)."""

    abits: int
    signed: bool
    adapter: tuple[str, ...] = ()
    adapter_exp: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return {"abits": self.abits, "signed": self.signed, "adapter": list(self.adapter),
                "adapter_exp": list(self.adapter_exp)}

    @classmethod
    def from_json(cls, d: dict) -> ActIn:
        return cls(d["abits"], d["signed"], tuple(d["adapter"]), tuple(d["adapter_exp"]))


@dataclasses.dataclass(frozen=True)
class VariantRequant:
    """The static scale of one MAC variant: its shift; C and D are the tensors
    name.requant.<variant>.mult / .offset (golden.asq_int.StaticScale)."""

    shift: int

    def to_json(self) -> dict:
        return {"shift": self.shift}

    @classmethod
    def from_json(cls, d: dict) -> VariantRequant:
        return cls(d["shift"])


def _requant_json(requant: dict[str, VariantRequant]) -> dict:
    return {v: rq.to_json() for v, rq in requant.items()}


def _input_json(source: str | None) -> dict:
    """The optional `input` field (version 3): absent for an op reading the chain."""
    return {} if source is None else {"input": source}


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
    input: str | None = None

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
                "requant": _requant_json(self.requant), **_input_json(self.input)}

    @classmethod
    def from_json(cls, d: dict) -> ConvLayer:
        return cls(d["name"], d["in_channels"], d["out_channels"], tuple(d["kernel"]),
                   d["stride"], d["padding"], tuple(d["in_hw"]), tuple(d["out_hw"]),
                   d["fan_in"], ActIn.from_json(d["act_in"]), d["output"],
                   {v: VariantRequant.from_json(r) for v, r in d["requant"].items()},
                   d.get("input"))


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
    input: str | None = None

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
                "requant": _requant_json(self.requant), **_input_json(self.input)}

    @classmethod
    def from_json(cls, d: dict) -> LinearLayer:
        return cls(d["name"], d["in_features"], d["out_features"], d["fan_in"],
                   ActIn.from_json(d["act_in"]), d["output"],
                   {v: VariantRequant.from_json(r) for v, r in d["requant"].items()},
                   d.get("input"))


class _Bare:
    """An op without parameters: model.json holds only its name."""

    op: ClassVar[str]

    def to_json(self) -> dict:
        return {"op": self.op}

    @classmethod
    def from_json(cls, d: dict):
        return cls()


@dataclasses.dataclass(frozen=True)
class Relu(_Bare):
    """Integer ReLU (model.json op "relu")."""

    op: ClassVar[str] = "relu"


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
class Flatten(_Bare):
    """(B, C, H, W) -> (B, C*H*W) in torch.flatten(x, 1) order (model.json op "flatten")."""

    op: ClassVar[str] = "flatten"


@dataclasses.dataclass(frozen=True)
class AvgPool(_Bare):
    """Global average pooling (model.json op "avgpool", version 3): (B, C, H, W) -> (B, C,
    1, 1), golden.residual.avgpool on u."""

    op: ClassVar[str] = "avgpool"


@dataclasses.dataclass(frozen=True)
class Add:
    """A residual add (model.json op "add", version 3): u = sat(main + shortcut) in the u
    domain of the layer reading the block output (golden.residual). `main`: the compute op
    (output "residual") ending the main branch. kind "projection": `shortcut` names the
    projection compute op (output "residual") whose u is added; kind "identity": `shortcut`
    names the compute op whose input codes and beta are added, times align_mult *
    2**-align_shift (s_x / s_out)."""

    op: ClassVar[str] = "add"
    main: str
    shortcut: str
    kind: str
    align_mult: int = 0
    align_shift: int = 0

    def to_json(self) -> dict:
        d = {"op": self.op, "main": self.main, "shortcut": self.shortcut, "kind": self.kind}
        if self.kind == "identity":
            d.update(align_mult=self.align_mult, align_shift=self.align_shift)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Add:
        return cls(d["main"], d["shortcut"], d["kind"], d.get("align_mult", 0),
                   d.get("align_shift", 0))


ComputeLayer = ConvLayer | LinearLayer
Op = ConvLayer | LinearLayer | Relu | MaxPool | Flatten | AvgPool | Add
OP_RECORDS: dict[str, type] = {r.op: r for r in (ConvLayer, LinearLayer, Relu, MaxPool,
                                                  Flatten, AvgPool, Add)}
ADD_KINDS = ("projection", "identity")


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The network input: shape (C, H, W)."""

    shape: tuple[int, int, int]

    def to_json(self) -> dict:
        return {"shape": list(self.shape)}

    @classmethod
    def from_json(cls, d: dict) -> InputSpec:
        return cls(tuple(d["shape"]))


@dataclasses.dataclass(frozen=True)
class FloatInfo:
    """model.json's `floats`: every float of the artifact, all descriptive. mean, std: the
    input normalisation x = (pixel - mean) / std; steps: the static step of each compute
    op's input (steps[0] quantizes x to the input codes; the others are folded into the
    integer scales); float_acc, fakequant_acc: the trained model's test accuracies, or
    None."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    steps: tuple[float, ...]
    float_acc: float | None = None
    fakequant_acc: float | None = None

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std), "steps": list(self.steps),
                "float_acc": self.float_acc, "fakequant_acc": self.fakequant_acc}

    @classmethod
    def from_json(cls, d: dict) -> FloatInfo:
        return cls(tuple(d["mean"]), tuple(d["std"]), tuple(d["steps"]), d["float_acc"],
                   d["fakequant_acc"])


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
    floats: FloatInfo
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

    def adapter(self, layer: ComputeLayer) -> list[Q.AdapterLayer]:
        """The input adapter's integer Linear layers; each is followed by ReLU."""
        return [Q.AdapterLayer(self.tensors[f"{p}.weight"].astype(np.int64),
                               self.tensors[f"{p}.bias"].astype(np.int64), e)
                for p, e in zip(layer.act_in.adapter, layer.act_in.adapter_exp, strict=True)]

    @property
    def version(self) -> int:
        """3 for a residual network (avgpool or add ops, compute ops with output "residual"
        or an `input`), else 2: chain networks keep their version 2 files."""
        residual = any(op.op in RESIDUAL_OPS or (op.op in COMPUTE_OPS and (
            op.output == "residual" or op.input is not None)) for op in self.ops)
        return 3 if residual else 2

    @property
    def input_step(self) -> float:
        """The step that turns normalised images into the input codes (float32 value)."""
        return self.floats.steps[0]

    def to_json(self) -> dict:
        """model.json as a dict, in the file's field order."""
        return {"format": FORMAT, "version": self.version, "weight_quant": self.weight_quant,
                "wbits": self.wbits, "abits": self.abits, "frac_bits": self.frac_bits,
                "dataset": self.dataset, "num_classes": self.num_classes,
                "input": self.input.to_json(), "floats": self.floats.to_json(),
                "ops": [op.to_json() for op in self.ops],
                "tensors_sha256": self.tensors_sha256,
                "provenance": copy.deepcopy(self.provenance)}

    @classmethod
    def from_json(cls, meta: dict, tensors: dict[str, np.ndarray]) -> Artifact:
        """The Artifact of a model.json dict that passed the checks (`_check_json`)."""
        return cls(meta["weight_quant"], meta["wbits"], meta["abits"], meta["frac_bits"],
                   meta["dataset"], meta["num_classes"], InputSpec.from_json(meta["input"]),
                   FloatInfo.from_json(meta["floats"]),
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
    """The compute layer whose input step is `layer`'s output unit (s_out), or None for
    the classifier: the next compute op reading the chain after `layer`, or for a residual
    output after the add that consumes it."""
    ops = artifact.ops
    i = next(j for j, op in enumerate(ops) if getattr(op, "name", None) == layer.name)
    if layer.output == "residual":
        i = next(j for j, op in enumerate(ops) if j > i and op.op == "add"
                 and layer.name in (op.main, op.shortcut if op.kind == "projection"
                                    else None))
    return next((op for op in ops[i + 1:] if op.op in COMPUTE_OPS and op.input is None),
                None)


def layer_scale(artifact: Artifact, layer: ComputeLayer, variant: str,
                frac_bits: int | None = None) -> Q.StaticScale:
    """The layer's static integer scale (C, D, shift) for a MAC variant. At another
    frac_bits than the artifact's (lut only: its accumulators scale by 2**(F' - F)) it is
    derived in integers (golden.asq_int.retarget)."""
    f = artifact.frac_bits if frac_bits is None else frac_bits
    base = f"{layer.name}.requant.{variant}"
    stored = layer_arith(layer, artifact.weight_quant, artifact.wbits, variant,
                         artifact.frac_bits)
    st = Q.StaticScale(artifact.tensors[f"{base}.mult"].astype(np.int64),
                       artifact.tensors[f"{base}.offset"].astype(np.int64),
                       layer.requant[variant].shift, Q.scale_bits(stored.acc_bound()))
    if f == artifact.frac_bits:
        return st
    arith = layer_arith(layer, artifact.weight_quant, artifact.wbits, variant, f)
    delta = f - artifact.frac_bits if arith.slots == 1 and arith.scheme == "post" \
        and variant == "lut" else 0
    return Q.retarget(st, delta, arith.acc_bound())


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
    meta = read_json(jpath)        # bounded nesting and integers, no control characters
    if not isinstance(meta, dict):
        raise UserError(f"{jpath}: top level must be a JSON object")
    _check_header(meta, jpath)
    try:
        blob = tpath.read_bytes()
    except OSError as exc:
        raise UserError(f"{tpath}: cannot read: {exc.strerror or type(exc).__name__}") \
            from None
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
    if isinstance(v, bool) or v not in VERSIONS:
        raise UserError(f"{where}: field version is {v!r}; this asq-hw reads versions "
                        f"{' and '.join(map(str, VERSIONS))}")
    if not isinstance(meta.get("tensors_sha256"), str):
        raise UserError(f"{where}: field tensors_sha256: must be a string (hex digest), "
                        f"not {meta.get('tensors_sha256')!r}")


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
    _no_extra(ck, inp, "input", {"shape"})
    if not isinstance(ck.get(meta, "provenance", ""), dict):
        ck.fail("provenance", "must be a JSON object")
    if not isinstance(ck.get(meta, "tensors_sha256", ""), str):
        ck.fail("tensors_sha256", "must be a string")
    known = {"format", "version", "weight_quant", "wbits", "abits", "frac_bits", "dataset",
             "num_classes", "input", "floats", "ops", "tensors_sha256", "provenance"}
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
    version = meta["version"]
    known_ops = COMPUTE_OPS + INTEGER_OPS + (RESIDUAL_OPS if version >= 3 else ())
    layers: dict[str, dict] = {}        # compute op name -> its facts, in order
    pending: list[str] = []             # residual outputs not yet consumed by an add
    residual = False
    first = True
    for idx, op in enumerate(ops):
        f = f"ops[{idx}]"
        kind = ck.get(op, "op", f)
        if kind not in known_ops:
            extra = (f" ({', '.join(RESIDUAL_OPS)} need version 3)"
                     if kind in RESIDUAL_OPS else "")
            ck.fail(f"{f}.op", f"must be one of {', '.join(known_ops)}, not {kind!r}{extra}")
        if pending and kind not in ("add",) + COMPUTE_OPS:
            ck.fail(f, f"{kind} cannot come before the add of residual output "
                       f"{pending[0]!r}")
        if kind == "relu":
            _no_extra(ck, op, f, {"op"})
            continue
        if kind == "flatten":
            _no_extra(ck, op, f, {"op"})
            shape = (math.prod(shape),)
            continue
        if kind == "avgpool":
            _no_extra(ck, op, f, {"op"})
            if len(shape) != 3:
                ck.fail(f, f"avgpool needs a (C, H, W) input, not shape {list(shape)}")
            shape = (shape[0], 1, 1)
            residual = True
            continue
        if kind == "add":
            shape = _check_add(ck, op, f, layers, pending)
            residual = True
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
        if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in names:
            ck.fail(f"{f}.name", "must be a unique name of letters, digits, '_' and '-' "
                                 f"(at most 64), not {name!r}")
        names.add(name)
        f = f"ops[{idx}] ({name})"
        source = op.get("input") if isinstance(op, dict) else None
        if "input" in op:
            if version < 3:
                ck.fail(f"{f}.input", "needs version 3")
            ref = layers.get(source) if isinstance(source, str) else None
            if ref is None or ref["source"] is not None:
                ck.fail(f"{f}.input", f"must name an earlier compute op that reads the "
                                      f"chain, not {source!r}")
            if not pending:
                ck.fail(f"{f}.input", "an op with its own input must come between a "
                                      "residual output and its add")
            residual = True
        stream = shape
        if source is not None:
            shape = layers[source]["in_shape"]
        in_shape = shape
        if kind == "conv":
            _no_extra(ck, op, f, {"op", "name", "in_channels", "out_channels", "kernel",
                                  "stride", "padding", "in_hw", "out_hw", "fan_in", "act_in",
                                  "output", "requant", "input"})
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
                                  "act_in", "output", "requant", "input"})
            cin = ck.int_in(op, "in_features", f, 1, 1 << 24)
            k = ck.int_in(op, "out_features", f, 1, 1 << 24)
            if shape != (cin,):
                ck.fail(f"{f}.in_features", f"is {cin} but the input has shape {list(shape)}")
            n = cin
            shape = (k,)
        if ck.get(op, "fan_in", f) != n:
            ck.fail(f"{f}.fan_in", f"must be {n}, not {op['fan_in']!r}")
        last = idx == len(ops) - 1
        output = ck.get(op, "output", f)
        allowed = ("logits",) if last else ("codes", "residual") if version >= 3 \
            else ("codes",)
        if source is not None:
            allowed = ("residual",)
        if output not in allowed:
            extra = " ('residual' needs version 3)" if output == "residual" else ""
            ck.fail(f"{f}.output", f"must be {' or '.join(map(repr, allowed))}, not "
                                   f"{output!r}{extra}")
        if output == "residual":
            residual = True
            pending.append(name)
        elif pending:
            ck.fail(f, f"a compute op producing {output} cannot come before the add of "
                       f"residual output {pending[0]!r}")
        layers[name] = {"source": source, "in_shape": in_shape, "out_shape": shape,
                        "output": output, "index": idx}
        if source is not None:
            shape = stream
        if last and k != n_classes:
            ck.fail(f"{f}.out_channels" if kind == "conv" else f"{f}.out_features",
                    f"is {k} but num_classes is {n_classes}")
        if last and kind == "conv" and shape[1:] != (1, 1):
            ck.fail(f"{f}.out_hw", "the classifier conv must produce 1x1 outputs")
        a = ck.get(op, "act_in", f)
        _no_extra(ck, a, f"{f}.act_in", {"abits", "signed", "adapter", "adapter_exp"})
        abits = ck.int_in(a, "abits", f"{f}.act_in", *ABITS_RANGE)
        signed = ck.get(a, "signed", f"{f}.act_in")
        if not isinstance(signed, bool):
            ck.fail(f"{f}.act_in.signed", f"must be true or false, not {signed!r}")
        if not first and (signed or abits != meta["abits"]):
            ck.fail(f"{f}.act_in", f"inner layers take unsigned {meta['abits']}-bit codes, "
                                   f"not {'signed' if signed else 'unsigned'} {abits}-bit")
        adapter = ck.get(a, "adapter", f"{f}.act_in")
        if not isinstance(adapter, list) or not all(isinstance(p, str) for p in adapter):
            ck.fail(f"{f}.act_in.adapter", "must be a list of tensor name prefixes")
        if first and adapter:
            ck.fail(f"{f}.act_in.adapter", "the network input has no adapter")
        if source is not None:
            ref = ops[layers[source]["index"]]["act_in"]
            if (abits, signed) != (ref["abits"], ref["signed"]) or adapter:
                ck.fail(f"{f}.act_in", f"must be {source}'s input format (abits "
                                       f"{ref['abits']}, signed {ref['signed']}) without "
                                       f"an adapter: the op reads {source}'s codes and beta")
        layers[name]["signed"] = signed
        exps = ck.get(a, "adapter_exp", f"{f}.act_in")
        lo, hi = Q.ADAPTER_EXP_RANGE
        if not (isinstance(exps, list) and len(exps) == len(adapter)
                and all(isinstance(e, int) and not isinstance(e, bool) and lo <= e <= hi
                        for e in exps)):
            ck.fail(f"{f}.act_in.adapter_exp", f"must be {len(adapter)} integers from {lo} "
                                               f"to {hi} (one per adapter layer), not {exps!r}")
        width = cin
        for j, prefix in enumerate(adapter):
            if prefix != f"{name}.adapter.{j}":
                ck.fail(f"{f}.act_in.adapter[{j}]", f"must be {name}.adapter.{j!r}")
            wt = tensors.get(f"{prefix}.weight")
            if wt is None or wt.ndim != 2:
                ck.tfail(f"{prefix}.weight", "missing or not a matrix")
            out_w = 1 if j == len(adapter) - 1 else wt.shape[0]
            wt = ck.tensor(tensors, f"{prefix}.weight", np.int8, (out_w, width))
            if wt.size and wt.min() < -Q.ADAPTER_WMAX:
                ck.tfail(f"{prefix}.weight", f"holds {int(wt.min())}; adapter weights are "
                                             f"from -{Q.ADAPTER_WMAX} to {Q.ADAPTER_WMAX}")
            ck.tensor(tensors, f"{prefix}.bias", np.int32, (out_w,))
            used |= {f"{prefix}.weight", f"{prefix}.bias"}
            width = out_w
        codes = ck.tensor(tensors, f"{name}.codes", np.uint8, (k, n))
        if codes.size and codes.max() >= 2**wbits:
            ck.tfail(f"{name}.codes", f"holds code {int(codes.max())}, beyond wbits={wbits}")
        used.add(f"{name}.codes")
        rq = ck.get(op, "requant", f)
        _no_extra(ck, rq, f"{f}.requant", set(VARIANTS))
        for variant in VARIANTS:
            v = ck.get(rq, variant, f"{f}.requant")
            _no_extra(ck, v, f"{f}.requant.{variant}", {"shift"})
            ck.int_in(v, "shift", f"{f}.requant.{variant}", 1, 62 - Q.BETA_FRAC)
            slots = 2 if variant == "dual" and scheme == "post" else 1
            ck.tensor(tensors, f"{name}.requant.{variant}.mult", np.int32, (k, slots))
            ck.tensor(tensors, f"{name}.requant.{variant}.offset", np.int64, (k,))
            used |= {f"{name}.requant.{variant}.{t}" for t in ("mult", "offset")}
        first = False
    if pending:
        ck.fail("ops", f"residual output {pending[0]!r} is never added")
    if version == 3 and not residual:
        ck.fail("version", "is 3 but the ops form a chain; chain networks are version 2")
    fl = ck.get(meta, "floats", "")
    _no_extra(ck, fl, "floats", {"mean", "std", "steps", "float_acc", "fakequant_acc"})
    n_compute = len(compute)
    for key, n in (("mean", shp[0]), ("std", shp[0]), ("steps", n_compute)):
        v = ck.get(fl, key, "floats")
        if not (isinstance(v, list) and len(v) == n
                and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                        and math.isfinite(x) for x in v)):
            ck.fail(f"floats.{key}", f"must be {n} finite numbers, not {v!r}")
        if key in ("std", "steps") and any(x <= 0 for x in v):
            ck.fail(f"floats.{key}", "must be positive")
        # Images are divided by std and the input step in float32: keep both representable.
        if key in ("std", "steps") and not all(FLOAT32_TINY <= x <= FLOAT32_MAX for x in v):
            ck.fail(f"floats.{key}", f"must be positive finite float32 numbers "
                                     f"({FLOAT32_TINY:.3g} to {FLOAT32_MAX:.3g})")
    steps = fl["steps"]
    for j, lay in enumerate(layers.values()):
        if lay["source"] is not None:
            ref = list(layers).index(lay["source"])
            if steps[j] != steps[ref]:
                ck.fail(f"floats.steps[{j}]", f"must equal steps[{ref}] ({steps[ref]!r}): "
                                              "the layer reads the same codes")
    for key in ("float_acc", "fakequant_acc"):
        v = ck.get(fl, key, "floats")
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not 0 <= v <= 1):
            ck.fail(f"floats.{key}", f"must be null or a fraction from 0 to 1, not {v!r}")
    extra = sorted(set(tensors) - used)
    if extra:
        ck.tfail(extra[0], "is not referenced by model.json")


def _check_add(ck: _Checker, op: dict, f: str, layers: dict, pending: list) -> tuple:
    """An add op against the compute ops before it; removes the residual outputs it
    consumes from `pending` and returns the shape of its output."""
    kind = ck.get(op, "kind", f)
    if kind not in ADD_KINDS:
        ck.fail(f"{f}.kind", f"must be one of {', '.join(ADD_KINDS)}, not {kind!r}")
    extra = {"align_mult", "align_shift"} if kind == "identity" else set()
    _no_extra(ck, op, f, {"op", "main", "shortcut", "kind"} | extra)
    main = ck.get(op, "main", f)
    if main not in pending or layers[main]["source"] is not None:
        ck.fail(f"{f}.main", "must name a residual output of a compute op reading the "
                             f"chain, not yet added, not {main!r}")
    short = ck.get(op, "shortcut", f)
    if kind == "projection":
        if short not in pending or layers[short]["source"] is None:
            ck.fail(f"{f}.shortcut", "must name a residual output of a compute op with "
                                     f"its own input, not yet added, not {short!r}")
        shape = layers[short]["out_shape"]
        pending.remove(short)
    else:
        ref = layers.get(short) if isinstance(short, str) else None
        if ref is None or ref["source"] is not None or ref["signed"]:
            ck.fail(f"{f}.shortcut", "must name an earlier compute op reading the chain's "
                                     f"unsigned codes, not {short!r}")
        shape = ref["in_shape"]
        ck.int_in(op, "align_mult", f, 1, (1 << R.ALIGN_BITS) - 1)
        ck.int_in(op, "align_shift", f, 0, R.ALIGN_SHIFT_MAX)
    if shape != layers[main]["out_shape"]:
        ck.fail(f"{f}.shortcut", f"{short!r} gives shape {list(shape)} but the main branch "
                                 f"{main!r} gives {list(layers[main]['out_shape'])}")
    pending.remove(main)
    if pending:
        ck.fail(f, f"residual output {pending[0]!r} is never added")
    return layers[main]["out_shape"]


def _check_requant(art: Artifact, ck: _Checker) -> None:
    """The static scales within the widths golden.asq_int proves safe: |C| < 2**(bits-1)
    with bits = scale_bits(the layer's accumulator bound), |D| < 2**61."""
    for idx, op in enumerate(art.ops):
        if op.op not in COMPUTE_OPS:
            continue
        for variant in VARIANTS:
            base = f"{op.name}.requant.{variant}"
            arith = layer_arith(op, art.weight_quant, art.wbits, variant, art.frac_bits)
            try:
                bits = Q.scale_bits(arith.acc_bound())
            except ValueError as exc:
                ck.fail(f"ops[{idx}] ({op.name}).requant.{variant}", str(exc))
            c = art.tensors[f"{base}.mult"].astype(np.int64)
            if c.size and np.abs(c).max() >= 1 << (bits - 1):
                ck.tfail(f"{base}.mult", f"holds {int(np.abs(c).max())}; the layer's "
                                         f"multipliers are {bits}-bit (|C| < 2**{bits - 1})")
            d = art.tensors[f"{base}.offset"]
            if d.size and np.abs(d).max() >= 1 << 61:
                ck.tfail(f"{base}.offset", "must be below 2**61 in magnitude")


def _no_extra(ck: _Checker, d, field: str, allowed: set[str]) -> None:
    if not isinstance(d, dict):
        ck.fail(field, "must be a JSON object")
    extra = sorted(set(d) - allowed)
    if extra:
        ck.fail(f"{field}.{extra[0]}", "unknown field")


