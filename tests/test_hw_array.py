# amaranth: UnusedElaboratable=no
# (the bad-input tests make arrays that are never elaborated)
import json
import re
from collections import Counter

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from asq_hw import PEConfig
from asq_hw.mapper import LayerMap, beat_stream, results_to_rows, unpack_words
from golden.pe import pe_matmul
from hw.array import PostArray
from hw.gen_array import generate_array, write_array
from hw.lut import lut_shape
from hw.pe import pe_latency
from sim.bfm import (
    StreamDriver,
    StreamMonitor,
    latencies,
    random_gaps,
    random_ready,
    simulate_amaranth,
)


def layer(cfg, rows, outputs, fan_in, positions, seed):
    """A random layer: its LayerMap, input rows (positions, N), codes (K, N)."""
    rng = np.random.default_rng(seed)
    lm = LayerMap("t", "linear", outputs, fan_in, positions, rows, cfg.lanes)
    x = rng.integers(cfg.act_min, cfg.act_max + 1, (positions, fan_in))
    codes = rng.integers(0, cfg.code_max + 1, (outputs, fan_in))
    return lm, x, codes


def run(arr, lm, x, codes, seed=0, p_gap=0.0, p_stall=0.0):
    """Stream the mapper's beats through the Amaranth array; results in the PE row layout."""
    cfg = arr.cfg
    beats = list(beat_stream(lm, x, codes, cfg))
    acts, code_words, lasts = (list(v) for v in zip(*beats, strict=True))
    rng = np.random.default_rng(seed)
    drv = StreamDriver(acts, code_words, lasts, random_gaps(rng, len(beats), p_gap))
    mon = StreamMonitor(random_ready(rng, p_stall), lm.dots)
    cycles = simulate_amaranth(arr, drv, mon, arr.acc_ports)
    assert len(mon.results) == lm.dots
    per_port = [unpack_words([r[s] for r in mon.results], arr.rows, cfg.acc_bits)
                for s in range(len(arr.acc_ports))]
    res = per_port[0] if len(per_port) == 1 else np.stack(per_port, axis=-1)
    return results_to_rows(res, lm, 1), drv, mon, cycles


SHAPES = [  # (variant, signed, rows P, lanes Q, outputs K, fan_in N, positions)
    ("lut", False, 3, 2, 7, 9, 3),       # P divides neither K; Q does not divide N
    ("dual", True, 3, 2, 7, 9, 3),
    ("lut", True, 4, 5, 8, 5, 2),        # exact tiles, one beat per dot product
    ("dual", False, 1, 4, 3, 13, 2),     # one row: the PE
    ("lut", False, 2, 1, 5, 4, 2),       # one lane
]


@pytest.mark.parametrize("variant,signed,rows,lanes,k,n,pos", SHAPES)
def test_every_row_matches_golden_under_gaps_and_back_pressure(variant, signed, rows, lanes,
                                                               k, n, pos):
    cfg = PEConfig(wbits=3 + lanes % 3, abits=4 + rows % 3, act_signed=signed,
                   variant=variant, frac_bits=5, lanes=lanes, max_len=64)
    lm, x, codes = layer(cfg, rows, k, n, pos, seed=rows * 10 + lanes)
    got, *_ = run(PostArray(cfg, rows), lm, x, codes, seed=1, p_gap=0.3, p_stall=0.4)
    np.testing.assert_array_equal(got, pe_matmul(x, codes.astype(np.uint8), cfg))


def test_activations_are_broadcast_to_every_row():
    # Rows with the same codes give the same results; rows with different codes differ,
    # each equal to its own golden dot product: every row sees the same activations.
    cfg = PEConfig(wbits=4, abits=4, lanes=3, max_len=64)
    lm, x, codes = layer(cfg, 4, 4, 6, 5, seed=3)
    codes[2] = codes[0]
    codes[3] = 1                                  # +1 everywhere: the plain sum << (F + J)
    got, *_ = run(PostArray(cfg, 4), lm, x, codes)
    np.testing.assert_array_equal(got[:, 2], got[:, 0])
    np.testing.assert_array_equal(got[:, 3], x.sum(axis=1) << (cfg.frac_bits + cfg.J))
    np.testing.assert_array_equal(got, pe_matmul(x, codes.astype(np.uint8), cfg))


def memories(component) -> int:
    def walk(f):
        yield f
        for sub, *_ in f.subfragments:
            yield from walk(sub)
    return Counter(type(f).__name__ for f in walk(Fragment.get(component, None)))[
        "MemoryInstance"]


@pytest.mark.parametrize("rows,lanes", [(1, 3), (4, 3), (6, 2)])
def test_one_lut_per_lane_shared_by_every_row(rows, lanes):
    cfg = PEConfig(lanes=lanes, max_len=64)
    assert memories(PostArray(cfg, rows)) == lanes
    assert memories(PostArray(cfg.replace(variant="dual"), rows)) == 0
    # The same in the Verilog: one ROM array per lane, whatever P is.
    text, _ = generate_array(cfg, rows)
    assert len(re.findall(r"^\s*reg \[\d+:0\] \S+ \[\d+:0\];", text, re.M)) == lanes


