"""``run_sweep``: run every trial of a spec and record each in the run store, resumably.

Crash safety comes from the run store's ``UNIQUE (sweep_id, trial_key)`` and from writing a trial
only once it is complete: for each result the parent process starts the trial's run, logs its
history, saves its model file and finishes the run, one short transaction each. A sweep killed at
any moment (SIGKILL included) leaves finished trials ``finished`` and at most the trial being
written ``running`` with a dead writer; running the same spec again lists the finished trials,
skips them, and restarts the rest (``start_run(restart=True)`` replaces a dead or failed trial's
run in one transaction), so no trial is recorded twice.

Artifacts live beside the database: ``<runs dir>/sweeps/<sweep id>/spec.toml`` (the spec last
run, which ``sweep report`` reads) and ``models/<trial hash>.snn`` (one model file per trial).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scratchnn.sweep.engine import TrialResult, build_model, metric_column
from scratchnn.sweep.plan import Engine, WorkUnit, plan
from scratchnn.sweep.spec import MAX_TRIALS, SweepSpec, Trial, load_spec

if TYPE_CHECKING:
    from distributed import Client

    from scratchnn.sweep.executors import (
        DaskExecutor,
        ExecutorName,
        InlineExecutor,
        ProcessExecutor,
    )

_record_hook: Callable[[str, int], None] | None = None
"""Test seam, ``None`` outside tests: called in the parent as ``(point, recorded)``, at point
``"started"`` once a trial's run is started (its history, model file and finish still to write)
and at ``"recorded"`` once it is finished; ``recorded`` counts the trials this run has finished.
The crash test sets it in a child process to stop at a named point and be killed there."""


@dataclasses.dataclass
class SweepRun:
    """What :func:`run_sweep` did.

    Attributes:
        sweep_id: the sweep's id in the run store.
        total: trials in the spec.
        skipped: trials already finished before this run (kept, not re-run).
        recorded: trials recorded by this run.
        failed: trials whose unit raised (recorded as ``failed``).
        seconds: wall-clock time of this run.
        store_path: the run database.
        units: the work units (populations and one-at-a-time members).
    """

    sweep_id: str
    total: int
    skipped: int
    recorded: int
    failed: int
    seconds: float
    store_path: Path
    units: list[WorkUnit]


class SweepFailedError(RuntimeError):
    """Every trial a sweep ran failed; the message carries the first failure's.

    Attributes:
        sweep_id: the sweep.
        failed: how many trials failed (each is recorded as ``failed`` and retried next time).
        first_error: the first failure's message.
    """

    def __init__(self, sweep_id: str, failed: int, first_error: str) -> None:
        super().__init__(
            f"every trial of sweep {sweep_id!r} failed ({failed} of {failed}); the first "
            f"failure: {first_error} The trials are recorded as failed; fix the cause and run "
            "the sweep again."
        )
        self.sweep_id = sweep_id
        self.failed = failed
        self.first_error = first_error


def artifacts_dir(store_path: Path, sweep_id: str) -> Path:
    """``<dir of the database>/sweeps/<sweep id>``: the sweep's spec copy and model files."""
    return Path(store_path).parent / "sweeps" / sweep_id


def _best_metric(spec: SweepSpec) -> tuple[str, bool]:
    """The column shown as "best so far" and whether higher is better: the first compiled
    metric on the dev set (its direction from the metric registry), else the dev loss."""
    from scratchnn.metrics import higher_is_better

    names = spec.metric_names()
    column = metric_column("dev", names[0]) if names else "dev_loss"
    return column, higher_is_better(column)


