import re

import numpy as np

from asq_hw import PEConfig
from hw.accel.core import LayerCore
from hw.accel.gen import generate_core
from tests.accel_bench import random_plan


def core(seed=0, variant="lut"):
    rng = np.random.default_rng(seed)
    cfg = PEConfig(wbits=4, abits=5, variant=variant, lanes=3, max_len=64)
    plans = [random_plan(rng, 2, 3, i % 2, f"l{i}") for i in range(3)]
    return LayerCore(cfg, 2, plans, [p.weight_words(rng.integers(0, 16, (p.outputs, p.fan_in)),
                                                    4) for p in plans])


def test_verilog_is_reproducible_and_the_manifest_describes_it():
    first = core()
    text, man = generate_core(first)
    again, man2 = generate_core(core())
    assert text == again and man == man2
    assert re.search(r"^module accel_layer_core\(", text, re.M)
    assert man["top"] == "accel_layer_core" and man["latency"] == first.latency
    names = [p["name"] for p in man["ports"]]
    for port in names:
        assert re.search(rf"\b(input|output)\b[^;]*\b{port}\b", text), port
    assert "out_acc" in names
    assert [lay["cycles"] for lay in man["layers"]] == \
        [p.cycles(man["latency"]) for p in first.plans]


def test_dual_has_both_result_ports():
    _, man = generate_core(core(variant="dual"))
    names = {p["name"] for p in man["ports"]}
    assert {"out_acc_even", "out_acc_odd"} <= names and "out_acc" not in names
