"""The `accel` target of `asq-hw verilog` and `asq-hw sim`: the whole network on chip.

    asq-hw verilog accel DIR --rows P --lanes Q [--variant] --out OUT [--vectors K]
    asq-hw sim accel DIR --rows P --lanes Q [--variant] [--images K] [--sim] [--json]

`verilog accel` writes OUT/asq_accel.v and OUT/asq_accel.json (docs/accel.md, "Manifest"),
and with --vectors K the first K test images as vectors for any HDL bench: OUT/vectors.npz
(inputs: the input codes (K, C, H, W); logits (K, classes) int64; predictions; labels),
OUT/inputs.hex and OUT/logits.hex (one stream beat per line, hex, in the manifest's
packing, images back to back, for $readmemh), and OUT/tb_asq_accel.v, a self-checking
plain Verilog bench of them (sim/plain_bench.py). The files are swapped in as one folder.

`sim accel` runs the first K test images through the RTL (sim/accelsim.py): every logit
against golden, cycles of the clean images against the manifest; exit 1 on any mismatch.
"""

from __future__ import annotations

from asq_hw.cluster import HELP
from asq_hw.commands.args import Choice, check_int, check_rows, checked
from asq_hw.config import VARIANTS

OUT_NAMES = ("asq_accel.v", "asq_accel.json", "vectors.npz", "inputs.hex", "logits.hex",
             "tb_asq_accel.v")


def add_accel_args(p) -> None:
    """The flags that pick one accelerator: artifact, P, Q, variant."""
    p.add_argument("dir", help="artifact folder (asq-hw train --out DIR)")
    p.add_argument("--rows", type=int, required=True, help="array rows P")
    p.add_argument("--lanes", type=int, required=True, help="array lanes Q")
    p.add_argument("--variant", default="lut", action=Choice, allowed=VARIANTS, quoted=True,
                   help="POST MAC variant (default lut)")


def load_checked(args):
    """The artifact of args.dir after checking rows, lanes and that the accelerator can run
    it (one UserError line otherwise); nothing is generated yet."""
    from asq_hw.artifact import load_artifact
    from asq_hw.config import LANES_RANGE
    from asq_hw.mapper import array_config
    from hw.accel.requant_plan import requant_layers

    art = load_artifact(args.dir)
    check_rows(args.rows)
    check_int("lanes", args.lanes, *LANES_RANGE)
    cfg = checked(array_config, art, args.variant, args.lanes)
    checked(requant_layers, art, cfg)       # the ops the accelerator runs (ValueError)
    return art


def make_accel(art, args, probe: bool = False):
    from asq_hw.mapper import array_config
    from hw.accel.top import Accelerator

    return Accelerator(art, array_config(art, args.variant, args.lanes), args.rows,
                       probe=probe)


def register_verilog(targets) -> None:
    p = targets.add_parser(
        "accel", help="a trained network as one accelerator: OUT/asq_accel.v + .json",
        description=__doc__.split("\n\n")[2])
    add_accel_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--vectors", type=int, default=None, metavar="K",
                   help="also write test vectors of the first K test images")
    p.set_defaults(func=run_verilog)


def vectors(art, acc, k: int) -> dict:
    """The first k test images as arrays: inputs, logits, predictions, labels."""
    import numpy as np

    from asq_hw.data import load_dataset
    from golden.network import GoldenNetwork

    data = load_dataset(art.dataset)
    check_int("vectors", k, 1, data.x_test.shape[0])
    x = data.x_test[:k].numpy()
    net = GoldenNetwork(art, acc.variant, acc.cfg.frac_bits)
    res = net.run(x)
    return {"inputs": net.quantize_input(x), "logits": res.logits_int,
            "predictions": res.preds, "labels": data.y_test[:k].numpy().astype(np.int64)}


def hex_lines(values, bits: int) -> str:
    """One beat per line: each value as a `bits`-wide two's complement pattern in hex."""
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    return "".join(f"{int(v) & mask:0{digits}x}\n" for v in values)


