"""Switching activity of a mapped netlist on a trained network's real beats.

How activity is measured:

1. **Stimulus** (`workload_stimulus`): the trained network runs on test images in the
   golden model, layer by layer (each layer's input codes are the previous layer's real
   requantized outputs). Each compute layer's im2col rows and weight codes are tiled for a
   `rows` x `lanes` array exactly as the host streams them (asq_hw/mapper.py: tile-major,
   then position, then the D beats of each dot product; a PE is a 1-row array, so it
   computes every output channel in turn). From those streams, runs of consecutive dot
   products (about RUN_BEATS beats, starting at a seeded random dot of a random image) are
   taken until the budget of beats is spent, each layer getting beats in proportion to its
   share of the network's beats per image. Consecutive beats stay consecutive, so the
   toggles between them are the real ones. Only layers whose input codes fit the design's
   activation format are used (the first layer's input is the signed 8-bit image; an
   unsigned A-bit PE cannot take it).
2. **Gate-level simulation** (`simulate`): the mapped netlist (asq_hw/synth/asic.py) with
   the library's cell models (`osu018_stdcells.v`) in Icarus Verilog, zero delay (the cell
   models' specify delays are ignored): reset for 3 cycles, then one beat offered per cycle
   (valid/ready honoured, out_ready high), until every result is out. At every falling clock
   edge the bench writes every net's value as one line of 0/1/x (no VCD: a sample of all
   nets per cycle is what the count needs, and is smaller and faster to read).
3. **Counting** (`net_activity`): over the window from the first beat to the last result,
   a net's activity is its number of 0<->1 changes between consecutive samples over the
   number of sample intervals (transitions per cycle), its duty the fraction of samples at 1.
   Glitches inside a cycle are not seen (zero-delay simulation): the figures are
   functional activity, as from an RTL SAIF, which leaves out glitch power.
4. **Check**: every result the netlist produces is compared with the reference of the PE
   (golden.pe.pe_dot for POST, golden.baselines.baseline_dot for INT / POT); a mismatch raises
   SynthError, so power is never reported for a netlist that computes something else.
5. **Power** (`activity_tcl`): each net's activity and duty go to OpenSTA as
   OpenSTA's per-pin activity on every pin of the net, and on the input port that drives
   it (asq_hw/synth/sta.py), the clock net excepted (OpenSTA's clock activity).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from asq_hw import mapper
from asq_hw.config import PEConfig, act_range
from asq_hw.errors import UserError
from asq_hw.synth.liberty import Library, find_tool
from asq_hw.synth.tools import DEFAULT_TIMEOUT_S, SynthError

RUN_BEATS = 256
RESET_CYCLES = 3
# The weight scheme of the artifact each PE kind runs.
SCHEME_OF_KIND = {"post": "post", "pot": "pot", "int": "int"}


@dataclasses.dataclass(frozen=True)
class Stimulus:
    """Beats for a `rows` x `lanes` design: act (B, Q), code (B, P, Q), last (B,), and the
    useful multiply-accumulates they carry (padding lanes and rows excluded); `source`
    says where they come from."""

    act: np.ndarray
    code: np.ndarray
    last: np.ndarray
    macs: int
    source: dict

    @property
    def beats(self) -> int:
        return int(self.act.shape[0])

    def digest(self) -> str:
        """SHA-256 of the beats (part of cache keys)."""
        h = hashlib.sha256()
        for a in (self.act, self.code, self.last):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        return h.hexdigest()


def _fits(layer, cfg: PEConfig) -> bool:
    lo, hi = act_range(layer.act_in.abits, layer.act_in.signed)
    return cfg.act_min <= lo and hi <= cfg.act_max


def workload_stimulus(artifact, images: np.ndarray, cfg: PEConfig, kind: str = "post",
                      rows: int = 1, beats: int = 4000, seed: int = 0) -> Stimulus:
    """Real beats of `artifact` on normalised `images` (B, C, H, W) for a `rows` x
    cfg.lanes design of `kind` (module docstring, step 1). UserError if the artifact's
    weights or activations do not fit the design."""
    from golden.network import GoldenNetwork

    scheme = artifact.weight_quant
    if SCHEME_OF_KIND[kind] != scheme:
        raise UserError(f"the model's weight_quant is {scheme!r}: it runs on the {scheme} "
                        f"PE, not --kind {kind}")
    if artifact.wbits != cfg.wbits:
        raise UserError(f"wbits must be the model's {artifact.wbits} for its "
                        f"activity, not {cfg.wbits}")
    net = GoldenNetwork(artifact, cfg.variant if kind == "post" else "lut")
    x = net.quantize_input(images)
    beta = net.input_beta(x.shape[0])
    layers = []
    for i, lay in enumerate(net.layers):
        if _fits(lay, cfg):
            layers.append((lay, net.layer_rows(i, x), artifact.codes(lay)))
        rec = net.layer_step(i, x, beta, trace=False)
        x, beta = rec.next_x, rec.beta_out
    if not layers:
        a = net.layers[-1].act_in
        raise UserError(f"abits must hold the model's activations ({a.abits} bits, "
                        f"{'signed' if a.signed else 'unsigned'}), not {cfg.abits}"
                        f"{' signed' if cfg.act_signed else ''}")

    rng = np.random.default_rng(seed)
    lms = [mapper.map_layer(lay, rows, cfg.lanes) for lay, _, _ in layers]
    total = sum(lm.beats for lm in lms)
    acts, codes, lasts, macs, used = [], [], [], 0, []
    for (_, rows_x, wcodes), lm in zip(layers, lms, strict=True):
        d, s, n_img = lm.beats_per_dot, lm.positions, len(images)
        tc = mapper.tile_codes(wcodes, lm)                          # (T, D, P, Q)
        per_img = mapper.split_rows(rows_x, lm).reshape(n_img, s, d, lm.lanes)
        want = max(1, round(beats * lm.beats / total / d))          # dot products
        run = max(1, RUN_BEATS // d)
        taken = 0
        while taken < want:
            n = min(run, want - taken, lm.dots)
            b = int(rng.integers(n_img))
            g0 = int(rng.integers(lm.dots - n + 1))
            g = np.arange(g0, g0 + n)
            t, pos = g // s, g % s
            acts.append(per_img[b, pos].reshape(-1, lm.lanes))
            codes.append(tc[t].reshape(-1, lm.rows, lm.lanes))
            last = np.zeros((n, d), dtype=np.int64)
            last[:, -1] = 1
            lasts.append(last.reshape(-1))
            macs += int(lm.fan_in * np.minimum(lm.rows, lm.outputs - t * lm.rows).sum())
            taken += n
        used.append({"layer": lm.name, "dots": taken, "beats": taken * d})
    source = {"model": artifact.tensors_sha256, "weight_quant": scheme,
              "images": int(len(images)), "seed": seed, "rows": rows, "lanes": cfg.lanes,
              "layers": used}
    return Stimulus(np.concatenate(acts), np.concatenate(codes), np.concatenate(lasts),
                    macs, source)


def expected_results(stim: Stimulus, cfg: PEConfig, kind: str, acc_bits: int) -> np.ndarray:
    """Reference accumulators of every dot product: (dots, rows, slots) int64."""
    from golden.baselines import baseline_dot
    from golden.pe import pe_dot

    ends = np.flatnonzero(stim.last) + 1
    starts = np.concatenate([[0], ends[:-1]])
    out = []
    for lo, hi in zip(starts, ends, strict=True):
        a = stim.act[lo:hi].reshape(-1)                                   # (D*Q,)
        c = stim.code[lo:hi].transpose(1, 0, 2).reshape(stim.code.shape[1], -1)  # (P, D*Q)
        acts = np.broadcast_to(a, c.shape)
        if kind == "post":
            r = pe_dot(acts, c, cfg)
        else:
            r = baseline_dot(kind, acts, c, cfg, acc_bits)
        out.append(np.asarray(r).reshape(c.shape[0], -1))
    return np.stack(out)


# ---------------------------------------------------------------------------------------
# The netlist: nets, pins, and the bench.

_WIRE = re.compile(r"^\s*(?:wire|input|output)\s+(\\\S+ |[A-Za-z_][\w$]*)\s*;", re.M)
_INST = re.compile(r"^\s*([A-Za-z_][\w$]*)\s+(\\\S+ |[A-Za-z_][\w$]*)\s*\(\s*$")
_CONN = re.compile(r"^\s*\.(\w+)\((\\\S+ |[A-Za-z_][\w$]*|[^)]*)\)")


def _plain(name: str) -> str:
    return name[1:-1] if name.startswith("\\") else name


def netlist_nets(text: str) -> list[str]:
    """Every single-bit net of a `write_verilog -noexpr` netlist after `splitnets -ports`,
    in declaration order, unescaped (`in_act[3]`, `_0123_`)."""
    return list(dict.fromkeys(_plain(m.group(1)) for m in _WIRE.finditer(text)))


def netlist_pins(text: str) -> dict[str, list[str]]:
    """net -> the OpenSTA pin names ("instance/PIN") connected to it."""
    pins: dict[str, list[str]] = defaultdict(list)
    inst = None
    for line in text.splitlines():
        m = _INST.match(line)
        if m and m.group(1) not in ("module", "wire", "input", "output", "assign"):
            inst = _plain(m.group(2))
            continue
        if inst is not None:
            c = _CONN.match(line)
            if c:
                net = c.group(2)
                if not re.match(r"^\d+'", net):
                    pins[_plain(net)].append(f"{inst}/{c.group(1)}")
            elif line.strip() == ");":
                inst = None
    return dict(pins)


def _ref(name: str) -> str:
    """A hierarchical reference to net `name` of the bench's `dut`."""
    return f"dut.{name}" if re.match(r"^[A-Za-z_][\w$]*$", name) else f"dut.\\{name} "


