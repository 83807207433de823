"""Calibration to a firm's own data: ``simrun fit`` (docs/calibrate.md).

:mod:`sim.fit.log` reads a transaction log (a till's or booking system's export) and
checks it; :mod:`sim.fit.estimate` estimates, from the calibration period only, what
the model's customers need (arrivals, segments, visit intervals, return behaviour,
prices, service times, patience, satisfaction) and writes an ordinary scenario
(:mod:`sim.fit.scenario_out`); :mod:`sim.fit.bgnbd` is the buy-till-you-die benchmark
(BG/NBD) and :mod:`sim.fit.holdout` compares the two with what happened in the
holdout period. Like the experiment layer, it never imports the charts, the report,
the views, the API or the CLI.
"""
