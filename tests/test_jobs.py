"""Background jobs in their own process group (asq_hw/jobs.py)."""

import os
import time

import pytest

from asq_hw.errors import UserError
from asq_hw.jobs import Job, JobError


def test_job_returns_the_functions_result():
    job = Job.start("json:dumps", {"obj": [1, 2]})
    assert job.result() == "[1, 2]"
    assert job.seconds > 0


def test_user_error_comes_back_as_one_line(tmp_path):
    job = Job.start("asq_hw.artifact:load_artifact", {"directory": str(tmp_path / "none")})
    with pytest.raises(UserError) as exc:
        job.result()
    assert str(exc.value) == f"{tmp_path / 'none'}: artifact folder not found"


def test_unexpected_error_names_job_and_type():
    job = Job.start("json:loads", {"s": "{"}, label="parse")
    with pytest.raises(JobError, match=r"^parse: JSONDecodeError: Expecting property name"):
        job.result()


def _dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.split()[1] == "Z" for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return True


def test_stop_ends_the_job_and_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    cmd = f"echo $$ > {pidfile}; exec sleep 60"
    with Job.start("subprocess:run", {"args": ["sh", "-c", cmd]}) as job:
        for _ in range(200):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        grandchild = int(pidfile.read_text())
        assert not job.done()
    # leaving the block stopped the whole group: the job and the sleep it started
    assert job.done()
    for _ in range(100):
        if _dead(grandchild):
            break
        time.sleep(0.05)
    assert _dead(grandchild)
    assert not os.path.exists(job._tmp.name)
