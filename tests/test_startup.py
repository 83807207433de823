"""Start-up: the command line loads only what a command needs.

``simrun --help`` and ``simrun check`` load no numpy, scipy or matplotlib; a run loads
no scipy.stats, pandas or matplotlib. These tests check which modules a fresh
interpreter holds in ``sys.modules`` when the command is done, never how long it
took: ``bench/bench_startup.py`` measures the time.
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
from pathlib import Path

from paths import ROOT

from sim.scenario.distributions import Distribution

HEAVY = ("numpy", "scipy", "matplotlib", "pandas", "optuna", "sqlalchemy")


def imported_by(*args: str) -> set[str]:
    """Every module loaded by a fresh ``simrun ARGS``: ``sys.modules`` when it exits."""
    script = ("import atexit, sys\n"
              "atexit.register(lambda: print('MODULES', *sys.modules, file=sys.stderr))\n"
              "from sim.cli import main\n"
              "sys.argv[0] = 'simrun'\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def loaded(modules: set[str], *packages: str) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages or m in packages)


def test_help_loads_no_numerics() -> None:
    modules = imported_by("--help")
    assert "sim.cli" in modules
    assert loaded(modules, *HEAVY) == []


def test_check_validates_and_prints_without_numerics() -> None:
    modules = imported_by("check", "scenarios/tiered.toml")
    assert "sim.scenario.loader" in modules
    assert loaded(modules, *HEAVY) == []
    # the presets are read beside their module, not through importlib.resources (which
    # brings tempfile, zipfile and the compression modules)
    assert "sim.strategies" in modules
    assert loaded(modules, "tempfile", "zipfile", "importlib.resources") == []


def test_check_of_a_market_loads_no_numerics_either() -> None:
    modules = imported_by("check", "scenarios/market.toml")
    assert "sim.scenario.market" in modules
    assert loaded(modules, *HEAVY) == []


def test_a_short_run_loads_no_scipy_stats_pandas_or_matplotlib(tmp_path: Path) -> None:
    modules = imported_by("scenarios/tiered.toml", "-n", "2", "-j", "1", "--set", "run.days=20",
                          "--set", "run.warmup_days=5", "--out", str(tmp_path))
    assert (tmp_path / "summary.json").is_file()
    assert "numpy" in modules  # the run did happen here, in this process
    assert [m for m in modules if m == "scipy.stats" or m.startswith("scipy.stats.")] == []
    assert loaded(modules, "pandas", "matplotlib") == []


def test_a_distribution_builds_its_sampler_on_first_use() -> None:
    gamma = Distribution("gamma", (0.75, 0.4))
    early = gamma.sample  # held before the first draw: still cheap to call
    first = gamma.sample(0.3)
    built = gamma.sample
    assert built is not early
    assert built is gamma.sampler()
    assert early(0.3) == first == built(0.3)
    again = pickle.loads(pickle.dumps(gamma))
    assert again == gamma
    assert again.sample(0.3) == first
    assert math.isclose(Distribution("normal", (10, 2, 0, 12)).mean, 9.4248, rel_tol=1e-4)


POOL_WATCHED = """
import sys
from sim.experiment import executors, runner

def watched(real):
    def run_parallel(*args):
        print("AT POOL", *sys.modules, file=sys.stderr)
        return real(*args)
    return run_parallel

runner.run_parallel = watched(runner.run_parallel)
executors.run_parallel = watched(executors.run_parallel)
from sim.cli import main
sys.argv[0] = "simrun"
main()
"""


def modules_at_the_pool(*args: str) -> set[str]:
    """The modules a fresh ``simrun ARGS`` holds when it hands its work to the pool."""
    done = subprocess.run([sys.executable, "-c", POOL_WATCHED, *args], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("AT POOL "))
    return set(line.split()[2:])


def the_model(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] == "simpy" or m.startswith("sim.model"))


def test_a_run_on_workers_hands_out_its_replications_without_the_model(tmp_path: Path) -> None:
    """With its replications in worker processes, ``simrun run`` only hands them out: it
    starts the pool without numpy, SciPy, SimPy or the model, which its workers import
    (runner.replication; a market's market_replication); a sweep, which needs numpy for
    its design, without SimPy or the model (executors.execute)."""
    short = ["-n", "2", "-j", "2", "-q", "--set", "run.days=20", "--set", "run.warmup_days=5"]
    for scenario in ("tiered.toml", "market-duel.toml"):
        out = tmp_path / scenario
        modules = modules_at_the_pool(f"scenarios/{scenario}", *short, "--out", str(out))
        assert "sim.experiment.runner" in modules
        assert loaded(modules, "numpy", "scipy") == [], scenario
        assert the_model(modules) == [], scenario
        assert (out / "summary.json").is_file() or (out / "market.json").is_file()
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'[sweep]\nscenarios = ["{ROOT}/scenarios/god.toml"]\nreplications = 2\n'
                     'set = ["run.days=20", "run.warmup_days=5"]\n'
                     '[[parameters]]\npath = "market.alternatives"\nvalues = [0.2, 0.6]\n')
    modules = modules_at_the_pool("sweep", str(sweep), "-j", "2", "-q", "--out",
                                  str(tmp_path / "swept"))
    assert "sim.experiment.executors" in modules
    assert the_model(modules) == []
    assert (tmp_path / "swept" / "sweep.csv").is_file()


def test_a_dask_worker_warms_up_with_the_model_and_scipy() -> None:
    """executors.warm_up, run on each worker of --dask local before its first run,
    imports what every run needs now that the executors module no longer does."""
    script = "import sys\nfrom sim.experiment import executors\nexecutors.warm_up()\n" \
             "print(*sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(done.stdout.split())
    assert {"sim.model.engine", "sim.model.market", "scipy.special"} <= modules
