"""The whole accelerator (hw/accel/top.py) in the Amaranth simulator: the trained digits
CNN's test images in, integer logits out equal to golden's, every clean image in exactly
the model's cycles, back to back, and correct under input gaps and output back-pressure."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from asq_hw.artifact import load_artifact
from asq_hw.data import load_dataset
from asq_hw.mapper import array_config
from golden.network import GoldenNetwork
from hw.accel.top import Accelerator
from tests.array_export import trained_cnn


def stream(acc, codes, rough=None, last_at=None):
    """Images' codes (B, C, H, W) through `acc`; returns (logits (B, K), lasts ok,
    cycles per image (first input edge .. last logit edge, both included), framing, edges
    between consecutive images' first beats)."""
    sim = Simulator(acc)
    sim.add_clock(1e-8)
    rng = random.Random(rough)
    mask = (1 << acc.in_bits) - 1
    out = []

    async def bench(ctx):
        edge = 0
        for img in codes:
            beats = (np.asarray(img).reshape(-1) & mask).tolist()
            first, logits, lasts, last = None, [], [], None
            k = 0
            while len(logits) < acc.classes:
                send = k < len(beats) and (rough is None or rng.random() > 0.3)
                ready = rough is None or rng.random() > 0.3
                ctx.set(acc.in_valid, int(send))
                if send:
                    ctx.set(acc.in_data, beats[k])
                    ctx.set(acc.in_last, int(k == (len(beats) - 1 if last_at is None
                                                   else last_at)))
                ctx.set(acc.out_ready, int(ready))
                if send and ctx.get(acc.in_ready):
                    first = edge if first is None else first
                    k += 1
                if ready and ctx.get(acc.out_valid):
                    logits.append(ctx.get(acc.out_data))
                    lasts.append(ctx.get(acc.out_last))
                    last = edge
                await ctx.tick()
                edge += 1
            ctx.set(acc.in_valid, 0)
            out.append((logits, lasts, last - first + 1, first))
        out.append(ctx.get(acc.status_framing))

    sim.add_testbench(bench)
    sim.run()
    framing = out.pop()
    logits = np.array([o[0] for o in out], dtype=np.int64)
    return logits, [o[1] == [0] * (acc.classes - 1) + [1] for o in out], \
        [o[2] for o in out], framing, np.diff([o[3] for o in out]).tolist()


@pytest.fixture(scope="module")
def cnn():
    art = load_artifact(trained_cnn())
    x = load_dataset("digits").x_test[:3].numpy()
    return art, x


@pytest.mark.slow
@pytest.mark.parametrize("variant,rows,lanes,rough", [
    ("lut", 4, 4, None), ("dual", 3, 5, None), ("lut", 2, 3, 7)])
def test_accelerator_logits_equal_golden(cnn, variant, rows, lanes, rough):
    art, x = cnn
    check_images(art, x[:2 if rough is None else 1], variant, rows, lanes, rough)


def check_images(art, x, variant: str, rows: int, lanes: int, rough) -> None:
    """Images x through the accelerator of `art` in the Amaranth simulator: logits equal
    golden's, out_last on each last logit, no framing error, and clean (rough None) images
    take the cycle model's cycles and interval."""
    acc = Accelerator(art, array_config(art, variant, lanes), rows)
    net = GoldenNetwork(art, variant, acc.cfg.frac_bits)
    n = len(x)
    want = net.run(x).logits_int
    logits, lasts, cycles, framing, gaps = stream(acc, net.quantize_input(x), rough)
    bits = acc.logit_bits
    logits = np.where(logits >> (bits - 1), logits - (1 << bits), logits)
    np.testing.assert_array_equal(logits, want)
    assert all(lasts) and framing == 0
    if rough is None:
        assert cycles == [acc.cycles_per_image] * n
        assert gaps == [acc.interval] * (n - 1)


@pytest.mark.slow
def test_a_misplaced_in_last_sets_the_framing_status_and_changes_nothing_else(cnn):
    # Framing is by count: the image still runs whole, and status_framing says so.
    art, x = cnn
    acc = Accelerator(art, array_config(art, "lut", 4), 4)
    net = GoldenNetwork(art, "lut", acc.cfg.frac_bits)
    logits, lasts, cycles, framing, _ = stream(acc, net.quantize_input(x[:1]), last_at=5)
    bits = acc.logit_bits
    logits = np.where(logits >> (bits - 1), logits - (1 << bits), logits)
    np.testing.assert_array_equal(logits, net.run(x[:1]).logits_int)
    assert framing == 1 and all(lasts) and cycles == [acc.cycles_per_image]


@pytest.mark.slow
def test_an_mlp_runs_its_flatten_for_free():
    # A flatten before the first layer: the input stream carries the (1, 8, 8) image in
    # (c, h, w) order, which is the flattened vector the first linear layer reads.
    from tests.array_export import trained_mlp

    art = load_artifact(trained_mlp())
    acc = Accelerator(art, array_config(art, "dual", 3), 2)
    assert acc.in_shape == (1, 8, 8) and acc.in_elements == 64
    x = load_dataset("digits").x_test[:2].numpy()
    net = GoldenNetwork(art, "dual", acc.cfg.frac_bits)
    logits, lasts, cycles, framing, gaps = stream(acc, net.quantize_input(x))
    bits = acc.logit_bits
    logits = np.where(logits >> (bits - 1), logits - (1 << bits), logits)
    np.testing.assert_array_equal(logits, net.run(x).logits_int)
    assert cycles == [acc.cycles_per_image] * 2 and gaps == [acc.interval] and framing == 0
