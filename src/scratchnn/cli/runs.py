"""``scratchnn runs``: list and compare recorded runs; ``scratchnn runs show ID``: one in full."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from scratchnn import metrics
from scratchnn.cli._common import fmt_number, open_store, store_options
from scratchnn.runs import STATUSES, Run, resolve_path
from scratchnn.sweep.engine import metric_column

KINDS = ("train", "trial", "all")
"""What ``runs --kind`` lists: runs that are not sweep trials, sweep trials, or both."""


def _trial(run: Run) -> dict[str, Any] | None:
    """The full configuration of a sweep trial (``config["trial"]``), or ``None``."""
    trial = run.config.get("trial") if run.sweep_id else None
    return trial if isinstance(trial, dict) else None


def _dataset(run: Run) -> Any:
    trial = _trial(run)
    name = trial.get("data", {}).get("name") if trial else run.config.get("dataset")
    return Path(name).name if isinstance(name, str) and name.endswith(".csv") else name


def _hidden(run: Run) -> tuple[Any, Any]:
    """``(hidden sizes, their activation)``: ``([8, 8], "tanh")``; trials from their layers."""
    trial = _trial(run)
    if not trial:
        return run.config.get("layers"), run.config.get("activation")
    hidden = [layer for layer in trial.get("model", {}).get("layers", [])[:-1]
              if isinstance(layer, dict)]  # fmt: skip
    activation = hidden[0].get("activation") if hidden else None
    return [layer.get("units") for layer in hidden], activation


def _layers(run: Run) -> Any:
    """Hidden sizes: ``"8,8"``, ``"none"``."""
    sizes = _hidden(run)[0]
    if isinstance(sizes, list):
        return ",".join(map(str, sizes)) or "none"
    return sizes


def _optimizer(run: Run) -> tuple[Any, Any]:
    """``(name, learning rate)`` of the run's optimizer."""
    trial = _trial(run)
    if not trial:
        return run.config.get("optimizer"), run.config.get("lr")
    opt = trial.get("compile", {}).get("optimizer")
    if isinstance(opt, dict):
        return opt.get("name") or opt.get("class_name"), opt.get("learning_rate")
    return opt, None


def epochs_done(run: Run) -> tuple[int | None, int | None]:
    """``(epochs trained, epochs planned)``: epochs, not history rows (a sweep trial logs only
    about a hundred of its 10 000 epochs)."""
    trial = _trial(run)
    if trial:
        done = run.metrics.get("epochs_run")
        planned = trial.get("fit", {}).get("epochs")
    else:
        done = max(run.epochs) + 1 if run.epochs else None
        planned = run.config.get("epochs")
    done = done if isinstance(done, int) and not isinstance(done, bool) else None
    planned = planned if isinstance(planned, int) else None
    return done, planned


def _epochs(run: Run) -> Any:
    done, planned = epochs_done(run)
    if done is None or planned is None or done == planned:
        return done if done is not None else planned
    return f"{done}/{planned}"


def _final(run: Run, metric: str, validation: bool) -> Any:
    """A final metric: ``loss``/``accuracy`` and their ``val_`` twins for trained runs, the
    ``train_``/``dev_`` columns for sweep trials."""
    if _trial(run):
        return run.metrics.get(metric_column("dev" if validation else "train", metric))
    return run.metrics.get(f"val_{metric}" if validation else metric)


COLUMNS: dict[str, Callable[[Run], Any]] = {
    "id": lambda run: run.id,
    "dataset": _dataset,
    "layers": _layers,
    "act": lambda run: _hidden(run)[1],
    "optimizer": lambda run: _optimizer(run)[0],
    "lr": lambda run: _optimizer(run)[1],
    "epochs": _epochs,
    "status": lambda run: run.status,
    "loss": lambda run: _final(run, "loss", False),
    "val_loss": lambda run: _final(run, "loss", True),
    "acc": lambda run: _final(run, "accuracy", False),
    "val_acc": lambda run: _final(run, "accuracy", True),
    "fit_s": lambda run: run.timings.get("fit_seconds"),
}
"""The table's columns: header -> the cell of a run (``None`` shows as ``-``). Sweep trials fill
them from their own configuration; their ``val_`` columns are the dev set."""

