"""Run an exported network through the RTL PE array, layer by layer, checked against golden.

Per chunk of images, for each compute layer i:

    rows     = golden.layer_rows(i, x)                   host: im2col of this layer's input
    beats    = mapper tiling of rows and the codes       host (asq_hw/mapper.py)
    acc_rtl  = the RTL array on those beats              simulator (sim/tb_array.py)
    acc_gold = golden.accumulate(i, x)                   host: the golden PE, same input
    compare every accumulator; then
    x, beta  = golden.layer_step(i, x, beta, acc_rows=acc_rtl)   requantization on the host

so the next layer's input comes from the RTL's accumulators, never golden's. At the end the
RTL chain's predictions are compared with an independent golden run from the images (and,
if the caller has them, PyTorch fake-quant predictions). Each image of each layer is one
stream (sim/tb_array.py's fast loop); its measured cycles must equal the mapper's cycle model
(`LayerMap.cycles`) and its measured latencies the manifest's.

One array configuration serves every layer (asq_hw.mapper.array_config): the widest input
format and the safe accumulator of the largest fan-in, so the RTL's accumulators are the
exact sums that golden computes per layer.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from asq_hw import mapper


@dataclasses.dataclass
class LayerStats:
    name: str
    beats_per_image: int
    cycles_per_image: int            # the cycle model: beats + latency
    macs_per_image: int
    utilization: float
    cycles: int = 0                  # measured, summed over images
    macs: int = 0                    # verified useful MACs, summed over images
    accumulators: int = 0
    mismatches: int = 0
    cycle_errors: int = 0            # images whose measured cycles differ from the model
    latency_min: int | None = None
    latency_max: int | None = None
    stream_s: float = 0.0            # the bench's clock-loop time
    first_mismatches: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class NetRun:
    """Everything `run_network` measured."""

    config: dict
    rows: int
    lanes: int
    latency: int
    images: int
    layers: list[LayerStats]
    preds: np.ndarray                # the RTL chain's predictions
    golden_preds: np.ndarray         # golden run from the images
    wall_s: float                    # the whole run: simulator start to stop
    errors: list[str]                # anything that stopped the chain early

    @property
    def accumulators_checked(self) -> int:
        return sum(s.accumulators for s in self.layers)

    @property
    def mismatches(self) -> int:
        return sum(s.mismatches for s in self.layers)

    @property
    def prediction_mismatches(self) -> int:
        if self.preds.shape != self.golden_preds.shape:
            return self.images
        return int(np.sum(self.preds != self.golden_preds))

    @property
    def cycles(self) -> int:
        return sum(s.cycles for s in self.layers)

    @property
    def cycles_per_image(self) -> int:
        return sum(s.cycles_per_image for s in self.layers)

    @property
    def verified_macs(self) -> int:
        return sum(s.macs for s in self.layers)

    @property
    def latency_ok(self) -> bool:
        return all(s.latency_min == s.latency_max == self.latency for s in self.layers
                   if s.latency_min is not None)

    @property
    def ok(self) -> bool:
        return (not self.errors and self.mismatches == 0 and self.prediction_mismatches == 0
                and all(s.cycle_errors == 0 for s in self.layers) and self.latency_ok)


def _act_strs(rows: np.ndarray, lm: mapper.LayerMap, abits: int, images: int):
    """Per image, the S*D in_act words of its rows (binary strings)."""
    from sim.session import binstrs

    acts = mapper.split_rows(rows, lm).reshape(-1, lm.lanes)
    strs = binstrs(mapper.pack_bits(acts, abits))
    per = lm.positions * lm.beats_per_dot
    return [strs[b * per:(b + 1) * per] for b in range(images)]


def code_strs(codes: np.ndarray, lm: mapper.LayerMap, wbits: int) -> list[str]:
    """The T*D in_code words of a layer (binary strings), tile-major."""
    from sim.session import binstrs

    tc = mapper.tile_codes(codes, lm).reshape(-1, lm.rows * lm.lanes)
    return binstrs(mapper.pack_bits(tc, wbits))


def _compare(got: np.ndarray, ok: np.ndarray, want: np.ndarray, st: LayerStats) -> None:
    """Count accumulator mismatches (every accumulator of a result with X bits counts)."""
    bad = got != want
    bad[~ok] = True
    st.accumulators += want.size
    n = int(bad.sum())
    st.mismatches += n
    if n and len(st.first_mismatches) < 5:
        for idx in np.argwhere(bad)[:5 - len(st.first_mismatches)]:
            i = tuple(int(v) for v in idx)
            st.first_mismatches.append((i, int(want[i]), int(got[i])))


def run_network(artifact, images: np.ndarray, rows: int, lanes: int, variant: str = "lut",
                sim: str | None = None, frac_bits: int | None = None, chunk: int = 120,
                build_root=None, waves: bool | None = None, progress=None) -> NetRun:
    """Run normalised float32 images (B, C, H, W) through the RTL array (see the module
    docstring). `chunk`: images per round trip (bounds memory; the result does not depend
    on it). `progress(done_images, total)` is called after each chunk."""
    from golden.network import GoldenNetwork, rows_from_acc
    from hw.gen_array import generate_array
    from sim import runner
    from sim.session import ArraySession, decode_results

    images = np.asarray(images, dtype=np.float32)
    cfg = mapper.array_config(artifact, variant, lanes, frac_bits)
    lms = mapper.map_network(artifact, rows, lanes)
    net = GoldenNetwork(artifact, variant, frac_bits)
    text, man = generate_array(cfg, rows)
    b = runner.build(cfg, sim, kind="array", root=build_root, waves=waves,
                     design=(text, man))
    lat = man["latency"]
    codes = [code_strs(artifact.codes(lay), lm, cfg.wbits)
             for lay, lm in zip(net.layers, lms, strict=True)]
    stats = [LayerStats(lm.name, lm.beats, lm.cycles(lat), lm.macs, lm.utilization)
             for lm in lms]
    slots = 1 if variant == "lut" else 2
    total = images.shape[0]
    preds, errors = [], []
    t0 = time.perf_counter()
    with ArraySession(b) as s:
        for start in range(0, total, chunk):
            imgs = images[start:start + chunk]
            nb = imgs.shape[0]
            x, beta = net.quantize_input(imgs), net.input_beta(nb)
            for i, (lm, st) in enumerate(zip(lms, stats, strict=True)):
                rows_x = net.layer_rows(i, x)
                reply = s.layer(codes[i], _act_strs(rows_x, lm, cfg.abits, nb), lm.tiles,
                                lm.positions, lm.beats_per_dot)
                parts = [decode_results(r, rows, cfg.acc_bits) for r in reply["results"]]
                res = np.stack([p[0] for p in parts], axis=-1)
                ok = np.logical_and.reduce([p[1] for p in parts])
                if slots == 1:
                    res = res[..., 0]
                # ok per output beat -> per (image, position, channel) like the results
                okb = np.broadcast_to(ok[:, None], ok.shape + (rows,))
                acc_rtl = mapper.results_to_rows(res, lm, nb)
                ok_rows = mapper.results_to_rows(okb, lm, nb)
                want = rows_from_acc(net.accumulate(i, x))
                if slots == 2:
                    ok_rows = np.broadcast_to(ok_rows[..., None], want.shape)
                _compare(acc_rtl, ok_rows, want, st)
                st.macs += lm.macs * nb
                st.cycles += sum(reply["cycles"])
                st.cycle_errors += sum(c != st.cycles_per_image for c in reply["cycles"])
                lo, hi = reply["latency_min"], reply["latency_max"]
                st.latency_min = lo if st.latency_min is None else min(st.latency_min, lo)
                st.latency_max = hi if st.latency_max is None else max(st.latency_max, hi)
                st.stream_s += reply["wall_s"]
                try:
                    rec = net.layer_step(i, x, beta, acc_rows=acc_rtl, trace=False)
                except ValueError as exc:      # RTL accumulators beyond the layer's bound
                    errors.append(f"{lm.name}: requantization of the RTL accumulators "
                                  f"failed: {exc}")
                    break
                x, beta = rec.next_x, rec.beta_out
            else:
                preds.append(np.argmax(rec.out, axis=1))
            if errors:
                break
            if progress is not None:
                progress(min(start + chunk, total), total)
    wall = time.perf_counter() - t0
    golden_preds = net.run(images).preds
    return NetRun(cfg.to_dict(), rows, lanes, lat, total, stats,
                  np.concatenate(preds) if preds and not errors else np.zeros(0, np.int64),
                  golden_preds, wall, errors)
