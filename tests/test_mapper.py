import numpy as np
import pytest

from asq_hw import PEConfig, mapper
from asq_hw.artifact import ActIn, ConvLayer, LinearLayer, Relu
from asq_hw.errors import UserError
from asq_hw.mapper import LayerMap
from golden.pe import pe_dot, pe_matmul

# The default digits CNN (width 16) as the artifact describes its compute ops.
_A8, _A4 = ActIn(8, True, 0.1), ActIn(4, False, 0.1)
CONV0 = ConvLayer("conv0", 1, 16, (3, 3), 1, 1, (8, 8), (8, 8), 9, _A8)
CONV1 = ConvLayer("conv1", 16, 32, (3, 3), 1, 1, (8, 8), (8, 8), 144, _A4)
CONV2 = ConvLayer("conv2", 32, 32, (3, 3), 1, 1, (4, 4), (4, 4), 288, _A4)
LINEAR3 = LinearLayer("linear3", 128, 10, 128, _A4)


@pytest.mark.parametrize("layer,rows,lanes,tiles,d,beats,util", [
    (CONV0, 8, 8, 2, 2, 2 * 64 * 2, 9216 / (256 * 64)),
    (CONV1, 8, 8, 4, 18, 4 * 64 * 18, 1.0),
    (CONV2, 8, 8, 4, 36, 4 * 16 * 36, 1.0),
    (LINEAR3, 8, 8, 2, 16, 32, 1280 / (32 * 64)),
    (CONV1, 3, 5, 11, 29, 11 * 64 * 29, 294912 / (11 * 64 * 29 * 15)),
    (LINEAR3, 1, 1, 10, 128, 1280, 1.0),
])
def test_tiles_beats_and_cycles(layer, rows, lanes, tiles, d, beats, util):
    lm = mapper.map_layer(layer, rows, lanes)
    assert (lm.tiles, lm.beats_per_dot, lm.beats) == (tiles, d, beats)
    assert lm.dots == tiles * lm.positions
    assert lm.macs == lm.outputs * lm.fan_in * lm.positions
    assert lm.utilization == pytest.approx(util)
    assert lm.cycles(5) == beats + 5


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"^rows must be an integer from 1 to 1024, not 0$"):
        mapper.map_layer(CONV0, 0, 8)
    with pytest.raises(ValueError, match=r"^lanes must be an integer from 1 to 64, not 65$"):
        mapper.map_layer(CONV0, 8, 65)
    with pytest.raises(ValueError, match=r"^op must be 'conv' or 'linear', not 'relu'$"):
        mapper.map_layer(Relu(), 8, 8)


def beats_to_dots(beats, cfg, rows):
    """Decode a beat stream by the documented packing and run each row's dot products on the
    golden PE: what the array must output, as (dot products, rows[, 2])."""
    q = cfg.lanes
    acts, codes, out = [], [], []
    for a, c, last in beats:
        acts.append(mapper.unpack_words([a], q, cfg.abits, cfg.act_signed)[0])
        codes.append(mapper.unpack_words([c], rows * q, cfg.wbits, signed=False)[0])
        if last:
            x = np.concatenate(acts)
            w = np.concatenate([cw.reshape(rows, q) for cw in codes], axis=1)
            out.append(pe_dot(np.tile(x, (rows, 1)), w.astype(np.uint8), cfg))
            acts, codes = [], []
    assert not acts
    return np.array(out)


