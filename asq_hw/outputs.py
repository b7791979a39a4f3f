"""Writing a command's outputs so that a failure never leaves a half-written file.

Every file goes through `write_bytes` (or the text / JSON / figure helpers on top of it): the
content is written to a temporary file in the destination folder and moved over the
destination with `os.replace`, which is atomic on POSIX file systems. A reader, or a run that
is interrupted at any point, sees either the old file or the complete new one; an exception
while writing removes the temporary file.

`ensure_writable(folder)` is the pre-flight check of an output folder: it creates the folder
and a probe file in it, so a read-only, missing or non-directory destination fails before any
work is done, with one line (UserError) instead of a traceback at the end of a long run. It
really writes (and removes) a file rather than asking `os.access`, which says yes to root
for a read-only mount or a permission-less folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from asq_hw.errors import UserError

# Temporary files start with this prefix and end with TMP_SUFFIX, so tests (and users) can
# tell a leftover from a real output.
TMP_PREFIX = "."
TMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` atomically (temporary file + os.replace); returns the path.

    The parent folder must exist. Permissions are those a plain open() would give.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.",
                               suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def _plain(v):
    """numpy scalars as Python numbers (json.dumps calls this for unknown types)."""
    item = getattr(v, "item", None)
    if item is not None and getattr(v, "shape", None) == ():
        return item()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def json_text(obj) -> str:
    """The one JSON layout of our outputs: sorted keys, indent 1, numpy scalars as numbers,
    no NaN/inf (a ValueError names the problem before anything is written)."""
    return json.dumps(obj, indent=1, sort_keys=True, allow_nan=False, default=_plain) + "\n"


def write_json(path, obj) -> Path:
    return write_text(path, json_text(obj))


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards); fixed metadata so the same
    figure gives the same bytes."""
    import io

    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    finally:
        plt.close(fig)
    return buf.getvalue()


def write_figure(path, fig) -> Path:
    return write_bytes(path, figure_png(fig))


def ensure_writable(folder) -> Path:
    """Create `folder` (with parents) and check that a file can be written in it; UserError
    with one line otherwise. Returns the folder as a Path."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f"{TMP_PREFIX}probe.",
                                     suffix=TMP_SUFFIX)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"output folder {folder} is not writable: {reason}") from None
    return folder


def leftovers(folder) -> list[Path]:
    """Temporary files of interrupted writes under `folder` (normally none)."""
    return sorted(p for p in Path(folder).rglob(f"{TMP_PREFIX}*{TMP_SUFFIX}") if p.is_file())
