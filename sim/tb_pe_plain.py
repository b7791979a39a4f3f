"""An independent plain-Verilog bench for a generated PE, run with Icarus (no cocotb).

`write_bench` writes `tb_<top>.v` and its $readmemh files from a manifest and one phase's
vectors (sim/workloads.phase_vectors: beats, gaps, out_ready pattern, expected results from
the golden model). The bench knows the PE only through the manifest: it connects each port
by its role (clk, rst, in_valid, ..., out_acc / out_acc_even + out_acc_odd), presents beats
with the given idle gaps, holds valid and payload until in_ready, drives out_ready from the
back-pressure pattern, and checks at every clock edge:

- each transferred result against the expected one, in order;
- that a stalled result (out_valid high, out_ready low) holds, valid and value, to the next
  edge;
- the latency from a dot product's last accepted beat to its result's transfer (min/max);
- that no result appears after the expected ones.

It ends with one line: `RESULT verified=.. mismatches=.. extra=.. hold_errors=.. cycles=..
lat_min=.. lat_max=..` which `run_bench` parses.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from asq_hw.outputs import write_text
from asq_hw.toolchain import find_simulator
from sim.runner import SimulationError

MAX_GAP = 255


def _port(manifest: dict, role: str) -> dict:
    for p in manifest["ports"]:
        if p["role"] == role:
            return p
    raise ValueError(f"manifest of {manifest['top']} has no port with role {role!r}")


def _hex_lines(words, width: int) -> str:
    digits = max(1, -(-width // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def write_bench(manifest: dict, ph: dict, out_dir) -> Path:
    """Write the bench for one phase into out_dir; returns the bench's Verilog path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    top = manifest["top"]
    acc_ports = [p for p in manifest["ports"] if p["role"].startswith("out_acc")]
    aw, cw = _port(manifest, "in_act")["width"], _port(manifest, "in_code")["width"]
    accw = acc_ports[0]["width"]
    rw = accw * len(acc_ports)
    beats = [(last << (cw + aw)) | (c << aw) | a
             for a, c, last in zip(ph["act"], ph["code"], ph["last"], strict=True)]
    mask = (1 << accw) - 1
    expected = []
    for e in ph["expected"]:
        word = 0
        for v in e:                                      # first acc port in the top bits
            word = (word << accw) | (v & mask)
        expected.append(word)
    if any(g > MAX_GAP for g in ph["gaps"]):
        raise ValueError(f"gaps must be at most {MAX_GAP} cycles")
    nb, nr, n_ready = len(beats), len(expected), len(ph["ready"])
    files = {
        "beats.hex": _hex_lines(beats, 1 + cw + aw),
        "gaps.hex": _hex_lines(ph["gaps"], 8),
        "ready.hex": _hex_lines([int(r) for r in ph["ready"]], 1),
        "expect.hex": _hex_lines(expected, rw),
    }
    for name, text in files.items():
        write_text(out / name, text)
    name = {role: _port(manifest, role)["name"] for role in
            ("clk", "rst", "in_valid", "in_ready", "in_act", "in_code", "in_last",
             "out_valid", "out_ready")}
    got = "{" + ", ".join(p["name"] for p in acc_ports) + "}"
    max_cycles = 20 * (nb + sum(ph["gaps"]) + manifest["latency"]) + 1000
    conns = ",\n".join(f"    .{name[r]}({r})" for r in name)
    conns += "".join(f",\n    .{p['name']}({p['name']})" for p in acc_ports)
    acc_wires = "".join(f"  wire signed [{accw - 1}:0] {p['name']};\n" for p in acc_ports)
    tb = f"""`timescale 1ns/1ps
// Plain-Verilog bench for {top}, generated from its manifest by sim/tb_pe_plain.py.
module tb_{top};
  localparam NB = {nb}, NR = {nr}, NP = {n_ready}, AW = {aw}, CW = {cw}, RW = {rw};
  localparam MAXC = {max_cycles};
  reg clk = 0;
  always #5 clk = ~clk;
  reg rst = 1;
  reg in_valid = 0, in_last = 0, out_ready = 0;
  reg [AW-1:0] in_act = 0;
  reg [CW-1:0] in_code = 0;
  wire in_ready, out_valid;
{acc_wires}
  {top} dut (
{conns}
  );

  reg [AW+CW:0] beats [0:NB-1];
  reg [7:0] gaps [0:NB-1];
  reg ready_pat [0:NP-1];
  reg [RW-1:0] exp_mem [0:(NR > 0 ? NR - 1 : 0)];
  integer lastq [0:(NR > 0 ? NR - 1 : 0)];
  integer k = 0, nl = 0, r = 0, cyc = 0, wait_n = 0, presenting = 0;
  integer mism = 0, extra = 0, hold_err = 0, tail = 16, lat, lat_min = -1, lat_max = -1;
  reg held = 0;
  reg [RW-1:0] held_val = 0;
  wire [RW-1:0] got = {got};

  initial begin
    $readmemh("beats.hex", beats);
    $readmemh("gaps.hex", gaps);
    $readmemh("ready.hex", ready_pat);
    if (NR > 0) $readmemh("expect.hex", exp_mem);
    if (NB > 0) wait_n = gaps[0];
    repeat (3) @(posedge clk);
    rst <= 0;
  end

  always @(posedge clk) if (!rst) begin
    // What moved at this edge (DUT outputs still hold their pre-edge values here).
    if (in_valid && in_ready) begin
      if (in_last) begin
        lastq[nl] = cyc;
        nl = nl + 1;
      end
      k = k + 1;
      presenting = 0;
      wait_n = (k < NB) ? gaps[k] : 0;
    end
    if (held && (!out_valid || got !== held_val)) hold_err = hold_err + 1;
    held = out_valid && !out_ready;
    held_val = got;
    if (out_valid && out_ready) begin
      if (r >= NR) extra = extra + 1;
      else begin
        if (got !== exp_mem[r]) begin
          mism = mism + 1;
          if (mism <= 5) $display("MISMATCH dot %0d: expected %h, got %h", r, exp_mem[r], got);
        end
        lat = cyc - lastq[r];
        if (lat_min < 0 || lat < lat_min) lat_min = lat;
        if (lat > lat_max) lat_max = lat;
      end
      r = r + 1;
    end
    // What to present for the next edge.
    if (!presenting && k < NB) begin
      if (wait_n > 0) wait_n = wait_n - 1;
      else presenting = 1;
    end
    in_valid <= presenting;
    if (presenting) {{in_last, in_code, in_act}} <= beats[k];
    out_ready <= (r >= NR) ? 1'b1 : ready_pat[cyc % NP];
    cyc = cyc + 1;
    if (r >= NR && k >= NB) tail = tail - 1;
    if (tail == 0 || cyc > MAXC) begin
      $display({{"RESULT verified=%0d mismatches=%0d extra=%0d hold_errors=%0d cycles=%0d",
                " lat_min=%0d lat_max=%0d"}},
               (r < NR ? r : NR) - mism, mism + (NR > r ? NR - r : 0), extra, hold_err, cyc,
               lat_min, lat_max);
      $finish;
    end
  end
endmodule
"""
    path = out / f"tb_{top}.v"
    write_text(path, tb)
    return path


