"""``scratchnn sweep``: run a sweep spec and report on it.

    scratchnn sweep run examples/sweeps/tutorial000.toml
    scratchnn sweep run SPEC --executor dask --scheduler tcp://10.0.0.5:8786
    scratchnn sweep report tutorial000 --out reports/t000 --format html
    scratchnn sweep report tutorial000 --filter "dev_acc > 0.95" --sort -dev_acc --top 10

The group is registered in the main ``scratchnn`` command; ``python -m scratchnn.cli.sweep`` runs
it on its own.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from scratchnn.sweep.executors import ExecutorName
    from scratchnn.sweep.plan import Engine

_RUNS_DIR = click.option(
    "--runs-dir", type=click.Path(path_type=Path), default=None,
    help="Run store directory or .sqlite file (default: $SCRATCHNN_RUNS or ./scratchnn-runs).",
)


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class _Size(click.ParamType):
    """A size in bytes: ``4096``, ``512M``, ``64GiB``, ``1.5G`` (K, M, G, T: powers of 1024)."""

    name = "size"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", str(value).upper())
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a size such as 512M, 64GiB or 4096 (bytes).", param, ctx)
        return int(float(match.group(1)) * _UNITS[match.group(2)])


@click.group(name="sweep", context_settings={"help_option_names": ["-h", "--help"]})
def sweep() -> None:
    """Hyperparameter sweeps: run a TOML spec, report on the results."""


@sweep.command("run")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_RUNS_DIR
@click.option("--executor", type=click.Choice(["processes", "inline", "dask"]),
              default="processes", show_default=True,
              help="Where units run: worker processes on all cores, this process, or Dask.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: one per core); with dask, units to aim for.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Dask scheduler address (with --executor dask).")
@click.option("--engine", type=click.Choice(["auto", "population", "sequential"]),
              default="auto", show_default=True,
              help="Train stacked populations where possible, or each trial with Sequential.fit.")
@click.option("--name", default=None, help="Sweep id (default: [sweep] name or the file name).")
@click.option("--check", is_flag=True, help="Check the spec and list the work; train nothing.")
@click.option("--max-trials", type=click.IntRange(min=1), default=None, metavar="N",
              help="Allow up to N trials (default 10000); a larger spec is refused unstarted.")
@click.option("--max-memory", type=_Size(), default=None, metavar="SIZE",
              help="Allow trials estimated up to SIZE (e.g. 64GiB; default: this machine's "
                   "memory, or the process's lower address-space limit).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run_command(spec: Path, runs_dir: Path | None, executor: ExecutorName, workers: int | None,
                scheduler: str | None, engine: Engine, name: str | None, check: bool,
                max_trials: int | None, max_memory: int | None, quiet: bool) -> None:
    """Run every trial of SPEC not yet finished in the run store.

    Trials are recorded as they finish; run the same command again after a crash or Ctrl-C and
    only the missing trials run. A spec of more than --max-trials trials, or whose trials need
    more memory than --max-memory, is refused before anything runs.
    """
    from scratchnn.sweep.plan import plan
    from scratchnn.sweep.runner import SweepFailedError, run_sweep
    from scratchnn.sweep.spec import MAX_TRIALS, SpecError, load_spec

    if executor == "dask" and not scheduler:
        raise click.UsageError("--executor dask needs --scheduler tcp://HOST:PORT.")
    try:
        parsed = load_spec(spec, name=name, max_trials=max_trials or MAX_TRIALS,
                           max_memory=max_memory)
    except SpecError as exc:
        raise click.ClickException(str(exc)) from None
    if check:
        import os

        from scratchnn.sweep.plan import makespan

        n = workers or (os.cpu_count() or 1 if executor == "processes" else 1)
        units = plan(parsed.trials, parsed.history_points, n, engine=engine)
        span = makespan([u.seconds for u in units], n)
        click.echo(f"{spec}: sweep {parsed.name!r}, {len(parsed.trials)} trials, "
                   f"{len(units)} work units; training about {_seconds(span)} on {n} "
                   f"worker{'s' if n > 1 else ''} when the cores are free "
                   f"({_seconds(sum(u.seconds for u in units))} of compute). Starting the "
                   "workers, evaluating and recording the trials add a few seconds.")
        for unit in units:
            click.echo(f"  {unit.id}  {unit.engine:<10}  {len(unit.members):3d} networks  "
                       f"{len(unit.trial_keys):4d} trials  ~{_seconds(unit.seconds)}")
        return
    try:
        result = run_sweep(parsed, runs_dir, executor=executor, workers=workers,
                           scheduler=scheduler, engine=engine, progress=not quiet)
    except (ValueError, SweepFailedError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"sweep {result.sweep_id}: {result.recorded} trials recorded, {result.skipped} already "
        f"finished, {result.failed} failed, of {result.total}; {result.seconds:.1f} s. "
        f"Runs: {result.store_path}"
    )
    if result.failed:
        sys.exit(1)


def _seconds(value: float) -> str:
    """``"12 s"``, ``"1.5 s"``, ``"< 0.1 s"``: an estimate, without false precision."""
    if value < 0.1:
        return "< 0.1 s"
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


@sweep.command("report")
@click.argument("sweep_id", metavar="ID")
@_RUNS_DIR
@click.option("--filter", "filter_", default=None, metavar="EXPR",
              help='Keep trials where EXPR holds, e.g. "dev_acc > 0.95 and fit_time < 30".')
@click.option("--sort", multiple=True, metavar="COLUMN",
              help="Sort by COLUMN (repeatable; prefix - for descending).")
@click.option("--pick", default=None, metavar="COLUMN",
              help="Pick the passing trial with the least COLUMN (-COLUMN: the largest).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the report and its PNG plots into this directory.")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md",
              show_default=True,
              help="Format of the written report: report.md or report.html (as 'reproduce').")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True,
              help="Rows of the table printed here.")
@click.option("--no-plots", is_flag=True, help="Skip the plots.")
@click.option("--all", "include_stale", is_flag=True,
              help="Also show trials that the current spec no longer contains.")
def report_command(sweep_id: str, runs_dir: Path | None, filter_: str | None,
                   sort: tuple[str, ...], pick: str | None, out: Path | None, fmt: str,
                   top: int, no_plots: bool, include_stale: bool) -> None:
    """Report on sweep ID (or the sweep of a spec file): table, filter, pick, plots."""
    from scratchnn.sweep.expr import ExpressionError
    from scratchnn.sweep.report import sweep_report
    from scratchnn.sweep.spec import SpecError

    try:
        report = sweep_report(
            sweep_id, runs_dir, filter=filter_, sort=list(sort) or None, pick=pick, out=out,
            fmt=fmt, plots=False if no_plots else None, include_stale=include_stale,
        )
    except (ExpressionError, SpecError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.to_markdown(top=top, image_dir=str(out) if out else "."))
    if out is not None:
        written = out / ("report.html" if fmt == "html" else "report.md")
        click.echo(f"Written: {written}" + "".join(f", {p}" for p in report.plots))


if __name__ == "__main__":
    sweep()
