"""The one parallel map and background job (asq_hw/parallel.py)."""

import subprocess
import time

import pytest

from asq_hw.errors import UserError
from asq_hw.parallel import Background, pmap


def _slow_square(x):
    time.sleep(0.05 * (3 - x % 3))     # later items finish first
    return x * x


def _fail_on_three(x):
    if x == 3:
        raise UserError(f"item {x} is bad")
    return x


@pytest.mark.parametrize("jobs", [1, 2])
def test_pmap_keeps_input_order_and_reports_each_result(jobs):
    seen, progress = [], []
    out = pmap(_slow_square, range(6), jobs, on_result=lambda i, v: seen.append((i, v)),
               progress=lambda d, t: progress.append((d, t)))
    assert out == [x * x for x in range(6)]
    assert sorted(seen) == [(i, i * i) for i in range(6)]
    assert progress == [(d, 6) for d in range(1, 7)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_pmap_reraises_the_jobs_exception_as_itself(jobs):
    with pytest.raises(UserError, match=r"^item 3 is bad$"):
        pmap(_fail_on_three, range(6), jobs)


def test_background_returns_the_result_and_its_time():
    with Background(_slow_square, 2) as job:
        assert job.result() == 4
    assert job.seconds > 0 and job.done()


def test_background_reraises_a_user_error(tmp_path):
    from asq_hw.artifact import load_artifact
    with Background(load_artifact, tmp_path / "none") as job, pytest.raises(UserError) as exc:
        job.result()
    assert str(exc.value) == f"{tmp_path / 'none'}: artifact folder not found"


def _dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[1] == "Z" for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return True


def _wait_for_pid(pidfile):
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise AssertionError("the job never started its child")


def test_stop_ends_the_job_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    cmd = f"echo $$ > {pidfile}; exec sleep 60"
    with Background(subprocess.run, ["sh", "-c", cmd]) as job:
        grandchild = _wait_for_pid(pidfile)
        assert not job.done()
    # leaving the block stopped the whole group: the worker and the sleep it started
    assert job.done()
    for _ in range(100):
        if _dead(grandchild):
            break
        time.sleep(0.05)
    assert _dead(grandchild)


def _sleep_or_wait(args):
    """('sleep', pidfile): start a 60 s child; ('wait', pidfile): return once it runs."""
    what, pidfile = args
    if what == "wait":
        return _wait_for_pid(pidfile)
    subprocess.run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"])


def test_interrupted_pmap_stops_running_jobs_and_their_children(tmp_path):
    """A KeyboardInterrupt in the caller (here: raised by the result callback while the
    other job's tool runs) stops the workers' process groups: the tool does not run on."""
    pidfile = tmp_path / "pid"

    def interrupt(i, value):
        raise KeyboardInterrupt
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        pmap(_sleep_or_wait, [("sleep", pidfile), ("wait", pidfile)], 2, on_result=interrupt)
    assert time.perf_counter() - t0 < 30
    grandchild = int(pidfile.read_text())
    for _ in range(100):
        if _dead(grandchild):
            break
        time.sleep(0.05)
    assert _dead(grandchild)
