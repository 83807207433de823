"""Strategies: the presets (data, in presets.toml) and the policies they use."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def _presets() -> dict[str, dict[str, Any]]:
    text = resources.files(__package__).joinpath("presets.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def preset_names() -> tuple[str, ...]:
    return tuple(_presets())


def preset(name: str) -> dict[str, Any]:
    """A fresh raw copy of a preset's strategy table (KeyError if unknown)."""
    import copy

    return copy.deepcopy(_presets()[name])
