"""Command-line start-up: wall time of `asq-hw estimate pe` and `asq-hw --help` in fresh
processes (target < 0.5 s; a command imports only what it needs, so neither loads torch),
against `python -c pass` in the same run as the baseline. Best of 5, after one warm-up
run of each so the file cache and numba's on-disk cache are filled."""

from __future__ import annotations

import subprocess
import sys
import time

RUNS = {
    "python -c pass": ["-c", "pass"],
    "asq-hw --help": ["-m", "asq_hw.cli", "--help"],
    "asq-hw estimate pe --target ice40": ["-m", "asq_hw.cli", "estimate", "pe",
                                          "--target", "ice40"],
    "asq-hw verilog pe --help": ["-m", "asq_hw.cli", "verilog", "pe", "--help"],
}
TARGET_S = 0.5


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
    for label, args in RUNS.items():
        t = wall_time(args)
        if base is None:
            base = t
            print(f"  {label:36s} {t:6.3f} s (baseline)")
            continue
        verdict = "ok" if t < TARGET_S else "MISSED"
        print(f"  {label:36s} {t:6.3f} s | {t - base:+6.3f} s over baseline, "
              f"{t / base:5.1f}x | target < {TARGET_S} s: {verdict}")


if __name__ == "__main__":
    main()
