"""Hyperparameter sweeps: TOML specs, population training, resumable runs, reports.

    >>> from scratchnn.sweep import load_spec, run_sweep, sweep_report
    >>> spec = load_spec("examples/sweeps/tutorial000_small.toml")  # doctest: +SKIP
    >>> run_sweep(spec, "runs")                                      # doctest: +SKIP
    >>> report = sweep_report("tutorial000_small", "runs", out="report")  # doctest: +SKIP
    >>> report.pick                                                  # doctest: +SKIP

* :mod:`~scratchnn.sweep.spec`: the spec format, its checks (errors name the line) and the trials.
* :mod:`~scratchnn.sweep.population`: many networks of one structure trained as one stacked
  network; each member equals its own ``Sequential.fit``.
* :mod:`~scratchnn.sweep.plan` and :mod:`~scratchnn.sweep.executors`: work units, and where they
  run (this process, worker processes, a Dask cluster).
* :mod:`~scratchnn.sweep.runner`: ``run_sweep``, recording every trial in the run store, resumable
  after any crash.
* :mod:`~scratchnn.sweep.report` and :mod:`~scratchnn.sweep.expr`: tables, safe filter
  expressions, the pick, plots, a check on fresh data.
* the commands ``scratchnn sweep run`` / ``scratchnn sweep report`` live in
  :mod:`scratchnn.cli.sweep` (click stays under ``cli/``).

See ``docs/sweeps.md``.
"""

from scratchnn.sweep.engine import Checkpoint, Member, TrialResult, train_sequential
from scratchnn.sweep.executors import DaskExecutor, InlineExecutor, ProcessExecutor
from scratchnn.sweep.expr import ExpressionError, compile_expression
from scratchnn.sweep.plan import WorkUnit, plan
from scratchnn.sweep.population import PopulationRun, population_key, unsupported_reason
from scratchnn.sweep.report import SweepReport, sweep_report
from scratchnn.sweep.runner import SweepFailedError, SweepRun, run_sweep
from scratchnn.sweep.spec import Param, SpecError, SweepSpec, Trial, load_spec

__all__ = [
    "Checkpoint",
    "DaskExecutor",
    "ExpressionError",
    "InlineExecutor",
    "Member",
    "Param",
    "PopulationRun",
    "ProcessExecutor",
    "SpecError",
    "SweepFailedError",
    "SweepReport",
    "SweepRun",
    "SweepSpec",
    "Trial",
    "TrialResult",
    "WorkUnit",
    "compile_expression",
    "load_spec",
    "plan",
    "population_key",
    "run_sweep",
    "sweep_report",
    "train_sequential",
    "unsupported_reason",
]
