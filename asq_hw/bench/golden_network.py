"""Golden network throughput: GoldenNetwork.run on the demo's digits CNN (W4A4 POST with
adapters, width 16), images per second for both MAC variants, against the accumulators
alone (the PE part of the same run, golden.accumulate on every layer's recorded input):
the ratio says what the rest of the pipeline (requantization, the ASQ adapters, the
integer ops) costs on top of the PE. The network is exported untrained (quantizers
initialised on one batch): speed does not depend on the weights' values."""

from __future__ import annotations

import time


def _network(width: int = 16):
    import torch

    from asq_hw.data import load_digits
    from asq_hw.export import export_model
    from asq_hw.models import ModelConfig, build_model
    from asq_hw.quant import init_quant

    data = load_digits()
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="cnn", width=width))
    with torch.no_grad():
        for m in model.modules():  # a non-trivial adapter: per-image betas vary
            if getattr(m, "adapter", None) is not None:
                m.adapter[-2].weight.normal_(0, 0.05)
    init_quant(model, data.x_train[:256])
    model.eval()
    return export_model(model, data), data.x_test.numpy()


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_golden_network(repeats: int = 5) -> list[dict]:
    """Per variant: images/s of GoldenNetwork.run over the 360 digits test images and of
    the accumulators alone, and their ratio."""
    from golden.network import GoldenNetwork

    art, images = _network()
    rows = []
    for variant in ("lut", "dual"):
        net = GoldenNetwork(art, variant)
        inputs = [rec.x for rec in net.run(images, trace=True).records]
        t_run = _best(lambda: net.run(images), repeats)  # noqa: B023
        t_acc = _best(lambda: [net.accumulate(i, x)  # noqa: B023
                               for i, x in enumerate(inputs)], repeats)  # noqa: B023
        n = images.shape[0]
        rows.append({"variant": variant, "images": n, "run_images_s": n / t_run,
                     "acc_images_s": n / t_acc, "ratio": t_run / t_acc})
    return rows


def main() -> None:
    print("golden network, digits CNN W4A4 POST + adapters, 360 images (best of 5):")
    for r in bench_golden_network():
        print(f"  {r['variant']:4s} GoldenNetwork.run {r['run_images_s']:8.0f} images/s | "
              f"accumulators alone {r['acc_images_s']:8.0f} images/s | run / accumulate "
              f"{r['ratio']:.2f}x")


if __name__ == "__main__":
    main()
