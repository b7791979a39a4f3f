"""The bit-exact integer golden model: the single source of truth for every other stage."""

from golden.codes import act_lut, decode, decode_tables, encode, levels, lut_entry
from golden.pe import pe_dot, pe_matmul

__all__ = ["act_lut", "decode", "decode_tables", "encode", "levels", "lut_entry", "pe_dot",
           "pe_matmul"]
