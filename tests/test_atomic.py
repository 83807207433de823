"""Every file simrun writes goes through one atomic writer: old or new, never half."""

from __future__ import annotations

import os
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
