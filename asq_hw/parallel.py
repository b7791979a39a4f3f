"""The one way asq-hw runs independent jobs in parallel: `pmap` for a batch, `Background`
for one job that runs while this process does other work.

    results = pmap(fn, items, jobs=2, on_result=save, progress=bar)   # input order
    with Background(fn, *args) as job:                                 # one job, meanwhile
        ...                                                             # other work
        value = job.result()

Contract of `pmap(fn, items, jobs)`:
- returns [fn(item) for item in items], in input order;
- `on_result(index, value)` runs in this process as each result arrives (in completion
  order), so a caller can persist results before the batch ends; `progress(done, total)`
  after each;
- jobs <= 1 runs in this process, one item after the other; otherwise in `jobs` worker
  processes (`fn` and the items must be picklable: a module-level function);
- an exception raised by `fn` is re-raised here as itself (a UserError stays a UserError);
  on any exception or KeyboardInterrupt the items not yet started are cancelled and the
  running ones stopped (below) before it propagates.

Why each worker is a session of its own: the YoWASP tools run as the workers' children
(asq_hw/synth/tools.py starts each in a subprocess). Stopping signals each worker's whole
process group, so no orphaned Yosys or nextpnr runs on after asq-hw has given up, and a
Ctrl-C in the terminal reaches only this process, which then stops the workers itself.

The executor is `concurrent.futures.ProcessPoolExecutor`; `make_executor` is the one place
that creates it. Another `concurrent.futures.Executor` can be passed as `executor=`: the Dask
cluster's (asq_hw/cluster.py, `--cluster ADDRESS`). Either
way a `Tally` given to pmap shows, live, the items done, running and failed (asq_hw.progress
draws it), so a map looks the same on the terminal locally and on a cluster.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable


def _worker_init(pids) -> None:
    os.setsid()               # own process group: stop() can signal the tools it starts
    # A forked worker inherits the CLI's SIGTERM handler (which raises in the main program);
    # here SIGTERM means stop(): end at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pids.put(os.getpid())


class _Pool:
    """A ProcessPoolExecutor whose workers can be stopped with everything they started."""

    def __init__(self, workers: int, start: str | None = None):
        ctx = multiprocessing.get_context(start)
        self._pids = ctx.SimpleQueue()
        self.executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_worker_init,
            initargs=(self._pids,))
        self._known: set[int] = set()

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)

    def stop(self, futures=()) -> None:
        """Cancel what has not started, then signal every worker's process group (SIGTERM,
        SIGKILL for a group still there 5 s later) until each of `futures` is done
        (cancelled, or failed with BrokenProcessPool). A worker that registers its pid only
        now (it was just forked) is signalled on a later round; none starts after the first
        line, since the executor starts workers only on submit."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        signalled: dict[int, float] = {}
        while True:
            while not self._pids.empty():
                self._known.add(self._pids.get())
            now = time.monotonic()
            for pid in self._known:
                if pid not in signalled:
                    _signal_group(pid, signal.SIGTERM)
                    signalled[pid] = now
                elif now - signalled[pid] > 5:
                    _signal_group(pid, signal.SIGKILL)
            # shutdown(wait=False) has let go of the executor's manager thread, which marks
            # the futures of killed workers as failed: wait for that rather than a join. If
            # that thread had already ended, a running future is never marked: once every
            # worker is gone, there is nothing left to wait for.
            if not concurrent.futures.wait(futures, timeout=0.05).not_done:
                break
            if self._known and self._pids.empty() \
                    and not any(_group_alive(pid) for pid in self._known):
                break
        while any(_group_alive(pid) for pid in self._known) and time.monotonic() < now + 5:
            time.sleep(0.05)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def make_executor(jobs: int, start: str | None = None) -> _Pool:
    """A pool of `jobs` worker processes, each a session of its own (module docstring).
    `start`: the multiprocessing start method (None: the platform's, fork on Linux)."""
    return _Pool(jobs, start)


