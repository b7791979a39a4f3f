"""A `--synth` sweep on a Dask cluster of 1 and of 2 workers, against local processes.

The same cold sweep each time (4 small ice40 PEs synthesised: Yosys counts, CMOS
transistors, nextpnr fmax; estimates of 12 configurations), every run on an empty asq-hw
cache of its own (results and synthesis stages; YoWASP's compiled tools stay cached):

- local: `run_sweep(..., jobs=1)` and `jobs=2` (asq_hw.parallel's processes), what
  `asq-hw sweep --synth 4 --jobs J` runs;
- Dask: a LocalCluster of N worker processes with one thread each (what `dask worker
  --nworkers N --nthreads 1` starts), N = 1 and 2, connected to as `--cluster` does
  (asq_hw.cluster.connect, with the workers' tool check).

Prints each wall time, connecting included (the cluster's start is printed apart), with
its estimate and synthesis steps, and whether every run wrote the same sweep.csv. On a
shared machine the figures move with its load, which is printed beside them: two workers
gain only when two cores are free.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def _load() -> str:
    path = Path("/proc/loadavg")
    return path.read_text().split()[0] if path.exists() else "?"


def _sweep(out: Path, jobs: int = 1, address: str | None = None) -> tuple[str, str]:
    """(one line of figures, the CSV text) of one cold sweep."""
    import functools

    from asq_hw.cluster import connect
    from asq_hw.progress import Progress
    from asq_hw.sweep import cross_product, run_sweep, sweep_tools, worker_facts

    points, _ = cross_product(("post",), (2, 3), (4,), ("lut", "dual"), (1,), (1, 2, 4),
                              ("ice40",))
    load = _load()
    t0 = time.perf_counter()
    executor = None
    if address is not None:
        executor = connect(address, check=functools.partial(worker_facts,
                                                            sweep_tools(points, 4)))
    try:
        pr = Progress(False)
        run_sweep(points, out, synth=4, jobs=jobs, progress=pr, executor=executor)
    finally:
        if executor is not None:
            executor.shutdown()
    wall = time.perf_counter() - t0
    return (f"{wall:.1f} s (estimate {pr.times['estimate']:.1f} s, synthesis "
            f"{pr.times['synthesis']:.1f} s; load {load})"), (out / "sweep.csv").read_text()


def main() -> None:
    from distributed import LocalCluster

    print("cluster_sweep: a cold --synth 4 sweep, local processes and Dask (asq_hw/cluster.py)")
    saved = os.environ.get("ASQ_HW_CACHE")
    csvs = []
    try:
        with tempfile.TemporaryDirectory(prefix="asq-hw-bench-") as tmp:
            tmp = Path(tmp)
            for jobs in (1, 2):
                os.environ["ASQ_HW_CACHE"] = str(tmp / f"cache-local-{jobs}")
                line, csv = _sweep(tmp / f"local-{jobs}", jobs=jobs)
                csvs.append(csv)
                print(f"  local, jobs {jobs}: {line}")
            for n in (1, 2):
                cache = str(tmp / f"cache-dask-{n}")
                os.environ["ASQ_HW_CACHE"] = cache
                t0 = time.perf_counter()
                with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env={"ASQ_HW_CACHE": cache}) as lc:
                    start = time.perf_counter() - t0
                    line, csv = _sweep(tmp / f"dask-{n}", address=lc.scheduler_address)
                csvs.append(csv)
                print(f"  Dask, {n} worker{'s' if n > 1 else ''}: {line}; the cluster "
                      f"started in {start:.1f} s")
    finally:
        if saved is None:
            os.environ.pop("ASQ_HW_CACHE", None)
        else:
            os.environ["ASQ_HW_CACHE"] = saved
    print(f"  the same sweep.csv from every run: {len(set(csvs)) == 1}")


if __name__ == "__main__":
    main()
