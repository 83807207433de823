"""Where the tests find the project's own files (scenarios, docs, bench): the checkout
this tests folder belongs to, whatever the current folder."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