def run_verilog(args) -> int:
    import io

    import numpy as np

    from asq_hw.commands.args import output_errors
    from asq_hw.outputs import staged_folder, write_bytes, write_text
    from hw.accel.gen import generate_accel
    from hw.gen import manifest_text
    from sim.plain_bench import NAME, plain_bench

    art = load_checked(args)
    if args.vectors is not None:
        check_int("vectors", args.vectors, 1, 1 << 20)
    acc = make_accel(art, args)
    text, man = generate_accel(acc)
    vec = vectors(art, acc, args.vectors) if args.vectors is not None else None
    with output_errors(), staged_folder(args.out, OUT_NAMES) as stage:
        write_text(stage / "asq_accel.v", text)
        write_text(stage / "asq_accel.json", manifest_text(man))
        if vec is not None:
            buf = io.BytesIO()
            np.savez(buf, **vec)
            write_bytes(stage / "vectors.npz", buf.getvalue())
            write_text(stage / "inputs.hex", hex_lines(vec["inputs"].reshape(-1),
                                                       man["input"]["bits"]))
            write_text(stage / "logits.hex", hex_lines(vec["logits"].reshape(-1),
                                                       man["output"]["bits"]))
            write_text(stage / NAME, plain_bench(man, args.vectors))
    extra = (f", vectors of {args.vectors} images and their bench {NAME}" if vec is not None
             else "")
    print(f"wrote {args.out}/asq_accel.v and asq_accel.json{extra}: top {man['top']}, "
          f"{args.rows}x{args.lanes} {args.variant}, {man['input']['beats']} input beats, "
          f"{man['output']['beats']} logit beats, {man['cycles_per_image']} cycles per image")
    return 0


def register_sim(targets) -> None:
    p = targets.add_parser(
        "accel", help="a trained network through the whole accelerator, logits vs golden",
        description=__doc__.split("\n\n")[3])
    add_accel_args(p)
    from asq_hw.toolchain import SIMULATORS
    p.add_argument("--images", type=int, default=None,
                   help="first K test images (default: the whole test split)")
    p.add_argument("--sim", default=None, action=Choice, allowed=SIMULATORS,
                   help="simulator (default: $SIM, else verilator)")
    p.add_argument("--clean", type=int, default=2,
                   help="images run clean (input back to back, out_ready high) before the "
                        "rough ones (random gaps and back-pressure); default 2 per shard")
    p.add_argument("--seed", type=int, default=0, help="seed of the rough images' timing")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: images, logits_checked, mismatches, "
                        "prediction_mismatches, cycles, cycles_per_image, "
                        "verified_macs_per_s, wall_s, and more")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="simulate shards of the images in J processes (default 1)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help=HELP)
    p.add_argument("--waves", action="store_true", help="record a waveform (also WAVES=1)")
    p.add_argument("--build-dir", default=None,
                   help="root of the build folders (default $ASQ_HW_BUILD, else build)")
    p.set_defaults(func=run_sim)


def run_sim(args) -> int:
    import functools
    import json

    from asq_hw.cluster import session
    from asq_hw.data import load_dataset
    from sim import runner
    from sim.accelsim import run_accel, run_sharded
    from sim.shards import worker_facts

    art = load_checked(args)
    check_int("jobs", args.jobs, 1, 256)
    check_int("clean", args.clean, 0, 1 << 20)
    check_int("seed", args.seed, 0, (1 << 32) - 1)
    sim = checked(runner.sim_name, args.sim)
    data = load_dataset(art.dataset)
    total = data.x_test.shape[0]
    k = total if args.images is None else args.images
    check_int("images", k, 1, total)
    x = data.x_test[:k].numpy()
    with session(args.cluster, functools.partial(worker_facts, sim)) as executor:
        if executor is None and args.jobs == 1:
            r = run_accel(art, x, args.rows, args.lanes, args.variant, sim, clean=args.clean,
                          seed=args.seed, build_root=args.build_dir,
                          waves=True if args.waves else None)
        else:
            shards = args.jobs if executor is None else executor.workers
            r = run_sharded(art, x, args.rows, args.lanes, args.variant, sim, shards=shards,
                            jobs=args.jobs, executor=executor, clean=args.clean,
                            seed=args.seed, build_root=args.build_dir)
    rep = r.report()
    if args.json:
        print(json.dumps(rep, allow_nan=False))
        return 0 if r.ok else 1
    print(f"asq_accel {args.rows}x{args.lanes} ({args.variant}), {sim}; {art.dataset} test "
          f"split, {r.images} images ({rep['clean_images']} clean, the rest with random "
          f"input gaps and output back-pressure)")
    print(f"logits checked: {r.logits_checked}, mismatches: {r.mismatches}; predictions: "
          f"{r.images - r.prediction_mismatches} of {r.images} identical to golden")
    print(f"cycles per image: manifest {r.cycles_per_image}, clean images measured "
          f"{rep['measured_cycles_per_image']} ({r.cycle_errors} differ)")
    if r.first_bad_layer is not None:
        print(f"first mismatch: image {r.first_bad_image}, first layer whose output differs "
              f"from golden: {r.first_bad_layer}")
    for name, n in (("in_last framing", r.framing_errors), ("out_last", r.last_errors)):
        if n:
            print(f"  error: {n} images with a wrong {name}")
    print(f"verified MACs/s: {r.verified_macs_per_s / 1e6:.2f} M ({r.images} images x "
          f"{r.macs_per_image} MACs in {r.wall_s:.1f} s, simulator {r.sim_s:.1f} s; "
          f"generating and building the design {r.build_s:.1f} s before)")
    return 0 if r.ok else 1
