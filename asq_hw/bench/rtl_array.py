"""Verified MACs per second: the digits CNN through the RTL 8x8 POST array under Verilator,
every accumulator checked against golden.

The network is the default digits CNN (W4A4 POST, lut), trained once into
build/bench/digits-cnn if absent (about 20 s, printed). Figures, MACs (useful
multiply-accumulates whose accumulators were compared with golden) per wall second:
- array, whole run: `sim.netrun.run_network` on the first IMAGES test images, from the
  golden run that makes the beats to the last comparison (golden, packing, writing the
  job, the simulator's start and stop, decoding and comparing included; the cached build
  excluded, its time printed);
- array, clock loop: the bench's fast loop alone (sim/tb_array.py, one FallingEdge per cycle);
  the rest of the whole run is host work, printed in seconds;
baselines in the same run:
- generic loop: the same array and layer beats (conv1 of two images) through the PE bench's
  driver and monitor (sim/bfm.run_cocotb: RisingEdge + ReadOnly, cocotb's value setters),
  checked against golden, so the ratio is what the fast loop buys;
- golden: the golden integer network (numpy/torch GEMMs) on the same images, the
  software reference the RTL is checked against.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROWS, LANES, IMAGES = 8, 8, 120


def artifact_dir() -> Path:
    from asq_hw.artifact import load_artifact
    from sim.runner import build_root

    folder = build_root() / "bench" / "digits-cnn"
    try:
        load_artifact(folder)
    except Exception:
        print(f"  training the default digits CNN into {folder} ...", flush=True)
        subprocess.run([sys.executable, "-m", "asq_hw.cli", "train", "--dataset", "digits",
                        "--wbits", "4", "--abits", "4", "--quiet", "--out", str(folder)],
                       check=True, capture_output=True)
    return folder


def generic_loop(art, x, variant: str = "lut") -> dict:
    """conv1 of images x through the PE bench's generic driver/monitor on the same build."""
    import numpy as np

    from asq_hw import mapper
    from golden.network import GoldenNetwork
    from hw.gen_array import generate_array
    from sim import runner
    from sim.arrayjob import StreamJob

    cfg = mapper.array_config(art, variant, LANES)
    net = GoldenNetwork(art, variant)
    rec = net.run(x, trace=True).records[1]
    lm = mapper.map_network(art, ROWS, LANES)[1]
    codes = art.codes(net.layers[1])
    per = lm.positions
    acts, code_w, lasts = [], [], []
    for b in range(x.shape[0]):
        for a, c, last in mapper.beat_stream(lm, rec.rows[b * per:(b + 1) * per], codes, cfg):
            acts.append(a)
            code_w.append(c)
            lasts.append(last)
    build = runner.build(cfg, "verilator", design=generate_array(cfg, ROWS))
    _, (rep,) = runner.run_array(build, [], [StreamJob(acts, code_w, lasts, [0] * len(acts),
                                                       [True], lm.dots * x.shape[0])])
    mask = (1 << (ROWS * cfg.acc_bits)) - 1
    words = [r[0] & mask for r in rep.results]
    got = mapper.results_to_rows(mapper.unpack_words(words, ROWS, cfg.acc_bits), lm,
                                 x.shape[0])
    if not np.array_equal(got, rec.acc_rows):
        raise RuntimeError("generic loop: RTL accumulators differ from golden")
    return {"macs": lm.macs * x.shape[0], "wall_s": rep.wall_s, "cycles": rep.cycles}


def main() -> None:
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from asq_hw.toolchain import have_simulator
    from golden.network import GoldenNetwork
    from sim.netrun import run_network

    print(f"RTL POST array {ROWS}x{LANES} under Verilator, digits CNN W4A4 lut, every "
          "accumulator checked against golden:")
    if not have_simulator("verilator"):
        print("  verilator not installed, skipped")
        return
    folder = artifact_dir()
    art = load_artifact(folder)
    x = load_dataset("digits").x_test[:IMAGES].numpy()
    t0 = time.perf_counter()
    r = run_network(art, x, ROWS, LANES, "lut", "verilator")
    t_all = time.perf_counter() - t0
    if not r.ok:
        raise RuntimeError(f"{r.mismatches} accumulator / {r.prediction_mismatches} "
                           f"prediction mismatches in the benchmark run")
    stream = sum(s.stream_s for s in r.layers)
    run_rate, loop_rate = r.verified_macs / r.wall_s, r.verified_macs / stream
    print(f"  array, whole run   {run_rate / 1e6:7.2f} M MAC/s  ({r.verified_macs} MACs, "
          f"{r.images} images, {r.cycles} cycles in {r.wall_s:.1f} s; build and golden "
          f"reference {t_all - r.wall_s:.1f} s more)")
    print(f"  array, clock loop  {loop_rate / 1e6:7.2f} M MAC/s  ({r.cycles / stream / 1e3:.1f} k "
          f"cycles/s, {stream:.1f} s)")
    print(f"  host work          {r.wall_s - stream:7.2f} s of the whole run's {r.wall_s:.1f} s "
          f"({100 * (1 - stream / r.wall_s):.0f} %: golden, beats, job files, simulator start "
          f"and stop, comparison)")
    g = generic_loop(art, x[:2])
    g_rate = g["macs"] / g["wall_s"]
    print(f"  generic loop       {g_rate / 1e6:7.2f} M MAC/s  (conv1 of 2 images through "
          f"sim/bfm.run_cocotb, {g['cycles'] / g['wall_s'] / 1e3:.1f} k cycles/s)")
    net = GoldenNetwork(art, "lut")
    net.run(x[:8])                                   # warm the GEMM plans and kernels
    t0 = time.perf_counter()
    net.run(x)
    t_g = time.perf_counter() - t0
    gold_rate = r.verified_macs / t_g
    print(f"  golden network     {gold_rate / 1e6:7.2f} M MAC/s  (same images, {t_g:.3f} s)")
    print(f"  ratio array clock loop / generic loop: {loop_rate / g_rate:.2f}x; "
          f"array whole run / golden: {run_rate / gold_rate:.4f}x")


if __name__ == "__main__":
    main()
