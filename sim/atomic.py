"""The one way simrun writes a file: atomically, so a reader never sees half of it.

Result files, checkpoints, charts, reports, sweep exports and JUnit XML all come
here. The data goes to a temporary file in the target's folder, is flushed to disk,
then replaces the target with ``os.replace`` (atomic on POSIX and Windows within one
file system), so an interrupted run leaves each file old or new, never truncated.
Text is written as UTF-8 without newline translation: the same text gives the same
bytes on every platform.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path``, creating its folder;
    readers see the old file or the new one, never a part. Returns the path."""
    return _write(Path(path), (data.encode("utf-8") if isinstance(data, str) else data,))


def write_atomic_chunks(path: str | Path, chunks: Iterable[str]) -> Path:
    """:func:`write_atomic` for text made piece by piece: each piece is written as it
    comes, so a long run's daily series is never held in memory as one text."""
    return _write(Path(path), (chunk.encode("utf-8") for chunk in chunks))


def _write(path: Path, pieces: Iterable[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
