"""Strategies: the presets (data, in presets.toml) and the policies they use."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _presets() -> dict[str, dict[str, Any]]:
    # beside this module (importlib.resources would cost simrun check about 7 ms of
    # imports: tempfile, zipfile, shutil and the compression modules)
    text = Path(__file__).with_name("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset_names() -> tuple[str, ...]:
    return tuple(_presets())


def preset(name: str) -> dict[str, Any]:
    """A fresh raw copy of a preset's strategy table (KeyError if unknown)."""
    import copy

    return copy.deepcopy(_presets()[name])
