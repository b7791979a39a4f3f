"""Estimator speed: time per estimate (goal < 10 ms) and estimate-time / synthesis-time.

- estimate, cold: every design of the calibration grid on every target, with the
  estimator's caches cleared before each design (a configuration never seen before);
- estimate, warm: the same again with the caches filled (a sweep revisiting designs);
- sweep: 10,000 random configurations (wbits, abits, signedness, variant, lanes 1..16,
  rows 1..16, frac_bits, max_len, target), caches as they come;
baseline in the same run: one synthesis of a 4-lane W4A4 PE for iCE40 without the cache
(Yosys counts, CMOS transistors, nextpnr fmax: what `asq-hw synth pe` computes), so the
ratio is estimate-time / synth-time.
"""

from __future__ import annotations

import random
import statistics
import time


def _clear() -> None:
    from asq_hw.estimate.logic import table_luts
    from asq_hw.estimate.structure import decoder_tables, rom_columns, structure
    for f in (structure, table_luts, decoder_tables, rom_columns):
        f.cache_clear()


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    from asq_hw.config import PEConfig
    from asq_hw.designs import TARGETS
    from asq_hw.estimate import estimate
    from asq_hw.estimate.grid import grid

    print("estimate_speed: analytical estimate vs synthesis (asq_hw/estimate)")
    pts = grid("full")
    estimate(PEConfig(), "ice40")                     # imports, coefficients
    cold, warm = [], []
    for p in pts:
        for t in TARGETS:
            _clear()
            cold.append(_time(lambda p=p, t=t: estimate(p.cfg, t, kind=p.kind, rows=p.rows)))
    for p in pts:
        for t in TARGETS:
            warm.append(_time(lambda p=p, t=t: estimate(p.cfg, t, kind=p.kind, rows=p.rows)))
    rng = random.Random(0)
    cfgs = []
    for _ in range(10_000):
        cfgs.append((PEConfig(wbits=rng.randint(2, 6), abits=rng.randint(2, 8),
                              act_signed=rng.random() < 0.3,
                              variant=rng.choice(("lut", "dual")), lanes=rng.randint(1, 16),
                              frac_bits=rng.choice((4, 6, 8, 10, 12)),
                              max_len=rng.choice((256, 4096, 65536))),
                     rng.randint(1, 16), rng.choice(TARGETS)))
    _clear()
    sweep = _time(lambda: [estimate(c, t, rows=r) for c, r, t in cfgs])
    print(f"  estimate, cold: mean {1000 * statistics.mean(cold):.2f} ms, max "
          f"{1000 * max(cold):.2f} ms over {len(cold)} grid designs x targets")
    print(f"  estimate, warm: mean {1000 * statistics.mean(warm):.3f} ms")
    print(f"  sweep of {len(cfgs)} random configurations: {sweep:.1f} s "
          f"({1000 * sweep / len(cfgs):.2f} ms each)")

    from asq_hw.synth import synthesize
    from hw.gen import generate_pe
    text, man = generate_pe(PEConfig(wbits=4, abits=4, lanes=4))
    synth = _time(lambda: synthesize(text, man["top"], "ice40", use_cache=False))
    print(f"  baseline: one uncached synthesis (counts + CMOS + nextpnr), W4A4 4-lane PE on "
          f"ice40: {synth:.1f} s")
    print(f"  ratio estimate (cold mean) / synthesis: {statistics.mean(cold) / synth:.1e} "
          f"({synth / statistics.mean(cold):.0f}x faster)")


if __name__ == "__main__":
    main()
