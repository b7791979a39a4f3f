"""Golden pe_dot throughput against numpy on pre-decoded integer weights."""

from __future__ import annotations

import time

import numpy as np

from asq_hw.config import PEConfig


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_pe_dot(batch: int = 4096, n: int = 576, repeats: int = 5, seed: int = 0) -> list[dict]:
    """MAC/s of pe_dot (decoding included) and of `(acts * w).sum(-1)` in int64 on
    pre-decoded integer weights, same inputs, best of `repeats`."""
    from golden.codes import decode_tables
    from golden.pe import pe_dot

    rng = np.random.default_rng(seed)
    rows = []
    for variant in ("lut", "dual"):
        cfg = PEConfig(wbits=4, abits=4, variant=variant, max_len=n)
        acts = rng.integers(cfg.act_min, cfg.act_max + 1, (batch, n)).astype(np.int64)
        codes = rng.integers(0, cfg.code_max + 1, (batch, n)).astype(np.uint8)
        dec = decode_tables(cfg.wbits)
        # The integer weight a plain multiplier would use: sgn * 2**shift (even-exponent
        # scale); numpy gets it for free, pe_dot decodes every code itself.
        w = (dec[codes, 0] * dec[codes, 3] << dec[codes, 1]).astype(np.int64)
        pe_dot(acts[:1], codes[:1], cfg)  # compile outside the timing
        t_pe = _best_time(lambda: pe_dot(acts, codes, cfg), repeats)  # noqa: B023
        t_np = _best_time(lambda: (acts * w).sum(-1), repeats)  # noqa: B023
        macs = batch * n
        rows.append({"variant": variant, "pe_dot_mac_s": macs / t_pe,
                     "numpy_mac_s": macs / t_np, "ratio": t_np / t_pe})
    return rows


def main() -> None:
    print("golden pe_dot, B=4096 x N=576, W4A4 (best of 5):")
    for r in bench_pe_dot():
        print(f"  {r['variant']:4s} pe_dot {r['pe_dot_mac_s'] / 1e6:8.1f} MMAC/s | numpy "
              f"{r['numpy_mac_s'] / 1e6:8.1f} MMAC/s | ratio {r['ratio']:.2f}x (target >= 1.0)")


if __name__ == "__main__":
    main()
