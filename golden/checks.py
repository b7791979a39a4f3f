"""Input checks shared by the golden PE and layers: integer arrays, activation and code
ranges, with one message form naming the element, its value and the allowed range."""

from __future__ import annotations

import numpy as np

from asq_hw.config import PEConfig


def as_int_array(name: str, a) -> np.ndarray:
    """`a` as an array; ValueError unless its dtype is an integer type (not bool)."""
    a = np.asarray(a)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, not {a.dtype}")
    return a


def range_error(cfg: PEConfig, name: str, index, value) -> ValueError:
    """The ValueError of element `index` of acts or codes holding out-of-range `value`."""
    where = ", ".join(str(int(i)) for i in index)
    if name == "acts":
        kind = "signed" if cfg.act_signed else "unsigned"
        return ValueError(
            f"acts[{where}] = {value} is out of range: activations must be integers from "
            f"{cfg.act_min} to {cfg.act_max} (abits={cfg.abits}, {kind})")
    return ValueError(f"codes[{where}] = {value} is out of range: codes must be integers "
                      f"from 0 to {cfg.code_max} (wbits={cfg.wbits})")


def check_range(cfg: PEConfig, name: str, a: np.ndarray) -> None:
    """Raise the ValueError of the first element of `a` (acts or codes) out of range."""
    lo, hi = (cfg.act_min, cfg.act_max) if name == "acts" else (0, cfg.code_max)
    if a.size and (a.min() < lo or a.max() > hi):
        idx = np.argwhere((a < lo) | (a > hi))[0]
        raise range_error(cfg, name, idx, int(a[tuple(idx)]))
