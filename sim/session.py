"""A live simulation of the PE array that the host drives request by request.

`ArraySession(build)` starts the simulator with the bench sim/tb_array.py (in a thread, via
cocotb_tools.runner), waits for the bench to connect over a Unix socket (sim/link.py) and
then answers `layer(...)` and `stream(...)` calls while the simulator stays alive, so a
whole network runs in one simulator process: the host computes beats, golden accumulators
and requantization between layers, the bench only clocks the RTL. `close()` (or leaving the
`with` block) stops it; a simulator that dies, fails to build a connection or reports a
failed test raises SimulationError with the tail of its log.

Payloads: beats go to the bench as binary strings (the port's bits, most significant
first), built here with numpy (`binstrs`); results come back as binary strings and are
decoded here (`decode_results`), so the bench never converts numbers.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from asq_hw.mapper import unpack_bits
from asq_hw.outputs import write_text
from sim import link
from sim.runner import TIMESCALE, Build, SimulationError, _tail
from sim.tb_array import JOB_ENV


def binstrs(bitmat: np.ndarray) -> list[str]:
    """Bit matrix (M, W) from asq_hw.mapper.pack_bits (column j = bit j) -> M binary
    strings of W characters, most significant bit first (what a simulator handle takes)."""
    m, w = bitmat.shape
    if m == 0:
        return []
    text = (bitmat[:, ::-1] + ord("0")).astype(np.uint8).tobytes().decode("ascii")
    return [text[i * w:(i + 1) * w] for i in range(m)]


def decode_results(strs: list[str], count: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary strings of packed results (`count` fields of `bits`) -> (values int64
    (M, count), ok bool (M,)); a result with X or Z bits is not ok (its value is 0)."""
    if not strs:
        return np.zeros((0, count), np.int64), np.zeros(0, bool)
    w = len(strs[0])
    raw = np.frombuffer("".join(strs).encode("ascii"), dtype=np.uint8).reshape(len(strs), w)
    bits01 = raw[:, ::-1].astype(np.int64) - ord("0")
    ok = np.all((bits01 == 0) | (bits01 == 1), axis=1)
    bits01 = np.where(ok[:, None], bits01, 0)
    return unpack_bits(bits01, count, bits, signed=True), ok


class ArraySession:
    """One running simulation of `build` (a `post_array` build from sim.runner.build)."""

    def __init__(self, build: Build, *, connect_timeout: float = 120.0):
        from asq_hw.toolchain import use_simulator

        self.build = build
        self.man = build.manifest
        self.out_names = [p["name"] for p in self.man["ports"]
                          if p["role"].startswith("out_acc")]
        use_simulator(build.sim)
        runs = build.dir / "runs"
        runs.mkdir(exist_ok=True)
        self.run_dir = build.dir if build.waves else Path(tempfile.mkdtemp(dir=runs))
        # A Unix socket path must be short (108 bytes): its own private folder under /tmp.
        self._sock_dir = Path(tempfile.mkdtemp(prefix="asq-link-"))
        path = str(self._sock_dir / "s")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(1)
        self._server.settimeout(0.5)
        self.log = self.run_dir / "sim.log"
        job = self.run_dir / "job.json"
        import json
        write_text(job, json.dumps({"socket": path, "out_names": self.out_names}))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._simulate, args=(job,), daemon=True)
        self._sock: socket.socket | None = None
        self._thread.start()
        deadline = time.monotonic() + connect_timeout
        while self._sock is None:
            try:
                self._sock, _ = self._server.accept()
            except TimeoutError:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    self._fail("did not connect")
        self._sock.settimeout(None)

    def _simulate(self, job: Path) -> None:
        from cocotb_tools.runner import get_runner

        b = self.build
        try:
            get_runner(b.sim).test(
                test_module="sim.tb_array", hdl_toplevel=self.man["top"],
                hdl_toplevel_lang="verilog", build_dir=b.dir, test_dir=self.run_dir,
                extra_env={JOB_ENV: str(job)}, waves=b.waves,
                results_xml=str(self.run_dir / "results.xml"), log_file=self.log,
                timescale=TIMESCALE)
        except BaseException as exc:    # SystemExit from the runner on a failed test
            self._error = exc

    def _fail(self, what: str):
        self._cleanup()
        raise SimulationError(f"{self.build.sim} run of {self.man['top']} {what}; see "
                              f"{self.log}:\n{_tail(self.log)}")

    def request(self, msg: dict) -> dict:
        """Send one request to the bench and wait for its reply."""
        if self._sock is None:
            raise SimulationError("the simulation session is closed")
        try:
            link.send(self._sock, msg)
            reply = link.recv(self._sock)
        except (link.LinkClosed, OSError):
            self._thread.join(timeout=30)
            self._fail("stopped during a request")
        if "error" in reply:
            self._fail(f"refused a request: {reply['error']}")
        return reply

    def layer(self, codes: list[str], acts: list[list[str]], tiles: int, positions: int,
              beats_per_dot: int) -> dict:
        """Stream images of one layer (see sim/tb_array.py, op "layer")."""
        return self.request({"op": "layer", "codes": codes, "acts": acts, "tiles": tiles,
                             "positions": positions, "beats_per_dot": beats_per_dot})

    def stream(self, act, code, last, gaps, ready, dots: int) -> dict:
        """A general stream with gaps and back-pressure (op "stream")."""
        return self.request({"op": "stream", "act": list(act), "code": list(code),
                             "last": list(last), "gaps": list(gaps), "ready": list(ready),
                             "dots": dots})

    def reset(self) -> None:
        self.request({"op": "reset"})

    def close(self) -> None:
        """Stop the bench and the simulator; SimulationError if the test failed."""
        if self._sock is None:
            return
        try:
            link.send(self._sock, {"op": "stop"})
            link.recv(self._sock)
        except (link.LinkClosed, OSError):
            pass
        self._thread.join(timeout=60)
        failed = self._error is not None or self._thread.is_alive()
        if failed:
            self._fail("ended with an error")
        self._cleanup()
        if not self.build.waves:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._server.close()
        shutil.rmtree(self._sock_dir, ignore_errors=True)

    def __enter__(self) -> ArraySession:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._cleanup()
            self._thread.join(timeout=30)
