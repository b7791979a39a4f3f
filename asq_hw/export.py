"""The integer artifact: the contract between the PyTorch model and everything downstream.

`DIR/model.safetensors` holds the tensors, `DIR/model.json` the rest (docs/arithmetic.md,
"Integer network pipeline", is the reference). This module is the one place that packs,
unpacks and validates it: `export_model` builds an Artifact from a trained chain network,
`save_artifact` writes it (tensors first, JSON last, each atomically), `load_artifact` reads
and validates everything and refuses a missing, truncated, corrupt, wrong-version or
inconsistent artifact with one line naming the file and the field. Golden inference
(golden.network), the RTL array simulator and the estimator read only this.

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
        requantization for beta_in = beta_out = 1 at frac_bits (golden.layers.requant_params)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np

from asq_hw.config import ABITS_RANGE, FRAC_BITS_RANGE, VARIANTS, WBITS_RANGE, PEConfig
from asq_hw.errors import UserError
from asq_hw.jsonread import read_json
from asq_hw.outputs import write_bytes

FORMAT = "asq-hw-artifact"
VERSION = 1
JSON_NAME = "model.json"
TENSORS_NAME = "model.safetensors"
DEFAULT_FRAC_BITS = 8
COMPUTE_OPS = ("conv", "linear")
# Layer names: printed in tables and used in tensor names, so plain identifiers only.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
FLOAT32_TINY = float(np.finfo(np.float32).tiny)     # smallest normal float32
FLOAT32_MAX = float(np.finfo(np.float32).max)
INTEGER_OPS = ("relu", "maxpool", "flatten")


class Artifact:
    """A validated artifact in memory: `meta` (model.json as a dict) and `tensors`
    (name -> numpy array). Treat both as read-only."""

    def __init__(self, meta: dict, tensors: dict[str, np.ndarray]):
        self.meta = meta
        self.tensors = tensors

    @property
    def ops(self) -> list[dict]:
        return self.meta["ops"]

    def compute_layers(self) -> list[dict]:
        """The conv/linear ops, in order."""
        return [op for op in self.meta["ops"] if op["op"] in COMPUTE_OPS]

    def layer(self, name: str) -> dict:
        for op in self.compute_layers():
            if op["name"] == name:
                return op
        raise KeyError(name)

    def tensor(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def codes(self, layer: dict) -> np.ndarray:
        """Weight codes (K, N) uint8 in im2col order."""
        return self.tensors[f"{layer['name']}.codes"]

    def adapter(self, layer: dict) -> list[tuple[np.ndarray, np.ndarray]]:
        """The input adapter's Linear layers as (weight, bias); each is followed by ReLU."""
        return [(self.tensors[f"{p}.weight"], self.tensors[f"{p}.bias"])
                for p in layer["act_in"]["adapter"]]


# ---------------------------------------------------------------------------------------
# Derived quantities (the one definition of each).

def layer_arith(layer: dict, weight_quant: str, wbits: int, variant: str, frac_bits: int):
    """golden.layers.LayerArith of a compute op."""
    from golden.layers import LayerArith
    a = layer["act_in"]
    return LayerArith(weight_quant, wbits, a["abits"], a["signed"], variant, frac_bits,
                      layer["fan_in"])


def layer_pe_config(artifact: Artifact, layer: dict | str, variant: str,
                    frac_bits: int | None = None) -> PEConfig:
    """The POST PE configuration for one compute layer: wbits of the artifact, abits and
    act_signed of the layer's input, max_len = fan_in, acc_bits the safe width."""
    if isinstance(layer, str):
        layer = artifact.layer(layer)
    if artifact.meta["weight_quant"] != "post":
        raise UserError(f"weight_quant {artifact.meta['weight_quant']!r} does not run on the "
                        "POST PE; only 'post' artifacts have a PEConfig")
    f = artifact.meta["frac_bits"] if frac_bits is None else frac_bits
    a = layer["act_in"]
    return PEConfig(wbits=artifact.meta["wbits"], abits=a["abits"], act_signed=a["signed"],
                    variant=variant, frac_bits=f, max_len=layer["fan_in"])


def next_layer(artifact: Artifact, layer: dict) -> dict | None:
    layers = artifact.compute_layers()
    i = [op["name"] for op in layers].index(layer["name"])
    return layers[i + 1] if i + 1 < len(layers) else None


