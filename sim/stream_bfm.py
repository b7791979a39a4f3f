"""A simulation top that drives a streaming design's two streams from Verilog, so a cocotb
bench hands it a whole image at a time and the simulator runs free in between.

    text, man = stream_bfm(verilog_text, manifest, period_ns=10)

Why: driven from cocotb, every input beat and output cycle is a callback into Python, and
every signal cocotb writes is a top-level input, which Verilator re-evaluates with all the
logic it reaches at every evaluation (twice a cycle); `out_ready` reaches the whole
pipeline of an accelerator through its stall logic. Here the wrapper `<top>_bfm` owns the
clock (`always #half clk = ~clk`; Verilator builds it with --timing), the reset (high at
the first RESET_CYCLES edges) and both streams, as registers updated at rising edges, the
way a synchronous test bench drives a design.

Per image the bench writes (all packed, element k at bits [k*w, (k+1)*w)):
- `bench_in`: the input beats (in_data width each);
- `bench_gap`: per input beat the cycles in_valid stays low before it is offered (8 bits;
  all 0 for a clean image);
- `bench_stall`: STALL_LEN bits; out_ready at the cycle after edge n is bit n % STALL_LEN
  inverted (all 0: out_ready high);
then changes `bench_go` (any new value) to start it. The wrapper offers the beats in order
(in_last on the last), takes every output beat into `bench_out` (out_beats words of
out_data width + 1, out_last above the data) and sets `bench_done` at the edge after the
last one; a beat after that counts in `bench_extra` (a design fault). `bench_first` /
`bench_end` hold the edge numbers (edges counted from 1 after
reset) that accepted the image's first input beat and transferred its last output beat;
`bench_count` the output beats so far. The next image starts only after `bench_done`.

Every other output port of the design is a wire of the wrapper under its own name (the
probe ports, status_framing) for a bench to read. The wrapper is for simulation only: the
manifests users get (`asq-hw verilog ...`) describe the design itself.
"""

from __future__ import annotations

import re

SUFFIX = "_bfm"
RESET_CYCLES = 2
STALL_LEN = 64
GAP_BITS = 8
EDGE_BITS = 48
STREAM_ROLES = ("clk", "rst", "in_valid", "in_ready", "in_data", "in_last", "out_valid",
                "out_ready", "out_data", "out_last")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")
# Signals the bench writes (RW) or reads (RD) through the simulator interface; Verilator
# keeps only these public, so the rest of the design stays optimisable.
_RW = "/*verilator public_flat_rw*/"
_RD = "/*verilator public_flat_rd*/"


