"""`asq-hw eval DIR`: accuracy of the float model, the fake-quantized PyTorch model and the
golden integer network (read from the artifact only) on the data set's test split, and the
agreement: the fraction of test images whose golden top-1 equals the fake-quant top-1."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("eval", help="compare float, fake-quant and golden integer accuracy",
                       description=__doc__)
    p.add_argument("dir", help="folder written by asq-hw train")
    p.add_argument("--variant", default="lut", choices=("lut", "dual"),
                   help="POST MAC variant of the golden network (default lut)")
    p.add_argument("--frac-bits", type=int, default=None,
                   help="F of the lut variant (default: the artifact's)")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 folder, for cifar10 artifacts")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: images, float_acc, fakequant_acc, "
                        "golden_acc, agreement (fractions from 0 to 1)")
    p.set_defaults(func=run)


def evaluate(directory, variant: str = "lut", frac_bits: int | None = None,
             data_dir=None, threads: int = 1) -> dict:
    """The evaluation figures as a dict (fractions in [0, 1])."""
    import numpy as np

    from asq_hw.config import _check_int
    from asq_hw.data import load_dataset
    from asq_hw.errors import UserError
    from asq_hw.export import load_artifact
    from asq_hw.train import THREADS_RANGE, deterministic, load_checkpoint_meta, predict
    from golden.network import GoldenNetwork

    _check_int("threads", threads, *THREADS_RANGE)      # before anything is loaded
    art = load_artifact(directory)
    float_model, qat_model, tcfg, meta = load_checkpoint_meta(directory)
    m = art.meta
    if meta.get("artifact_sha256") != m["tensors_sha256"]:
        raise UserError(f"{directory}: checkpoint.safetensors field artifact_sha256 does not "
                        "match model.json: the checkpoint and the artifact come from "
                        "different runs")
    data = load_dataset(m["dataset"], data_dir if data_dir is not None else tcfg.data_dir)
    if list(data.in_shape) != m["input"]["shape"]:
        raise UserError(f"{directory}: artifact input shape {m['input']['shape']} does not "
                        f"match the {m['dataset']} images {list(data.in_shape)}")
    y = data.y_test.numpy()
    with deterministic(tcfg.seed, threads):
        float_pred = predict(float_model, data.x_test).numpy()
        fq_pred = predict(qat_model, data.x_test).numpy()
    golden = GoldenNetwork(art, variant, frac_bits).run(data.x_test.numpy())
    return {"images": int(y.shape[0]),
            "float_acc": float(np.mean(float_pred == y)),
            "fakequant_acc": float(np.mean(fq_pred == y)),
            "golden_acc": float(np.mean(golden.preds == y)),
            "agreement": float(np.mean(golden.preds == fq_pred))}


def run(args) -> int:
    from asq_hw.export import load_artifact

    r = evaluate(args.dir, args.variant, args.frac_bits, args.data_dir, args.threads)
    if args.json:
        print(json.dumps(r, allow_nan=False))
        return 0
    m = load_artifact(args.dir).meta
    f = m["frac_bits"] if args.frac_bits is None else args.frac_bits
    detail = f", F={f}" if args.variant == "lut" and m["weight_quant"] == "post" else ""
    print(f"{m['dataset']} test split, {r['images']} images, W{m['wbits']}A{m['abits']} "
          f"{m['weight_quant']}, golden variant {args.variant}{detail}")
    print(f"  float       {100 * r['float_acc']:6.2f} %")
    print(f"  fake-quant  {100 * r['fakequant_acc']:6.2f} %")
    print(f"  golden      {100 * r['golden_acc']:6.2f} %")
    print(f"  agreement   {100 * r['agreement']:6.2f} %  (golden top-1 == fake-quant top-1)")
    return 0
