"""Facts about the designs asq-hw builds, synthesises and estimates, in one place.

- DESIGN_KINDS: 'post' (the POST PE, or an array of them), and the 'int' and 'pot' baseline
  PEs (hw/gen.py builds each, asq_hw/estimate models each);
- TARGETS: the FPGA families of `asq-hw synth` and `asq-hw estimate`; PNR_TARGETS those with
  open place and route (nextpnr), the only ones with a measured fmax;
- RESOURCE_KEYS: the figures synthesis measures and the estimator predicts, in the order
  every table and JSON object shows them;
- ASIC_TARGETS: the standard-cell libraries (`osu018`: OSU 0.18 um, asq_hw/synth/asic.py);
  ASIC_KEYS: what they add to RESOURCE_KEYS (fmax_mhz is among those), in that order.
"""

DESIGN_KINDS = ("post", "int", "pot")
TARGETS = ("ice40", "ecp5", "xc7")
PNR_TARGETS = ("ice40", "ecp5")
RESOURCE_KEYS = ("lut", "ff", "carry", "dsp", "bram", "fmax_mhz", "transistors")
ASIC_TARGETS = ("osu018",)
ASIC_KEYS = ("area_um2", "cells", "critical_path_ns")
