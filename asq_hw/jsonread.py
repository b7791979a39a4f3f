"""Reading JSON that a user, a crash or another program may have broken.

`parse_json(data, where)` is json.loads with the failure modes of hostile input turned into
one UserError naming `where` (a file, or a file and the part of it) and, when there is one,
the field:

- nesting deeper than MAX_DEPTH (json.loads would raise RecursionError near 1000 levels, or
  succeed and leave a structure that later code cannot copy or print): checked by a scan
  of the text before parsing;
- integers longer than MAX_INT_DIGITS digits (Python refuses to convert those past 4300
  digits with a message naming neither file nor field; nothing we read holds one longer
  than 20);
- NaN, Infinity and numbers that overflow to them (not JSON; our writers never emit them);
- strings, keys included, with control or other non-printable characters (a layer name
  that would drive the terminal when printed);
- text that is not UTF-8 or not JSON at all.

The result is plain JSON data: dicts, lists, str, int, float, bool, None.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

from asq_hw.errors import UserError

MAX_DEPTH = 64
MAX_INT_DIGITS = 64

# One token of interest per match: a whole string (skipped), or an opening / closing bracket.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', re.S)


class _LongInteger:
    """Stands in for an integer literal too long to convert (found and reported by _walk)."""

    def __init__(self, digits: int):
        self.digits = digits


def _parse_int(text: str):
    digits = len(text.lstrip("-"))
    return _LongInteger(digits) if digits > MAX_INT_DIGITS else int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} overflows to infinity")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _depth_ok(text: str) -> tuple[bool, int]:
    """(False, offset) if brackets nest deeper than MAX_DEPTH; strings are skipped."""
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False, m.start()
        elif c in "]}":
            depth -= 1
    return True, 0


def _field(path: list) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _walk(value, where: str, prefix: list, lines: bool = False) -> None:
    """Report the first long integer or unprintable string, naming its field; with `lines`,
    newlines and tabs in string values are text, not control characters."""
    stack = [(value, list(prefix))]
    while stack:
        v, path = stack.pop()
        problem = None
        if isinstance(v, _LongInteger):
            problem = f"a {v.digits}-digit integer (at most {MAX_INT_DIGITS} digits)"
        elif isinstance(v, str) and not (v.replace("\n", "").replace("\t", "") if lines
                                         else v).isprintable():
            problem = f"contains a control character: {v[:60]!r}"
        elif isinstance(v, dict):
            for k, item in v.items():
                if not k.isprintable():
                    problem = f"key {k[:60]!r} contains a control character"
                    break
                stack.append((item, [*path, k]))
        elif isinstance(v, list):
            stack.extend((item, [*path, i]) for i, item in enumerate(v))
        if problem:
            field = _field(path)
            raise UserError(f"{where}: field {field}: {problem}" if field
                            else f"{where}: {problem}")


def parse_json(data: bytes | str, where: str, prefix: list | None = None,
               lines: bool = False):
    """`data` parsed, or UserError('WHERE: ...'). `prefix`: the path of this document inside
    a larger one (named in field errors, e.g. ['model_config']). `lines`: string values may
    hold newlines and tabs (tool scripts and logs in a cache entry), keys still may not."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"{where}: not valid JSON (not UTF-8 text: {exc.reason} at byte "
                            f"{exc.start})") from None
    ok, at = _depth_ok(data)
    if not ok:
        raise UserError(f"{where}: not valid JSON for asq-hw (nested deeper than {MAX_DEPTH} "
                        f"levels at character {at})")
    try:
        value = json.loads(data, parse_int=_parse_int, parse_float=_parse_float,
                           parse_constant=_no_constant)
    except RecursionError:           # the scan above makes this unreachable; belt and braces
        raise UserError(f"{where}: not valid JSON for asq-hw (nested too deeply)") from None
    except ValueError as exc:        # JSONDecodeError, and the hooks' refusals
        raise UserError(f"{where}: not valid JSON ({str(exc).splitlines()[0]})") from None
    _walk(value, where, prefix or [], lines)
    return value


def read_json(path) -> object:
    """parse_json of a file's bytes; UserError naming the file if it cannot be read."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    return parse_json(data, str(path))


def checksum(value) -> str:
    """SHA-256 of `value`'s canonical JSON: stored next to a saved value, so a value altered
    after it was saved is told apart from one that was computed."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
