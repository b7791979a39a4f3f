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
    FloatInfo,
    InputSpec,
    LinearLayer,
    Relu,
    VariantRequant,
    conv_out_hw,
    layer_arith,
    layer_pe_config,
    layer_scale,
    load_artifact,
    next_layer,
    save_artifact,
    validate,
)
from asq_hw.config import VARIANTS
from asq_hw.errors import UserError
from golden import asq_int as Q

RNG = np.random.default_rng(3)


def _artifact() -> Artifact:
    """A 2x2 single-channel input, flatten, linear0 (4 -> 3), relu, linear1 (3 -> 2)."""
    ops = (Flatten(), LinearLayer("linear0", 4, 3, 4, ActIn(8, True)), Relu(),
           LinearLayer("linear1", 3, 2, 3, ActIn(4, False, ("linear1.adapter.0",), (7,)),
                       output="logits"))
    tensors = {"linear1.adapter.0.weight": RNG.integers(-127, 128, (1, 3)).astype(np.int8),
               "linear1.adapter.0.bias": np.array([256 << 7], np.int32)}
    for name, k, n in (("linear0", 3, 4), ("linear1", 2, 3)):
        tensors[f"{name}.codes"] = RNG.integers(0, 16, (k, n)).astype(np.uint8)
    art = Artifact("post", 4, 4, 8, "toy", 2, InputSpec((1, 2, 2)),
                   FloatInfo((0.5,), (0.25,), (0.05, 0.25), 0.75, None), ops, tensors,
                   {"note": "hand-built"})
    done = []
    for op in art.ops:
        if op.op == "linear":
            shifts = {}
            for variant in VARIANTS:
                arith = layer_arith(op, "post", 4, variant, 8)
                st = Q.static_scale(RNG.uniform(0.5, 1.5, op.outputs),
                                    RNG.uniform(-1, 1, op.outputs), arith.slot_factors(),
                                    arith.acc_bound())
                tensors[f"{op.name}.requant.{variant}.mult"] = st.mult.astype(np.int32)
                tensors[f"{op.name}.requant.{variant}.offset"] = st.bias
                shifts[variant] = VariantRequant(st.shift)
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
    assert loaded.floats == art.floats and loaded.input_step == 0.05
    lin = loaded.layer("linear1")
    assert isinstance(lin, LinearLayer) and lin.is_logits and lin.act_in.adapter_exp == (7,)
    assert lin.requant["lut"] == VariantRequant(art.layer("linear1").requant["lut"].shift)
    meta = json.loads((tmp_path / "a" / "model.json").read_text())
    assert list(meta["ops"][1]) == ["name", "op", "in_features", "out_features", "fan_in",
                                    "act_in", "output", "requant"]
    assert meta["ops"][1]["act_in"] == {"abits": 8, "signed": True, "adapter": [],
                                        "adapter_exp": []}
    assert meta["floats"] == {"mean": [0.5], "std": [0.25], "steps": [0.05, 0.25],
                              "float_acc": 0.75, "fakequant_acc": None}
    assert all(t.dtype.kind in "iu" for t in loaded.tensors.values())


def test_derived_values():
    art = _artifact()
    first, last = art.compute_layers()
    assert next_layer(art, first) is last and next_layer(art, last) is None
    cfg = layer_pe_config(art, "linear0", "dual")
    assert (cfg.wbits, cfg.abits, cfg.act_signed, cfg.max_len, cfg.frac_bits) == \
        (4, 8, True, 4, 8)
    st = layer_scale(art, first, "lut")
    assert np.array_equal(st.mult, art.tensors["linear0.requant.lut.mult"])
    assert st.bits == Q.scale_bits(layer_arith(first, "post", 4, "lut", 8).acc_bound())
    # at another F the lut scale follows in integers; dual does not depend on F
    assert layer_scale(art, first, "lut", 10).shift == st.shift + 2
    d10, d8 = layer_scale(art, first, "dual", 10), layer_scale(art, first, "dual")
    assert np.array_equal(d10.mult, d8.mult) and d10.shift == d8.shift
    (ad,) = art.adapter(last)
    assert ad.exp == 7 and ad.weight.dtype == np.int64 and ad.bias.tolist() == [256 << 7]
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
    rq = dict(art.ops[3].requant, dual=VariantRequant(60))
    last = dataclasses.replace(art.ops[3], requant=rq)
    with pytest.raises(UserError, match=r"^model.json: field ops\[3\] \(linear1\)"
                                        r".requant.dual.shift: must be an integer from 1 to "
                                        r"54, not 60$"):
        validate(dataclasses.replace(art, ops=art.ops[:3] + (last,)))
    wide = dict(art.tensors, **{"linear0.requant.lut.mult":
                                np.full((3, 1), 2**23, np.int32)})
    with pytest.raises(UserError, match=r"^model.safetensors: tensor linear0.requant.lut.mult: "
                                        r"holds 8388608; the layer's multipliers are 24-bit"):
        validate(dataclasses.replace(art, tensors=wide))
    neg = dict(art.tensors, **{"linear1.adapter.0.weight": np.full((1, 3), -128, np.int8)})
    with pytest.raises(UserError, match=r"tensor linear1.adapter.0.weight: holds -128; "
                                        r"adapter weights are from -127 to 127$"):
        validate(dataclasses.replace(art, tensors=neg))
    fl = dataclasses.replace(art, floats=dataclasses.replace(art.floats, steps=(0.05,)))
    with pytest.raises(UserError, match=r"^model.json: field floats.steps: must be 2 finite "
                                        r"numbers, not \[0.05\]$"):
        validate(fl)


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
