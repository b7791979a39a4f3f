"""`python -m asq_hw.bench`: run every benchmark in turn (`make bench`)."""

import importlib

# One module per stage; each has main() printing its figures and ratios.
BENCHES = ("cli_startup", "golden_pe", "rtl_pe", "golden_conv", "golden_network", "rtl_array",
           "rtl_accel", "estimate_speed", "cluster_sweep")

for name in BENCHES:
    importlib.import_module(f"asq_hw.bench.{name}").main()
    print()