def requant_real(artifact: Artifact, layer: dict) -> tuple[np.ndarray, np.ndarray]:
    """(r, d), float64 (K,): the layer's output in units of the next layer's step is
    v = r_k * sum_i x_i * level_i * beta_in / beta_out + d_k / beta_out, with
    r_k = ((s_in * alpha_k) * g_k) / s_out and d_k = b_k / s_out (s_out = 1 for logits),
    every factor the float32 value from the artifact widened to float64."""
    name = layer["name"]
    alpha = artifact.tensors[f"{name}.alpha"].astype(np.float64)
    g = artifact.tensors[f"{name}.bn_scale"].astype(np.float64)
    b = artifact.tensors[f"{name}.bias"].astype(np.float64)
    s_in = float(np.float32(layer["act_in"]["step"]))
    nxt = next_layer(artifact, layer)
    s_out = 1.0 if nxt is None else float(np.float32(nxt["act_in"]["step"]))
    return (s_in * alpha) * g / s_out, b / s_out


def requant_reference(artifact: Artifact, layer: dict, variant: str, frac_bits: int):
    """The layer's golden.layers.Requant for one sample with beta_in = beta_out = 1."""
    from golden.layers import requant_params
    r, d = requant_real(artifact, layer)
    arith = layer_arith(layer, artifact.meta["weight_quant"], artifact.meta["wbits"],
                        variant, frac_bits)
    one = np.ones(1)
    return requant_params(r, d, one, one, arith, logits=layer["output"] == "logits")


def _requant_tensors(artifact: Artifact, layer: dict, frac_bits: int):
    out, shifts = {}, {}
    for variant in VARIANTS:
        rq = requant_reference(artifact, layer, variant, frac_bits)
        out[f"{layer['name']}.requant.{variant}.mult"] = rq.mult[0]
        out[f"{layer['name']}.requant.{variant}.offset"] = rq.offset[0]
        shifts[variant] = {"shift": int(rq.shift[0])}
    return out, shifts


# ---------------------------------------------------------------------------------------
# Export from PyTorch.

