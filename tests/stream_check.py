"""Run a stream PE (spec section 6 ports) in the Amaranth simulator against a workload, with
random input gaps and output stalls, and score its results (shared by the PE tests)."""

import numpy as np

from sim.bfm import (
    Scoreboard,
    StreamDriver,
    StreamMonitor,
    random_gaps,
    random_ready,
    simulate_amaranth,
)


def simulate(pe, wl, seed=0, p_gap=0.0, p_stall=0.0, rng=None):
    """(driver, monitor, cycles); gaps and stalls drawn from `rng` (default: from `seed`)."""
    rng = np.random.default_rng(seed) if rng is None else rng
    drv = StreamDriver(wl.act, wl.code, wl.last, random_gaps(rng, wl.beats, p_gap))
    mon = StreamMonitor(random_ready(rng, p_stall), wl.dots)
    cycles = simulate_amaranth(pe, drv, mon, pe.acc_ports)
    return drv, mon, cycles


def check(pe, wl, **kw):
    """simulate(), then assert every expected result arrived, none extra, none wrong."""
    drv, mon, cycles = simulate(pe, wl, **kw)
    sb = Scoreboard(wl.expected).check(mon.results)
    assert sb["mismatches"] == 0, sb
    assert sb["verified"] == wl.dots
    return drv, mon, cycles
