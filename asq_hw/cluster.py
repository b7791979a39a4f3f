"""Run asq-hw's parallel maps on a Dask distributed cluster (`--cluster ADDRESS` or
$ASQ_HW_CLUSTER).

    with session(args.cluster, check=facts) as executor:    # None: no address, run locally
        pmap(fn, items, jobs, executor=executor)             # asq_hw.parallel

`connect` fails within seconds, as one line naming the address, when nothing answers there
as a Dask scheduler; it waits up to WORKERS_TIMEOUT_S for a first worker, then runs `check`
on every worker and on this machine and refuses workers whose facts differ (a missing tool,
another tool version, other asq-hw sources), naming the worker.

Faults: when a worker dies (its machine lost, its SLURM job ended, a kill), the scheduler
gives its tasks to the other workers (the nanny restarts a killed worker process); a task
whose workers died more often than Dask's `distributed.scheduler.allowed-failures` (3) is
given up, as a ClusterError. A
result is sent to this process as soon as it is computed and released on the cluster once
received, so the callers' `on_result` can persist it (asq_hw.results) before the map ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import os
import threading
import uuid

from asq_hw.errors import ToolNotFoundError, UserError

ENV = "ASQ_HW_CLUSTER"
HELP = ("run on the Dask scheduler at ADDRESS, e.g. tcp://host:8786 (default "
        f"${ENV}; neither: local processes)")
CONNECT_TIMEOUT_S = 5.0
WORKERS_TIMEOUT_S = 60.0
TOPIC = "asq-hw-task"


class ClusterError(UserError):
    """The cluster cannot be reached, has no usable worker, or lost a task."""


def cluster_address(flag: str | None) -> str | None:
    """The scheduler address from --cluster, else $ASQ_HW_CLUSTER, else None (local)."""
    return flag or os.environ.get(ENV) or None


def _probe(address: str, timeout: float) -> dict:
    """The scheduler's identity, asked over a fresh connection, all within `timeout`
    seconds. (distributed's own connect bounds only the TCP connection, not the handshake,
    so a peer that accepts and never answers would hang a Client.)"""
    from distributed.comm import connect as comm_connect

    async def ask():
        comm = await comm_connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    return asyncio.run(asyncio.wait_for(ask(), timeout))


def _worker_label(address: str, info: dict) -> str:
    """'worker tcp://10.0.0.5:40131 (name node12-3)': the address, and the worker's name
    when it was given one (`dask worker --name`, dask-jobqueue's job names)."""
    name = info.get("name")
    shown = name is not None and str(name) != address and not isinstance(name, int)
    return f"worker {address}" + (f" (name {name})" if shown else "")


def _run(fn, key: str, *args, **kwargs):
    """The task body on a worker: `fn(*args, **kwargs)`, telling the client it started and
    naming this worker in a missing-tool error."""
    from distributed import get_worker

    worker = get_worker()
    worker.log_event(TOPIC, {"key": key, "event": "start"})
    try:
        return fn(*args, **kwargs)
    except ToolNotFoundError as exc:
        raise ToolNotFoundError(f"{_worker_label(worker.address, {'name': worker.name})}: "
                                f"{exc}") from None


class DaskExecutor(cf.Executor):
    """A concurrent.futures Executor on a distributed Client (module docstring); counts the
    tasks running on workers and the attempts that failed (a worker lost mid-task)."""

    def __init__(self, client, address: str):
        self.client = client
        self.address = address
        self._lock = threading.Lock()
        self._started: dict[str, int] = {}
        self._finished: set[str] = set()
        self._futures: dict[str, object] = {}
        self.failed = 0
        client.subscribe_topic(TOPIC, self._event)

    def _event(self, event) -> None:
        _, msg = event
        with self._lock:
            n = self._started.get(msg["key"], 0)
            self._started[msg["key"]] = n + 1
            if n:                      # started again: the first attempt's worker was lost
                self.failed += 1

    @property
    def running(self) -> int:
        with self._lock:
            return sum(1 for k in self._started if k not in self._finished)

    @property
    def workers(self) -> int:
        """Threads over all workers now (what runs at once)."""
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        return sum(w.get("nthreads", 1) for w in info.values())

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None),
                                                        "__name__", "task")
        key = f"{name}-{uuid.uuid4().hex}"
        future = self.client.submit(_run, fn, key, *args, key=key, pure=False, **kwargs)
        out: cf.Future = cf.Future()
        self._futures[key] = future

        def done(f):
            with self._lock:
                self._finished.add(key)
            self._futures.pop(key, None)
            try:
                if f.cancelled():
                    out.cancel()
                    out.set_running_or_notify_cancel()
                    return
                exc = f.exception()
                if exc is None:
                    out.set_result(f.result())
                else:
                    out.set_exception(self._translate(exc, name))
            except BaseException as e:  # noqa: BLE001 - whatever happened goes to the caller
                if not out.done():
                    out.set_exception(self._translate(e, name))
            finally:
                f.release()

        def cf_cancel(o):
            if o.cancelled() and not future.done():
                future.cancel()

        out.add_done_callback(cf_cancel)
        future.add_done_callback(done)
        return out

    def _translate(self, exc: BaseException, name: str) -> BaseException:
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        if isinstance(exc, KilledWorker):
            n = exc.allowed_failures + 1
            last = getattr(exc.last_worker, "address", "?")
            return ClusterError(
                f"a {name} task was running on {n} worker{'s' if n > 1 else ''} that died "
                f"(the last {last}); given up (results received so far are kept: run the "
                "command again)")
        if isinstance(exc, FutureCancelledError | cf.CancelledError):
            return ClusterError(f"the cluster at {self.address} cancelled a {name} task "
                                f"({exc}); results received so far are kept: run the command "
                                "again")
        return exc

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        futures = list(self._futures.values())
        if cancel_futures or not wait:
            self.client.cancel(futures, force=True)
        elif futures:
            from distributed import wait as dwait
            dwait(futures)
        self.client.close()


