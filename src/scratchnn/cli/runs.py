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


def _metric(key: str) -> Callable[[Run], Any]:
    return lambda run: run.metrics.get(key)


def _dataset(run: Run) -> Any:
    name = run.config.get("dataset")
    return Path(name).name if isinstance(name, str) and name.endswith(".csv") else name


def _layers(run: Run) -> Any:
    layers = run.config.get("layers")
    if isinstance(layers, list):
        return ",".join(map(str, layers)) or "none"
    return layers


def _epochs(run: Run) -> Any:
    planned = run.config.get("epochs")
    done = len(run.epochs)
    if planned is None or done == planned:
        return planned if planned is not None else (done or None)
    return f"{done}/{planned}"


def _epochs_key(run: Run) -> Any:
    return len(run.epochs)


COLUMNS: dict[str, Callable[[Run], Any]] = {
    "id": lambda run: run.id,
    "dataset": _dataset,
    "layers": _layers,
    "optimizer": lambda run: run.config.get("optimizer"),
    "lr": lambda run: run.config.get("lr"),
    "epochs": _epochs,
    "status": lambda run: run.status,
    "loss": _metric("loss"),
    "val_loss": _metric("val_loss"),
    "acc": _metric("accuracy"),
    "val_acc": _metric("val_accuracy"),
    "fit_s": lambda run: run.timings.get("fit_seconds"),
}
"""The table's columns: header -> the cell of a run (``None`` shows as ``-``)."""

SORT_KEYS: dict[str, Callable[[Run], Any]] = {
    **COLUMNS,
    "epochs": _epochs_key,
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
    """A table cell: ``-`` for no value, seconds to 3 significant digits, other floats to 4."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return fmt_number(value, 3 if column == "fit_s" else 4)
    return str(value)


def format_table(runs: list[Run]) -> str:
    """The runs as an aligned text table, one row per run under a header row."""
    rows = [list(COLUMNS)]
    rows += [[_cell(get(run), column) for column, get in COLUMNS.items()] for run in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


def _list_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--status``, ``--limit``, ``--sort`` and the store options of ``runs`` / ``runs list``."""
    for decorator in reversed([
        click.option("--status", type=click.Choice(STATUSES), multiple=True,
                     help="Only runs with this status (repeat for several)."),
        click.option("--limit", type=click.IntRange(min=1), default=None,
                     help="Show at most this many runs (after sorting)."),
        click.option("--sort", default="-created", show_default=True,
                     help=f"Column to sort by ({', '.join(SORT_KEYS)}); prefix - to reverse."),
        store_options,
    ]):  # fmt: skip
        command = decorator(command)
    return command


def _list(
    status: tuple[str, ...], limit: int | None, sort: str, runs_dir: Path | None,
    lock_timeout: float,
) -> None:  # fmt: skip
    """Print the table of runs."""
    sort_runs([], sort)  # check --sort before opening the store
    if not resolve_path(runs_dir).exists():  # listing never creates a store
        click.echo(f"No runs in {resolve_path(runs_dir)} (nothing recorded there yet).")
        return
    with open_store(runs_dir, lock_timeout) as store:
        found = store.list_runs(list(status) or None)
        where = store.path
    found = sort_runs(found, sort)[:limit]
    if not found:
        which = f" with status {', '.join(status)}" if status else ""
        click.echo(f"No runs in {where}{which}.")
        return
    click.echo(format_table(found))


@click.group(invoke_without_command=True)
@_list_options
@click.pass_context
def runs(
    ctx: click.Context, status: tuple[str, ...], limit: int | None, sort: str,
    runs_dir: Path | None, lock_timeout: float,
) -> None:  # fmt: skip
    """List and compare the recorded runs (newest first), or show one: 'runs show ID'.

    Columns: id, dataset, layers, optimizer, lr, epochs (done/planned when they differ),
    status, final train and validation loss and accuracy, fit time in seconds.
    """
    ctx.obj = {"runs_dir": runs_dir, "lock_timeout": lock_timeout}
    if ctx.invoked_subcommand is None:
        _list(status, limit, sort, runs_dir, lock_timeout)


@runs.command(name="list")
@_list_options
def list_runs(
    status: tuple[str, ...], limit: int | None, sort: str, runs_dir: Path | None,
    lock_timeout: float,
) -> None:  # fmt: skip
    """List and compare the recorded runs (the same as plain 'scratchnn runs')."""
    _list(status, limit, sort, runs_dir, lock_timeout)


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
            f"  {name.ljust(width)}  {fmt_number(points[0][1])} -> {fmt_number(points[-1][1])}"
            f"   best {fmt_number(best[1])} at epoch {best[0]}"
        )
    return lines


def _pairs(values: dict[str, Any]) -> list[str]:
    """``  key  value`` lines, keys aligned; lists and dicts as JSON."""
    width = max((len(k) for k in values), default=0)
    return [
        f"  {k.ljust(width)}  {json.dumps(v) if isinstance(v, (list, dict)) else _cell(v)}"
        for k, v in values.items()
    ]


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
        lines += [f"History ({len(run.epochs)} epochs)", *_history_lines(run)]
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
