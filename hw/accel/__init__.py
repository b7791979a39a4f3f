"""The accelerator: a whole exported network on chip (docs/accel.md).

    plan.py      per-layer plan from the artifact: geometry, tiling, window offsets, the
                 weight words, the cycle model (plain Python)
    table.py     the sequencer table and the window-offset ROM contents, as memory layouts
    memories.py  on-chip memories: per-layer weight ROMs, ping-pong activation buffers
    window.py    the sequencer's counters and the address generator (im2col on chip)
    feeder.py    one layer's beats from the memories into the shared PostArray
"""