def testbench(top: str, ports: list, nets: list[str], beats: int, width: int, latency: int,
              dots: int) -> str:
    """Verilog of the bench (module docstring, step 2). `ports`: the split netlist's
    [(name, dir, 1)]; each line of beats.mem is {last, code, act} in binary. The bench
    stops `latency` + 2 cycles after the last result (or after 4x the expected cycles)."""
    groups: dict[str, int] = {}
    for name, _, _ in ports:
        base = re.sub(r"\[\d+\]$", "", name)
        groups[base] = max(groups.get(base, 0), int(name[len(base) + 1:-1]) + 1
                           if name != base else 1)
    decl, conns = [], []
    driven = {"clk", "rst", "in_valid", "in_last", "in_act", "in_code", "out_ready"}
    for base, w in groups.items():
        dirs = {d for n, d, _ in ports if re.sub(r"\[\d+\]$", "", n) == base}
        if "output" in dirs:
            decl.append(f"  wire [{w - 1}:0] {base};")
        elif base not in driven:
            raise SynthError(f"the gate-level bench does not know how to drive input {base}")
    for name, _, _ in ports:
        base = re.sub(r"\[\d+\]$", "", name)
        sig = f"{base}[{name[len(base) + 1:-1]}]" if name != base else base
        port = name if name == base else f"\\{name} "
        conns.append(f"    .{port}({sig})")
    chunks = [nets[i:i + 256] for i in range(0, len(nets), 256)]
    probe = "\n".join(f"      $fwrite(fd, \"%b\", {{{', '.join(_ref(n) for n in c)}}});"
                      for c in chunks)
    aw = groups["in_act"]
    cw = groups["in_code"]
    limit = 4 * (beats + latency) + 100
    return f"""`timescale 1ns/10ps
module asq_tb;
  reg clk = 0, rst = 1;
  reg [{width - 1}:0] mem [0:{beats - 1}];
  integer idx = 0, results = 0, cycles = 0, done_at = -1, fd;
  reg take = 0;
  wire in_valid = !rst && idx < {beats};
  wire out_ready = 1'b1;
  wire [{width - 1}:0] beat = idx < {beats} ? mem[idx] : {width}'d0;
  wire [{aw - 1}:0] in_act = beat[{aw - 1}:0];
  wire [{cw - 1}:0] in_code = beat[{aw + cw - 1}:{aw}];
  wire in_last = beat[{aw + cw}];
{chr(10).join(decl)}
  {top} dut (
{(',' + chr(10)).join(conns)}
  );
  always #5 clk = ~clk;
  initial begin
    $readmemb("beats.mem", mem);
    fd = $fopen("samples.txt", "w");
    repeat ({RESET_CYCLES}) @(posedge clk);
    #1 rst = 0;
  end
  // Handshakes are decided at the falling edge, where every net has settled; the
  // next beat is presented 1 ns after the rising edge that accepted this one.
  always @(negedge clk) if (!rst) begin
      take = in_valid && in_ready;
      if (out_valid) results = results + 1;
{probe}
      $fwrite(fd, "\\n");
      cycles = cycles + 1;
      if (results == {dots} && done_at < 0) done_at = cycles;
      if ((done_at >= 0 && cycles >= done_at + {latency} + 2) || cycles > {limit}) begin
        $fclose(fd);
        $finish;
      end
  end
  always @(posedge clk) if (take) #1 idx = idx + 1;
endmodule
"""


