"""Step progress on stderr (asq_hw/progress.py)."""

import re
import time

import pytest

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


def test_bars_on_a_terminal_tick_and_stay(capsys):
    """With no update from the step, the bar is still redrawn (the ticker thread): tqdm
    draws it once when it opens, so a second drawing inside the block is the ticker's."""
    pr = Progress(True, tty=True)
    seen = ""
    with pr.step("wait"):
        deadline = time.monotonic() + 10
        while seen.count("wait: 00:") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            seen += capsys.readouterr().err
    assert seen.count("wait: 00:") >= 2
    assert "wait: 00:" in capsys.readouterr().err      # closed: the final drawing stays
    assert pr.bars


def test_disabled_prints_nothing_but_keeps_times(capsys):
    pr = Progress(False)
    with pr.step("x", total=2) as bar:
        bar.update(2)
    assert capsys.readouterr().err == "" and "x" in pr.times