@dataclasses.dataclass
class Tally:
    """Where a batch stands, for a progress bar to show while it runs: items `done` of
    `total`, `running` now, and `failed` attempts (an item whose function raised; on a
    cluster also one whose worker was lost, which the scheduler then runs elsewhere). One
    tally can follow several maps of one batch (asq_hw.results counts saved items as done)."""

    total: int = 0
    done: int = 0
    failed: int = 0
    _live: Callable[[], tuple[int, int]] = lambda: (0, 0)

    @property
    def running(self) -> int:
        return self._live()[0]

    @property
    def failures(self) -> int:
        return self.failed + self._live()[1]

    def text(self) -> str:
        return f"running {self.running}, failed {self.failures}"


def pmap(fn: Callable, items: Iterable, jobs: int = 1, *,
         on_result: Callable[[int, object], None] | None = None,
         progress: Callable[[int, int], None] | None = None,
         executor: concurrent.futures.Executor | None = None,
         tally: Tally | None = None, start: str | None = None) -> list:
    """[fn(item) for item in items] in input order, `jobs` at a time (module docstring).
    `executor`: run on this Executor instead of a new local pool (it is not shut down).
    `tally`: kept up to date while the map runs (done, running, failed). `start`: the local
    pool's start method; "spawn" when this process may have run multithreaded native code
    that the workers use too (numba's parallel kernels deadlock in a forked child)."""
    items = list(items)
    total = len(items)
    results: list = [None] * total
    done = 0
    tally = tally if tally is not None else Tally(total)

    def arrived(i: int, value) -> None:
        nonlocal done
        results[i] = value
        done += 1
        tally.done += 1
        if on_result:
            on_result(i, value)
        if progress:
            progress(done, total)

    if executor is None and (jobs <= 1 or total <= 1):
        tally._live = lambda: (1, 0)
        try:
            for i, item in enumerate(items):
                try:
                    value = fn(item)
                except BaseException:
                    tally.failed += 1
                    raise
                arrived(i, value)
        finally:
            tally._live = lambda: (0, 0)
        return results
    pool = None if executor is not None else make_executor(min(jobs, total), start)
    ex = executor if executor is not None else pool.executor
    workers = min(jobs, total)
    lost0 = getattr(ex, "failed", 0)
    if hasattr(ex, "running"):       # the cluster knows which tasks run (asq_hw/cluster.py)
        tally._live = lambda: (ex.running, ex.failed - lost0)
    else:                            # a local pool runs as many as it has workers
        tally._live = lambda: (min(workers, total - done), 0)
    futures: dict = {}
    try:
        futures = {ex.submit(fn, item): i for i, item in enumerate(items)}
        for fut in concurrent.futures.as_completed(futures):
            try:
                value = fut.result()
            except BaseException:
                tally.failed += 1
                raise
            arrived(futures[fut], value)
    except BaseException:
        for fut in futures:
            fut.cancel()
        if pool is not None:
            pool.stop(futures)
        raise
    finally:
        tally.failed += tally._live()[1]
        tally._live = lambda: (0, 0)
    if pool is not None:
        pool.shutdown()
    return results


class Background:
    """`fn(*args, **kwargs)` in one worker process (a session of its own) while this process
    goes on. `result()` waits and returns its value or re-raises its exception; `stop()`
    (also on leaving a `with` block, normally or by an exception or Ctrl-C) ends the worker
    and every process it started. `seconds`: wall time from start to the result."""

    def __init__(self, fn: Callable, *args, **kwargs):
        self._pool = make_executor(1)
        self._t0 = time.perf_counter()
        self.seconds: float | None = None
        self._future = self._pool.executor.submit(fn, *args, **kwargs)
        self._future.add_done_callback(self._finished)

    def _finished(self, _future) -> None:
        self.seconds = time.perf_counter() - self._t0

    def done(self) -> bool:
        return self._future.done()

    def result(self):
        return self._future.result()

    def stop(self) -> None:
        if self._future.done():
            self._pool.shutdown()
        else:
            self._pool.stop([self._future])

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
