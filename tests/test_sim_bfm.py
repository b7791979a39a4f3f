"""sim/bfm.py's clock loop: it stops with a one-line TimeoutError when a DUT makes no
progress, instead of running forever."""

import numpy as np
import pytest

from asq_hw import PEConfig
from hw.pe import PostPE
from sim import workloads
from sim.bfm import StreamDriver, StreamMonitor, simulate_amaranth


def test_a_stalled_output_times_out_with_the_results_so_far():
    cfg = PEConfig(lanes=1, max_len=8)
    wl = workloads.random_dots(cfg, np.random.default_rng(0), count=3, max_terms=2)
    pe = PostPE(cfg)
    drv = StreamDriver(wl.act, wl.code, wl.last, [0] * wl.beats)
    mon = StreamMonitor([False], wl.dots)          # out_ready never rises
    with pytest.raises(TimeoutError, match=rf"^no progress: 0 of {wl.dots} results after "
                                           r"51 cycles$"):
        simulate_amaranth(pe, drv, mon, pe.acc_ports, max_cycles=50)
