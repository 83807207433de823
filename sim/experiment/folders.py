"""Where results go: names made into safe folder names, and earlier results never
replaced by those of another scenario.

A name comes from a user's file (``run.name``, a ``[compare]`` strategy key, a sweep's
name) and never becomes a path as it is: :func:`folder_name` keeps letters, digits,
``.``, ``-``, ``_`` and spaces, so ``..``, ``/``, an absolute path or a NUL can only
name a folder inside ``results/`` (or ``--out``). Two names that map to the same
folder are refused before anything runs (:func:`strategy_folders`).

A folder that holds the results of another scenario is left as it is:
:func:`free_folder` picks ``NAME-2``, ``NAME-3``, ... instead and the caller says so.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sim.atomic import check_folder
from sim.scenario.errors import Issue, ScenarioError

MAX_NAME_BYTES = 100
"""Longest folder name made from a name (UTF-8 bytes; file systems allow 255)."""
COMPARISON_FILES = ("comparison.json", "comparison.csv", "charts", "report.html")
"""What a comparison's folder holds beside its strategies' folders."""
RUN_FILES = ("summary.json", "replications.csv", "daily.csv", "details.json", "scenario.toml")
"""The files of one run, in the order they are written."""
WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                             *(f"lpt{i}" for i in range(1, 10))})
MAX_SIBLINGS = 1000


def folder_name(name: str) -> str:
    """``name`` as one safe folder name: every character but letters, digits, ``.``,
    ``-``, ``_`` and spaces becomes ``_``; leading dots and trailing dots and spaces go
    (no hidden folder, no ``..``); a name longer than 100 bytes is cut and given a short
    hash of the whole name, so that two long names stay apart. Never empty."""
    text = "".join(c if c.isalnum() or c in "._- " else "_"
                   for c in unicodedata.normalize("NFC", name))
    text = text.lstrip(". ").rstrip(". ")
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        cut = text.encode("utf-8")[:MAX_NAME_BYTES - 11].decode("utf-8", "ignore")
        text = f"{cut.rstrip('. ')}-{digest}"
    if not text or text.split(".")[0].lower() in WINDOWS_DEVICES:
        text = f"_{text}"
    return text


def strategy_folders(names: Sequence[str], where: str = "run.name") -> dict[str, str]:
    """The folder of each strategy of a comparison (name -> folder name). Two names
    that map to the same folder (ignoring case, as some file systems do), or a name
    that maps to one of the comparison's own files, are an error."""
    folders = {name: folder_name(name) for name in names}
    issues = []
    seen: dict[str, str] = {}
    for name, folder in folders.items():
        key = folder.casefold()
        if key in (f.casefold() for f in COMPARISON_FILES):
            issues.append(Issue(where, f"maps to folder {folder!r}, which holds the "
                                "comparison's own files: rename the strategy", name))
        elif key in seen:
            issues.append(Issue(where, f"maps to the same folder {folder!r} as strategy "
                                f"{seen[key]!r}: give the strategies names that differ in "
                                "letters or digits", name))
        else:
            seen[key] = name
    if issues:
        raise ScenarioError("compare", issues)
    return folders


Identity = Callable[[Path], bool | None]
"""Whether a folder holds the same results (True), other results (False), or none
(None: it is free)."""


def free_folder(target: Path, identity: Identity) -> Path:
    """``target`` if it holds no results or the same ones; else the first of
    ``target-2``, ``target-3``, ... that does. Earlier results are never replaced by
    those of a different scenario."""
    for n in range(1, MAX_SIBLINGS + 1):
        folder = target if n == 1 else target.with_name(f"{target.name}-{n}")
        if identity(folder) is not False:
            return folder
    raise ScenarioError(target, [Issue("", f"{MAX_SIBLINGS} folders of this name hold other "
                                       "results: choose another --out")])


def results_target(name: str, out: Path | None, identity: Identity,
                   what: str = "results") -> tuple[Path, list[str]]:
    """Where results named ``name`` go (``out``, else results/<folder name>), moved to
    a sibling when that folder holds other results; with notes for the person who ran
    it: the folder a name became, and where each set of results now is."""
    notes = []
    if out is None:
        base = Path("results") / folder_name(name)
        if base.name != name:
            notes.append(f"{name!r} is not a folder name: results go to {base}/")
    else:
        base = out
    check_folder(base)
    target = free_folder(base, identity)
    if target != base:
        notes.append(f"{base}/ holds the {what} of a different scenario, left as they are; "
                     f"these go to {target}/")
    return target, notes


def same_run(scenario_toml: str) -> Identity:
    """A run's folder identity: its resolved scenario.toml."""

    def identity(folder: Path) -> bool | None:
        if not any((folder / name).exists() for name in (*RUN_FILES, *COMPARISON_FILES[:2],
                                                          "runs.sqlite")):
            return None
        return _read(folder / "scenario.toml") == scenario_toml

    return identity


def same_market(market_toml: str) -> Identity:
    """A market run's folder identity: its resolved market.toml."""

    def identity(folder: Path) -> bool | None:
        if not any((folder / name).exists() for name in ("market.toml", *RUN_FILES,
                                                          *COMPARISON_FILES[:2], "runs.sqlite")):
            return None
        return _read(folder / "market.toml") == market_toml

    return identity


def same_comparison(scenarios: Mapping[str, str]) -> Identity:
    """A comparison's folder identity: its strategies (folder -> resolved scenario.toml),
    as comparison.json lists them."""

    def identity(folder: Path) -> bool | None:
        written = [folder / name for name in (*COMPARISON_FILES[:2], *RUN_FILES, "runs.sqlite")]
        written += [folder / sub / name for sub in scenarios for name in RUN_FILES]
        if not any(path.exists() for path in written):
            return None
        try:
            meta = json.loads(_read(folder / "comparison.json") or "null")
            listed = [folder_name(str(n)) for n in meta["strategies"]]
        except (ValueError, TypeError, KeyError):
            return False
        return listed == list(scenarios) and all(
            _read(folder / sub / "scenario.toml") == text for sub, text in scenarios.items())

    return identity


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
