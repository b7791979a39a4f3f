import pytest
from amaranth.sim import Simulator

from asq_hw import PEConfig
from golden.codes import act_lut
from hw.lut import ActLUT, ActStage, act_of_address, lut_contents, lut_shape

CONFIGS = [
    PEConfig(abits=2, frac_bits=1),
    PEConfig(abits=4, frac_bits=8),
    PEConfig(abits=5, frac_bits=3, act_signed=True),
    PEConfig(abits=8, frac_bits=16),
    PEConfig(abits=8, frac_bits=16, act_signed=True),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_contents_are_the_golden_lut_and_fit_the_shape(cfg):
    golden = act_lut(cfg)
    words = lut_contents(cfg)
    shape = lut_shape(cfg)
    for addr, word in enumerate(words):
        x = act_of_address(addr, cfg)
        assert cfg.act_min <= x <= cfg.act_max
        assert word == golden[x - cfg.act_min]
    lo, hi = min(words), max(words)
    assert shape.signed == cfg.act_signed
    assert (-(2 ** (shape.width - 1)) if shape.signed else 0) <= lo
    assert hi < 2 ** (shape.width - shape.signed)


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
def test_rom_reads_every_address_one_edge_later_and_holds_without_en(cfg):
    dut = ActLUT(cfg)
    words = lut_contents(cfg)
    seen = []

    async def bench(ctx):
        ctx.set(dut.en, 1)
        for addr in range(len(words)):
            ctx.set(dut.act, addr)
            await ctx.tick()
            seen.append(ctx.get(dut.value))
        held = ctx.get(dut.value)
        ctx.set(dut.en, 0)
        ctx.set(dut.act, 0)
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.value) == held

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == words


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_act_stage_registers_lanes_valid_last_with_en(variant):
    cfg = PEConfig(abits=3, act_signed=True, lanes=3, frac_bits=4, variant=variant)
    dut = ActStage(cfg)
    assert dut.with_lut == (variant == "lut")
    table = act_lut(cfg)

    async def bench(ctx):
        assert ctx.get(dut.o_valid) == 0                       # reset value
        packed = (0b011 << 0) | (0b100 << 3) | (0b111 << 6)      # lanes 3, -4, -1
        ctx.set(dut.act.as_value(), packed)
        ctx.set(dut.valid, 1)
        ctx.set(dut.last, 1)
        ctx.set(dut.en, 0)
        await ctx.tick()
        assert ctx.get(dut.o_valid) == 0                       # no en, no change
        ctx.set(dut.en, 1)
        await ctx.tick()
        assert (ctx.get(dut.o_valid), ctx.get(dut.o_last)) == (1, 1)
        assert [ctx.get(dut.o_act[i]) for i in range(3)] == [3, -4, -1]
        if variant == "lut":
            assert [ctx.get(dut.o_lut[i]) for i in range(3)] == \
                [int(table[x - cfg.act_min]) for x in (3, -4, -1)]
        ctx.set(dut.valid, 0)
        await ctx.tick()
        assert ctx.get(dut.o_valid) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
