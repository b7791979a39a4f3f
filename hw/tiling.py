"""The tiling of one compute layer on a P x Q array (plain Python), shared by the mapper's
`LayerMap` (asq_hw/mapper.py: the array co-simulation and the cycle estimates) and the
accelerator's `LayerPlan` (hw/accel/plan.py), so both count beats the same way:

    tiles = ceil(K / P)            output channels P at a time
    D     = ceil(N / Q)            beats per dot product, Q terms per beat
    dots  = tiles * positions      result beats of P accumulators per image
    beats = dots * D               input beats per image
"""

from __future__ import annotations

import math


class Tiling:
    """Mixin of the counts above for a class with `outputs` (K), `fan_in` (N),
    `positions`, `rows` (P) and `lanes` (Q)."""

    outputs: int
    fan_in: int
    positions: int
    rows: int
    lanes: int

    @property
    def tiles(self) -> int:
        return math.ceil(self.outputs / self.rows)

    @property
    def beats_per_dot(self) -> int:
        return math.ceil(self.fan_in / self.lanes)

    @property
    def dots(self) -> int:
        """Result beats (P accumulators each) per image."""
        return self.tiles * self.positions

    @property
    def beats(self) -> int:
        """Input beats per image."""
        return self.dots * self.beats_per_dot