class _Recorder:
    """Writes results to the store (in the parent) and drives the progress bar."""

    def __init__(self, spec: SweepSpec, store: Any, artifacts: Path, units: Sequence[WorkUnit],
                 trials: dict[str, Trial], progress: bool, total: int, skipped: int) -> None:
        self.spec = spec
        self.store = store
        self.artifacts = artifacts
        self.trials = trials
        self.recorded: set[str] = set()
        self.failed: set[str] = set()
        self.first_error: str | None = None
        self.done_fraction = {u.id: 0.0 for u in units}
        self.unit_seconds = {u.id: max(u.seconds, 1e-6) for u in units}
        self.total = total
        self.skipped = skipped
        self.best_column, self.higher = _best_metric(spec)
        self.best: tuple[float, str] | None = None
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=sum(self.unit_seconds.values()), file=sys.stderr,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
                dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 5.0,
            )
            self._describe()

    def _describe(self) -> None:
        if self.bar is None:
            return
        done = self.skipped + len(self.recorded) + len(self.failed)
        self.bar.set_description_str(f"{self.spec.name}: trials {done}/{self.total}",
                                     refresh=False)
        if self.best is not None:
            value, key = self.best
            self.bar.set_postfix_str(f"best {self.best_column}={value:.4f} ({key.split('#')[0]})",
                                     refresh=False)

    def _advance(self, unit: WorkUnit, fraction: float) -> None:
        """Move a unit's share of the bar to ``fraction`` (never back, never past 100 %).

        The bar's position is recomputed from every unit's fraction rather than accumulated, so
        it ends at exactly its total: no 99 %, no 104 % with a negative ETA.
        """
        fraction = min(1.0, max(fraction, self.done_fraction[unit.id]))
        if fraction == self.done_fraction[unit.id]:
            return
        self.done_fraction[unit.id] = fraction
        if self.bar is not None:
            self.bar.n = sum(self.done_fraction[u] * s for u, s in self.unit_seconds.items())
            self.bar.update(0)  # redraw, at most every mininterval

    def on_event(self, unit: WorkUnit | None, kind: str, payload: Any) -> None:
        """Handle one event of an executor (``unit`` is ``None`` when a worker started)."""
        if unit is None:
            self._describe()
            return
        if kind == "progress":
            self._advance(unit, float(payload))
        elif kind == "result":
            self.record(payload)
            done = sum(1 for k in unit.trial_keys if k in self.recorded or k in self.failed)
            self._advance(unit, done / max(1, len(unit.trial_keys)))
        elif kind == "error":
            if self.first_error is None:
                self.first_error = str(payload)
            for key in unit.trial_keys:
                if key not in self.recorded and key not in self.failed:
                    self.fail(key, str(payload))
            self._advance(unit, 1.0)
        self._describe()

    def record(self, result: TrialResult) -> None:
        """Write one finished trial: run, history, model file, end (skip if already there)."""
        from scratchnn.runs import DuplicateTrialError

        key = result.trial_key
        if key in self.recorded:
            return
        trial = self.trials[key]
        config = {"sweep": self.spec.name, "params": trial.params, "seed": trial.seed,
                  "trial": trial.config}
        try:
            run_id = self.store.start_run(config, name=f"sweep:{self.spec.name}",
                                          sweep_id=self.spec.name, trial_key=key, restart=True)
        except DuplicateTrialError:  # finished meanwhile by another run of this sweep
            self.recorded.add(key)
            return
        if _record_hook is not None:
            _record_hook("started", len(self.recorded))
        for epoch in sorted(result.history):
            self.store.log_epoch(run_id, epoch, result.history[epoch])
        model_path = None
        if self.spec.save_models:
            model_path = self._save_model(trial, result)
        metrics = dict(result.metrics)
        metrics["epochs_run"] = result.epochs_run
        metrics["diverged"] = result.diverged
        timings = {"fit_seconds": result.fit_seconds, **result.timings}
        self.store.finish_run(run_id, metrics, timings=timings, model_path=model_path)
        self.recorded.add(key)
        if _record_hook is not None:
            _record_hook("recorded", len(self.recorded))
        value = result.metrics.get(self.best_column)
        if value is not None and math.isfinite(value):
            better = self.best is None or (value > self.best[0] if self.higher
                                           else value < self.best[0])
            if better:
                self.best = (value, key)

    def _save_model(self, trial: Trial, result: TrialResult) -> str:
        """The trial's model file (architecture, compile settings, trained weights)."""
        from scratchnn.models import saving

        models = self.artifacts / "models"
        models.mkdir(parents=True, exist_ok=True)
        path = models / f"{trial.key.rsplit('#', 1)[-1]}.snn"
        input_dim = result.weights[0].shape[0]
        model = build_model(trial.config, input_dim)
        model.set_weights(result.weights)
        saving.save_model(model, path, include_optimizer=False)
        return str(path)

    def fail(self, key: str, error: str) -> None:
        """Record a trial whose unit raised as ``failed`` (it is retried on the next run)."""
        from scratchnn.runs import DuplicateTrialError

        trial = self.trials[key]
        config = {"sweep": self.spec.name, "params": trial.params, "seed": trial.seed,
                  "trial": trial.config}
        try:
            run_id = self.store.start_run(config, name=f"sweep:{self.spec.name}",
                                          sweep_id=self.spec.name, trial_key=key, restart=True)
        except DuplicateTrialError:
            return
        self.store.fail_run(run_id, error)
        self.failed.add(key)

    def close(self) -> None:
        """Show the final counts and close the progress bar."""
        if self.bar is not None:
            self._describe()
            self.bar.refresh()
            self.bar.close()


