"""Command-line start-up: wall time of `asq-hw --help`, `asq-hw estimate pe` and `asq-hw
verilog pe` in fresh processes (target for --help and estimate: < 0.5 s; a command imports
only what it needs, so none loads torch), against `python -c pass` in the same run as the
baseline. Best of 5, after one warm-up run of each so the file cache and numba's on-disk
cache are filled. `verilog pe` elaborates the Amaranth design, so it has no target."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

TARGET_S = 0.5


def runs(out: str) -> dict[str, tuple[list[str], float | None]]:
    """label: (python arguments, target in seconds or None); the first is the baseline."""
    cli = ["-m", "asq_hw.cli"]
    return {
        "python -c pass": (["-c", "pass"], None),
        "asq-hw --help": ([*cli, "--help"], TARGET_S),
        "asq-hw estimate pe --target ice40": ([*cli, "estimate", "pe", "--target", "ice40"],
                                              TARGET_S),
        "asq-hw verilog pe --out TMP": ([*cli, "verilog", "pe", "--out", out], None),
    }


def wall_time(args: list[str], repeats: int = 5) -> float:
    """Best wall time of `python ARGS` in a fresh process, in seconds."""
    subprocess.run([sys.executable, *args], check=True, capture_output=True)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    print("cli_startup: wall time of a fresh process (best of 5)")
    base = None
    with tempfile.TemporaryDirectory() as out:
        for label, (args, target) in runs(out).items():
            t = wall_time(args)
            if base is None:
                base = t
                print(f"  {label:36s} {t:6.3f} s (baseline)")
                continue
            goal = ("" if target is None else
                    f" | target < {target} s: {'ok' if t < target else 'MISSED'}")
            print(f"  {label:36s} {t:6.3f} s | {t - base:+6.3f} s over baseline, "
                  f"{t / base:5.1f}x{goal}")


if __name__ == "__main__":
    main()