_RESULT = re.compile(r"RESULT verified=(\d+) mismatches=(\d+) extra=(\d+) hold_errors=(\d+) "
                     r"cycles=(\d+) lat_min=(-?\d+) lat_max=(-?\d+)")


def run_bench(tb: Path, dut_verilog: Path, timeout: float = 600) -> dict:
    """Compile the bench and the DUT with iverilog, run them with vvp in the bench's folder
    and return the RESULT line's figures (plus "log")."""
    iverilog = find_simulator("icarus")
    vvp = iverilog.with_name("vvp")
    tb = Path(tb)
    out = tb.parent / "tb.vvp"
    # -g2005: Yosys's Verilog kicks its `always @*` blocks at time 0 through a `reg x = 0`
    # initializer, which is an event in Verilog-2005 but not in SystemVerilog (-g2012), where a
    # bench that leaves an input at its initial value sees X out of reset.
    comp = subprocess.run([str(iverilog), "-g2005", "-o", str(out), "-s", tb.stem, str(tb),
                           str(dut_verilog)], capture_output=True, text=True, timeout=timeout)
    if comp.returncode:
        raise SimulationError(f"iverilog failed on {tb.name}: {comp.stderr.strip()[:500]}")
    proc = subprocess.run([str(vvp), "-n", str(out)], cwd=tb.parent, capture_output=True,
                          text=True, timeout=timeout)
    m = _RESULT.search(proc.stdout)
    if proc.returncode or not m:
        raise SimulationError(f"vvp run of {tb.name} gave no RESULT line:\n{proc.stdout[-800:]}"
                              f"{proc.stderr[-400:]}")
    keys = ("verified", "mismatches", "extra", "hold_errors", "cycles", "lat_min", "lat_max")
    res = dict(zip(keys, (int(v) for v in m.groups()), strict=True))
    res["log"] = proc.stdout
    return res
