"""The one way simrun writes a file: atomically, so a reader never sees half of it.

Result files, checkpoints, charts, reports, sweep exports and JUnit XML all come
here. The data goes to a temporary file in the target's folder, is flushed to disk,
then replaces the target with ``os.replace`` (atomic on POSIX and Windows within one
file system), so an interrupted run leaves each file old or new, never truncated.
Text is written as UTF-8 without newline translation: the same text gives the same
bytes on every platform.

Only a new path or a regular file is ever replaced: a folder, a symbolic link, a FIFO
or a device at the target is refused with :class:`WriteRefused` (replacing
``/dev/null`` or a link with a regular file is never what was meant).

Several files that belong together (the files of one run) are written with
:func:`write_atomic_many`: every one is first written in full beside its target, and
only then do they replace their targets, so a failure while writing (a full disk, a
file-size limit, a read-only folder) leaves every earlier file as it was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

Data = str | bytes | Iterable[str]
"""Text, bytes, or text made piece by piece (each piece written as it comes, so a long
run's daily series is never held in memory as one text)."""


class WriteRefused(OSError):
    """The target exists and is not a regular file; nothing was written."""


def write_atomic(path: str | Path, data: Data) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path``, creating its folder;
    readers see the old file or the new one, never a part. Returns the path."""
    return write_atomic_many({Path(path): data})[0]


def write_atomic_many(files: Mapping[Path, Data]) -> list[Path]:
    """Write every file, all or none as far as a file system allows: each is written in
    full to a temporary beside its target first, and only when all of them are on disk
    do they replace their targets (one rename each, which needs no space). Returns the
    paths in the order given."""
    paths = [Path(p) for p in files]
    for path in paths:
        check_target(path)
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in zip(paths, files.values(), strict=True):
            staged.append((_stage(path, data), path))
        while staged:
            tmp, path = staged[0]
            os.replace(tmp, path)
            staged.pop(0)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    return paths


@contextmanager
def open_atomic(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, for writers that push their data (an
    event log filled as a simulation runs, a Parquet writer): it goes to a temporary
    beside ``path`` and replaces it only when the block ends without an error."""
    target = Path(path)
    check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:64]}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_target(path: Path) -> None:
    """Refuse a target that exists and is not a regular file (it is not followed if it
    is a symbolic link)."""
    _refuse_unless(path, stat.S_ISREG, os.lstat, "a regular file; simrun writes only new "
                   "files or over regular files")


def check_folder(path: Path) -> None:
    """Refuse an output folder that exists and is not a folder (a link to one is fine)."""
    _refuse_unless(path, stat.S_ISDIR, os.stat, "a folder; results go into a folder (a new "
                   "path or an existing folder)")


def _refuse_unless(path: Path, wanted: Callable[[int], bool],
                   status: Callable[[Path], os.stat_result], what: str) -> None:
    try:
        mode = status(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not wanted(mode):
        raise WriteRefused(f"{path}: is {kind_of(mode)}, not {what}")


def kind_of(mode: int) -> str:
    """What a file of this mode is, in words: 'a folder', 'a FIFO', ..."""
    for test, words in ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISLNK, "a symbolic link"),
                        (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def _stage(path: Path, data: Data) -> str:
    """``data`` written and flushed to a temporary file beside ``path``; its name."""
    pieces: Iterable[bytes]
    if isinstance(data, str):
        pieces = (data.encode("utf-8"),)
    elif isinstance(data, bytes):
        pieces = (data,)
    else:
        pieces = (piece.encode("utf-8") for piece in data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
    except OSError as exc:  # a full disk, a file-size limit: name the file it was for
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
