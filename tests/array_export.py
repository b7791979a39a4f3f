"""The trained network the array's RTL and CLI tests run: a small digits CNN (width 4, all
four layer kinds of the default network: a signed 8-bit conv, unsigned 4-bit convs with
padding, max pooling, a linear classifier), trained once (about 6 s) into the build folder
and reused by later sessions and by both xdist workers."""

import subprocess
import sys
from pathlib import Path

from sim import runner

NAME = "export-cnn4-digits"


def trained_cnn() -> Path:
    folder = runner.build_root() / "sim" / NAME
    with runner.file_lock(folder.parent / f".{NAME}.lock"):
        try:
            from asq_hw.artifact import load_artifact
            load_artifact(folder)
        except Exception:
            subprocess.run([sys.executable, "-m", "asq_hw.cli", "train", "--width", "4",
                            "--float-epochs", "3", "--epochs", "2", "--quiet", "--out",
                            str(folder)], check=True, capture_output=True)
    return folder


RESNET = "export-resnet4-digits"


def trained_resnet() -> Path:
    """A ResNet-20 of width 4 (identity and projection shortcuts, the integer pool), trained
    briefly (about 20 s) into the build folder, as trained_cnn."""
    folder = runner.build_root() / "sim" / RESNET
    with runner.file_lock(folder.parent / f".{RESNET}.lock"):
        try:
            from asq_hw.artifact import load_artifact
            load_artifact(folder)
        except Exception:
            subprocess.run([sys.executable, "-m", "asq_hw.cli", "train", "--model",
                            "resnet20", "--width", "4", "--float-epochs", "2", "--epochs",
                            "1", "--quiet", "--out", str(folder)], check=True,
                           capture_output=True)
    return folder


MLP = "export-mlp4-digits"


def trained_mlp() -> Path:
    """The width-4 MLP (a flatten before its first layer), trained briefly (a few seconds)
    into the build folder, as trained_cnn."""
    folder = runner.build_root() / "sim" / MLP
    with runner.file_lock(folder.parent / f".{MLP}.lock"):
        try:
            from asq_hw.artifact import load_artifact
            load_artifact(folder)
        except Exception:
            subprocess.run([sys.executable, "-m", "asq_hw.cli", "train", "--model", "mlp",
                            "--width", "4", "--float-epochs", "2", "--epochs", "1", "--quiet",
                            "--out", str(folder)], check=True, capture_output=True)
    return folder
