"""The documentation stays true: generated pages match the code, every command the
README shows parses with options that exist and names files and metrics that exist,
the examples of docs/compare.md load, and no page links outside the repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from paths import ROOT

from sim import docs
from sim.cli import main
from sim.experiment.compare import COMPARE_KEYS, load_comparison
from sim.metrics import DAILY_COLUMNS, METRIC_BY_KEY, SEGMENT_COLUMNS, TIER_COLUMNS

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


@pytest.mark.parametrize(("page", "render"), [("sweep.md", docs.render_sweep_reference),
                                              ("columns.md", docs.render_columns)])
def test_generated_pages_match_the_code(page: str, render: object) -> None:
    """Regenerate with: python -m sim.docs sweep > docs/sweep.md (columns likewise)."""
    assert (ROOT / "docs" / page).read_text(encoding="utf-8") == render()  # type: ignore[operator]


def test_every_output_column_has_a_unit_and_a_meaning() -> None:
    assert tuple(docs.DAILY) == DAILY_COLUMNS
    assert tuple(docs.SEGMENTS) == SEGMENT_COLUMNS
    assert tuple(docs.TIERS) == TIER_COLUMNS
    columns = (ROOT / "docs/columns.md").read_text(encoding="utf-8")
    for key in METRIC_BY_KEY:
        assert f"| `{key}` |" in columns


def test_the_compare_page_describes_every_key_and_its_examples_load(tmp_path: Path) -> None:
    page = (ROOT / "docs/compare.md").read_text(encoding="utf-8")
    for key in COMPARE_KEYS:
        assert f"| `{key}` |" in page
    for i, block in enumerate(re.findall(r"```toml\n(.*?)```", page, re.DOTALL)):
        path = tmp_path / f"example{i}.toml"
        path.write_text(block.replace('"base.toml"', f'"{ROOT / "scenarios/base.toml"}"'))
        specs, settings = load_comparison([path])
        assert len(specs) >= 2
        assert settings["name"]


def commands(page: Path) -> list[list[str]]:
    """Every ``simrun ...`` line of the page's sh blocks, continuations joined."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["simrun"]:
                found.append(words[1:])
    return found


README_COMMANDS = [(page.name, args) for page in PAGES for args in commands(page)]


@pytest.mark.parametrize(("page", "args"), README_COMMANDS,
                         ids=[f"{p}: {' '.join(a)[:50]}" for p, a in README_COMMANDS])
def test_every_command_shown_parses_and_names_what_exists(page: str, args: list[str]) -> None:
    """Options exist and take the values shown; files and metrics named exist."""
    if args[0] not in main.commands and not args[0].startswith("-"):
        args = ["run", *args]
    name, command, rest = main.resolve_command(click.Context(main, info_name="simrun"), args)
    assert command is not None
    assert name is not None
    made_before = name == "report"  # its folder is what an earlier command shown writes
    sub = command.make_context(name, list(rest), resilient_parsing=made_before)
    if made_before:
        assert rest[0].startswith("results/")
    for value in sub.params.values():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, Path) and item.suffix == ".toml":
                assert (ROOT / item).is_file(), item
    if sub.params.get("metric"):
        assert sub.params["metric"] in METRIC_BY_KEY


def test_no_page_links_outside_the_repository() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)]+)\)", page.read_text(encoding="utf-8")):
            assert "://" not in target, (page.name, target)
            resolved = (page.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT), (page.name, target)
            assert resolved.exists(), (page.name, target)
