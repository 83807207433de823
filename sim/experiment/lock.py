"""A results folder in use is locked: one writer at a time.

A run, a comparison or a sweep holds ``.simrun.lock`` in its folder (``fcntl.flock``)
while it reads its checkpoint or store and writes its files. A second writer of the
same folder (another run, a ``--fresh`` sweep) is refused at once with the other
process's id and command, instead of deleting or mixing its results. The lock goes
with the process that holds it, however it ends (the kernel releases it), so a killed
run never leaves a folder locked.

Where ``fcntl`` does not exist (Windows) folders are not locked.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from sim.scenario.errors import SimrunError

LOCK_NAME = ".simrun.lock"


class FolderInUse(SimrunError):
    """Another process holds the folder's lock."""

    def __init__(self, folder: Path, holder: str) -> None:
        self.folder = folder
        self.holder = holder
        super().__init__(f"{folder}: in use by {holder}; wait until it ends, or write to "
                         "another folder (--out)")


@contextmanager
def locked(folder: Path) -> Iterator[Path]:
    """Hold the folder's lock (creating the folder) for the duration of the block."""
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield folder
        return
    path = folder / LOCK_NAME
    fd = _acquire(path, folder)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{_command()}\n".encode())
        yield folder
    finally:
        with suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _acquire(path: Path, folder: Path) -> int:
    """An open descriptor of the lock file at ``path``, locked by this process."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderInUse(folder, holder) from None
        except BaseException:
            os.close(fd)
            raise
        # The holder before us may have unlinked the file as we opened it: the lock
        # then guards a file nobody else can find, so take the one at the path.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote: 'process 1234 (simrun sweep ...)'."""
    text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    pid, _, command = text.partition("\n")
    command = command.strip()
    if not pid.strip().isdigit():
        return "another process"
    return f"process {pid.strip()}" + (f" ({command})" if command else "")


def _command() -> str:
    """This process's command line as a person typed it (about)."""
    first = sys.argv[0] if sys.argv else ""
    if first in ("", "-c"):
        words = ["python", "-c", "..."]
    elif first.endswith(".py"):
        words = ["python", Path(first).name]
    else:
        words = [Path(first).name]
    return shlex.join([*words, *sys.argv[1:]])[:1000].replace("\n", " ").replace("'...'", "...")
