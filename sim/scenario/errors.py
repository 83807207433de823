"""Scenario errors meant for people: file, dotted field, value and rule.

The loader collects every :class:`Issue` it finds in a file and raises one
:class:`ScenarioError`; the CLI prints it and exits with code 2, without a traceback.
Internal errors are ordinary exceptions and are not caught here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem at one place of a scenario."""

    where: str
    """Dotted path of the field, e.g. ``segments[1].wtp.sigma``."""
    problem: str
    """The rule that was broken, e.g. ``must be > 0``."""
    value: object = None
    """The offending value, shown as ``got ...`` (None: not shown)."""
    hint: str | None = None
    """A suggestion, e.g. ``did you mean 'refunds'?``."""

    def __str__(self) -> str:
        text = f"{self.where}: {self.problem}" if self.where else self.problem
        if self.value is not None:
            text += f", got {toml_literal(self.value)}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SimrunError(Exception):
    """An error meant for the person at the keyboard (bad input, a folder in use, damaged
    results): the command line prints its message and exits with code 2, without a
    traceback. Internal errors are ordinary exceptions and are not caught."""

    exit_code = 2

    def format(self) -> str:
        return str(self)


class ScenarioError(SimrunError):
    """A scenario file (or an override) is invalid; carries every issue found."""

    exit_code = 2

    def __init__(self, source: str | Path, issues: Iterable[Issue]) -> None:
        self.source = str(source)
        self.issues = tuple(issues)
        super().__init__(self.format())

    def format(self) -> str:
        count = len(self.issues)
        head = f"{self.source}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {issue}" for issue in self.issues)])


def toml_literal(value: object) -> str:
    """A value as the user wrote it in TOML: true, "text", [1, 2], {a = 1}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        import json  # here, not at the top: the command line starts without it

        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """A did-you-mean hint for a misspelt key or name, or None."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
