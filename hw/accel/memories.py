"""The accelerator's on-chip memories: per-layer weight ROMs and the ping-pong activation
buffers. Both are `amaranth.lib.memory.Memory` with registered reads (block RAM on an FPGA
that has it).

`WeightMemories`: one ROM per compute layer, initialised from the artifact's codes in the
array's beat order (hw.accel.plan.LayerPlan.weight_words); word t*D + d is beat d of tile
t, P x Q codes packed as the PostArray's `in_code`. One read per cycle, from the layer the
sequencer runs.

`ActBuffers`: two buffers of activation codes in (c, h, w) order, one code per word (which
layer reads and writes which: hw.accel.plan.buffer_allocation). A
layer reads one buffer (Q codes per cycle: one read port per lane, each its own address,
because a window's Q columns are anywhere in the input) while its results are written into
the other; one write port each.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from hw.accel.plan import BUFFERS
from hw.accel.table import ubits


class WeightMemories(wiring.Component):
    """Per-layer weight ROMs (module docstring).

    `contents[k]` is layer k's list of words (`width` bits each). Ports: `layer`, `addr`,
    `en` in; `data` out: the word at `addr` of ROM `layer` presented at the last clock edge
    with `en` high (it holds while `en` is low).
    """

    def __init__(self, contents: list[list[int]], width: int):
        if not contents or any(len(c) == 0 for c in contents):
            raise ValueError("contents must hold at least one word for every layer")
        self.contents = [list(c) for c in contents]
        self.width = width
        self.addr_bits = ubits(max(len(c) for c in contents) - 1)
        super().__init__({
            "layer": In(ubits(len(contents) - 1)),
            "addr": In(self.addr_bits),
            "en": In(1),
            "data": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        sel = Signal.like(self.layer)
        with m.If(self.en):
            m.d.sync += sel.eq(self.layer)
        words = []
        for k, init in enumerate(self.contents):
            m.submodules[f"layer{k}"] = mem = memory.Memory(
                shape=unsigned(self.width), depth=len(init), init=init)
            port = mem.read_port()
            m.d.comb += [port.addr.eq(self.addr[:ubits(len(init) - 1)]),
                         port.en.eq(self.en & (self.layer == k))]
            words.append(port.data)
        out = words[0]
        for k in range(1, len(words)):
            out = Mux(sel == k, words[k], out)
        m.d.comb += self.data.eq(out)
        return m


class ActBuffers(wiring.Component):
    """The ping-pong activation buffers (module docstring).

    `depths[b]` words of `abits` (the codes' bit patterns) in buffer b. Read side: `rd_buf`,
    `rd_addr` (one address per lane), `rd_en` in; `rd_data` out: lane l is the word at
    `rd_addr[l]` of buffer `rd_buf` at the last edge with `rd_en` high (it holds while
    `rd_en` is low); an address beyond the buffer reads an unspecified word. Write side:
    `wr_buf`, `wr_addr`, `wr_data`, `wr_en`, written at the clock edge. `skip=True` adds
    one more read port per buffer for a residual block's identity shortcut: `sk_buf`,
    `sk_addr`, `sk_en` in, `sk_data` out, with the lanes' timing.
    """

    def __init__(self, depths: list[int], abits: int, lanes: int, addr_bits: int,
                 skip: bool = False):
        if len(depths) != BUFFERS or min(depths) < 1:
            raise ValueError(f"depths must be {BUFFERS} positive numbers, not {depths}")
        if addr_bits < ubits(max(depths) - 1):
            raise ValueError(f"addr_bits {addr_bits} cannot address {max(depths)} words")
        self.depths, self.abits, self.lanes, self.skip = list(depths), abits, lanes, skip
        members = {
            "rd_buf": In(ubits(BUFFERS - 1)),
            "rd_addr": In(data.ArrayLayout(unsigned(addr_bits), lanes)),
            "rd_en": In(1),
            "rd_data": Out(data.ArrayLayout(unsigned(abits), lanes)),
            "wr_buf": In(ubits(BUFFERS - 1)),
            "wr_addr": In(addr_bits),
            "wr_data": In(abits),
            "wr_en": In(1),
        }
        if skip:
            members.update({"sk_buf": In(ubits(BUFFERS - 1)), "sk_addr": In(addr_bits),
                            "sk_en": In(1), "sk_data": Out(abits)})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        sel = Signal.like(self.rd_buf)
        with m.If(self.rd_en):
            m.d.sync += sel.eq(self.rd_buf)
        if self.skip:
            sk_sel = Signal.like(self.sk_buf)
            with m.If(self.sk_en):
                m.d.sync += sk_sel.eq(self.sk_buf)
            sk_words = []
        lanes = []
        for b, depth in enumerate(self.depths):
            m.submodules[f"buf{b}"] = mem = memory.Memory(
                shape=unsigned(self.abits), depth=depth, init=[])
            bits = ubits(depth - 1)
            wr = mem.write_port()
            m.d.comb += [wr.addr.eq(self.wr_addr[:bits]), wr.data.eq(self.wr_data),
                         wr.en.eq(self.wr_en & (self.wr_buf == b))]
            ports = []
            for lane in range(self.lanes):
                port = mem.read_port()
                m.d.comb += [port.addr.eq(self.rd_addr[lane][:bits]),
                             port.en.eq(self.rd_en & (self.rd_buf == b))]
                ports.append(port.data)
            lanes.append(ports)
            if self.skip:
                port = mem.read_port()
                m.d.comb += [port.addr.eq(self.sk_addr[:bits]),
                             port.en.eq(self.sk_en & (self.sk_buf == b))]
                sk_words.append(port.data)
        for lane in range(self.lanes):
            word = lanes[0][lane]
            for b in range(1, BUFFERS):
                word = Mux(sel == b, lanes[b][lane], word)
            m.d.comb += self.rd_data[lane].eq(word)
        if self.skip:
            word = sk_words[0]
            for b in range(1, BUFFERS):
                word = Mux(sk_sel == b, sk_words[b], word)
            m.d.comb += self.sk_data.eq(word)
        return m
