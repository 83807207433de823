"""Every file simrun writes goes through one atomic writer: old or new, never half."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sim import atomic
from sim.atomic import write_atomic


def test_text_is_written_as_utf8_bytes_without_newline_translation(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "file.csv"
    assert write_atomic(target, "a,b\r\nç\n") == target
    assert target.read_bytes() == "a,b\r\nç\n".encode()
    write_atomic(target, b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG"
    assert [p.name for p in target.parent.iterdir()] == ["file.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_files_get_the_permissions_open_would_give(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        path = write_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("kind", ["folder", "symlink", "fifo", "device"])
def test_only_new_paths_and_regular_files_are_replaced(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out.html"
    other = tmp_path / "elsewhere.txt"
    other.write_text("keep")
    if kind == "folder":
        target.mkdir()
    elif kind == "symlink":
        target.symlink_to(other)
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    before = os.lstat(target)

    with pytest.raises(atomic.WriteRefused, match="not a regular file"):
        write_atomic(target, "new")

    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert other.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.txt", "out.html"]


def test_files_written_together_replace_nothing_when_one_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write failure part-way (a full disk) leaves every earlier file as it was."""
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_text(f"old {name}")
    staged = atomic._stage
    calls = []

    def disk_full(path: Path, data: atomic.Data) -> str:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return staged(path, data)

    monkeypatch.setattr(atomic, "_stage", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic.write_atomic_many({tmp_path / n: "new" for n in ("a.csv", "b.csv", "c.csv")})
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "a.csv": "old a.csv", "b.csv": "old b.csv", "c.csv": "old c.csv"}
