"""The bit-exact integer golden model: the single source of truth for every other stage.

Modules, named after the hardware blocks and the host's steps (import what you need;
this package imports nothing, so `golden.codes` does not load the Numba kernels):

    schemes     weight levels, thresholds, encode of post / pot / int
    codes       the POST code decoder and activation LUT
    pe          the POST PE (pe_dot, pe_matmul; Numba)
    baselines   reference models of the INT and POT PEs (int_dot, pot_dot)
    arith       a layer's arithmetic (LayerArith) and its accumulators as GEMM terms
    gemm        the exact-GEMM planner of the fast path
    accumulate  a layer's accumulators (accumulate, conv_accumulate)
    requant     the host's integer requantization
    ops         im2col, relu, maxpool, flatten on integer codes
    network     integer inference of an exported network
"""
