"""The one frozen configuration that travels through every stage (spec sections 4 and 5)."""

from __future__ import annotations

import dataclasses
import math

VARIANTS = ("lut", "dual")

# Facts shared by training, export, golden and the tools (one definition of each).
# Weight schemes, all on the spec's sign-magnitude code layout: POST and the power-of-two
# and uniform integer baselines (golden.schemes holds their levels).
SCHEMES = ("post", "pot", "int")
# The ASQ adapter's beta is clamped to at least this, in training and on the host.
MIN_BETA = 1e-8
# The default fraction bits F of the lut variant in an exported artifact.
DEFAULT_FRAC_BITS = 8

# Bounds of the contract (spec sections 1-4). MAX_LEN keeps the widest safe accumulator
# (abits 8 + F 16 + J 15 + log2(max_len) + 1) within the golden model's int64.
WBITS_RANGE = (2, 6)
ABITS_RANGE = (2, 8)
FRAC_BITS_RANGE = (1, 16)
LANES_RANGE = (1, 64)
MAX_LEN_RANGE = (1, 1 << 24)
ACC_BITS_RANGE = (2, 64)


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")


def act_range(abits: int, signed: bool) -> tuple[int, int]:
    """(min, max) of an `abits`-bit activation code (spec section 2)."""
    if signed:
        return -(2 ** (abits - 1)), 2 ** (abits - 1) - 1
    return 0, 2**abits - 1


def safe_acc_bits(wbits: int, abits: int, act_signed: bool, variant: str,
                  frac_bits: int, max_len: int) -> int:
    """Smallest accumulator width that cannot overflow for `max_len` terms (spec section 4)."""
    j = (2 ** (wbits - 1) - 2) // 2
    a = abits - 1 if act_signed else abits
    f = frac_bits if variant == "lut" else 0
    return a + f + j + math.ceil(math.log2(max_len)) + 1


@dataclasses.dataclass(frozen=True)
class PEConfig:
    """A POST processing element's arithmetic and shape.

    Every field is validated on construction; an invalid one raises ValueError whose message
    names the field, the value and the allowed range. `acc_bits=None` means the safe width of
    spec section 4; a smaller explicit width is allowed and means the accumulator wraps.
    """

    wbits: int = 4
    abits: int = 4
    act_signed: bool = False
    variant: str = "lut"
    frac_bits: int = DEFAULT_FRAC_BITS
    lanes: int = 1
    max_len: int = 4096
    acc_bits: int | None = None

    def __post_init__(self):
        _check_int("wbits", self.wbits, *WBITS_RANGE)
        _check_int("abits", self.abits, *ABITS_RANGE)
        if not isinstance(self.act_signed, bool):
            raise ValueError(f"act_signed must be True or False, not {self.act_signed!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of 'lut', 'dual', not {self.variant!r}")
        _check_int("frac_bits", self.frac_bits, *FRAC_BITS_RANGE)
        _check_int("lanes", self.lanes, *LANES_RANGE)
        _check_int("max_len", self.max_len, *MAX_LEN_RANGE)
        if self.acc_bits is None:
            object.__setattr__(self, "acc_bits", self.safe_acc_bits)
        _check_int("acc_bits", self.acc_bits, *ACC_BITS_RANGE)

    # Derived quantities of the contract, named as the spec names them.
    @property
    def M(self) -> int:
        """Largest magnitude code, 2**(wbits-1) - 1."""
        return 2 ** (self.wbits - 1) - 1

    @property
    def J(self) -> int:
        """Largest whole shift, (M - 1) // 2."""
        return (self.M - 1) // 2

    @property
    def act_min(self) -> int:
        return act_range(self.abits, self.act_signed)[0]

    @property
    def act_max(self) -> int:
        return act_range(self.abits, self.act_signed)[1]

    @property
    def code_max(self) -> int:
        return 2**self.wbits - 1

    @property
    def safe_acc_bits(self) -> int:
        return safe_acc_bits(self.wbits, self.abits, self.act_signed, self.variant,
                             self.frac_bits, self.max_len)

    @property
    def wraps(self) -> bool:
        """True when acc_bits is below the safe width, so long dot products may wrap."""
        return self.acc_bits < self.safe_acc_bits

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PEConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown PEConfig field {unknown[0]!r}; "
                             f"fields are {', '.join(sorted(names))}")
        return cls(**d)

    def replace(self, **changes) -> PEConfig:
        """A copy with `changes`; acc_bits is recomputed unless given."""
        if "acc_bits" not in changes:
            changes["acc_bits"] = None
        return dataclasses.replace(self, **changes)


# Array rows P (hw/array.PostArray): replicated cores; the bound only keeps a typo from
# elaborating for minutes.
ROWS_RANGE = (1, 1024)
