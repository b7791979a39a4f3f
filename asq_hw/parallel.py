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
that creates it, so another `concurrent.futures.Executor` (a Dask distributed client's) can
be passed to `pmap` as `executor=` without changing the callers.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable


def _worker_init(pids) -> None:
    os.setsid()               # own process group: stop() can signal the tools it starts
    pids.put(os.getpid())


class _Pool:
    """A ProcessPoolExecutor whose workers can be stopped with everything they started."""

    def __init__(self, workers: int):
        ctx = multiprocessing.get_context()
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
            # the futures of killed workers as failed: wait for that rather than a join.
            if not concurrent.futures.wait(futures, timeout=0.05).not_done:
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


def make_executor(jobs: int) -> _Pool:
    """A pool of `jobs` worker processes, each a session of its own (module docstring)."""
    return _Pool(jobs)


def pmap(fn: Callable, items: Iterable, jobs: int = 1, *,
         on_result: Callable[[int, object], None] | None = None,
         progress: Callable[[int, int], None] | None = None,
         executor: concurrent.futures.Executor | None = None) -> list:
    """[fn(item) for item in items] in input order, `jobs` at a time (module docstring).
    `executor`: run on this Executor instead of a new local pool (it is not shut down)."""
    items = list(items)
    total = len(items)
    results: list = [None] * total
    done = 0

    def arrived(i: int, value) -> None:
        nonlocal done
        results[i] = value
        done += 1
        if on_result:
            on_result(i, value)
        if progress:
            progress(done, total)

    if executor is None and (jobs <= 1 or total <= 1):
        for i, item in enumerate(items):
            arrived(i, fn(item))
        return results
    pool = None if executor is not None else make_executor(min(jobs, total))
    ex = executor if executor is not None else pool.executor
    futures: dict = {}
    try:
        futures = {ex.submit(fn, item): i for i, item in enumerate(items)}
        for fut in concurrent.futures.as_completed(futures):
            arrived(futures[fut], fut.result())
    except BaseException:
        for fut in futures:
            fut.cancel()
        if pool is not None:
            pool.stop(futures)
        raise
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
