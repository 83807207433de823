"""Imported by the pool's fork server alone, last of what it preloads
(:func:`sim.experiment.pool._context`): the server then ends without tearing down its
interpreter.

The server ends when its owner, the command, has ended. A normal end would then
finalize its interpreter: NumPy, SciPy and the model torn down, about 0.1 s during
which it still holds the command's standard output and error, which it inherited. A
caller that reads them through a pipe (a CI job; a script with
``subprocess.run(..., capture_output=True)``) waits until every process holding them has
ended, so it would wait that long after the command itself. The server has nothing to
save or close: its only children are the workers, each of which ends on its own
(``os._exit``); it writes no file. So it flushes its standard streams and ends at once,
skipping the exit handlers registered before this one (multiprocessing's, which has
nothing to do there) and the teardown.

Not in :data:`sim.experiment.pool.PRELOAD`, which a Dask worker imports too
(:func:`sim.experiment.executors.warm_up`): a Dask worker ends as Dask ends it.
"""

from __future__ import annotations

import atexit
import os
import sys


def end_now() -> None:
    """End this process with status 0 (the status its normal end gives; nothing waits
    for it), its standard streams flushed as far as they can be (a reader gone, a
    stream closed: it ends all the same)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


atexit.register(end_now)