def _f32(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def export_model(model, dataset, frac_bits: int = DEFAULT_FRAC_BITS,
                 provenance: dict | None = None) -> Artifact:
    """The artifact of a trained chain network (asq_hw.models.ChainNet) in eval form.

    `dataset`: asq_hw.data.Dataset (name, mean, std, input shape, classes). BatchNorm after
    a compute layer is folded (running statistics); codes are the weight quantizer's codes;
    steps, alphas and adapters are the quantizers' float32 values. Refuses, with one line,
    a network the integer pipeline cannot run (residual blocks, pooling with padding, ...).
    """
    import torch
    from torch import nn

    from asq_hw.quant import ASQActivation, QConv2d, QLinear
    from asq_hw.quant.baselines import WEIGHT_QUANTS

    cfg = model.config
    layers = getattr(model, "layers", None)
    kind = type(model).__name__
    if cfg.name == "resnet20" or layers is None:
        raise UserError(f"export: {kind} ({cfg.name}) has residual connections, which the "
                        "integer pipeline does not support yet; export the cnn or mlp")
    c, h, w = dataset.in_shape
    shape: tuple = (c, h, w)
    meta_ops: list[dict] = []
    tensors: dict[str, np.ndarray] = {}
    mods = list(layers.named_children())
    i, n_compute = 0, 0
    with torch.no_grad():
        while i < len(mods):
            path, mod = mods[i]
            if isinstance(mod, (QConv2d, QLinear)):
                name = f"{'conv' if isinstance(mod, QConv2d) else 'linear'}{n_compute}"
                n_compute += 1
                wq, aq = mod.weight_quant, mod.act_quant
                if type(wq) not in WEIGHT_QUANTS.values() or wq.scheme != cfg.weight_quant:
                    raise UserError(f"export: {path}: weight quantizer must be "
                                    f"{cfg.weight_quant!r}")
                if not isinstance(aq, ASQActivation):
                    raise UserError(f"export: {path}: every compute layer needs an input "
                                    "activation quantizer")
                k = mod.weight.shape[0]
                g = torch.ones(k)
                bias = mod.bias.detach().clone() if mod.bias is not None else torch.zeros(k)
                if i + 1 < len(mods) and isinstance(mods[i + 1][1],
                                                    (nn.BatchNorm1d, nn.BatchNorm2d)):
                    bn = mods[i + 1][1]
                    g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                    bias = bn.bias - bn.running_mean * g + g * bias
                    i += 1
                op: dict = {"name": name}
                if isinstance(mod, QConv2d):
                    if len(shape) != 3 or shape[0] != mod.in_channels:
                        raise UserError(f"export: {path}: input shape {shape} does not fit "
                                        f"a conv with {mod.in_channels} input channels")
                    if mod.dilation != (1, 1) or mod.groups != 1 \
                            or mod.stride[0] != mod.stride[1] \
                            or mod.padding[0] != mod.padding[1] \
                            or mod.padding_mode != "zeros":
                        raise UserError(f"export: {path}: only square stride and zero "
                                        "padding, no dilation or groups, are supported")
                    from golden.layers import conv_out_hw
                    kh, kw = mod.kernel_size
                    oh, ow = conv_out_hw(shape[1], shape[2], (kh, kw), mod.stride[0],
                                         mod.padding[0])
                    op.update(op="conv", in_channels=mod.in_channels,
                              out_channels=mod.out_channels, kernel=[kh, kw],
                              stride=mod.stride[0], padding=mod.padding[0],
                              in_hw=[shape[1], shape[2]], out_hw=[oh, ow],
                              fan_in=mod.in_channels * kh * kw)
                    shape = (mod.out_channels, oh, ow)
                else:
                    if shape != (mod.in_features,):
                        raise UserError(f"export: {path}: input shape {shape} does not fit "
                                        f"a linear layer with {mod.in_features} inputs")
                    op.update(op="linear", in_features=mod.in_features,
                              out_features=mod.out_features, fan_in=mod.in_features)
                    shape = (mod.out_features,)
                adapter = []
                if aq.adapter is not None:
                    lin = [m for m in aq.adapter if isinstance(m, nn.Linear)]
                    for j, m in enumerate(lin):
                        adapter.append(f"{name}.adapter.{j}")
                        tensors[f"{name}.adapter.{j}.weight"] = _f32(m.weight)
                        tensors[f"{name}.adapter.{j}.bias"] = _f32(m.bias)
                op["act_in"] = {"abits": aq.abits, "signed": aq.signed,
                                "step": float(aq.step().item()), "adapter": adapter}
                op["output"] = "codes"
                if not torch.isfinite(mod.weight).all():
                    raise ValueError(f"export: {name} (layers.{path}.weight): weights must "
                                     "be finite, not NaN or inf")
                tensors[f"{name}.codes"] = wq.codes(mod.weight).reshape(k, -1).numpy()
                tensors[f"{name}.alpha"] = _f32(wq.alpha())
                tensors[f"{name}.bn_scale"] = _f32(g)
                tensors[f"{name}.bias"] = _f32(bias)
                meta_ops.append(op)
            elif isinstance(mod, nn.ReLU):
                meta_ops.append({"op": "relu"})
            elif isinstance(mod, nn.MaxPool2d):
                ks, st = mod.kernel_size, mod.stride
                if not (isinstance(ks, int) and isinstance(st, int) and mod.padding == 0
                        and mod.dilation == 1 and not mod.ceil_mode and len(shape) == 3):
                    raise UserError(f"export: {path}: only square max pooling without "
                                    "padding, dilation or ceil_mode is supported")
                meta_ops.append({"op": "maxpool", "kernel": ks, "stride": st})
                shape = (shape[0], (shape[1] - ks) // st + 1, (shape[2] - ks) // st + 1)
            elif isinstance(mod, nn.Flatten):
                if mod.start_dim != 1 or mod.end_dim != -1:
                    raise UserError(f"export: {path}: only Flatten(start_dim=1) is supported")
                meta_ops.append({"op": "flatten"})
                shape = (math.prod(shape),)
            else:
                raise UserError(f"export: {path} ({type(mod).__name__}) is not supported by "
                                "the integer pipeline; only chains of conv/linear, batchnorm "
                                "right after them, relu, maxpool and flatten export")
            i += 1
    if not meta_ops or meta_ops[-1].get("op") not in COMPUTE_OPS:
        raise UserError("export: the network must end with its classifier (conv or linear)")
    meta_ops[-1]["output"] = "logits"
    meta = {
        "format": FORMAT, "version": VERSION, "weight_quant": cfg.weight_quant,
        "wbits": cfg.wbits, "abits": cfg.abits, "frac_bits": frac_bits,
        "dataset": dataset.name, "num_classes": dataset.num_classes,
        "input": {"shape": [c, h, w], "mean": [float(v) for v in dataset.mean],
                  "std": [float(v) for v in dataset.std]},
        "ops": meta_ops, "tensors_sha256": "", "provenance": dict(provenance or {}),
    }
    art = Artifact(meta, tensors)
    for layer in art.compute_layers():
        rq, shifts = _requant_tensors(art, layer, frac_bits)
        tensors.update(rq)
        layer["requant"] = shifts
    validate(art, "<export>")
    return art


# ---------------------------------------------------------------------------------------
# Writing and reading.

def _tensor_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save
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
    """Validate and write DIR/model.safetensors and DIR/model.json. Saving a loaded
    artifact reproduces its files byte for byte."""
    validate(artifact, str(Path(directory) / JSON_NAME))
    write_raw(directory, artifact.meta, artifact.tensors)


def load_artifact(directory) -> Artifact:
    """Read and validate an artifact; UserError (one line naming file and field) if it is
    missing, truncated, corrupt, of another version or inconsistent."""
    from safetensors.numpy import load

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
    art = Artifact(meta, tensors)
    validate(art, str(jpath), tensors_file=str(tpath))
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

    def pos_float(self, d: dict, key: str, field: str) -> float:
        """A positive number that stays a positive finite float32 (the steps are float32
        in every computation downstream)."""
        v = self.get(d, key, field)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not FLOAT32_TINY <= v <= FLOAT32_MAX:
            self.fail(f"{field}.{key}", f"must be a positive number from {FLOAT32_TINY:.3g} "
                                        f"to {FLOAT32_MAX:.3g} (float32), not {v!r}")
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
    from golden.layers import SCHEMES, conv_out_hw

    meta, tensors = art.meta, art.tensors
    ck = _Checker(where, tensors_file or where.replace(JSON_NAME, TENSORS_NAME))
    _check_header(meta, where)
    scheme = ck.get(meta, "weight_quant", "")
    if scheme not in SCHEMES:
        ck.fail("weight_quant", f"must be one of {', '.join(SCHEMES)}, not {scheme!r}")
    wbits = ck.int_in(meta, "wbits", "", *WBITS_RANGE)
    ck.int_in(meta, "abits", "", *ABITS_RANGE)
    frac_bits = ck.int_in(meta, "frac_bits", "", *FRAC_BITS_RANGE)
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
        if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in names:
            ck.fail(f"{f}.name", "must be a unique name of letters, digits, '_' and '-' "
                                 f"(at most 64), not {name!r}")
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
    # Consistency of the stored integer requantization with the float parameters.
    for idx, op in enumerate(ops):
        if op["op"] not in COMPUTE_OPS:
            continue
        for variant in VARIANTS:
            try:
                ref = requant_reference(art, op, variant, frac_bits)
            except ValueError as exc:
                ck.fail(f"ops[{idx}] ({op['name']}).requant.{variant}", str(exc))
            base = f"{op['name']}.requant.{variant}"
            if op["requant"][variant]["shift"] != int(ref.shift[0]):
                ck.fail(f"ops[{idx}] ({op['name']}).requant.{variant}.shift",
                        f"is {op['requant'][variant]['shift']} but the layer's scales give "
                        f"{int(ref.shift[0])}")
            for t, val in (("mult", ref.mult[0]), ("offset", ref.offset[0])):
                if not np.array_equal(tensors[f"{base}.{t}"], val):
                    ck.tfail(f"{base}.{t}", "does not match the requantization derived from "
                                            "alpha, bn_scale, bias and the steps")


def _no_extra(ck: _Checker, d, field: str, allowed: set[str]) -> None:
    if not isinstance(d, dict):
        ck.fail(field, "must be a JSON object")
    extra = sorted(set(d) - allowed)
    if extra:
        ck.fail(f"{field}.{extra[0]}", "unknown field")


def copy_artifact(art: Artifact) -> Artifact:
    """A deep copy (for tools that modify an artifact before saving it)."""
    return Artifact(copy.deepcopy(art.meta), {k: v.copy() for k, v in art.tensors.items()})
