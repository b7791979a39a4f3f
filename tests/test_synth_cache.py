import json

import pytest

from asq_hw.synth import cache


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASQ_HW_CACHE", str(tmp_path))
    return tmp_path / "synth"


def test_location_follows_the_environment(tmp_cache, monkeypatch):
    assert cache.cache_dir() == tmp_cache
    monkeypatch.delenv("ASQ_HW_CACHE")
    assert str(cache.cache_dir()).endswith("/.cache/asq-hw/synth")


def test_computes_once_then_serves_from_disk(tmp_cache):
    calls = []

    def compute():
        calls.append(1)
        return {"lut": 3}

    key = {"stage": "counts", "verilog": cache.text_hash("module m; endmodule"), "top": "m"}
    assert cache.cached(key, compute) == ({"lut": 3}, False)
    assert cache.cached(key, compute) == ({"lut": 3}, True)
    assert len(calls) == 1
    assert [p.name for p in tmp_cache.iterdir()] == [f"{cache.key_hash(key)}.json"]
    # Another key (here: another target) is another entry.
    assert cache.cached({**key, "target": "ecp5"}, compute) == ({"lut": 3}, False)
    assert len(calls) == 2


def test_use_cache_false_neither_reads_nor_writes(tmp_cache):
    key = {"stage": "x"}
    assert cache.cached(key, lambda: {"v": 1}, use_cache=False) == ({"v": 1}, False)
    assert not tmp_cache.exists()


def test_corrupt_or_foreign_entries_are_recomputed(tmp_cache):
    key = {"stage": "x", "n": 1}
    cache.store(key, {"v": 1})
    path = tmp_cache / f"{cache.key_hash(key)}.json"
    path.write_text('{"key": {"stage": "x", "n"')  # cut short by a crash
    assert cache.load(key) is None
    assert cache.cached(key, lambda: {"v": 2}) == ({"v": 2}, False)
    path.write_text(json.dumps({"key": {"stage": "y"}, "value": {"v": 3}}))
    assert cache.load(key) is None
    assert cache.cached(key, lambda: {"v": 4}) == ({"v": 4}, False)
    assert cache.load(key) == {"v": 4}


def test_no_temporary_files_are_left(tmp_cache):
    for i in range(3):
        cache.store({"i": i}, {"v": i})
    assert sorted(p.suffix for p in tmp_cache.iterdir()) == [".json"] * 3
    assert not [p for p in tmp_cache.iterdir() if p.name.startswith(".tmp-")]
