"""Results saved one by one as they arrive (asq_hw/results.py): a batch interrupted in the
middle computes only the rest when run again, and ends with the same results."""

import json

import pytest

from asq_hw import results


@pytest.fixture(autouse=True)
def cache_root(tmp_path, monkeypatch):
    monkeypatch.setenv("ASQ_HW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_save_and_load_by_key(cache_root):
    key = {"design": {"wbits": 4}, "tools": {"yosys": "1"}}
    assert results.load("synth", key) is None
    results.save("synth", key, {"lut": 12, "fmax_mhz": 101.5})
    assert results.load("synth", key) == {"lut": 12, "fmax_mhz": 101.5}
    assert results.load("synth", {**key, "tools": {"yosys": "2"}}) is None
    assert results.load("train", key) is None
    path = results.results_dir("synth") / f"{results.key_hash(key)}.json"
    assert json.loads(path.read_text())["key"] == key


def test_a_damaged_or_foreign_entry_counts_as_absent(cache_root):
    key = {"n": 1}
    results.save("synth", key, 5)
    path = results.results_dir("synth") / f"{results.key_hash(key)}.json"
    path.write_text(json.dumps({"key": {"n": 2}, "value": 6}))
    assert results.load("synth", key) is None
    path.write_text("{not json")
    assert results.load("synth", key) is None
    path.write_text("[" * 5000 + "]" * 5000)          # nested past json's recursion limit
    assert results.load("synth", key) is None


def test_an_altered_value_counts_as_absent(cache_root):
    key = {"n": 1}
    results.save("synth", key, {"lut": 30, "log": "line 1\nline 2"})
    assert results.load("synth", key) == {"lut": 30, "log": "line 1\nline 2"}
    path = results.results_dir("synth") / f"{results.key_hash(key)}.json"
    entry = json.loads(path.read_text())
    entry["value"]["lut"] = 213
    path.write_text(json.dumps(entry))
    assert results.load("synth", key) is None


def test_fingerprint_follows_the_sources(tmp_path):
    a = results.fingerprint("asq_hw/config.py", versions=("numpy",))
    assert a == results.fingerprint("asq_hw/config.py", versions=("numpy",))
    assert a != results.fingerprint("asq_hw/config.py", "asq_hw/errors.py",
                                    versions=("numpy",))
    assert a != results.fingerprint("asq_hw/config.py")


def _cube(x):
    return {"x": x, "cube": x ** 3, "half": x / 2}


def test_an_interrupted_batch_resumes_with_only_the_rest(cache_root):
    items = list(range(6))
    keys = [{"x": x} for x in items]
    seen = []

    def stop_after_two(i, v):
        seen.append(i)
        if len(seen) == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        results.pmap_saved(_cube, items, keys, "test", on_result=stop_after_two)
    assert sorted(p.name for p in results.results_dir("test").iterdir()) == sorted(
        f"{results.key_hash(k)}.json" for k in keys[:2])

    computed = []

    def counting(x):
        computed.append(x)
        return _cube(x)
    again = results.pmap_saved(counting, items, keys, "test")
    assert computed == [2, 3, 4, 5]
    assert again == [_cube(x) for x in items]
    # a third run computes nothing and gives the same
    computed.clear()
    assert results.pmap_saved(counting, items, keys, "test", jobs=2) == again
    assert computed == []


def test_keys_must_match_items():
    with pytest.raises(ValueError, match="^keys must be one per item: 1 keys for 2 items$"):
        results.pmap_saved(_cube, [1, 2], [{"x": 1}], "test")
