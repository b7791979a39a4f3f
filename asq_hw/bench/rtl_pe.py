"""Verified dot-product terms per second through cocotb: Verilator against Icarus.

The same 4-lane POST PE (W4A4, lut, F 8) and the same stream of random dot products (1 to
64 terms, no gaps, no back-pressure: one beat per cycle) on both simulators; every result is
checked against golden.pe_dot. Two rates per simulator, terms / wall second:
- stream: the cocotb clock loop alone (what the per-cycle Python cost allows);
- run: the whole `sim.runner.run` call (stimulus and reference, simulator start, report),
  the build excluded (it is cached per configuration; its time is printed).
"""

from __future__ import annotations

import time

from asq_hw.config import PEConfig

CFG = PEConfig(wbits=4, abits=4, variant="lut", frac_bits=8, lanes=4, max_len=64)


def bench_sim(sim: str, dots: int = 3000, seed: int = 0) -> dict:
    from sim import runner

    t0 = time.perf_counter()
    b = runner.build(CFG, sim)
    t_build = time.perf_counter() - t0
    phase = {"name": "bench", "kind": "random", "count": dots, "max_terms": 64,
             "seed": seed}
    t0 = time.perf_counter()
    (r,) = runner.run(b, [phase])
    t_run = time.perf_counter() - t0
    if r["mismatches"]:
        raise RuntimeError(f"{sim}: {r['mismatches']} mismatches in the benchmark run")
    return {"sim": sim, "terms": r["terms"], "dots": r["verified"], "cycles": r["cycles"],
            "build_s": t_build, "run_s": t_run, "stream_s": r["wall_s"],
            "stream_terms_s": r["terms"] / r["wall_s"], "run_terms_s": r["terms"] / t_run,
            "cycles_s": r["cycles"] / r["wall_s"]}


def main() -> None:
    from asq_hw.toolchain import have_simulator

    print(f"RTL PE through cocotb, {CFG.lanes}-lane W{CFG.wbits}A{CFG.abits} {CFG.variant} "
          "PE, random dot products of 1..64 terms, every result checked against golden:")
    rows = {}
    for sim in ("verilator", "icarus"):
        if not have_simulator(sim):
            print(f"  {sim:9s} not installed, skipped")
            continue
        r = rows[sim] = bench_sim(sim)
        print(f"  {sim:9s} {r['stream_terms_s'] / 1e3:7.1f} k terms/s stream "
              f"({r['cycles_s'] / 1e3:5.1f} k cycles/s) | {r['run_terms_s'] / 1e3:7.1f} k "
              f"terms/s whole run ({r['terms']} terms, {r['cycles']} cycles, "
              f"{r['run_s']:.1f} s) | build {r['build_s']:.1f} s")
    if len(rows) == 2:
        v, i = rows["verilator"], rows["icarus"]
        print(f"  ratio verilator/icarus: stream {v['stream_terms_s'] / i['stream_terms_s']:.2f}x,"
              f" whole run {v['run_terms_s'] / i['run_terms_s']:.2f}x")


if __name__ == "__main__":
    main()
