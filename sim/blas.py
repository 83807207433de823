"""One BLAS thread in every simrun process.

NumPy's and SciPy's BLAS libraries (OpenBLAS, MKL) start a thread per core as they
load, and the threads spin for a while before they sleep. simrun multiplies no large
matrices: its processes gain nothing from them and lose a core to each spin (about
0.25 s of CPU per process that imports SciPy's special functions, taken from the
workers of a pool on a machine whose cores they fill) and wait for them as they exit.
The variables only act when they are set before the library loads, so the command line
sets them as it starts (unless the user has set them), and the pool's fork server
starts with them (:mod:`sim.experiment.pool`).
"""

from __future__ import annotations

import os

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The variables that tell the common BLAS builds to start no threads of their own."""


def unset() -> dict[str, str]:
    """The variables of :data:`ONE_THREAD` that this process's environment does not set
    (a user's own setting wins), with their value."""
    return {name: value for name, value in ONE_THREAD.items() if name not in os.environ}
