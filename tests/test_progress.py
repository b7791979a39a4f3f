"""Step progress on stderr (asq_hw/progress.py)."""

import re
import threading
import time
from types import SimpleNamespace

import pytest

from asq_hw import progress
from asq_hw.progress import Progress


def test_lines_without_a_terminal(capsys):
    pr = Progress(True, tty=False)
    with pr.step("build", key="b"):
        time.sleep(0.01)
    with pytest.raises(RuntimeError), pr.step("run", total=3) as bar:
        bar.update(1)
        raise RuntimeError("x")
    err = capsys.readouterr().err
    assert re.fullmatch(r"build: \d+\.\d s\nrun: \d+\.\d s \(failed\)\n", err)
    assert set(pr.times) == {"b", "run"} and pr.times["b"] >= 0.01
    assert not pr.bars


def test_bars_on_a_terminal_tick_and_stay(monkeypatch, capsys):
    # The ticker's clock is its stop event's wait(0.5): this one times out three times
    # (three ticks), then waits for the step to end. The ticker must refresh the bar on
    # every tick, from its own thread, and stop when the step ends.
    ticks, ticked = 3, threading.Event()

    class Stop(threading.Event):
        calls = 0

        def wait(self, timeout=None):
            self.calls += 1
            if self.calls <= ticks:
                return False
            ticked.set()
            return super().wait()

    from_ticker = []
    refresh = progress.tqdm.refresh

    def spy(bar, *args, **kwargs):
        from_ticker.append(threading.current_thread() is not threading.main_thread())
        return refresh(bar, *args, **kwargs)

    monkeypatch.setattr(progress, "threading", SimpleNamespace(Event=Stop,
                                                               Thread=threading.Thread))
    monkeypatch.setattr(progress.tqdm, "refresh", spy)
    pr = Progress(True, tty=True)
    with pr.step("wait"):
        assert ticked.wait(10)
    assert sum(from_ticker) == ticks
    err = capsys.readouterr().err
    assert err.startswith("\rwait: 00:00") and err.endswith("\n")   # the bar stays
    assert pr.bars and "wait" in pr.times


def test_disabled_prints_nothing_but_keeps_times(capsys):
    pr = Progress(False)
    with pr.step("x", total=2) as bar:
        bar.update(2)
    assert capsys.readouterr().err == "" and "x" in pr.times