def test_one_beat_per_cycle_and_the_manifest_latency():
    cfg = PEConfig(wbits=4, abits=4, lanes=4, max_len=64)
    arr = PostArray(cfg, 3)
    lm, x, codes = layer(cfg, 3, 5, 11, 4, seed=4)
    got, drv, mon, _ = run(arr, lm, x, codes)
    np.testing.assert_array_equal(got, pe_matmul(x, codes.astype(np.uint8), cfg))
    # Beat k is accepted at edge k + 1: no bubble between dot products or tiles, and the
    # stream's cycles are beats + latency (the mapper's cycle model).
    assert drv.last_edges[-1] == lm.beats
    first_edge = 1
    assert mon.edges[-1] - first_edge + 1 == lm.cycles(arr.latency) == lm.beats + 4
    assert set(latencies(drv, mon)) == {arr.latency} == {pe_latency(cfg)}


def test_back_pressure_holds_results_and_stops_input():
    cfg = PEConfig(wbits=3, abits=3, variant="dual", lanes=2, max_len=16)
    arr = PostArray(cfg, 2)
    lm, x, codes = layer(cfg, 2, 2, 4, 3, seed=5)      # 3 dot products of 2 beats
    beats = list(beat_stream(lm, x, codes, cfg))
    want = pe_matmul(x, codes.astype(np.uint8), cfg)
    seen = []

    async def bench(ctx):
        ctx.set(arr.out_ready, 0)
        k = 0
        for _ in range(40):
            if k < len(beats):
                a, c, last = beats[k]
                ctx.set(arr.in_valid, 1)
                ctx.set(arr.in_act, a)
                ctx.set(arr.in_code, c)
                ctx.set(arr.in_last, last)
            else:
                ctx.set(arr.in_valid, 0)
            if ctx.get(arr.out_valid):
                # Stalled: the result holds and the array takes nothing.
                assert ctx.get(arr.in_ready) == 0
                seen.append((ctx.get(arr.out_acc_even), ctx.get(arr.out_acc_odd)))
            elif k < len(beats):
                assert ctx.get(arr.in_ready) == 1
                k += 1
            await ctx.tick()
        # 40 cycles of out_ready low: the first result waits, held, and the stream stopped.
        assert k < len(beats)
        assert len(set(seen)) == 1 and len(seen) > 20
        ev, od = (unpack_words([v], 2, cfg.acc_bits)[0] for v in seen[0])
        np.testing.assert_array_equal(np.stack([ev, od], axis=-1), want[0])

    sim = Simulator(arr)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_rows_are_validated():
    with pytest.raises(ValueError, match=r"^rows must be an integer from 1 to 1024, not 0$"):
        PostArray(PEConfig(), 0)
    with pytest.raises(ValueError, match=r"^cfg must be a PEConfig, not dict$"):
        PostArray({}, 2)


def test_manifest_ports_and_packing(tmp_path):
    cfg = PEConfig(wbits=5, abits=3, act_signed=True, variant="dual", lanes=3, max_len=100)
    v, j, man = write_array(cfg, 4, tmp_path)
    assert v.name == "post_array.v" and "module post_array(" in v.read_text()
    assert json.loads(j.read_text()) == man
    assert man["top"] == "post_array" and man["rows"] == 4 and man["lanes"] == 3
    assert man["latency"] == pe_latency(cfg) and man["config"] == cfg.to_dict()
    widths = {p["name"]: (p["dir"], p["width"], p["role"]) for p in man["ports"]}
    assert widths == {
        "clk": ("in", 1, "clk"), "rst": ("in", 1, "rst"),
        "in_valid": ("in", 1, "in_valid"), "in_ready": ("out", 1, "in_ready"),
        "in_act": ("in", 3 * 3, "in_act"), "in_code": ("in", 4 * 3 * 5, "in_code"),
        "in_last": ("in", 1, "in_last"), "out_valid": ("out", 1, "out_valid"),
        "out_ready": ("in", 1, "out_ready"),
        "out_acc_even": ("out", 4 * cfg.acc_bits, "out_acc_even"),
        "out_acc_odd": ("out", 4 * cfg.acc_bits, "out_acc_odd")}
    assert set(man["packing"]) == {"in_act", "in_code", "out_acc_even", "out_acc_odd"}
    assert man["lut"] is None
    assert generate_array(cfg.replace(variant="lut"), 4)[1]["lut"] == \
        {"roms": 3, "depth": 8, "width": lut_shape(cfg).width}
    # Reproducible, and an unchanged file is left alone.
    mtime = v.stat().st_mtime_ns
    write_array(cfg, 4, tmp_path)
    assert v.stat().st_mtime_ns == mtime
    assert generate_array(cfg, 4)[0] == v.read_text()
