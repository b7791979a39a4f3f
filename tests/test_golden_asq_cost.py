"""ASQ cost per image: hand-counted units of a digits-like layer, and no ASQ cost without
an adapter."""

from golden.asq_cost import LayerShape, layer_cost, network_cost


def _conv(adapter, input_beta=False):
    return LayerShape(name="conv0", macs=9216, outputs=16, slots=1, positions=64,
                      acc_bits=24, scale_bits=24, input_beta=input_beta, logits=False,
                      next_positions=16, next_channels=16, ubits=16, adapter=adapter)


def test_layer_with_adapter_counts_every_unit():
    c = layer_cost(_conv(((16, 4), (4, 1)), input_beta=True))
    rq = c["requant"]
    assert rq["widths"] == {"acc": 24, "C": 24, "M": 34, "product": 58, "u": 16,
                            "reciprocal": 17, "requant_product": 33}
    assert rq["params"] == {"C": 16, "D": 16}
    # M = C * b_in: 16; rescale: 64 * 16; requantize on the 16 pooled positions: 16 * 16
    assert rq["ops"] == {"mul": 16 + 1024 + 256, "add": 1024 + 256, "div": 1}
    ad = c["adapter"]
    assert ad["widths"] == {"pool_sum": 20, "weight": 8, "bias": 32,
                            "acc": [(16 * 127 * 2**15 + 2**31).bit_length() + 1,
                                    (4 * 127 * (2**16 - 1) + 2**31).bit_length() + 1],
                            "hidden": 16, "beta": 10}
    assert ad["params"] == {"weights": 68, "biases": 5, "exponents": 2}
    assert ad["ops"] == {"mac": 68, "mul": 0, "add": 16 * 16 + 5}
    assert c["asq_ops"] == 16 + 256 + 1 + 68 + 261
    assert c["asq_pct"] == 100 * c["asq_ops"] / 9216


def test_no_adapter_costs_no_asq_operations():
    c = layer_cost(_conv(()))
    assert c["adapter"] is None and c["asq_ops"] == 0
    assert c["requant"]["ops"] == {"mul": 1024, "add": 1024 + 256, "div": 0}
    logits = LayerShape(name="linear3", macs=1280, outputs=10, slots=2, positions=1,
                        acc_bits=20, scale_bits=24, input_beta=True, logits=True)
    lc = layer_cost(logits)
    assert lc["requant"]["ops"] == {"mul": 20 + 20, "add": 20, "div": 0}
    assert lc["asq_ops"] == 20 and "u" not in lc["requant"]["widths"]
    total = network_cost([_conv(()), logits])
    assert (total["macs"], total["asq_ops"]) == (9216 + 1280, 20)


def test_a_flatten_requantizes_every_feature():
    flat = LayerShape(name="conv2", macs=147456, outputs=32, slots=1, positions=16,
                      acc_bits=24, scale_bits=24, input_beta=True, logits=False,
                      next_positions=1, next_channels=128, ubits=16,
                      adapter=((128, 32), (32, 1)))
    c = layer_cost(flat)
    # M: 32; rescale 16 * 32; requantize the 128 flattened features
    assert c["requant"]["ops"] == {"mul": 32 + 512 + 128, "add": 512 + 128, "div": 1}
    assert c["adapter"]["ops"] == {"mac": 128 * 32 + 32, "mul": 0, "add": 128 + 33}
    assert c["asq_ops"] == 32 + 128 + 1 + 4128 + 161


def test_a_residual_add_counts_its_shortcut():
    import dataclasses

    base = layer_cost(_conv(()))["requant"]["ops"]
    proj = layer_cost(dataclasses.replace(_conv(()), shortcut="projection"))
    # main + shortcut: one add per element of the layer's output (64 positions x 16)
    assert proj["requant"]["ops"] == {**base, "add": base["add"] + 1024}
    assert proj["asq_ops"] == 0
    ident = layer_cost(dataclasses.replace(_conv(()), shortcut="identity"))
    # x * (b * AM) per element and its rounding; b is constant without an adapter
    assert ident["requant"]["ops"] == {"mul": base["mul"] + 1024,
                                       "add": base["add"] + 2048, "div": 0}
    assert ident["asq_ops"] == 0
    varying = layer_cost(dataclasses.replace(_conv(()), shortcut="identity",
                                             shortcut_beta=True))
    # b * AM once per image exists only because the block input's beta varies
    assert varying["requant"]["ops"]["mul"] == base["mul"] + 1024 + 1
    assert varying["asq_ops"] == 1


def test_resnet_cost_marks_each_add_on_its_main_branch(monkeypatch):
    from asq_hw.artifact import load_artifact
    from golden import asq_cost
    from golden.network import GoldenNetwork
    from tests.array_export import trained_resnet

    net = GoldenNetwork(load_artifact(trained_resnet()), "lut")
    seen = {}
    monkeypatch.setattr(asq_cost, "network_cost", lambda shapes: seen.setdefault("s", shapes))
    net.cost()
    shapes = seen["s"]
    assert len(net.adds) >= 1
    assert sum(bool(s.shortcut) for s in shapes) == len(net.adds)
    for j, a in enumerate(net.adds):
        s = shapes[net.add_main[j]]
        assert s.shortcut == a.kind
        assert s.shortcut_beta == (a.kind == "identity" and bool(net.adapters[net.add_short[j]]))
