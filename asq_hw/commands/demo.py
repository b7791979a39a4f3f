"""`asq-hw demo`: the main job. For now, a golden-model demonstration: the level table per
bit width, a worked dot product in both variants, and the measured golden throughput."""

from __future__ import annotations

import numpy as np

from asq_hw.config import WBITS_RANGE, PEConfig


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job end to end",
                       description=__doc__)
    p.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    p.set_defaults(func=run)


def level_table() -> str:
    from golden.codes import magnitudes
    lines = ["POST levels (alpha = 1), magnitude code m = 1 .. M:"]
    for w in range(WBITS_RANGE[0], WBITS_RANGE[1] + 1):
        mags = magnitudes(w)[1:]
        shown = ", ".join(f"{v:.4f}" for v in mags[:9]) + (", ..." if len(mags) > 9 else "")
        lines.append(f"  wbits {w}: {2**w - 1:2d} levels, J = {(len(mags) - 1) // 2:2d}: {shown}")
    return "\n".join(lines)


def worked_example() -> str:
    from golden import levels, pe_dot
    acts = np.array([[3, 15, 7, 0, 9]])
    codes = np.array([1, 2, 11, 5, 4], dtype=np.uint8)  # +1, +0.7071, -0.5, +0.25, +0.3536
    w = levels(4)[codes]
    exact = float((acts[0] * w).sum())
    lines = [f"Worked dot product, W4A4: acts {acts[0].tolist()}, codes {codes.tolist()}",
             f"  weights / alpha = {np.round(w, 4).tolist()}, exact sum = {exact:.6f}"]
    for variant in ("lut", "dual"):
        cfg = PEConfig(wbits=4, abits=4, variant=variant, frac_bits=8, max_len=64)
        y = pe_dot(acts, codes, cfg)[0]
        if variant == "lut":
            approx = y / 2 ** (cfg.J + cfg.frac_bits)
            lines.append(f"  lut  (F=8, acc_bits={cfg.acc_bits}): A = {y}, "
                         f"A / 2**(J+F) = {approx:.6f} (error {approx - exact:+.2e})")
        else:
            val = (y[0] + y[1] / np.sqrt(2)) / 2**cfg.J
            lines.append(f"  dual (acc_bits={cfg.acc_bits}): A_even = {y[0]}, A_odd = {y[1]}, "
                         f"(A_even + A_odd/sqrt2) / 2**J = {val:.6f}")
    return "\n".join(lines)


def run(args) -> int:
    from asq_hw.bench.golden_pe import bench_pe_dot
    print(level_table())
    print()
    print(worked_example())
    print()
    print("Golden pe_dot throughput (B=4096 dot products of N=576 terms, W4A4):")
    for row in bench_pe_dot(repeats=3):
        print(f"  {row['variant']:4s}: {row['pe_dot_mac_s'] / 1e6:8.1f} MMAC/s, numpy int64 "
              f"{row['numpy_mac_s'] / 1e6:8.1f} MMAC/s, ratio {row['ratio']:.2f}x")
    return 0