SORT_KEYS: dict[str, Callable[[Run], Any]] = {
    **COLUMNS,
    "epochs": lambda run: epochs_done(run)[0],
    "created": lambda run: run.created_at.timestamp(),
}
"""What ``--sort`` accepts (a leading ``-`` sorts descending)."""


def sort_runs(runs: list[Run], sort: str) -> list[Run]:
    """Runs sorted by a column of :data:`SORT_KEYS`; missing values (and NaN) come last.

    Raises:
        ValueError: an unknown column (the message lists the known ones).
    """
    descending = sort.startswith("-")
    key = sort.lstrip("-").lower()
    if key not in SORT_KEYS:
        raise ValueError(
            f"--sort {sort!r}: unknown column. Sort by one of {', '.join(SORT_KEYS)} "
            "(prefix - for descending, e.g. --sort -val_acc)."
        )
    get = SORT_KEYS[key]

    def present(run: Run) -> bool:
        """Whether the run has a value (not NaN) in the sort column."""
        value = get(run)
        return value is not None and not (isinstance(value, float) and math.isnan(value))

    have = [run for run in runs if present(run)]
    numbers = all(isinstance(get(run), (int, float)) for run in have)
    have.sort(key=lambda run: get(run) if numbers else str(get(run)), reverse=descending)
    return have + [run for run in runs if not present(run)]


def _cell(value: Any, column: str = "") -> str:
    """A table cell: ``-`` for no value, accuracies as percentages (as ``train`` prints them),
    seconds to 3 significant digits, other floats to 4."""
    if value is None:
        return "-"
    if column in ("acc", "val_acc"):
        return metrics.format_value("accuracy", value)
    if isinstance(value, float):
        return fmt_number(value, 3 if column == "fit_s" else 4)
    return str(value)