def _check_workers(client, check) -> None:
    mine = check()
    info = client.scheduler_info(n_workers=-1)["workers"]
    theirs = client.run(check, on_error="return")
    for addr, got in sorted(theirs.items()):
        label = _worker_label(addr, info.get(addr, {}))
        if isinstance(got, ToolNotFoundError):
            raise ClusterError(f"{label}: {got}")
        if isinstance(got, BaseException):
            raise ClusterError(f"{label} cannot run asq-hw: {type(got).__name__}: "
                               f"{str(got).splitlines()[0] if str(got) else ''} (install "
                               "asq-hw and its tools on every worker)")
        diff = sorted(k for k in set(mine) | set(got) if mine.get(k) != got.get(k))
        if diff:
            k = diff[0]
            raise ClusterError(f"{label} has {k} {got.get(k) or 'missing'} where this "
                               f"machine has {mine.get(k) or 'none'}; results would differ "
                               "(install the same asq-hw and tools on every worker)")


def connect(address: str, *, check=None, timeout: float = CONNECT_TIMEOUT_S,
            workers_timeout: float = WORKERS_TIMEOUT_S) -> DaskExecutor:
    """An executor on the Dask scheduler at `address` (module docstring). `check()` returns
    a dict of facts (tool versions, a source fingerprint) that every worker must share with
    this machine; a ToolNotFoundError it raises on a worker names that worker."""
    from distributed import Client

    where = f"cluster {address}"
    try:
        ident = _probe(address, timeout)
    except ValueError as exc:   # distributed's address parser
        raise ClusterError(f"{where}: not a scheduler address ({exc}); expected e.g. "
                           "tcp://host:8786") from None
    except Exception as exc:  # noqa: BLE001 - anything else means: no scheduler answered
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(f"{where}: no Dask scheduler answered within {timeout:g} s "
                           f"({why}); start one with `dask scheduler` and workers with "
                           f"`dask worker {address}`, or check --cluster / ${ENV}") from None
    if not isinstance(ident, dict) or ident.get("type") != "Scheduler":
        raise ClusterError(f"{where}: the server there is not a Dask scheduler")
    client = Client(address, timeout=timeout, set_as_default=False)
    try:
        try:
            client.wait_for_workers(1, timeout=workers_timeout)
        except Exception:  # noqa: BLE001 - distributed's TimeoutError
            raise ClusterError(f"{where}: the scheduler has no worker (waited "
                               f"{workers_timeout:g} s); start some with `dask worker "
                               f"{address}`") from None
        if check is not None:
            _check_workers(client, check)
        return DaskExecutor(client, address)
    except BaseException:
        client.close()
        raise


@contextlib.contextmanager
def session(flag: str | None, check=None):
    """An executor on the cluster that --cluster (`flag`) or $ASQ_HW_CLUSTER names, for the
    block, or None when neither does (local processes). Whatever still runs on the cluster
    when the block ends (an error, Ctrl-C) is cancelled."""
    address = cluster_address(flag)
    if address is None:
        yield None
        return
    executor = connect(address, check=check)
    try:
        yield executor
    finally:
        executor.shutdown(cancel_futures=True)