@pytest.mark.parametrize("variant,rows,lanes", [("lut", 3, 4), ("dual", 2, 3), ("lut", 5, 1)])
def test_beat_stream_computes_the_layer(variant, rows, lanes):
    cfg = PEConfig(wbits=4, abits=5, act_signed=True, variant=variant, lanes=lanes,
                   max_len=64)
    rng = np.random.default_rng(rows)
    lm = LayerMap("t", "conv", 7, 10, 3, rows, lanes)
    x = rng.integers(cfg.act_min, cfg.act_max + 1, (3, 10))
    codes = rng.integers(0, 16, (7, 10))
    beats = list(mapper.beat_stream(lm, x, codes, cfg))
    assert len(beats) == lm.beats == -(-7 // rows) * 3 * -(-10 // lanes)
    # in_last closes every D-th beat; tile-major, then position, then beat.
    assert [b[2] for b in beats] == ([0] * (lm.beats_per_dot - 1) + [1]) * lm.dots
    dots = beats_to_dots(beats, cfg, rows)
    got = mapper.results_to_rows(dots, lm, 1)
    np.testing.assert_array_equal(got, pe_matmul(x, codes.astype(np.uint8), cfg))


def test_padding_is_zero_codes_and_zero_activations():
    lm = LayerMap("t", "linear", 5, 7, 1, 3, 4)
    tc = mapper.tile_codes(np.full((5, 7), 9), lm)
    assert tc.shape == (2, 2, 3, 4)                  # (tiles, D, P, Q)
    assert tc[1, :, 2:].sum() == 0 and tc[:, 1, :, 3].sum() == 0
    assert (tc != 0).sum() == 5 * 7
    sr = mapper.split_rows(np.full((4, 7), -3), lm)
    assert sr.shape == (4, 2, 4) and (sr[:, 1, 3] == 0).all() and (sr != 0).sum() == 4 * 7
    with pytest.raises(ValueError, match=r"^codes must have shape \(5, 7\), not \(5, 6\)$"):
        mapper.tile_codes(np.zeros((5, 6)), lm)


@pytest.mark.parametrize("count,bits", [(3, 5), (8, 8), (8, 28), (2, 64), (33, 7)])
def test_pack_unpack_round_trip(count, bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    v = rng.integers(lo, hi, (20, count), endpoint=True)
    v[0, 0], v[1, -1] = lo, hi
    words = mapper.pack_words(v, bits)
    assert all(0 <= w < 1 << (count * bits) for w in words)
    assert words[2] == sum((int(e) & ((1 << bits) - 1)) << (i * bits)
                           for i, e in enumerate(v[2]))
    np.testing.assert_array_equal(mapper.unpack_words(words, count, bits), v)
    u = mapper.unpack_words(words, count, bits, signed=False)
    np.testing.assert_array_equal(u[v >= 0], v[v >= 0])


def test_results_to_rows_orders_tiles_and_positions():
    lm = LayerMap("t", "conv", 5, 4, 3, 2, 2)           # 3 tiles of 2 rows, 3 positions
    # Result of (image b, tile t, position s, row p) = 1000 b + 100 s + channel.
    res = np.array([[1000 * b + 100 * s + (2 * t + p) for p in range(2)]
                    for b in range(2) for t in range(3) for s in range(3)])
    got = mapper.results_to_rows(res, lm, 2)
    want = np.array([[1000 * b + 100 * s + k for k in range(5)]
                     for b in range(2) for s in range(3)])
    np.testing.assert_array_equal(got, want)


class FakeArtifact:
    """Just what array_config reads."""

    def __init__(self, inputs, fans):
        self.weight_quant, self.wbits, self.frac_bits = "post", 4, 8
        self.layers = [LinearLayer(f"l{i}", n, 4, n, ActIn(a, s, 0.1))
                       for i, ((a, s), n) in enumerate(zip(inputs, fans, strict=True))]

    def compute_layers(self):
        return self.layers


def test_array_config_covers_every_layer():
    from asq_hw.artifact import layer_pe_config

    art = FakeArtifact([(8, True), (4, False), (4, False)], [9, 288, 128])
    cfg = mapper.array_config(art, "lut", lanes=8)
    assert (cfg.abits, cfg.act_signed, cfg.max_len, cfg.lanes) == (8, True, 288, 8)
    assert all(cfg.acc_bits >= layer_pe_config(art, lay, "lut").acc_bits
               for lay in art.layers)
    # Unsigned 4-bit and 5-bit inputs only: unsigned 5 bits.
    cfg = mapper.array_config(FakeArtifact([(4, False), (5, False)], [3, 4]), "dual", 2)
    assert (cfg.abits, cfg.act_signed, cfg.variant) == (5, False, "dual")
    # Signed 4-bit with unsigned 4-bit: signed 5 bits holds -8 .. 15.
    cfg = mapper.array_config(FakeArtifact([(4, True), (4, False)], [3, 4]), "lut", 1)
    assert (cfg.abits, cfg.act_signed) == (5, True)


def test_array_config_refuses_what_no_format_holds():
    art = FakeArtifact([(8, True), (8, False)], [9, 9])
    with pytest.raises(UserError, match=r"^the layers' input codes span -128 \.\. 255 "
                                        r"\(signed\): no array activation format of at most "
                                        r"8 bits holds them$"):
        mapper.array_config(art, "lut", 4)


def test_network_cycles_is_the_sum_of_the_layer_model():
    from hw.pe import pe_latency

    art = FakeArtifact([(8, True), (4, False)], [9, 40])
    got = mapper.network_cycles(art, "lut", 3, 4)
    lat = pe_latency(mapper.array_config(art, "lut", 4))
    assert got == [("l0", 2 * 3 + lat), ("l1", 2 * 10 + lat)]