def stream_bfm(text: str, manifest: dict, period_ns: int) -> tuple[str, dict]:
    """(Verilog, manifest) of the design plus its stream wrapper (module docstring). The
    manifest needs one port per role of STREAM_ROLES and `input.beats`, `output.beats`;
    the result is the design's manifest with `top` = the wrapper, `ports` = the design's
    outputs outside the streams, `design_top`, and `bfm`: {clock, period_ns, reset_cycles,
    stall_len, gap_bits, in_bits, out_bits, in_beats, out_beats}."""
    if not isinstance(period_ns, int) or period_ns < 2 or period_ns % 2:
        raise ValueError(f"period_ns must be an even integer >= 2, not {period_ns!r}")
    top = manifest["top"]
    names = [top] + [p["name"] for p in manifest["ports"]]
    for name in names:
        if not _IDENT.match(name) or name.startswith("bench_"):
            raise ValueError(f"port or top name {name!r} is not a plain Verilog identifier "
                             "outside bench_*")
    port = {r: _role(manifest, r) for r in STREAM_ROLES}
    in_bits, out_bits = port["in_data"]["width"], port["out_data"]["width"]
    beats, out_beats = int(manifest["input"]["beats"]), int(manifest["output"]["beats"])
    if beats < 1 or out_beats < 1:
        raise ValueError(f"input and output beats must be >= 1, not {beats}, {out_beats}")
    stream = {p["name"] for p in port.values()}
    others = [p for p in manifest["ports"] if p["name"] not in stream]
    if any(p["dir"] == "in" for p in others):
        bad = next(p["name"] for p in others if p["dir"] == "in")
        raise ValueError(f"input port {bad!r} has no stream role; the wrapper drives only "
                         "the streams")
    ib, ob = _cbits(beats), _cbits(out_beats)
    n = {r: port[r]["name"] for r in STREAM_ROLES}
    body = f"""
module {top}{SUFFIX} (
{",".join(f"{chr(10)}    output wire {_range(p['width'])}{p['name']} {_RD}" for p in others)[1:]}
);
    reg {n['clk']} {_RD};
    always #{period_ns // 2} {n['clk']} = ~{n['clk']};
    reg [1:0] bench_reset_count = 2'd0;
    wire {n['rst']} = bench_reset_count != 2'd{RESET_CYCLES};
    reg [{beats * in_bits - 1}:0] bench_in {_RW};
    reg [{beats * GAP_BITS - 1}:0] bench_gap {_RW};
    reg [{STALL_LEN - 1}:0] bench_stall {_RW};
    reg [7:0] bench_go {_RW};
    reg [{out_beats * (out_bits + 1) - 1}:0] bench_out {_RD};
    reg bench_done {_RD};
    reg [{EDGE_BITS - 1}:0] bench_first {_RD};
    reg [{EDGE_BITS - 1}:0] bench_end {_RD};
    reg [{ob}:0] bench_count {_RD};
    reg [7:0] go_seen;
    reg [{EDGE_BITS - 1}:0] edge_no;
    reg feeding, got_first;
    reg [{ib - 1}:0] idx;
    reg [{GAP_BITS - 1}:0] gap;
    reg [{_cbits(STALL_LEN - 1) - 1}:0] stall_at;
    reg [15:0] bench_extra {_RD};
    reg {n['in_valid']}, {n['in_last']}, {n['out_ready']};
    reg [{in_bits - 1}:0] {n['in_data']};
    wire {n['in_ready']}, {n['out_valid']}, {n['out_last']};
    wire [{out_bits - 1}:0] {n['out_data']};
    wire [{GAP_BITS - 1}:0] next_gap = bench_gap[(idx + 1) * {GAP_BITS} +: {GAP_BITS}];
    initial begin
        {n['clk']} = 1'b0; bench_extra = 0; bench_go = 8'd0; go_seen = 8'd0;
        bench_done = 1'b0; bench_count = 0;
        bench_first = 0; bench_end = 0; edge_no = 0; feeding = 1'b0; got_first = 1'b0;
        idx = 0; gap = 0; stall_at = 0; bench_stall = 0; bench_gap = 0; bench_in = 0;
        bench_out = 0; {n['in_valid']} = 1'b0; {n['in_last']} = 1'b0;
        {n['in_data']} = 0; {n['out_ready']} = 1'b1;
    end
    always @(posedge {n['clk']}) begin
        if ({n['rst']}) bench_reset_count <= bench_reset_count + 2'd1;
        edge_no <= edge_no + 1'b1;
        stall_at <= stall_at + 1'b1;
        {n['out_ready']} <= ~bench_stall[stall_at];
        if (!{n['rst']} && go_seen != bench_go) begin
            go_seen <= bench_go;
            feeding <= 1'b1; got_first <= 1'b0; bench_done <= 1'b0; bench_count <= 0;
            idx <= 0;
            gap <= bench_gap[0 +: {GAP_BITS}];
            {n['in_valid']} <= bench_gap[0 +: {GAP_BITS}] == 0;
            {n['in_data']} <= bench_in[0 +: {in_bits}];
            {n['in_last']} <= {int(beats == 1)};
        end else if (feeding) begin
            if ({n['in_valid']} && {n['in_ready']}) begin
                if (!got_first) begin
                    got_first <= 1'b1;
                    bench_first <= edge_no + 1'b1;
                end
                if (idx == {beats - 1}) begin
                    feeding <= 1'b0;
                    {n['in_valid']} <= 1'b0;
                    {n['in_last']} <= 1'b0;
                end else begin
                    idx <= idx + 1'b1;
                    gap <= next_gap;
                    {n['in_valid']} <= next_gap == 0;
                    {n['in_data']} <= bench_in[(idx + 1) * {in_bits} +: {in_bits}];
                    {n['in_last']} <= idx + 1 == {beats - 1};
                end
            end else if (!{n['in_valid']}) begin
                gap <= gap - 1'b1;
                if (gap <= 1) {n['in_valid']} <= 1'b1;
            end
        end
        if (!{n['rst']} && {n['out_valid']} && {n['out_ready']} && bench_done)
            bench_extra <= bench_extra + 1'b1;
        if (!{n['rst']} && {n['out_valid']} && {n['out_ready']} && !bench_done) begin
            bench_out[bench_count * {out_bits + 1} +: {out_bits + 1}] <=
                {{{n['out_last']}, {n['out_data']}}};
            bench_count <= bench_count + 1'b1;
            if (bench_count == {out_beats - 1}) begin
                bench_end <= edge_no + 1'b1;
                bench_done <= 1'b1;
            end
        end
    end
    {top} bench_dut (
{",".join(f"{chr(10)}        .{p['name']}({p['name']})" for p in manifest["ports"])[1:]}
    );
endmodule
"""
    man = {**manifest, "top": top + SUFFIX, "ports": others, "design_top": top,
           "bfm": {"clock": n["clk"], "period_ns": period_ns, "reset_cycles": RESET_CYCLES,
                   "stall_len": STALL_LEN, "gap_bits": GAP_BITS, "in_bits": in_bits,
                   "out_bits": out_bits, "in_beats": beats, "out_beats": out_beats}}
    return text.rstrip("\n") + "\n" + body, man


def _role(manifest: dict, role: str) -> dict:
    ports = [p for p in manifest["ports"] if p["role"] == role]
    if len(ports) != 1:
        raise ValueError(f"the manifest of {manifest['top']} needs exactly one port with role "
                         f"{role}, not {len(ports)}")
    return ports[0]


def _cbits(n: int) -> int:
    """Bits of a counter holding 0 .. n."""
    return max(1, int(n).bit_length())


def _range(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""
