"""`asq-hw eval DIR`: accuracy of the float model, the fake-quantized PyTorch model and the
golden integer network (read from the artifact only) on the data set's test split, and the
agreement: the fraction of test images whose golden top-1 equals the fake-quant top-1; and
continuous figures: the SQNR of the golden (and fake-quant) logits against the float
network's, the SQNR of the golden logits against the same QAT network run in float (the
quantization noise alone), and each layer's weight quantization MSE (asq_hw/evaluation.py
defines them)."""

from __future__ import annotations

import json

from asq_hw.commands.args import Choice, check_int
from asq_hw.config import FRAC_BITS_RANGE, VARIANTS


def register(sub, help: str) -> None:
    p = sub.add_parser("eval", help=help, description=__doc__)
    p.add_argument("dir", help="folder written by asq-hw train")
    p.add_argument("--variant", default="lut", action=Choice, allowed=VARIANTS, quoted=True,
                   help="POST MAC variant of the golden network (default lut)")
    p.add_argument("--frac-bits", type=int, default=None,
                   help="F of the lut variant (default: the artifact's)")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 folder, for cifar10 artifacts")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: images, float_acc, fakequant_acc, "
                        "golden_acc, agreement (fractions from 0 to 1), integer_only, "
                        "asq_cost (per layer: the requantization and adapter units' widths, "
                        "parameters and operations per image next to the MACs), sqnr_db, "
                        "fakequant_sqnr_db, quant_sqnr_db, weight_mse [{name, mse, sqnr_db}]")
    p.set_defaults(func=run)


def run(args) -> int:
    from asq_hw.artifact import load_artifact
    from asq_hw.evaluation import evaluate
    from golden.asq_cost import cost_table

    if args.frac_bits is not None:
        check_int("frac_bits", args.frac_bits, *FRAC_BITS_RANGE)
    check_int("threads", args.threads, 1, 256)
    r = evaluate(args.dir, args.variant, args.frac_bits, args.data_dir, args.threads)
    if args.json:
        print(json.dumps(r, allow_nan=False))
        return 0
    m = load_artifact(args.dir)
    f = m.frac_bits if args.frac_bits is None else args.frac_bits
    detail = f", F={f}" if args.variant == "lut" and m.weight_quant == "post" else ""
    print(f"{m.dataset} test split, {r['images']} images, W{m.wbits}A{m.abits} "
          f"{m.weight_quant}, golden variant {args.variant}{detail}")
    print(f"  float       {100 * r['float_acc']:6.2f} %")
    print(f"  fake-quant  {100 * r['fakequant_acc']:6.2f} %")
    print(f"  golden      {100 * r['golden_acc']:6.2f} %")
    print(f"  agreement   {100 * r['agreement']:6.2f} %  (golden top-1 == fake-quant top-1)")
    print(f"  logit SQNR  {_db(r['sqnr_db'])} golden, {_db(r['fakequant_sqnr_db'])} fake-quant "
          "(against the float logits)")
    print(f"  quant SQNR  {_db(r['quant_sqnr_db'])} golden against the QAT network run in float "
          "(quantization noise alone)")
    print("  weight MSE  " + ", ".join(f"{w['name']} {w['mse']:.3g} ({_db(w['sqnr_db'])})"
                                        for w in r["weight_mse"]))
    print("  integer only; ASQ cost per image (ASQ ops: the per-sample beta's operations)")
    for row in cost_table(r["asq_cost"]):
        print(f"    {row}")
    return 0


def _db(v) -> str:
    return "inf dB" if v is None else f"{v:.2f} dB"
