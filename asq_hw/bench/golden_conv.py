"""Golden integer conv layer throughput, bit-exact, against torch.nn.functional.conv2d in
float32 on the same shape in the same run: a ResNet-20-like layer, batch 32,
64 -> 64 channels, 3x3, 16x16, W4A4 POST, both MAC variants. The golden layer runs the
exact float-GEMM fast path (golden.gemm.plan_gemm); before timing, its accumulators are
checked against the Numba kernel pe_matmul on the same inputs."""

from __future__ import annotations

import time

import numpy as np


def _best_times(fns, repeats: int) -> list[float]:
    """Best wall time of each function, the calls interleaved so that a change of machine
    load during the run affects every contender alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def bench_golden_conv(batch: int = 32, channels: int = 64, hw: int = 16, repeats: int = 10,
                      seed: int = 0) -> list[dict]:
    """Per variant: MAC/s of golden conv_accumulate and of torch conv2d (float32), their
    ratio, the GEMM plan, the MAC/s with float GEMMs only, and whether both fast paths
    matched pe_matmul bit for bit."""
    import torch
    import torch.nn.functional as F

    from golden.accumulate import conv_accumulate
    from golden.arith import LayerArith
    from golden.gemm import plan_gemm
    from golden.network import rows_from_acc
    from golden.ops import im2col
    from golden.pe import pe_matmul

    rng = np.random.default_rng(seed)
    k, n = channels, channels * 9
    x = rng.integers(0, 16, (batch, channels, hw, hw)).astype(np.uint8)
    codes = rng.integers(0, 16, (k, n)).astype(np.uint8)
    xt = torch.from_numpy(x).float()
    wt = torch.randn(k, channels, 3, 3)
    macs = batch * hw * hw * k * n
    rows = []
    for variant in ("lut", "dual"):
        arith = LayerArith("post", 4, 4, False, variant, 8, n)
        fast = conv_accumulate(x, codes, (3, 3), 1, 1, arith)
        ref = pe_matmul(im2col(x, (3, 3), 1, 1), codes, arith.pe_config())
        exact = bool(np.array_equal(rows_from_acc(fast), ref))
        floats = conv_accumulate(x, codes, (3, 3), 1, 1, arith, allow_int8=False)
        exact = exact and bool(np.array_equal(floats, fast))
        t_gold, t_torch, t_float = _best_times(
            [lambda: conv_accumulate(x, codes, (3, 3), 1, 1, arith),  # noqa: B023
             lambda: F.conv2d(xt, wt, padding=1),
             lambda: conv_accumulate(x, codes, (3, 3), 1, 1, arith,  # noqa: B023
                                     allow_int8=False)], repeats)
        plan = plan_gemm(arith)
        rows.append({"variant": variant, "golden_mac_s": macs / t_gold,
                     "torch_mac_s": macs / t_torch, "ratio": t_torch / t_gold,
                     "float_only_mac_s": macs / t_float,
                     "bit_exact": exact,
                     "plan": [p.describe() for p in plan]})
    return rows


def main() -> None:
    print("golden conv layer, B=32, 64->64, 3x3, 16x16, W4A4 POST (best of 10, interleaved):")
    for r in bench_golden_conv():
        print(f"  {r['variant']:4s} golden {r['golden_mac_s'] / 1e9:6.2f} GMAC/s | torch conv2d "
              f"f32 {r['torch_mac_s'] / 1e9:6.2f} GMAC/s | ratio {r['ratio']:.2f}x "
              f"(target >= 0.25) | bit-exact vs pe_matmul: {r['bit_exact']}")
        print(f"       plan: {'; '.join(r['plan'])}")
        print(f"       (float GEMMs only, no int8: {r['float_only_mac_s'] / 1e9:6.2f} GMAC/s, "
              f"ratio {r['float_only_mac_s'] / r['torch_mac_s']:.2f}x)")


if __name__ == "__main__":
    main()
