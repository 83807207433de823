"""What every test shares."""

from __future__ import annotations

import os

import pytest

from sim import blas


@pytest.fixture(autouse=True)
def _blas_variables_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command invoked in this process sets the BLAS variables (sim/blas.py) for the rest
    of the process, as the command line does; each test's are put back as they were."""
    for name in blas.ONE_THREAD:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
