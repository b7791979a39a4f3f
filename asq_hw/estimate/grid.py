"""The calibration grid: which designs `asq-hw calibrate` synthesises.

A designed grid, not the cross product: every (wbits, abits) pair of the contract once,
with the variant, signedness, lanes, frac_bits and max_len varied along the list so each
value of each appears several times in different company; arrays from 1 x 8 to 8 x 8; the
two baselines. `small` is a subset for quick checks (and the CI test).
"""

from __future__ import annotations

import dataclasses

from asq_hw.config import ABITS_RANGE, WBITS_RANGE, PEConfig

GRIDS = ("small", "full")


@dataclasses.dataclass(frozen=True)
class Point:
    """One design: kind 'post' (a PE when rows is None, else a rows x lanes array),
    'int' or 'pot' (baseline PEs)."""

    kind: str
    cfg: PEConfig
    rows: int | None = None

    @property
    def design(self) -> str:
        return "array" if self.rows is not None else "pe"

    @property
    def label(self) -> str:
        c = self.cfg
        shape = f"{self.rows}x{c.lanes}" if self.rows is not None else f"q{c.lanes}"
        var = c.variant if self.kind == "post" else self.kind
        extra = f" F{c.frac_bits}" if self.kind == "post" and c.variant == "lut" else ""
        return (f"{self.design} {var} W{c.wbits}A{c.abits}{'s' if c.act_signed else ''} "
                f"{shape}{extra} L{c.max_len}")


def _pe_points() -> list[Point]:
    out = []
    fracs = (4, 6, 8, 10, 12)
    max_lens = (256, 4096, 65536)
    k = 0
    for w in range(WBITS_RANGE[0], WBITS_RANGE[1] + 1):
        for a in range(ABITS_RANGE[0], ABITS_RANGE[1] + 1):
            cfg = PEConfig(wbits=w, abits=a, act_signed=(w + 2 * a) % 3 == 0,
                           variant="lut" if (w + a) % 2 == 0 else "dual",
                           frac_bits=fracs[(w + a) % 5], lanes=(3 * w + a) % 8 + 1,
                           max_len=max_lens[k % 3])
            out.append(Point("post", cfg))
            k += 1
    return out


def _extra_points() -> list[Point]:
    """Corners the pair sweep misses: a one-lane unsigned dual PE (its tree copies the term
    register), the widest LUT (F 16: two block RAMs per lane on iCE40), the shortest
    accumulator (max_len 1) and an explicitly narrow, wrapping one (terms capped)."""
    return [
        Point("post", PEConfig(wbits=4, abits=4, variant="dual", lanes=1)),
        Point("post", PEConfig(wbits=5, abits=8, frac_bits=16, lanes=2)),
        Point("post", PEConfig(wbits=3, abits=5, max_len=1, lanes=3)),
        Point("post", PEConfig(wbits=6, abits=4, lanes=4, acc_bits=14)),
    ]


def _array_points() -> list[Point]:
    specs = [  # (rows, lanes, wbits, abits, variant, signed)
        (1, 8, 4, 4, "lut", False), (8, 1, 4, 4, "lut", False),
        (2, 2, 3, 6, "dual", True), (3, 5, 4, 4, "lut", False),
        (4, 4, 4, 4, "lut", False), (4, 4, 5, 3, "dual", False),
        (4, 8, 2, 8, "lut", True), (8, 4, 6, 5, "lut", False),
        (8, 8, 4, 4, "lut", False), (8, 8, 4, 4, "dual", False),
        (8, 8, 3, 8, "lut", False),
    ]
    return [Point("post", PEConfig(wbits=w, abits=a, act_signed=s, variant=v, lanes=q), r)
            for r, q, w, a, v, s in specs]


def _baseline_points() -> list[Point]:
    specs = [(2, 4, 1), (3, 8, 4), (4, 4, 1), (4, 4, 8), (5, 6, 2), (6, 2, 4), (6, 8, 1)]
    out = []
    for i, (w, a, q) in enumerate(specs):
        for kind in ("int", "pot"):
            out.append(Point(kind, PEConfig(wbits=w, abits=a, act_signed=i % 3 == 1,
                                            lanes=q)))
    return out


def holdout(n: int = 12, seed: int = 42) -> list[Point]:
    """`n` random POST designs outside the full grid (a fixed seed): checked with the fitted
    coefficients, never fitted on, so their errors are out of sample."""
    import random

    rng = random.Random(seed)
    taken = set(grid("full"))
    out: list[Point] = []
    while len(out) < n:
        cfg = PEConfig(wbits=rng.randint(2, 6), abits=rng.randint(2, 8),
                       act_signed=rng.random() < 0.3, variant=rng.choice(("lut", "dual")),
                       lanes=rng.randint(1, 8), frac_bits=rng.choice((4, 6, 8, 10, 12)),
                       max_len=rng.choice((256, 4096, 65536)))
        p = Point("post", cfg, rng.choice((None, None, None, 2, 3, 4)))
        if p not in taken and p not in out:
            out.append(p)
    return out


def grid(size: str = "full") -> list[Point]:
    """The designs of grid `size` ('small' or 'full'), smallest first."""
    if size not in GRIDS:
        raise ValueError(f"grid must be one of {', '.join(GRIDS)}, not {size!r}")
    if size == "small":
        return [
            Point("post", PEConfig(wbits=2, abits=4, lanes=1)),
            Point("post", PEConfig(wbits=4, abits=4, lanes=2)),
            Point("post", PEConfig(wbits=4, abits=3, act_signed=True, variant="dual",
                                   lanes=3)),
            Point("post", PEConfig(wbits=6, abits=5, lanes=1, frac_bits=6)),
            Point("int", PEConfig(wbits=4, abits=4, lanes=2)),
            Point("pot", PEConfig(wbits=5, abits=4, lanes=1)),
            Point("post", PEConfig(wbits=3, abits=4, variant="dual", lanes=2), 2),
        ]
    pts = _pe_points() + _extra_points() + _baseline_points() + _array_points()
    return pts
