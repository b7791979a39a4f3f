"""asq_hw/workloads.py and asq_hw/estimate/workload.py (`asq-hw estimate workload`): the
standard networks' MACs against their published counts and against the PyTorch models'
layers, the cycle model against `asq-hw estimate model` of a trained artifact, the memory
arithmetic, and the command's output and errors."""

import json

import pytest
from array_export import trained_cnn

from asq_hw import mapper
from asq_hw.cli import main
from asq_hw.estimate.workload import activation_bits, estimate_workload
from asq_hw.workloads import INPUT_BITS, build_network


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name,shape,published", [
    ("resnet20", (3, 32, 32), 40.55e6),       # He et al. 2016 with option-A shortcuts
    ("resnet18", (3, 224, 224), 1.814e9),     # torchvision: 1.81 GFLOPS (multiply-adds)
    ("resnet34", (3, 224, 224), 3.66e9),      # torchvision: 3.66 GFLOPS
])
def test_macs_match_the_published_counts(name, shape, published):
    net = build_network(name, shape)
    assert net.macs == pytest.approx(published, rel=0.01)


def test_resnet20_layer_by_layer():
    net = build_network("resnet20")
    assert net.macs == 40_551_040
    assert len(net.layers) == 1 + 18 + 1                     # stem, 9 blocks, fc
    assert not any("downsample" in lay.name for lay in net.layers)    # option A
    stage_first = {lay.name: lay for lay in net.layers}
    assert stage_first["layer2.0.conv1"].stride == 2
    assert stage_first["layer2.0.conv2"].add == "layer1.2.conv2"      # zero-padded identity
    assert stage_first["layer3.2.conv2"].out_hw == (1, 1)            # global average pool
    assert net.layers[-1].fan_in == 64 and net.layers[-1].outputs == 10


def test_resnet18_shapes_and_projections():
    net = build_network("resnet18", (3, 224, 224))
    by = {lay.name: lay for lay in net.layers}
    assert by["conv1"].conv_hw == (112, 112) and by["conv1"].out_hw == (56, 56)
    assert [n for n in by if "downsample" in n] == [
        "layer2.0.downsample", "layer3.0.downsample", "layer4.0.downsample"]
    ds = by["layer4.0.downsample"]
    assert (ds.k, ds.stride, ds.in_channels, ds.outputs, ds.conv_hw) == (1, 2, 256, 512, (7, 7))
    assert by["layer4.0.conv2"].add == "layer4.0.downsample"
    assert by["fc"].fan_in == 512 and by["fc"].outputs == 1000


def _torch_layers(model, shape):
    """(name-less) (op, in, out, k, stride, MACs) of every QConv2d / QLinear in forward
    order, measured with hooks on a real forward pass."""
    import torch

    from asq_hw.quant import QConv2d, QLinear
    seen = []

    def hook(mod, inputs, out):
        if isinstance(mod, QConv2d):
            k = mod.kernel_size[0]
            seen.append(("conv", mod.in_channels, mod.out_channels, k, mod.stride[0],
                         out[0].numel() * mod.in_channels * k * k))
        else:
            seen.append(("linear", mod.in_features, mod.out_features, 1, 1,
                         mod.in_features * mod.out_features))

    for m in model.modules():
        if isinstance(m, (QConv2d, QLinear)):
            m.register_forward_hook(hook)
    model.eval()
    with torch.no_grad():
        model(torch.zeros((1, *shape)))
    return seen


def _ours(net):
    return [(lay.op, lay.in_channels, lay.outputs, lay.k, lay.stride, lay.macs)
            for lay in net.layers]


def test_cnn_layers_are_the_torch_models():
    from asq_hw.models import ModelConfig, build_model
    for width, hw in ((16, (8, 8)), (4, (12, 16))):
        cfg = ModelConfig(name="cnn", width=width, in_hw=hw, num_classes=7)
        net = build_network("cnn", (1, *hw), 7, width)
        assert _torch_layers(build_model(cfg), (1, *hw)) == _ours(net)


def test_resnet20_is_the_torch_model_but_its_shortcuts():
    # models.ResNet20 trains with 1x1 projection shortcuts; the workload is the paper's
    # parameter-free layout. Every other layer is the same.
    from asq_hw.models import ModelConfig, build_model
    cfg = ModelConfig(name="resnet20", in_channels=3, in_hw=(32, 32))
    torch_layers = _torch_layers(build_model(cfg), (3, 32, 32))
    projections = [t for t in torch_layers if t[3] == 1 and t[0] == "conv"]
    assert len(projections) == 2
    assert [t for t in torch_layers if t not in projections] == _ours(build_network("resnet20"))


def test_input_bits_is_the_models():
    from asq_hw import models
    assert models.INPUT_BITS == INPUT_BITS


def test_digits_cnn_cycles_and_memory_equal_estimate_model(capsys):
    folder = trained_cnn()
    code, out, _ = run(capsys, "estimate", "model", str(folder), "--rows", "8", "--lanes",
                       "8", "--clock-mhz", "100", "--json")
    model = json.loads(out)
    art = model["config"]
    from asq_hw.artifact import load_artifact
    a = load_artifact(folder)
    shape = ",".join(map(str, a.input.shape))
    code2, out2, _ = run(capsys, "estimate", "workload", "--network", "cnn", "--input", shape,
                         "--width", "4", "--rows", "8", "--lanes", "8", "--clock-mhz", "100",
                         "--wbits", str(a.wbits), "--abits", str(a.abits), "--json")
    work = json.loads(out2)
    assert code == code2 == 0
    assert [(le["name"], le["cycles"], le["macs_per_image"]) for le in model["layers"]] == \
        [(le["name"], le["cycles"], le["macs"]) for le in work["layers"]]
    assert work["cycles"] == model["cycles_per_image"]
    assert work["macs"] == model["macs_per_image"]
    assert work["images_per_s"] == pytest.approx(model["inferences_per_s"])
    assert work["config"] == art
    for key in ("weight_bits", "weight_bits_raw", "activation_bits", "brams"):
        assert work[key] == model[key], key


