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

import contextlib
import ctypes
import errno
import json
import os
import shutil
import signal
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


class OutputError(UserError):
    """A file could not be written (disk full, read-only, ...); names the file."""

    def __init__(self, path, reason: str):
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.reason = Path(path), reason


def write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` atomically (temporary file + os.replace); returns the path.

    The parent folder must exist. Permissions are those a plain open() would give. An
    OSError (disk full, ...) becomes an OutputError naming `path`; the temporary file is
    removed whatever happens.
    """
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.",
                                   suffix=TMP_SUFFIX)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(path, exc.strerror or type(exc).__name__) from None
    except BaseException:
        if tmp is not None:
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


# Folders ensure_writable created in this process (the outermost new one of each call), so a
# failed command can remove those it left empty (removing_created_folders_on_failure).
_created: list[Path] = []


def check_folder_name(folder) -> Path:
    """`folder` as a Path; UserError for an empty name (which would mean the current folder)
    or an existing file."""
    if not str(folder).strip():
        raise UserError(f"out must name a folder, not {str(folder)!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output folder {folder} is not writable: it is a file, not a folder")
    return folder


def ensure_writable(folder) -> Path:
    """Create `folder` (with parents) and check that a file can be written in it; UserError
    with one line otherwise (also for an empty name or an existing file). Returns the
    folder as a Path."""
    folder = check_folder_name(folder)
    first_new = None
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            break
        first_new = p
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if first_new is not None:
            _created.append(first_new)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f"{TMP_PREFIX}probe.",
                                     suffix=TMP_SUFFIX)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"output folder {folder} is not writable: {reason}") from None
    return folder


def _remove_empty(top: Path) -> None:
    """Remove `top` and the folders below it, bottom up, as long as they are empty."""
    if not top.is_dir() or top.is_symlink():
        return
    for d in sorted((p for p in top.rglob("*") if p.is_dir() and not p.is_symlink()),
                    key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


@contextlib.contextmanager
def removing_created_folders_on_failure():
    """If the block fails (an exception, Ctrl-C), remove the output folders that
    ensure_writable created inside it and that are still empty."""
    mark = len(_created)
    try:
        yield
    except BaseException:
        for top in reversed(_created[mark:]):
            _remove_empty(top)
        raise
    finally:
        del _created[mark:]


@contextlib.contextmanager
def staged_folder(dest, names: tuple[str, ...]):
    """Write a set of files as one transaction: yields a new empty folder next to `dest`;
    when the block succeeds, that folder replaces `dest` in one step (Linux renameat2
    RENAME_EXCHANGE; elsewhere two renames), so a reader, or a run interrupted at any point,
    sees either the old folder or the new one, never a mix. Files of `dest` other than
    `names` are kept (hard-linked into the new folder before the swap). A failure or
    interrupt in the block removes the new folder and leaves `dest` as it was.

    UserError before the block if `dest` cannot take part: the current folder (or one of
    its parents), a file, or a folder holding sub-folders of its own.
    """
    dest = check_folder_name(dest)
    real = dest.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise UserError(f"out {dest} is the current folder or one of its parents; the files "
                        "are written as one folder swapped in whole: name a sub-folder")
    others = []
    if real.is_dir():
        others = [p for p in real.iterdir() if p.name not in names]
        subdirs = [p.name for p in others if p.is_dir() and not p.is_symlink()]
        if subdirs:
            raise UserError(f"output folder {dest} holds folders of its own ({subdirs[0]}); "
                            "its files are replaced as one folder: use a new or empty folder")
    parent = ensure_writable(real.parent)
    stage = Path(tempfile.mkdtemp(dir=parent, prefix=f"{TMP_PREFIX}{real.name}.new-",
                                  suffix=TMP_SUFFIX))
    try:
        os.chmod(stage, 0o777 & ~_umask())           # a plain mkdir's mode, not mkdtemp's
        yield stage
        blocked = _block_signals()
        try:
            for p in others:
                os.link(p, stage / p.name, follow_symlinks=False)
            _swap_in(stage, real)
        finally:
            _unblock_signals(blocked)
    except OutputError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if exc.path.parent == stage:                 # name the file the user asked for
            raise OutputError(dest / exc.path.name, exc.reason) from None
        raise
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise UserError(f"cannot replace {dest}: {exc.strerror or type(exc).__name__}") \
            from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _block_signals():
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _unblock_signals(previous) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two existing paths (Linux renameat2); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(stage: Path, dest: Path) -> None:
    """Put `stage` at `dest`; the old `dest` (if any) is removed."""
    if not dest.exists():
        os.rename(stage, dest)
        return
    if _exchange(stage, dest):
        shutil.rmtree(stage, ignore_errors=True)        # now holds the old folder
        return
    old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f"{TMP_PREFIX}{dest.name}.old-",
                                suffix=TMP_SUFFIX))
    os.rename(dest, old / dest.name)
    os.rename(stage, dest)
    shutil.rmtree(old, ignore_errors=True)


def leftovers(folder) -> list[Path]:
    """Temporary files of interrupted writes under `folder` (normally none)."""
    return sorted(p for p in Path(folder).rglob(f"{TMP_PREFIX}*{TMP_SUFFIX}") if p.is_file())
