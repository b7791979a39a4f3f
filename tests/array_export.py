"""The trained network the array's RTL and CLI tests run: a small digits CNN (width 4, all
four layer kinds of the default network: a signed 8-bit conv, unsigned 4-bit convs with
padding, max pooling, a linear classifier), trained once (about 6 s) into the build folder
and reused by later sessions and by both xdist workers."""

import subprocess
import sys
from pathlib import Path

from sim import runner

NAME = "export-cnn4-digits"
RESNET = "export-resnet4-digits"
MLP = "export-mlp4-digits"


def _trained(name: str, flags: list[str]) -> Path:
    """The artifact folder `name` in the build folder, trained with `asq-hw train FLAGS`
    unless a valid artifact is already there (one training across xdist workers)."""
    folder = runner.build_root() / "sim" / name
    with runner.file_lock(folder.parent / f".{name}.lock"):
        try:
            from asq_hw.artifact import load_artifact
            load_artifact(folder)
        except Exception:
            subprocess.run([sys.executable, "-m", "asq_hw.cli", "train", *flags, "--quiet",
                            "--out", str(folder)], check=True, capture_output=True)
    return folder


def trained_cnn() -> Path:
    return _trained(NAME, ["--width", "4", "--float-epochs", "3", "--epochs", "2"])


def trained_resnet() -> Path:
    """A ResNet-20 of width 4 (identity and projection shortcuts, the integer pool), trained
    briefly (about 20 s) into the build folder, as trained_cnn."""
    return _trained(RESNET, ["--model", "resnet20", "--width", "4", "--float-epochs", "2",
                             "--epochs", "1"])


def trained_mlp() -> Path:
    """The width-4 MLP (a flatten before its first layer), trained briefly (a few seconds)
    into the build folder, as trained_cnn."""
    return _trained(MLP, ["--model", "mlp", "--width", "4", "--float-epochs", "2",
                          "--epochs", "1"])