def _beat_lines(stim: Stimulus, cfg: PEConfig) -> str:
    act = mapper.pack_bits(stim.act, cfg.abits)
    code = mapper.pack_bits(stim.code.reshape(stim.beats, -1), cfg.wbits)
    bits = np.concatenate([act, code, stim.last[:, None].astype(np.uint8)], axis=1)
    chars = (bits[:, ::-1] + ord("0")).astype(np.uint8)
    return "\n".join(row.tobytes().decode() for row in chars) + "\n"


def read_samples(path: Path, n_nets: int) -> np.ndarray:
    """samples.txt -> uint8 (cycles, nets): 0, 1, or 2 for x / z."""
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    lines = raw.reshape(-1, n_nets + 1)[:, :n_nets]
    out = np.full(lines.shape, 2, dtype=np.uint8)
    out[lines == ord("0")] = 0
    out[lines == ord("1")] = 1
    return out


def net_activity(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(activity, duty) per net (module docstring, step 3) of samples (cycles, nets)."""
    a, b = samples[:-1], samples[1:]
    toggles = ((a != b) & (a < 2) & (b < 2)).sum(axis=0)
    defined = (samples < 2).sum(axis=0)
    activity = toggles / max(1, samples.shape[0] - 1)
    duty = np.where(defined > 0, (samples == 1).sum(axis=0) / np.maximum(defined, 1), 0.0)
    return activity, duty


def _outputs(samples: np.ndarray, nets: list[str], base: str, width: int) -> np.ndarray:
    """The values of output `base` (width bits) in each sample row, as bit columns."""
    idx = {n: i for i, n in enumerate(nets)}
    cols = [idx.get(f"{base}[{i}]" if width > 1 else base) for i in range(width)]
    if any(c is None for c in cols):
        raise SynthError(f"output {base} is not among the netlist's nets")
    return samples[:, cols]


def simulate(netlist: Path, top: str, ports: list, lib: Library, stim: Stimulus,
             cfg: PEConfig, kind: str, acc_bits: int, latency: int, workdir: Path, *,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> dict:
    """Gate-level simulation and counting (module docstring, steps 2-4): {'nets',
    'activity', 'duty' (arrays per net), 'cycles' (the window), 'seconds'}."""
    iverilog, vvp = find_tool("iverilog"), find_tool("vvp")
    t0 = time.perf_counter()
    text = netlist.read_text()
    nets = netlist_nets(text)
    want = expected_results(stim, cfg, kind, acc_bits)
    width = stim.act.shape[1] * cfg.abits + stim.code.shape[1] * stim.code.shape[2] \
        * cfg.wbits + 1
    (workdir / "beats.mem").write_text(_beat_lines(stim, cfg))
    (workdir / "tb.v").write_text(testbench(top, ports, nets, stim.beats, width, latency,
                                            len(want)))
    _run([str(iverilog), "-o", "tb.vvp", "-s", "asq_tb", "tb.v", netlist.name,
          str(lib.models)], workdir, timeout_s)
    _run([str(vvp), "-n", "tb.vvp"], workdir, timeout_s)
    samples = read_samples(workdir / "samples.txt", len(nets))
    seconds = time.perf_counter() - t0

    valid = _outputs(samples, nets, "out_valid", 1)[:, 0] == 1
    slots = want.shape[2]
    names = ["out_acc"] if slots == 1 else ["out_acc_even", "out_acc_odd"]
    got = np.stack([mapper.unpack_bits(
        np.where(valid[:, None], _outputs(samples, nets, n, want.shape[1] * acc_bits), 0)
        [valid], want.shape[1], acc_bits, signed=True) for n in names], axis=-1)
    if got.shape != want.shape or not np.array_equal(got, want):
        bad = "count" if got.shape != want.shape else \
            f"{int((got != want).any(axis=(1, 2)).sum())} of {len(want)}"
        raise SynthError(f"the mapped netlist's results differ from the reference "
                         f"({bad} dot products): power is not reported for it")
    first = int(np.argmax(samples[:, nets.index("in_valid")] == 1)) \
        if "in_valid" in nets else 0
    last_out = int(np.flatnonzero(valid)[-1])
    window = samples[first:last_out + 1]
    activity, duty = net_activity(window)
    return {"nets": nets, "activity": activity, "duty": duty, "cycles": int(len(window)),
            "seconds": seconds}


def _run(cmd: list[str], cwd: Path, timeout_s: float) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SynthError(f"{Path(cmd[0]).name} timed out after {timeout_s:g} s") from None
    if proc.returncode != 0:
        lines = (proc.stderr + proc.stdout).strip().splitlines() or ["no output"]
        raise SynthError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): {lines[0]}")


# OpenSTA 2.0.17's `set_power_activity -pins` calls a procedure that does not exist
# (get_pins_error) and would set input pins only; its own command for one pin works.
PIN_PROC = ("proc asq_pin_activity {names a d} {\n"
            "  foreach pin [get_pins $names] { sta::set_power_pin_activity $pin $a $d }\n}\n")


def _tcl_names(names: list[str]) -> str:
    return " ".join(n.replace("[", "\\[").replace("]", "\\]") for n in names)


def activity_tcl(pins: dict[str, list[str]], nets: list[str], activity: np.ndarray,
                 duty: np.ndarray, inputs: set[str], clocks: tuple[str, ...] = ("clk",)
                 ) -> str:
    """OpenSTA commands giving every pin of each net the net's activity and duty, and each
    input port (`inputs`, the clocks excepted) its own; nets with equal (rounded) figures
    share one command."""
    groups: dict[tuple[float, float], list[str]] = defaultdict(list)
    ports: dict[tuple[float, float], list[str]] = defaultdict(list)
    for n, a, d in zip(nets, activity, duty, strict=True):
        if n in clocks:
            continue
        key = (float(f"{a:.4g}"), round(float(d), 3))
        groups[key] += pins.get(n, [])
        if n in inputs:
            ports[key].append(n)
    lines = [PIN_PROC]
    for (a, d), ps in sorted(groups.items()):
        if ps:
            lines.append(f"asq_pin_activity {{{_tcl_names(ps)}}} {a:g} {d:g}")
    for (a, d), ps in sorted(ports.items()):
        lines.append(f"set_power_activity -input_ports [get_ports {{{_tcl_names(ps)}}}] "
                     f"-activity {a:g} -duty {d:g}")
    return "\n".join(lines) + "\n"