def _align(rows: list[list[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


def format_table(runs: list[Run]) -> str:
    """The runs as an aligned text table, one row per run under a header row."""
    rows = [list(COLUMNS)]
    rows += [[_cell(get(run), column) for column, get in COLUMNS.items()] for run in runs]
    return _align(rows)


def format_sweeps(trials: list[Run]) -> str:
    """One line per sweep: its trials by status and its best trial on the dev set."""
    by_sweep: dict[str, list[Run]] = {}
    for run in sorted(trials, key=lambda run: run.created_at):
        by_sweep.setdefault(str(run.sweep_id), []).append(run)
    rows = [["sweep", "trials", "finished", "failed", "best", "last trial"]]
    for name, runs in by_sweep.items():
        best = "-"
        done = [run for run in runs if run.status == "finished"]
        metric = next((m for run in done for m in (_trial(run) or {}).get("compile", {})
                       .get("metrics", [])[:1]), None)  # fmt: skip
        column = metric_column("dev", metric or "loss")
        scored = [run for run in done if isinstance(run.metrics.get(column), (int, float))
                  and math.isfinite(run.metrics[column])]  # fmt: skip
        if scored:
            pick = (max if metrics.higher_is_better(column) else min)(
                scored, key=lambda run: run.metrics[column])
            best = f"{column} {metrics.format_value(column, pick.metrics[column])} ({pick.id})"
        failed = sum(run.status == "failed" for run in runs)
        when = runs[-1].created_at.strftime("%Y-%m-%d %H:%M")
        rows.append([name, str(len(runs)), str(len(done)), str(failed), best, when])
    return _align(rows)


def _list_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The filters and the store options of ``runs`` / ``runs list``."""
    decorators: list[Callable[[Any], Any]] = [
        click.option("--kind", type=click.Choice(KINDS), default=None,
                     help="train: runs that are not sweep trials (the default); trial: sweep "
                          "trials; all: both."),
        click.option("--sweep", "sweep_id", default=None, metavar="NAME",
                     help="Only the trials of sweep NAME."),
        click.option("--status", type=click.Choice(STATUSES), multiple=True,
                     help="Only runs with this status (repeat for several)."),
        click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Show at most this many runs (after sorting)."),
        click.option("--sort", default="-created", show_default=True,
                     help=f"Column to sort by ({', '.join(SORT_KEYS)}); prefix - to reverse."),
        store_options,
    ]  # fmt: skip
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def _list(
    kind: str | None, sweep_id: str | None, status: tuple[str, ...], limit: int | None,
    sort: str, runs_dir: Path | None, lock_timeout: float,
) -> None:  # fmt: skip
    """Print the table of runs, and under the trained runs a line per sweep."""
    sort_runs([], sort)  # check --sort before opening the store
    kind = kind or ("trial" if sweep_id else "train")
    if sweep_id and kind == "train":
        raise ValueError(f"--sweep {sweep_id!r} lists sweep trials; it cannot go with --kind "
                         "train (use --kind trial, or leave --kind out).")
    if not resolve_path(runs_dir).exists():  # listing never creates a store
        click.echo(f"No runs in {resolve_path(runs_dir)} (nothing recorded there yet).")
        return
    with open_store(runs_dir, lock_timeout) as store:
        everything = store.list_runs(list(status) or None)
        where = store.path
    trials = [run for run in everything if run.sweep_id]
    if sweep_id is not None:
        trials = [run for run in trials if run.sweep_id == sweep_id]
        if not trials:
            known = sorted({str(run.sweep_id) for run in everything if run.sweep_id})
            raise ValueError(f"no sweep {sweep_id!r} in {where}"
                             + (f"; its sweeps are {', '.join(known)}." if known else "."))
    shown = {"train": [run for run in everything if not run.sweep_id], "trial": trials,
             "all": everything if sweep_id is None else trials}[kind]  # fmt: skip
    shown = sort_runs(shown, sort)[:limit]
    which = f" with status {', '.join(status)}" if status else ""
    if shown:
        click.echo(format_table(shown))
    else:
        what = {"train": "trained runs", "trial": "sweep trials", "all": "runs"}[kind]
        click.echo(f"No {what} in {where}{which}.")
    if kind == "train" and trials:
        click.echo("")
        click.echo(format_sweeps(trials))
        click.echo("Each sweep's trials: scratchnn runs --sweep NAME (all of them: --kind trial).")


@click.group(invoke_without_command=True)
@_list_options
@click.pass_context
def runs(
    ctx: click.Context, kind: str | None, sweep_id: str | None, status: tuple[str, ...],
    limit: int | None, sort: str, runs_dir: Path | None, lock_timeout: float,
) -> None:  # fmt: skip
    """List and compare the recorded runs (newest first), or show one: 'runs show ID'.

    Lists the trained runs, then one line per sweep; --sweep NAME lists that sweep's trials
    and --kind trial every sweep's. Columns: id, dataset, hidden layers, their activation,
    optimizer, lr, epochs (done/planned when they differ), status, final train and validation
    (for sweep trials: dev) loss and accuracy, fit time in seconds.
    """
    ctx.obj = {"runs_dir": runs_dir, "lock_timeout": lock_timeout}
    if ctx.invoked_subcommand is None:
        _list(kind, sweep_id, status, limit, sort, runs_dir, lock_timeout)


@runs.command(name="list")
@_list_options
def list_runs(
    kind: str | None, sweep_id: str | None, status: tuple[str, ...], limit: int | None,
    sort: str, runs_dir: Path | None, lock_timeout: float,
) -> None:  # fmt: skip
    """List and compare the recorded runs (the same as plain 'scratchnn runs')."""
    _list(kind, sweep_id, status, limit, sort, runs_dir, lock_timeout)


def _history_lines(run: Run) -> list[str]:
    """One line per logged series: first -> last value, and the best with its epoch."""
    lines = []
    width = max((len(name) for name in run.history), default=0)
    for name, values in run.history.items():
        points = [
            (epoch + 1, v) for epoch, v in zip(run.epochs, values, strict=True)
            if isinstance(v, (int, float)) and math.isfinite(v)
        ]  # fmt: skip
        if not points:
            lines.append(f"  {name.ljust(width)}  no finite values")
            continue
        higher = metrics.higher_is_better(name)
        best = (max if higher else min)(points, key=lambda p: p[1])
        lines.append(
            f"  {name.ljust(width)}  {_value(name, points[0][1])} -> "
            f"{_value(name, points[-1][1])}   best {_value(name, best[1])} at epoch {best[0]}"
        )
    return lines


def _value(key: str, value: Any) -> str:
    """A value of ``runs show``: accuracies as percentages, lists and dicts as JSON."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    found = metrics.info(key)
    if found is not None and found.percent and isinstance(value, float):
        return metrics.format_value(key, value)
    return _cell(value)


def _pairs(values: dict[str, Any]) -> list[str]:
    """``  key  value`` lines, keys aligned."""
    width = max((len(k) for k in values), default=0)
    return [f"  {k.ljust(width)}  {_value(k, v)}" for k, v in values.items()]


def _section(title: str, values: dict[str, Any]) -> list[str]:
    """A titled block of :func:`_pairs`, or nothing for an empty dict."""
    return [title, *_pairs(values)] if values else []


def format_run(run: Run) -> str:
    """The full record of one run, as text: when, config, metrics, timings, history, model."""
    def when(t: Any) -> str:
        """A timestamp as ``2025-01-31 12:00:00 UTC``."""
        return "-" if t is None else t.strftime("%Y-%m-%d %H:%M:%S UTC")

    head = {
        "name": run.name,
        "created": when(run.created_at),
        "started": when(run.started_at),
        "ended": when(run.finished_at),
        "duration": None if run.duration_seconds is None else f"{run.duration_seconds:.2f} s",
        "scratchnn": run.version,
        "process": f"{run.pid} on {run.hostname}",
        "sweep": f"{run.sweep_id} trial {run.trial_key}" if run.sweep_id else None,
        "error": run.error,
    }
    lines = [f"Run {run.id}  ({run.status})"]
    lines += _pairs({k: v for k, v in head.items() if v is not None})
    lines += _section("Config", run.config)
    lines += _section("Final metrics", run.metrics)
    lines += _section("Timings (s)", run.timings)
    if run.epochs:
        done = epochs_done(run)[0] or len(run.epochs)
        logged = "" if done == len(run.epochs) else f", {len(run.epochs)} of them logged"
        lines += [f"History ({done} epochs{logged})", *_history_lines(run)]
    lines += ["Model", f"  {run.model_path or '- (not saved)'}"]
    if run.model_path and Path(run.model_path).parent.is_dir():
        files = sorted(p.name for p in Path(run.model_path).parent.iterdir()
                       if not p.name.startswith("."))  # fmt: skip
        lines.append(f"  folder: {Path(run.model_path).parent}  ({', '.join(files)})")
    return "\n".join(lines)


@runs.command()
@click.argument("run_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=None,
              help="Run store folder (or .sqlite file); default as for 'scratchnn runs'.")
@click.pass_context
def show(ctx: click.Context, run_id: str, as_json: bool, runs_dir: Path | None) -> None:
    """Show one run in full: ID is its id or any unique prefix of it."""
    parent = ctx.obj or {}
    runs_dir = runs_dir or parent.get("runs_dir")
    if not resolve_path(runs_dir).exists():
        raise ValueError(f"no run {run_id!r}: there is no run store at {resolve_path(runs_dir)}.")
    with open_store(runs_dir, parent.get("lock_timeout", 30.0)) as store:
        run = store.get_run(run_id)
    click.echo(json.dumps(run.to_dict(), indent=2) if as_json else format_run(run))
