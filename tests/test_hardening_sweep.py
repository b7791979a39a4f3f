"""A sweep never runs silently: its size is stated before any work, a cross product above
the limit is refused unless --max-points allows it, and progress appears as periodic plain
lines when stderr is not a terminal."""

import time

import pytest

from asq_hw.cli import main

BIG = ["--kind", "post,int,pot", "--wbits", "2,3,4,5,6", "--abits", "2,3,4,5,6,7,8",
       "--variant", "lut,dual", "--rows", ",".join(str(r) for r in range(1, 343)),
       "--lanes", ",".join(str(q) for q in range(1, 65)), "--target", "ice40,ecp5,xc7"]


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: error: "), err
    return lines[0][len("asq-hw: error: "):]


def test_huge_sweep_is_refused_at_once(tmp_path, capsys):
    out = tmp_path / "s"
    t0 = time.perf_counter()
    assert main(["sweep", *BIG, "--out", str(out)]) == 2
    msg = error_line(capsys)
    post = 5 * 7 * 2 * 342 * 64 * 3                # baselines: rows 1, no variant
    size = post + 2 * 5 * 7 * 64 * 3
    assert f"{size:,} configurations" in msg and "--max-points" in msg, msg
    assert time.perf_counter() - t0 < 30          # refused from the flags, not after work
    assert not out.exists()


def test_max_points_below_the_size_is_refused(tmp_path, capsys):
    assert main(["sweep", "--wbits", "2,3", "--lanes", "4,8", "--max-points", "3",
                 "--out", str(tmp_path / "s")]) == 2
    assert "8 configurations" in error_line(capsys)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_max_points_must_be_positive(tmp_path, capsys, value):
    assert main(["sweep", "--max-points", value, "--out", str(tmp_path / "s")]) == 2
    assert error_line(capsys).startswith("max-points must be an integer from 1 to ")


def test_size_is_stated_first(tmp_path, capsys):
    assert main(["sweep", "--wbits", "2", "--lanes", "4", "--variant", "lut", "--jobs", "1",
                 "--out", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "sweep: 1 configuration, 0 synthesised, 1 job", err


def test_progress_lines_without_a_terminal(capsys):
    from asq_hw.progress import Progress

    pr = Progress(True, tty=False, interval=0.05)
    with pr.step("estimate", total=4, unit="cfg") as bar:
        for _ in range(4):
            time.sleep(0.08)
            bar.update(1)
    lines = capsys.readouterr().err.splitlines()
    ticks = [ln for ln in lines if ln.startswith("estimate: ") and "/4 cfg" in ln]
    assert len(ticks) >= 2, lines
    assert lines[-1].startswith("estimate: ") and lines[-1].endswith(" s"), lines
    assert "\r" not in "".join(lines)


@pytest.mark.parametrize("lists", [
    (("post",), (2, 3), (4,), ("lut", "dual"), (1, 8), (4, 8), ("ice40",)),
    (("post", "int", "pot"), (2, 2, 3), (4, 8), ("lut", "dual"), (1, 2), (4,),
     ("ice40", "xc7")),
    (("int",), (2,), (4,), ("lut", "dual"), (2, 4), (4,), ("ice40",)),
    (("pot", "post"), (3,), (4,), ("dual",), (8,), (1, 2, 4), ("ecp5",)),
])
def test_size_matches_the_cross_product(lists):
    from asq_hw.sweep import cross_product, sweep_size

    points, _ = cross_product(*lists)
    assert sweep_size(*lists) == len(points)
