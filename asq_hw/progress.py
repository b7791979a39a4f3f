"""Progress on stderr for long commands: a tqdm bar per step.

`Progress(enabled).step(desc, total=None)` is a context manager yielding a tqdm bar: with a
`total` the caller advances it (`bar.update(n)`); without one it shows the elapsed time,
for steps that cannot report their own progress (a Verilator build, waiting for
synthesis). Either way a helper thread refreshes it twice a second, so the clock runs
between updates. On leaving the block the
bar stays on screen with its final time, so a run's stderr is the list of its steps and how
long each took. Every step's wall time is kept in `Progress.times` either way.

A step over a parallel map (asq_hw.parallel) passes the map's `Tally`: the bar then follows
it by itself, showing the items done and, after them, how many run and how many failed
(the same locally and on a Dask cluster).

Bars need a terminal: when stderr is not one (a log file, a pipe, CI), a step prints plain
lines instead, so logs are not flooded with carriage returns: one every `interval` seconds
while it runs (`desc: 1,200/4,800 cfg (25 %), 40 s`, or `desc: running, 40 s` without a
total), so a long step is never silent, and one when it ends (`desc: 12.3 s`).
Disabled (`enabled=False`), nothing is printed.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import time

from tqdm import tqdm


class Progress:
    def __init__(self, enabled: bool = True, tty: bool | None = None,
                 interval: float = 20.0):
        self.enabled = enabled
        tty = sys.stderr.isatty() if tty is None else tty
        self.bars = enabled and tty          # inner tqdm bars (training epochs) only then
        self.interval = interval
        self.times: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, desc: str, total: int | None = None, unit: str = "it", key: str | None = None,
             tally=None):
        """A bar for one step; its wall time goes to self.times[key or desc]. With a
        `tally` (asq_hw.parallel.Tally) the bar shows its counts (done, running, failed)."""
        fmt = ("{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} {unit} "
               "[{elapsed}<{remaining}{postfix}]" if total is not None
               else "{desc}: {elapsed}{postfix}")
        # Without a terminal the bar still counts (into a sink) for the plain lines.
        bar = tqdm(total=total, desc=desc, unit=unit,
                   file=sys.stderr if self.bars else io.StringIO(), disable=not self.enabled,
                   bar_format=fmt, dynamic_ncols=True, leave=True, mininterval=0.5)
        stop = threading.Event()
        ticker = None
        t0 = time.perf_counter()

        def follow():
            if tally is not None:
                bar.n = tally.done
                bar.set_postfix_str(tally.text(), refresh=False)
        if self.bars:
            def tick():
                while not stop.wait(0.5):
                    follow()
                    bar.refresh()
        else:
            def tick():
                while not stop.wait(self.interval):
                    follow()
                    print(self._line(desc, bar, unit, time.perf_counter() - t0),
                          file=sys.stderr, flush=True)
        if self.enabled:
            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
        ok = False
        try:
            yield bar
            ok = True
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()
            seconds = time.perf_counter() - t0
            self.times[key or desc] = seconds
            follow()
            bar.close()
            if self.enabled and not self.bars:
                counts = ("" if tally is None else
                          f", {tally.done} of {tally.total} done, {tally.failures} failed")
                print(f"{desc}: {seconds:.1f} s{counts}{'' if ok else ' (failed)'}",
                      file=sys.stderr, flush=True)

    @staticmethod
    def _line(desc: str, bar, unit: str, seconds: float) -> str:
        """One periodic progress line (no terminal)."""
        if bar.total:
            return (f"{desc}: {bar.n:,}/{bar.total:,} {unit} ({100 * bar.n / bar.total:.0f} %), "
                    f"{seconds:.0f} s")
        return f"{desc}: running, {seconds:.0f} s"