@pytest.mark.parametrize("name", ["cnn", "resnet20", "resnet18", "resnet34"])
def test_cycles_are_the_mappers(name):
    net = build_network(name)
    r = estimate_workload(net, 3, 5, 50.0, wbits=3, abits=4, variant="dual")
    lat = r["latency"]
    lms = [mapper.map_layer(lay, 3, 5) for lay in net.layers]
    assert [le["cycles"] for le in r["layers"]] == [lm.beats + lat for lm in lms]
    assert r["cycles"] == sum(lm.cycles(lat) for lm in lms)
    assert r["macs"] == sum(le["macs"] for le in r["layers"]) == net.macs
    assert r["images_per_s"] == pytest.approx(50e6 / r["cycles"])
    assert r["utilization"] == pytest.approx(r["macs"] / (r["cycles"] * 15))
    assert r["weight_bits"] == sum(lm.tiles * lm.beats_per_dot * 15 * 3 for lm in lms)


def test_adds_and_pooling_are_counted_apart():
    r = estimate_workload(build_network("resnet20"), 8, 8, 100.0)
    # one add per element of each block's output: 3 blocks per stage
    assert r["adds"] == 3 * (16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8)
    assert r["pool_ops"] == 64 * 8 * 8                        # the global average pool
    r18 = estimate_workload(build_network("resnet18"), 8, 8, 100.0)
    assert r18["pool_ops"] == 64 * 56 * 56 * 8 + 512 * 7 * 7   # 3x3 max pool, avg pool
    assert r18["macs"] == build_network("resnet18").macs       # neither is in the MACs


def test_activation_memory_holds_the_shortcut():
    # ResNet-20, abits 4: in the first block's conv2 the block input (held for the add),
    # conv1's output and conv2's output are live, three 16x32x32 tensors.
    net = build_network("resnet20")
    assert activation_bits(net, 4, 32) == 3 * 16 * 32 * 32 * 4
    # ResNet-18 at 224: the same in layer1 (3 x 64x56x56), more than the stem's 8-bit input
    # plus its pooled output.
    r18 = build_network("resnet18")
    assert activation_bits(r18, 4, 32) == 3 * 64 * 56 * 56 * 4
    assert 3 * 224 * 224 * INPUT_BITS + 64 * 56 * 56 * 4 < 3 * 64 * 56 * 56 * 4
    # A chain holds one layer's input and output (the cnn: conv0's 8-bit input + output).
    cnn = build_network("cnn", (1, 8, 8), 10, 16)
    assert activation_bits(cnn, 4, 32) == max(1 * 64 * 8 + 16 * 64 * 4, 16 * 64 * 4 + 32 * 16 * 4)


def test_json_keys_and_table(capsys):
    code, out, _ = run(capsys, "estimate", "workload", "--network", "resnet18", "--input",
                       "3,224,224", "--rows", "8", "--lanes", "8", "--clock-mhz", "100",
                       "--json")
    d = json.loads(out)
    assert code == 0
    for key in ("macs", "cycles", "layers", "images_per_s", "weight_bits", "activation_bits"):
        assert key in d
    assert {"name", "macs", "cycles", "utilization"} <= set(d["layers"][0])
    assert d["classes"] == 1000 and d["input"] == [3, 224, 224]
    argv = ["estimate", "workload", "--network", "resnet20", "--rows", "8", "--lanes", "8",
            "--clock-mhz", "100"]
    code, out, _ = run(capsys, *argv, "--json")
    cycles = json.loads(out)["cycles"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "40.55 M MACs" in out
    total = [ln for ln in out.splitlines() if ln.split()[:1] == ["total"]][0]
    assert "40,551,040" in total and f"{cycles:,d}" in total
    assert f"{100e6 / cycles:,.2f} images/s" in out


@pytest.mark.parametrize("flags,msg", [
    (["--input", "3,0,32"], "input must be C,H,W: three integers from 1 to 4096, not '3,0,32'"),
    (["--input", "3,32"], "input must be C,H,W: three integers from 1 to 4096, not '3,32'"),
    (["--input", "3,a,32"], "input must be C,H,W: three integers from 1 to 4096, not '3,a,32'"),
    (["--classes", "0"], "classes must be an integer from 1 to 100000, not 0"),
    (["--width", "2"], "width must be an integer from 4 to 1024, not 2"),
    (["--lanes", "0"], "lanes must be an integer from 1 to 64, not 0"),
    (["--clock-mhz", "-5"], "clock_mhz must be a positive number, not -5.0"),
    (["--wbits", "7"], "wbits must be an integer from 2 to 6, not 7"),
    (["--network", "vgg"],
     "network must be one of cnn, resnet20, resnet18, resnet34, not 'vgg'"),
    (["--network", "cnn", "--input", "1,6,8"],
     "input must have a height and width divisible by 4 for the cnn, not '1,6,8'"),
])
def test_bad_input_is_one_line(capsys, flags, msg):
    argv = ["estimate", "workload", "--network", "resnet20", "--rows", "8", "--lanes", "8",
            "--clock-mhz", "100", *flags]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err == f"asq-hw: error: {msg}\n"
