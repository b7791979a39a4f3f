"""Argument helpers shared by the sub-commands.

Enumerated flags and comma-separated lists are checked while the command line is parsed,
and library validation (a configuration's `__post_init__`, `config._check_int`) is called
through `checked`, so every bad value ends the same way: one line naming the field, the
value and what is allowed (`UserError`, exit status 2), before anything is written.
"""

from __future__ import annotations

import argparse
import contextlib

from asq_hw.errors import UserError


def not_one_of(field: str, value, allowed, quoted: bool = False) -> UserError:
    """The error of a value outside `allowed`, in the library's form ("target must be one of
    ice40, ecp5, xc7, not 'x'"; `quoted`: "'lut', 'dual'", the form of config.PEConfig)."""
    shown = ", ".join(map(repr, allowed) if quoted else allowed)
    return UserError(f"{field} must be one of {shown}, not {value!r}")


class Choice(argparse.Action):
    """`--flag VALUE` (or `nargs` of them) restricted to `allowed`: argparse's `choices`,
    with the project's one-line error. `field` names the value in the error (default: the
    flag's dest); `quoted` as in `not_one_of`. Several values (`nargs`) are a tuple."""

    def __init__(self, option_strings, dest, allowed, field=None, quoted=False, **kwargs):
        self.allowed, self.field, self.quoted = tuple(allowed), field or dest, quoted
        kwargs.setdefault("metavar", "{" + ",".join(self.allowed) + "}")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        many = isinstance(values, list)
        for v in values if many else (values,):
            if v in self.allowed:
                continue
            if many:
                raise UserError(f"{self.field} must be among {', '.join(self.allowed)}, "
                                f"not {v!r}")
            raise not_one_of(self.field, v, self.allowed, self.quoted)
        setattr(namespace, self.dest, tuple(values) if many else values)


def comma_list(text: str, field: str, conv=int, allowed=None, quoted=False) -> tuple:
    """`text` as a non-empty tuple of comma-separated values of type `conv`, each among
    `allowed` when given (`quoted` as in `not_one_of`)."""
    try:
        vals = tuple(conv(v.strip()) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{field} must be a comma-separated list, not {text!r}") from None
    if not vals:
        raise UserError(f"{field} must name at least one value, not {text!r}")
    for v in vals if allowed is not None else ():
        if v not in allowed:
            raise not_one_of(field, v, allowed, quoted)
    return vals


class CommaList(argparse.Action):
    """`--flag A,B,C`: stored as the tuple of `comma_list(text, field, conv, allowed)`.
    Give the default as a tuple; it is shown in the help as `A,B,C`."""

    def __init__(self, option_strings, dest, conv=int, allowed=None, field=None, quoted=False,
                 **kwargs):
        self.conv, self.allowed, self.field, self.quoted = conv, allowed, field or dest, quoted
        if allowed is not None:
            kwargs.setdefault("metavar", "{" + ",".join(allowed) + "},...")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, comma_list(values, self.field, self.conv, self.allowed,
                                                  self.quoted))


def shown(values) -> str:
    """A tuple default as the user would type it: `2,3,4`."""
    return ",".join(map(str, values))


def checked(build, *args, **kwargs):
    """`build(*args, **kwargs)`, a validating constructor or check of user input (PEConfig,
    TrainConfig, config._check_int ...) whose ValueError names the field: as a UserError
    with the same message. Only for calls on what the user typed; elsewhere a ValueError is
    a bug."""
    try:
        return build(*args, **kwargs)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


@contextlib.contextmanager
def output_errors():
    """Inside: an OSError (permissions, a file where a folder should be, a full disk) comes
    from writing into the user's --out folder, so it is a UserError with the OS's message."""
    try:
        yield
    except OSError as exc:
        raise UserError(str(exc)) from exc


def check_int(field: str, value, lo: int, hi: int) -> None:
    """config._check_int on a flag's value: UserError outside lo..hi."""
    from asq_hw.config import _check_int
    checked(_check_int, field, value, lo, hi)


def check_rows(rows: int) -> None:
    """--rows of an array: UserError outside the mapper's range."""
    from asq_hw.config import ROWS_RANGE
    check_int("rows", rows, *ROWS_RANGE)
