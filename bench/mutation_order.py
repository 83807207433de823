"""pytest plugin of bench/mutation.sh: the tests a mutant meets run fastest first.

mutmut hands each mutant the tests that reach the mutated function, in no particular
order, and stops at the first failure (``-x``). Run in order of the durations mutmut
measured on the clean code (``mutants/mutmut-stats.json``), most mutants die in a
test of a fraction of a second instead of after the slow ones. Outside a mutation run
(no stats file) the order is left alone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    stats = Path(config.rootpath, "mutmut-stats.json")
    if not stats.exists():
        return
    durations = json.loads(stats.read_text(encoding="utf-8")).get("duration_by_test", {})
    # stable: tests of one module stay together when their durations tie
    items.sort(key=lambda item: durations.get(item.nodeid, math.inf))
