"""What the accelerator can run: `check_network` refuses an artifact it cannot, with one
line naming the op, its value and what is allowed (before anything is generated).

The accelerator runs chains of conv / linear layers with relu, max pooling whose kernel
equals its stride (each output is written once, the window's first element directly and
the others as read-modify-write) and flatten (free: the buffers' (c, h, w) order) between
them, on POST weights; no integer op before the first compute layer.
"""

from __future__ import annotations

from asq_hw.artifact import COMPUTE_OPS, Artifact
from asq_hw.errors import UserError


def check_network(art: Artifact) -> None:
    """UserError if the accelerator cannot run `art` (module docstring)."""
    if art.weight_quant != "post":
        raise UserError(f"weight_quant {art.weight_quant!r}: the accelerator runs POST "
                        "weights only ('post')")
    seen = False
    for op in art.ops:
        if op.op in COMPUTE_OPS:
            seen = True
        elif op.op not in ("relu", "maxpool", "flatten"):
            raise UserError(f"op {op.op!r}: the accelerator runs conv, linear, relu, maxpool "
                            "and flatten only")
        elif not seen:
            raise UserError(f"op {op.op!r} before the first compute layer: the accelerator "
                            "takes the input codes straight into the first layer")
        elif op.op == "maxpool" and op.kernel != op.stride:
            raise UserError(f"maxpool kernel {op.kernel} with stride {op.stride}: the "
                            "accelerator pools with kernel == stride only")
    if not seen:
        raise UserError("the artifact has no conv or linear layer")
