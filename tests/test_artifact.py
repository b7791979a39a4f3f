"""The artifact module without PyTorch: typed records round-trip through model.json, the
derived per-layer values, and validation of a hand-built artifact."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from asq_hw.artifact import (
    ActIn,
    Artifact,
    Flatten,
    InputSpec,
    LinearLayer,
    Relu,
    VariantRequant,
    conv_out_hw,
    layer_pe_config,
    load_artifact,
    next_layer,
    requant_real,
    requant_tensors,
    save_artifact,
    validate,
)
from asq_hw.errors import UserError

RNG = np.random.default_rng(3)


def _artifact() -> Artifact:
    """A 2x2 single-channel input, flatten, linear0 (4 -> 3), relu, linear1 (3 -> 2)."""
    ops = (Flatten(), LinearLayer("linear0", 4, 3, 4, ActIn(8, True, 0.05)), Relu(),
           LinearLayer("linear1", 3, 2, 3, ActIn(4, False, 0.25), output="logits"))
    tensors = {}
    for name, k, n in (("linear0", 3, 4), ("linear1", 2, 3)):
        tensors[f"{name}.codes"] = RNG.integers(0, 16, (k, n)).astype(np.uint8)
        tensors[f"{name}.alpha"] = RNG.uniform(0.5, 1.5, k).astype(np.float32)
        tensors[f"{name}.bn_scale"] = np.ones(k, np.float32)
        tensors[f"{name}.bias"] = RNG.uniform(-1, 1, k).astype(np.float32)
    art = Artifact("post", 4, 4, 8, "toy", 2, InputSpec((1, 2, 2), (0.5,), (0.25,)), ops,
                   tensors, {"note": "hand-built"})
    done = []
    for op in art.ops:
        if op.op == "linear":
            rq, shifts = requant_tensors(art, op, 8)
            tensors.update(rq)
            op = dataclasses.replace(op, requant=shifts)
        done.append(op)
    return dataclasses.replace(art, ops=tuple(done))


def test_save_load_save_is_byte_identical_and_typed(tmp_path):
    art = _artifact()
    validate(art)
    save_artifact(art, tmp_path / "a")
    loaded = load_artifact(tmp_path / "a")
    save_artifact(loaded, tmp_path / "b")
    for name in ("model.json", "model.safetensors"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert loaded.ops == art.ops and loaded.input == art.input
    lin = loaded.layer("linear1")
    assert isinstance(lin, LinearLayer) and lin.is_logits and lin.act_in.step == 0.25
    assert lin.requant["lut"] == VariantRequant(art.layer("linear1").requant["lut"].shift)
    meta = json.loads((tmp_path / "a" / "model.json").read_text())
    assert list(meta["ops"][1]) == ["name", "op", "in_features", "out_features", "fan_in",
                                    "act_in", "output", "requant"]
    assert meta["ops"][1]["act_in"] == {"abits": 8, "signed": True, "step": 0.05,
                                        "adapter": []}


def test_derived_values():
    art = _artifact()
    first, last = art.compute_layers()
    assert next_layer(art, first) is last and next_layer(art, last) is None
    cfg = layer_pe_config(art, "linear0", "dual")
    assert (cfg.wbits, cfg.abits, cfg.act_signed, cfg.max_len, cfg.frac_bits) == \
        (4, 8, True, 4, 8)
    r, d = requant_real(art, first)
    alpha = art.tensors["linear0.alpha"].astype(np.float64)
    assert np.array_equal(r, (float(np.float32(0.05)) * alpha) / float(np.float32(0.25)))
    r, d = requant_real(art, last)                      # logits: s_out = 1
    assert np.array_equal(d, art.tensors["linear1.bias"].astype(np.float64))
    assert conv_out_hw(8, 7, (3, 3), 2, 1) == (4, 4)


def test_validation_names_the_field():
    art = _artifact()
    bad = dataclasses.replace(art, ops=art.ops[:3])
    with pytest.raises(UserError, match=r"^model.json: field ops: must end with a compute op"):
        validate(bad)
    lin = dataclasses.replace(art.ops[1], fan_in=5)
    with pytest.raises(UserError, match=r"^model.json: field ops\[1\] \(linear0\).fan_in: "
                                        r"must be 4, not 5$"):
        validate(dataclasses.replace(art, ops=(art.ops[0], lin) + art.ops[2:]))
    rq = dict(art.ops[3].requant, dual=VariantRequant(art.ops[3].requant["dual"].shift + 1))
    last = dataclasses.replace(art.ops[3], requant=rq)
    with pytest.raises(UserError, match=r"^model.json: field ops\[3\] \(linear1\)"
                                        r".requant.dual.shift: is \d+ but the layer's scales"):
        validate(dataclasses.replace(art, ops=art.ops[:3] + (last,)))


def test_reading_an_artifact_loads_no_torch():
    code = ("import sys, asq_hw.artifact, golden.network; "
            "print(sorted(m for m in ('torch', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['numba']"  # golden.network runs the Numba PE; never torch
    code = "import sys, asq_hw.artifact; print('torch' in sys.modules, 'numba' in sys.modules)"
    # ... and reading one alone does not load the Numba kernels either
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False False"
