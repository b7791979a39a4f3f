"""The accelerator on a residual network (the trained width-4 ResNet-20 of
tests/array_export.py: identity and projection shortcuts, the integer global pool): the
buffer allocation over the layer graph, and in the Amaranth simulator the test images'
integer logits equal golden's, clean images in exactly the model's cycles."""

import pytest

from asq_hw.artifact import load_artifact
from asq_hw.data import load_dataset
from asq_hw.mapper import array_config
from hw.accel.plan import buffer_allocation
from hw.accel.requant_plan import requant_layers
from tests.array_export import trained_cnn, trained_resnet
from tests.test_hw_accel_top import check_images


@pytest.fixture(scope="module")
def resnet():
    art = load_artifact(trained_resnet())
    return art, load_dataset("digits").x_test[:2].numpy()


def test_chain_allocation_is_ping_pong():
    alloc = buffer_allocation(load_artifact(trained_cnn()))
    n = len(alloc)
    assert alloc == [(i % 2, (i + 1) % 2 if i < n - 1 else -1, -1) for i in range(n)]


def test_residual_allocation_keeps_block_inputs(resnet):
    art, _ = resnet
    layers = art.compute_layers()
    alloc = buffer_allocation(art)
    index = {lay.name: i for i, lay in enumerate(layers)}
    adds = [op for op in art.ops if op.op == "add"]
    assert {op.kind for op in adds} == {"identity", "projection"}
    for op in adds:
        main, short = index[op.main], index[op.shortcut]
        if op.kind == "identity":
            # the block's first conv reads x; the main branch reads x at its elements
            # and writes the block output where x was (x is dead after the add)
            assert alloc[main][2] == alloc[short][0] != alloc[main][0]
            assert alloc[main][1] == alloc[short][0]
        else:
            # the projection reads the block input (its `input` layer's buffer), the
            # main branch is held (writes nothing) and the add's codes go elsewhere
            proj = layers[short]
            assert alloc[short][0] == alloc[index[proj.input]][0]
            assert alloc[main][1] == -1
            assert alloc[short][1] not in (-1, alloc[short][0])


def test_residual_roles(resnet):
    art, _ = resnet
    rq = requant_layers(art, array_config(art, "lut", 8))
    kinds = {r.name: (r.hold, r.add, r.gpool) for r in rq}
    assert kinds["conv2"] == (False, "identity", False)
    assert kinds["conv8"] == (True, "", False)
    assert kinds["conv9"] == (False, "projection", False)
    assert kinds["conv20"] == (False, "identity", True)
    assert rq[-1].logits and rq[20].store == rq[20].outputs


@pytest.mark.slow
@pytest.mark.parametrize("variant,rows,lanes,images,rough", [
    ("lut", 8, 8, 2, None), ("dual", 3, 5, 1, None), ("lut", 4, 4, 1, 11)])
def test_resnet_logits_equal_golden(resnet, variant, rows, lanes, images, rough):
    art, x = resnet
    check_images(art, x[:images], variant, rows, lanes, rough)


def test_a_third_live_tensor_is_refused():
    from types import SimpleNamespace as NS

    def conv(name, output="codes", source=None):
        return NS(op="conv", name=name, output=output, input=source)

    # conv0's input is still needed by the add after conv2 while conv1's output is read
    ops = [conv("conv0"), conv("conv1"), conv("conv2", "residual"),
           NS(op="add", main="conv2", shortcut="conv0", kind="identity")]
    art = NS(ops=ops, compute_layers=lambda: [o for o in ops if o.op == "conv"])
    with pytest.raises(ValueError, match="conv1: its output codes need a third activation"):
        buffer_allocation(art)


def test_ops_the_unit_cannot_run_after_an_add_are_refused():
    from types import SimpleNamespace as NS

    from hw.accel.requant_plan import post_op_form_pool
    relu, gpool, flat, maxp = (NS(op="relu"), NS(op="avgpool"), NS(op="flatten"),
                               NS(op="maxpool", kernel=2, stride=2))
    assert post_op_form_pool("c", [relu, gpool, flat], (2, 2), False, True) == \
        (True, 1, True, True)
    with pytest.raises(ValueError, match="maxpool after the residual add of c"):
        post_op_form_pool("c", [relu, maxp], (4, 4), False, True)
    with pytest.raises(ValueError, match="relu after the global pool after c"):
        post_op_form_pool("c", [gpool, relu], (4, 4), False, True)
    with pytest.raises(ValueError, match="'avgpool' after c is not supported"):
        post_op_form_pool("c", [gpool], (4, 4), False, False)