def run_sweep(
    spec: SweepSpec | str | Path,
    runs_dir: str | Path | None = None,
    *,
    executor: ExecutorName | InlineExecutor | ProcessExecutor | DaskExecutor = "processes",
    workers: int | None = None,
    scheduler: str | Client | None = None,
    engine: Engine = "auto",
    progress: bool = True,
    max_trials: int | None = MAX_TRIALS,
    max_memory: float | None = None,
) -> SweepRun:
    """Run every trial of ``spec`` not yet finished in the run store, recording each.

    Args:
        spec: a :class:`SweepSpec`, a path to a TOML spec, or TOML text.
        runs_dir: the run store (see :class:`scratchnn.runs.RunStore`; ``None``: the default).
        executor: ``"processes"`` (default: one worker per core), ``"inline"`` (this process),
            ``"dask"`` (with ``scheduler``), or an executor object.
        workers: processes for the ``"processes"`` executor (default: the number of cores);
            for ``"dask"``, how many units to split the work into (default 8).
        scheduler: the Dask scheduler address ``tcp://HOST:PORT`` (or a ``distributed.Client``).
        engine: ``"auto"`` (populations where possible), ``"population"`` or ``"sequential"``
            (every trial with ``Sequential.fit``).
        progress: show a progress bar on stderr (trials done/total, ETA, best so far).
        max_trials, max_memory: the limits :func:`~scratchnn.sweep.spec.load_spec` applies when
            ``spec`` is a path or text (a :class:`SweepSpec` was checked when it was loaded).

    Returns:
        A :class:`SweepRun` summary.

    Raises:
        SpecError: the spec is invalid (nothing has run).
        SweepFailedError: every trial that ran failed (the message holds the first failure's).

    Example:
        >>> run = run_sweep("examples/sweeps/tutorial000_small.toml")  # doctest: +SKIP
        >>> run.recorded + run.skipped == run.total  # doctest: +SKIP
        True
    """
    from scratchnn.runs import RunStore
    from scratchnn.sweep.executors import get_executor

    if getattr(sys.modules.get("__main__"), "__name__", None) == "__mp_main__":
        raise RuntimeError(
            "run_sweep was called while a sweep worker process imported the script that calls "
            'it; put that call under `if __name__ == "__main__":` (worker processes import the '
            "script)."
        )
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec, max_trials=max_trials, max_memory=max_memory)
    started = time.perf_counter()
    store = RunStore(runs_dir)
    try:
        artifacts = artifacts_dir(store.path, spec.name)
        artifacts.mkdir(parents=True, exist_ok=True)
        (artifacts / "spec.toml").write_text(spec.text, encoding="utf-8")
        finished = {r.trial_key for r in store.list_runs("finished", sweep_id=spec.name)}
        pending = [t for t in spec.trials if t.key not in finished]
        if isinstance(executor, str):
            runner = get_executor(executor, workers, scheduler)
        else:
            runner = executor
        units = plan(pending, spec.history_points, getattr(runner, "workers", 1), engine=engine)
        recorder = _Recorder(spec, store, artifacts, units, {t.key: t for t in spec.trials},
                             progress, len(spec.trials), len(spec.trials) - len(pending))
        try:
            runner.run(units, recorder.on_event)
        finally:
            recorder.close()
        if pending and recorder.failed and not recorder.recorded:
            raise SweepFailedError(spec.name, len(recorder.failed),
                                   recorder.first_error or "(no message)")
        return SweepRun(
            sweep_id=spec.name,
            total=len(spec.trials),
            skipped=len(spec.trials) - len(pending),
            recorded=len(recorder.recorded),
            failed=len(recorder.failed),
            seconds=time.perf_counter() - started,
            store_path=store.path,
            units=units,
        )
    finally:
        store.close()
