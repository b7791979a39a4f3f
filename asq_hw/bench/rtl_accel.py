"""Verified MACs per second: the whole digits CNN on the 8x8 accelerator (hw/accel/top.py)
under Verilator, every logit checked against golden, against the array co-simulation in the
same run.

Both runs take the same IMAGES test images (the whole test split) of the default digits
CNN (W4A4 POST, lut; the one rtl_array trains). MACs are the network's multiply-accumulates
per image times the images verified, per wall second of the whole run: build (cached, its
time excluded and printed), golden reference, job, the simulator, decoding and comparison
included.
- accelerator: sim.accelsim.run_accel, the bench hands the Verilog stream wrapper
  (sim/stream_bfm.py) one image at a time (the first two images clean, the rest with
  random input gaps and output back-pressure), in one simulator process, then in JOBS
  processes on slices of the images (run_sharded: what `asq-hw sim accel --jobs` does; a
  second core doubles it);
- baseline, array co-simulation: sim.netrun.run_network, Python drives every beat of every
  layer into the 8x8 array and the host requantizes between layers.
"""

from __future__ import annotations

import time

from asq_hw.bench.rtl_array import LANES, ROWS, artifact_dir

IMAGES = 360
JOBS = 2


def main() -> None:
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from asq_hw.toolchain import have_simulator
    from sim.accelsim import build_accel, generate, run_accel, run_sharded
    from sim.netrun import run_network

    print(f"RTL accelerator {ROWS}x{LANES} under Verilator, digits CNN W4A4 lut, every logit "
          "checked against golden:")
    if not have_simulator("verilator"):
        print("  verilator not installed, skipped")
        return
    art = load_artifact(artifact_dir())
    x = load_dataset("digits").x_test[:IMAGES].numpy()
    t0 = time.perf_counter()
    design = generate(art, ROWS, LANES, "lut")
    build_accel(art, ROWS, LANES, "lut", "verilator", design=design)
    t_build = time.perf_counter() - t0
    r = run_accel(art, x, ROWS, LANES, "lut", "verilator", design=design)
    if not r.ok:
        raise RuntimeError(f"accelerator: {r.mismatches} logit mismatches, {r.cycle_errors} "
                           "cycle errors in the benchmark run")
    rj = run_sharded(art, x, ROWS, LANES, "lut", "verilator", shards=JOBS, jobs=JOBS,
                     design=design)
    if not rj.ok:
        raise RuntimeError(f"accelerator, {JOBS} jobs: {rj.mismatches} logit mismatches")
    a = run_network(art, x, ROWS, LANES, "lut", "verilator")
    if not a.ok:
        raise RuntimeError(f"array: {a.mismatches} accumulator mismatches")
    acc_rate = r.verified_macs_per_s
    arr_rate = a.verified_macs / a.wall_s
    print(f"  accelerator        {acc_rate / 1e6:7.2f} M MAC/s  ({r.images} images x "
          f"{r.macs_per_image} MACs in {r.wall_s:.1f} s, simulator {r.sim_s:.1f} s, "
          f"{r.cycles_per_image} cycles/image; build {t_build:.1f} s before)")
    print(f"  accelerator, {JOBS} jobs {rj.verified_macs_per_s / 1e6:7.2f} M MAC/s  ({rj.images} "
          f"images in {rj.wall_s:.1f} s: {JOBS} simulator processes on slices of the images, "
          "process start included)")
    print(f"  array co-sim       {arr_rate / 1e6:7.2f} M MAC/s  ({a.verified_macs} MACs in "
          f"{a.wall_s:.1f} s)")
    print(f"  ratio accelerator / array co-simulation: {acc_rate / arr_rate:.2f}x in one "
          f"process, {rj.verified_macs_per_s / arr_rate:.2f}x with {JOBS}")


if __name__ == "__main__":
    main()
