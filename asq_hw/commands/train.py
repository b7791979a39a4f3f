"""`asq-hw train`: float pre-training then ASQ + POST quantization-aware training on the CPU,
then export of the integer artifact (DIR/model.json + DIR/model.safetensors) and the PyTorch
checkpoint (DIR/checkpoint.safetensors) that `asq-hw eval` compares against."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from asq_hw.commands.args import Choice, check_int, checked
from asq_hw.config import DEFAULT_FRAC_BITS


def register(sub, help: str) -> None:
    from asq_hw.data import DATASETS
    from asq_hw.models import MODELS
    from asq_hw.quant.baselines import WEIGHT_QUANTS
    from asq_hw.train import TrainConfig
    d = TrainConfig()
    p = sub.add_parser("train", help=help, description=__doc__)
    p.add_argument("--dataset", default=d.dataset, action=Choice, allowed=DATASETS,
                   help="digits (scikit-learn, default) or cifar10 (needs --data-dir)")
    p.add_argument("--data-dir", default=None,
                   help="cifar10 only: the folder of the python-version batches "
                        "(data_batch_1..5, test_batch) or its parent holding "
                        "cifar-10-batches-py/; never downloaded")
    p.add_argument("--model", default=d.model, action=Choice, allowed=MODELS,
                   help=f"network (default {d.model})")
    p.add_argument("--width", type=int, default=d.width, help=f"base width (default {d.width})")
    p.add_argument("--wbits", type=int, default=d.wbits, help=f"weight bits (default {d.wbits})")
    p.add_argument("--abits", type=int, default=d.abits,
                   help=f"activation bits (default {d.abits})")
    p.add_argument("--weight-quant", default=d.weight_quant, action=Choice,
                   allowed=tuple(WEIGHT_QUANTS), field="weight_quant",
                   help="weight quantizer: post (default), pot or int (LSQ) baselines")
    p.add_argument("--no-adapter", action="store_true",
                   help="plain LSQ activations (no ASQ adapter)")
    p.add_argument("--float-epochs", type=int, default=d.float_epochs,
                   help=f"float pre-training epochs (default {d.float_epochs})")
    p.add_argument("--epochs", type=int, default=d.epochs,
                   help=f"quantization-aware fine-tuning epochs (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help=f"float learning rate ({d.lr})")
    p.add_argument("--qat-lr", type=float, default=None,
                   help=f"QAT learning rate (default {d.qat_lr}; 3e-4 for resnet20)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
    p.add_argument("--threads", type=int, default=d.threads,
                   help=f"torch CPU threads, part of the determinism (default {d.threads})")
    p.add_argument("--frac-bits", type=int, default=DEFAULT_FRAC_BITS,
                   help="default F of the lut variant recorded in the artifact "
                        f"(default {DEFAULT_FRAC_BITS})")
    p.add_argument("--no-export", action="store_true",
                   help="write only the checkpoint (no integer artifact)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--out", default="build/model", help="output folder (default build/model)")
    p.set_defaults(func=run)


def run(args) -> int:
    from asq_hw.artifact import load_artifact, save_artifact
    from asq_hw.config import FRAC_BITS_RANGE
    from asq_hw.data import load_dataset
    from asq_hw.export import export_model
    from asq_hw.train import TrainConfig, default_qat_lr, save_checkpoint, train

    cfg = checked(TrainConfig, dataset=args.dataset, data_dir=args.data_dir,
                  model=args.model, width=args.width, wbits=args.wbits, abits=args.abits,
                  weight_quant=args.weight_quant, adapter=not args.no_adapter,
                  float_epochs=args.float_epochs, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr,
                  qat_lr=default_qat_lr(args.model) if args.qat_lr is None else args.qat_lr,
                  seed=args.seed, threads=args.threads)
    check_int("frac_bits", args.frac_bits, *FRAC_BITS_RANGE)
    from asq_hw.outputs import staged_folder
    from asq_hw.train import CHECKPOINT_NAME
    names = ("model.json", "model.safetensors", CHECKPOINT_NAME)
    # All three files are written into a new folder that replaces --out in one step when
    # they are complete (a failure or a signal leaves the old folder as it was); a bad
    # --out fails here, before training.
    with staged_folder(args.out, names) as stage:
        data = load_dataset(cfg.dataset, cfg.data_dir)
        t0 = time.perf_counter()
        result = train(cfg, data, progress=not args.quiet)
        seconds = time.perf_counter() - t0
        print(f"{cfg.dataset}: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test "
              f"images, {cfg.model} W{cfg.wbits}A{cfg.abits} {cfg.weight_quant}"
              f"{'' if cfg.adapter else ' (no adapter)'}, seed {cfg.seed}, {seconds:.1f} s")
        print(f"  float accuracy       {100 * result.float_acc:6.2f} %")
        print(f"  fake-quant accuracy  {100 * result.fakequant_acc:6.2f} %")
        sha = None
        if not args.no_export:
            provenance = {"model": cfg.model, "width": cfg.width, "adapter": cfg.adapter,
                          "seed": cfg.seed, "float_epochs": cfg.float_epochs,
                          "epochs": cfg.epochs}
            # export_model refuses weights it cannot quantize (NaN, inf) with a ValueError
            # naming the layer: the training run's settings are the user's to change.
            art = checked(export_model, result.qat_model, data, frac_bits=args.frac_bits,
                          provenance=provenance, float_acc=result.float_acc,
                          fakequant_acc=result.fakequant_acc)
            save_artifact(art, stage)
            sha = load_artifact(stage).tensors_sha256
        save_checkpoint(result, data, stage, artifact_sha256=sha)
    if not args.no_export:
        print(f"  artifact   {args.out}/model.json + model.safetensors")
    print(f"  checkpoint {Path(args.out) / CHECKPOINT_NAME}")
    sys.stdout.flush()
    return 0
