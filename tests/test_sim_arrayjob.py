"""The array bench's batch job files (sim/arrayjob.py) and the port characters they carry
(asq_hw/mapper.py), without a simulator."""
import json

import numpy as np
import pytest

from asq_hw import mapper
from sim import arrayjob


def test_port_chars_are_the_packed_words_msb_first():
    v = np.array([[1, -2, 3], [0, 7, -8]])
    chars = mapper.port_chars(v, 4)
    strs = [bytes(r).decode() for r in chars]
    assert strs == [format(w, "012b") for w in mapper.pack_words(v, 4)]
    assert strs[0] == "0011" "1110" "0001"
    assert mapper.port_chars(np.zeros((0, 5), np.int64), 3).shape == (0, 15)


def test_chars_values_round_trip_and_x_bits():
    rng = np.random.default_rng(0)
    v = rng.integers(-(1 << 27), 1 << 27, (6, 8))
    chars = mapper.port_chars(v, 28).copy()
    chars[3, 10] = ord("x")
    got, ok = mapper.chars_values(chars, 8, 28)
    assert ok.tolist() == [True, True, True, False, True, True]
    np.testing.assert_array_equal(got[ok], v[ok])
    assert mapper.chars_values(np.zeros((0, 224), np.uint8), 8, 28)[0].shape == (0, 8)


def test_beats_follow_the_tiling():
    lm = mapper.LayerMap("l", "linear", 3, 5, 1, 2, 2)         # T = 2, D = 3
    codes = np.arange(15).reshape(3, 5) % 7 - 3
    rows = np.arange(10).reshape(2, 5) - 4                      # two images
    cb = mapper.code_beats(codes, lm, 4)
    ab = mapper.act_beats(rows, lm, 5)
    assert cb.shape == (lm.tiles * lm.beats_per_dot, 2 * 2 * 4)
    assert ab.shape == (2 * lm.beats_per_dot, 2 * 5)
    cfg = mapper.PEConfig(wbits=4, abits=5, act_signed=True, lanes=2, max_len=5)
    stream = list(mapper.beat_stream(lm, rows[:1], codes, cfg))
    d = lm.beats_per_dot
    for k, (a, c, last) in enumerate(stream):      # tile t, beat j: act row j, code t*D + j
        t, j = divmod(k, d)
        assert int(bytes(ab[j]).decode(), 2) == a
        assert int(bytes(cb[t * d + j]).decode(), 2) == c
        assert last == (j == d - 1)


def test_job_files_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    acts = (rng.integers(0, 2, (2 * 3 * 2, 6)) + ord("0")).astype(np.uint8)
    codes = (rng.integers(0, 2, (4 * 2, 10)) + ord("0")).astype(np.uint8)
    lay = arrayjob.LayerJob("conv0", 4, 3, 2, acts, codes)
    assert lay.images == 2
    s = arrayjob.StreamJob([1, 2], [3, 4], [0, 1], [0, 2], [True, False], 1)
    path = arrayjob.write_job(tmp_path, ["out_a", "out_b"], [lay], [s])
    job = arrayjob.read_job(path)
    (got,) = job["layers"]
    assert got["codes"] == [bytes(r).decode() for r in codes]
    assert arrayjob.image_acts(got, 1) == [bytes(r).decode() for r in acts[6:]]
    assert job["streams"] == [json.loads(json.dumps(s.__dict__))]
    # The bench's side of the results, read back by the host.
    out = arrayjob.ResultWriter(tmp_path, job["out_names"])
    out.layer(got["stem"])
    out.results([["01x", "110"], ["000", "111"]])
    out.done([{"cycles": [9, 9], "latency_min": 4, "latency_max": 4, "wall_s": 0.1}],
             [{"results": [[5, 6]], "last_edges": [3], "edges": [7], "cycles": 8,
               "wall_s": 0.2}])
    (lr,), (sr,) = arrayjob.read_results(tmp_path, [3, 3])
    assert [bytes(r).decode() for r in lr.outs[0]] == ["01x", "110"]
    assert lr.cycles == [9, 9] and (lr.latency_min, lr.latency_max) == (4, 4)
    assert sr.results == [[5, 6]] and sr.edges == [7]


def test_a_layer_of_part_images_is_refused(tmp_path):
    acts = np.full((5, 4), ord("0"), np.uint8)
    codes = np.full((2, 4), ord("0"), np.uint8)
    with pytest.raises(ValueError, match=r"^l: 5 act beats are not whole images of 2$"):
        arrayjob.write_job(tmp_path, ["o"], [arrayjob.LayerJob("l", 1, 1, 2, acts, codes)])
