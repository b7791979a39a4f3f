"""The synthesis cache never returns a wrong or malformed result, and never loses one.

Every entry stores a checksum of its value; an entry whose value was altered, or whose value
does not have the shape its stage returns (a string, `cells` missing or not a histogram of
counts), is recomputed and rewritten. A cache folder that cannot be written costs the cache,
not the result: synthesize returns it and warns that it was not cached.

Synthesis itself is replaced by a counting stub, so these run in milliseconds.
"""

import json
import warnings

import pytest

import asq_hw.synth as synth
from asq_hw.synth import cache

VERILOG = "module top(input clk, output q); assign q = clk; endmodule\n"
CELLS = {"SB_LUT4": 7, "SB_DFF": 3, "SB_CARRY": 2}


@pytest.fixture
def stub(tmp_path, monkeypatch):
    """ASQ_HW_CACHE in tmp_path; synthesis a stub that counts its calls."""
    monkeypatch.setenv("ASQ_HW_CACHE", str(tmp_path / "cache"))
    calls = []

    def raw_counts(verilog, top, target, timeout_s, stock=False):
        calls.append(top)
        return {"cells": dict(CELLS), "ports": [["clk", "input", 1], ["q", "output", 1]],
                "seconds": 0.5}

    monkeypatch.setattr(synth, "_raw_counts", raw_counts)
    return calls


def run():
    return synth.synthesize(VERILOG, "top", "ice40", fmax=False, transistors=False)


def entries():
    return sorted(cache.cache_dir().glob("*.json"))


def rewrite(edit, *, fix_checksum: bool):
    """Apply `edit(value) -> value` to the one entry; optionally make its checksum match."""
    (path,) = entries()
    entry = json.loads(path.read_text())
    entry["value"] = edit(entry["value"])
    if fix_checksum:
        entry["sha256"] = cache.value_hash(entry["value"])
    path.write_text(json.dumps(entry))


def test_hit_after_store(stub):
    first, second = run(), run()
    assert stub == ["top"] and second.cached == ("counts",)
    assert (first.lut, first.ff, first.carry) == (second.lut, second.ff, second.carry)


@pytest.mark.parametrize("fix_checksum", [False, True])
@pytest.mark.parametrize("edit", [
    lambda v: "a string",
    lambda v: None,
    lambda v: [v],
    lambda v: {k: x for k, x in v.items() if k != "cells"},
    lambda v: dict(v, cells="many"),
    lambda v: dict(v, cells={k: "7" for k in v["cells"]}),
    lambda v: dict(v, cells={k: -1 for k in v["cells"]}),
    lambda v: dict(v, cells={k: 1.5 for k in v["cells"]}),
    lambda v: dict(v, ports="clk"),
    lambda v: dict(v, seconds="fast"),
], ids=["string", "null", "list", "no-cells", "cells-string", "count-strings",
        "negative-counts", "float-counts", "ports-string", "seconds-string"])
def test_malformed_entry_is_recomputed(stub, edit, fix_checksum):
    good = run()
    rewrite(edit, fix_checksum=fix_checksum)
    again = run()
    assert stub == ["top", "top"] and again.cached == ()
    assert again.lut == good.lut
    assert run().cached == ("counts",)            # rewritten: a hit again


def test_altered_numbers_are_recomputed(stub):
    good = run()
    rewrite(lambda v: dict(v, cells={k: n * 7 + 3 for k, n in v["cells"].items()}),
            fix_checksum=False)
    again = run()
    assert stub == ["top", "top"] and again.lut == good.lut and again.cached == ()


def test_entry_without_checksum_is_recomputed(stub):
    run()
    (path,) = entries()
    entry = json.loads(path.read_text())
    del entry["sha256"]
    path.write_text(json.dumps(entry))
    assert run().cached == () and stub == ["top", "top"]


@pytest.mark.parametrize("garbage", ["", "{", "[1]", '{"key": 1}', "\xff"])
def test_garbage_entry_is_recomputed(stub, garbage):
    run()
    (path,) = entries()
    path.write_text(garbage, errors="surrogateescape")
    assert run().cached == () and stub == ["top", "top"]


def test_unwritable_cache_returns_the_result_and_warns(tmp_path, monkeypatch, stub):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("ASQ_HW_CACHE", str(blocker))
    with pytest.warns(UserWarning, match=r"not cached: .*a-file"):
        r = run()
    assert r.lut is not None and stub == ["top"]


def test_unwritable_cache_through_the_cli(tmp_path, monkeypatch, capsys, stub):
    from asq_hw.cli import main

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("ASQ_HW_CACHE", str(blocker))
    monkeypatch.setattr(synth, "run_cmos", lambda verilog, top, timeout_s: {
        "stat": {}, "seconds": 0.1})
    monkeypatch.setattr(synth, "parse_cmos_stat", lambda text: (1234, {}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["synth", "pe", "--wbits", "2", "--abits", "2", "--lanes", "1",
                     "--max-len", "16", "--target", "ice40", "--no-fmax", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["lut"] is not None
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asq-hw: warning: ") \
        and "not cached" in lines[0], out.err
