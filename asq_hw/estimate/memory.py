"""Where an accelerator's memories go on each FPGA: block RAM, distributed RAM or logic.

The rule is Yosys' own (`memory_libmap`, the pass every flow of asq_hw/synth runs): for each
memory it prices every cell of the target's library and logic, and takes the cheapest
(a cell only when strictly cheaper than logic). Priced as the pass prices them:

- logic: bits x 1/16 for a ROM (`-logic-cost-rom`), bits x 1 for a RAM (`-logic-cost-ram`);
- a RAM cell type of `cost` c in one of its (depth, width) modes: a memory of depth D and
  width W needs mult_a = ceil(D / depth) address slices and repl_d = ceil(mult_a * W /
  width) cells per copy, and one copy per read port the cell cannot serve beside the write
  port (`repl_port`); cost c x repl_d x repl_port + 0.5 x (mult_a - 1) x W per read port
  (the output muxes) + 0.5 x mult_a per write port when mult_a > 1 (the write decoder);
- the cells (Yosys' techlibs): iCE40 SB_RAM40_4K (`brams.txt`: cost 64; 256x16, 512x8,
  1024x4, 2048x2; one read and one write port); ECP5 DP16KD (`brams_16kd.txt`: cost 128;
  1024x18 .. 16384x1; two ports, one of them taken by a write) and PDPW16KD (cost 128; up to
  512x36 read; one read and one 36-bit write port), and the distributed TRELLIS_DPR16X4
  (`lutrams_trellis.txt`: cost 4; 16x4; one write, one asynchronous read; RAMs only: it
  prunes ROMs), which takes 6 LUT4 sites (asq_hw/synth/yosys.py counts them so).

So a buffer with Q read ports is Q copies wherever it goes, and a ROM wider than one cell
is several cells side by side for any depth up to the cell's. Measured against Yosys'
decisions ("mapping memory ... via" / "using FF mapping" in its log) by the accelerator's
calibration (asq_hw/estimate/accel_fit.py).
"""

from __future__ import annotations

import dataclasses
import math

LOGIC_COST = {"rom": 1 / 16, "ram": 1.0}
MUX_FACTOR = 0.5
DEMUX_FACTOR = 0.5


@dataclasses.dataclass(frozen=True)
class Cell:
    """A memory cell type: `modes` (depth, width) pairs, `reads`: read ports it offers
    beside a write port (RAM) and without one (ROM); `block`: a block RAM (else a
    distributed one, `luts` LUT sites each); `rom`: whether it can hold a ROM."""

    name: str
    cost: int
    modes: tuple[tuple[int, int], ...]
    ram_reads: int
    rom_reads: int
    block: bool = True
    rom: bool = True
    luts: int = 0


_ECP5_TDP = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))
CELLS = {
    "ice40": (Cell("SB_RAM40_4K", 64, ((256, 16), (512, 8), (1024, 4), (2048, 2)), 1, 1),),
    "ecp5": (Cell("DP16KD", 128, _ECP5_TDP, 1, 2),
             Cell("PDPW16KD", 128, (*_ECP5_TDP, (512, 36)), 1, 1),
             Cell("TRELLIS_DPR16X4", 4, ((16, 4),), 1, 1, block=False, rom=False, luts=6)),
    # 7-series RAMB18E1 (Yosys' xilinx brams_xc6v.txt / synth_xilinx's -logic-cost-rom 1/64
    # is not modelled: xc7 has no measured accelerator here).
}


@dataclasses.dataclass(frozen=True)
class Placement:
    """One memory on one target: `where` is 'bram' (`cells` block RAMs), 'dist'
    (`cells` distributed RAM cells, `luts` LUT sites) or 'logic'; `mult_a` address slices
    (the read muxes above the cells), `cost` the priced cost."""

    name: str
    depth: int
    width: int
    kind: str
    read_ports: int
    where: str
    cell: str | None
    cells: int
    luts: int
    mult_a: int
    cost: float

    @property
    def bits(self) -> int:
        return self.depth * self.width


def _cell_cost(cell: Cell, depth: int, width: int, reads: int, writes: int):
    """(cost, cells, mult_a) of the cheapest mode of `cell`, or None if it cannot hold it."""
    per = cell.ram_reads if writes else cell.rom_reads
    repl_port = math.ceil(reads / per)
    best = None
    for d, w in cell.modes:
        mult_a = math.ceil(depth / d)
        repl_d = math.ceil(mult_a * width / w)
        cost = cell.cost * repl_d * repl_port + MUX_FACTOR * (mult_a - 1) * width * reads
        if mult_a > 1:
            cost += DEMUX_FACTOR * mult_a * writes
        if best is None or cost < best[0]:
            best = (cost, repl_d * repl_port, mult_a)
    return best


def place(mem: dict, target: str) -> Placement:
    """Where Yosys puts `mem` ({name, depth, width, kind 'rom'|'ram', read_ports}, as the
    accelerator's manifest lists it) on `target` (module docstring)."""
    kind, depth, width = mem["kind"], mem["depth"], mem["width"]
    if kind not in LOGIC_COST:
        raise ValueError(f"memory kind must be rom or ram, not {kind!r}")
    reads, writes = mem["read_ports"], 1 if kind == "ram" else 0
    best = (depth * width * LOGIC_COST[kind], None, 0, 1)
    for cell in CELLS.get(target, ()):
        if kind == "rom" and not cell.rom:
            continue
        c = _cell_cost(cell, depth, width, reads, writes)
        if c is not None and c[0] < best[0]:
            best = (c[0], cell, c[1], c[2])
    cost, cell, cells, mult_a = best
    if cell is None:
        where = "logic"
    else:
        where = "bram" if cell.block else "dist"
    return Placement(mem["name"], depth, width, kind, reads, where,
                     cell.name if cell else None, cells,
                     cells * cell.luts if cell else 0, mult_a, cost)


def place_all(memories: list[dict], target: str) -> list[Placement]:
    return [place(m, target) for m in memories]


def block_rams(placements: list[Placement]) -> int:
    return sum(p.cells for p in placements if p.where == "bram")
