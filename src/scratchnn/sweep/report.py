"""Sweep reports: the table of trials, a filter, the pick, plots and a check on fresh data.

One row per finished trial, with the swept parameters, ``seed``, the metrics on the training and
dev sets (``train_loss``, ``dev_loss``, ``train_acc``, ``dev_acc``, ...), ``fit_time`` (seconds
of training attributed to the trial), ``epochs_run``, ``diverged`` and ``engine``.

* ``filter``: an expression over the columns, e.g. tutorial 000's
  ``dev_acc > 0.95 and abs(train_acc - dev_acc) <= 0.01 and fit_time < 30``, checked and evaluated
  by :mod:`scratchnn.sweep.expr` (never ``eval``).
* ``sort``: columns, ``-`` for descending (``["-dev_acc", "fit_time"]``).
* ``pick``: the trial to keep among those passing: a column or expression to minimise, or to
  maximise with a leading ``-`` (``"fit_time"``: the fastest); ties go to the better dev metric,
  then to the smaller train-dev gap.
* ``reference``: a trial given by its parameters (tutorial 000's own choice), shown beside it.
* ``holdout``: a fresh data set (``{ name = "moons", n_samples = 500, ... }``) on which the pick's
  and the reference's saved models are evaluated (tutorial 000: 93.6 %).

Plots (PNG, through :func:`scratchnn.plotting.plot_sweep_scatter`): dev accuracy against training
time, and train against dev accuracy. :meth:`SweepReport.write` saves Markdown or HTML beside them.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from scratchnn.metrics import higher_is_better
from scratchnn.sweep.engine import base_columns, metric_column
from scratchnn.sweep.expr import compile_expression


@dataclasses.dataclass
class SweepReport:
    """A sweep's results, filtered, sorted and picked.

    Attributes:
        sweep_id: the sweep.
        rows: one dict per finished trial (after sorting).
        columns: the column names, in display order.
        params: the swept parameter columns.
        filter: the filter expression (or ``None``).
        passing: the rows that pass the filter (all rows without one), sorted.
        pick_by: what the pick minimises (``-`` prefix: maximises).
        pick: the picked row, or ``None`` when nothing passes.
        reference: the reference row, or ``None``.
        holdout: ``{"pick": {...}, "reference": {...}}`` metrics on the fresh data set.
        counts: trials by status (``finished``, ``failed``, ``running``, ``interrupted``,
            ``missing`` for trials of the spec not run yet).
        plots: the PNG files written.
    """

    sweep_id: str
    rows: list[dict[str, Any]]
    columns: list[str]
    params: list[str]
    filter: str | None
    passing: list[dict[str, Any]]
    pick_by: str | None
    pick: dict[str, Any] | None
    reference: dict[str, Any] | None
    holdout: dict[str, dict[str, float]]
    counts: dict[str, int]
    plots: list[Path] = dataclasses.field(default_factory=list)
    holdout_spec: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------- output
    def table(self, rows: Sequence[Mapping[str, Any]] | None = None,
              columns: Sequence[str] | None = None, fmt: str = "markdown") -> str:
        """``rows`` (default: the passing ones) as a Markdown or HTML table."""
        rows = self.passing if rows is None else rows
        columns = list(columns or self.display_columns())
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        if fmt == "html":
            head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in line) + "</tr>"
                for line in cells
            )
            return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>"
        lines = ["| " + " | ".join(columns) + " |",
                 "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(line) + " |" for line in cells]
        return "\n".join(lines)

    def display_columns(self) -> list[str]:
        """The columns worth showing: parameters, seed (when varied), metrics, fit_time."""
        seeds = {row.get("seed") for row in self.rows}
        shown = [c for c in self.columns
                 if c not in ("run_id", "trial_key", "status", "engine")]
        if len(seeds) <= 1:
            shown.remove("seed")
        if not any(row.get("diverged") for row in self.rows):
            shown.remove("diverged")
        return shown

    def _describe(self, row: Mapping[str, Any] | None) -> str:
        if row is None:
            return "none"
        return ", ".join(f"{p}={_cell(row.get(p))}" for p in self.params)

    def to_markdown(self, top: int | None = 20, image_dir: str = ".") -> str:
        """The report as Markdown (PNG links relative to ``image_dir``)."""
        return self._render("markdown", top, image_dir)

    def to_html(self, top: int | None = None, image_dir: str = ".") -> str:
        """The report as a standalone HTML page (PNG links relative to ``image_dir``)."""
        return self._render("html", top, image_dir)

    def _render(self, fmt: str, top: int | None, image_dir: str) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items() if n)
        parts: list[tuple[str, Any]] = [("h1", f"Sweep {self.sweep_id}"),
                                        ("p", f"Trials: {counts}.")]
        if self.filter:
            parts.append(("p", f"Filter: {self.filter} ({len(self.passing)} of "
                               f"{len(self.rows)} trials pass)."))
        if self.pick is not None:
            by = self.pick_by or ""  # set with pick
            how = "largest" if by.startswith("-") else "least"
            parts.append(("p", f"Pick ({how} {by.lstrip('-+')}): "
                               f"{self._describe(self.pick)}."))
            parts.append(("table", [self.pick]))
        elif self.pick_by:
            parts.append(("p", "Pick: no trial passes the filter."))
        if self.reference is not None:
            parts.append(("p", f"Reference: {self._describe(self.reference)}."))
            parts.append(("table", [self.reference]))
        for which, values in self.holdout.items():
            shown_values = ", ".join(f"{k} {_cell(v)}" for k, v in values.items())
            parts.append(("p", f"Fresh data ({_describe_data(self.holdout_spec)}), {which}: "
                               f"{shown_values}."))
        title = "Passing trials" if self.filter else "Trials"
        more = "" if top is None or len(self.passing) <= top else f" (first {top})"
        parts.append(("h2", f"{title}{more}"))
        parts.append(("table", self.passing if top is None else self.passing[:top]))
        for plot in self.plots:
            parts.append(("img", f"{image_dir.rstrip('/')}/{plot.name}"))
        out = []
        for kind, value in parts:
            if fmt == "html":
                if kind == "table":
                    out.append(self.table(value, fmt="html"))
                elif kind == "img":
                    out.append(f'<p><img src="{html.escape(value)}" '
                               f'alt="{html.escape(Path(value).stem)}"></p>')
                else:
                    out.append(f"<{kind}>{html.escape(value)}</{kind}>")
            elif kind == "table":
                out.append(self.table(value))
            elif kind == "img":
                out.append(f"![{Path(value).stem}]({value})")
            else:
                out.append({"h1": "# ", "h2": "## ", "p": ""}[kind] + value)
        if fmt != "html":
            return "\n\n".join(out) + "\n"
        style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}")
        return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                f"Sweep {html.escape(self.sweep_id)}</title><style>{style}</style></head>"
                "<body>\n" + "\n".join(out) + "\n</body></html>\n")

    def write(self, out_dir: str | Path, fmt: str = "md", top: int | None = None) -> Path:
        """Write ``report.md`` (or ``report.html``) into ``out_dir``, beside the plots."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if fmt in ("html", "htm"):
            path = out / "report.html"
            path.write_text(self.to_html(top), encoding="utf-8")
        else:
            path = out / "report.md"
            path.write_text(self.to_markdown(top), encoding="utf-8")
        return path


def _describe_data(spec: Mapping[str, Any] | None) -> str:
    if not spec:
        return "none"
    args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec.get('name')}({args})"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


# ------------------------------------------------------------------------------ building
def rows_from_runs(runs: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per run of a sweep: parameters, seed, metrics, timings."""
    rows = []
    for run in runs:
        config = run.config or {}
        row: dict[str, Any] = dict(config.get("params", {}))
        row["seed"] = config.get("seed")
        for key, value in (run.metrics or {}).items():
            row[key] = value
        row["fit_time"] = (run.timings or {}).get("fit_seconds")
        row["engine"] = (run.timings or {}).get("engine")
        row["status"] = run.status
        row["run_id"] = run.id
        row["trial_key"] = run.trial_key
        row["_model_path"] = run.model_path
        rows.append(row)
    return rows


def sort_rows(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Rows sorted by ``keys`` (``-`` prefix: descending); missing and NaN values last."""
    out = list(rows)
    for key in reversed(list(keys)):
        descending = key.startswith("-")
        column = key.lstrip("-+")

        def value(row: Mapping[str, Any], column: str = column) -> Any:
            v = row.get(column)
            return v

        def order(row: Mapping[str, Any], value: Callable[[Mapping[str, Any]], Any] = value) -> Any:
            return _sort_key(value(row))

        present = [r for r in out if _sortable(value(r))]
        absent = [r for r in out if not _sortable(value(r))]
        present.sort(key=order, reverse=descending)
        out = present + absent
    return out


def _sortable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)):
        return (0, float(value))
    return (1, str(value))


def _pick(rows: Sequence[dict[str, Any]], pick_by: str, columns: Sequence[str],
          dev_metric: str | None = None, higher: bool = True) -> dict[str, Any] | None:
    """The row with the least (``-``: largest) value of ``pick_by`` (a column or expression).

    Ties (networks of one size trained in one population share their time) go to the better
    ``dev_metric``, then to the smaller gap between it and its training twin.
    """
    sign = -1.0 if pick_by.startswith("-") else 1.0
    expression = compile_expression(pick_by.lstrip("-+"), columns)
    train_metric = "train_" + dev_metric[len("dev_"):] if dev_metric else None

    def number(value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return None if math.isnan(value) else float(value)

    best, best_key = None, None
    for row in rows:
        value = number(expression(row))
        if value is None:
            continue
        dev = number(row.get(dev_metric)) if dev_metric else None
        train = number(row.get(train_metric)) if train_metric else None
        key = (
            sign * value,
            0.0 if dev is None else (-dev if higher else dev),
            0.0 if dev is None or train is None else abs(train - dev),
        )
        if best_key is None or key < best_key:
            best, best_key = row, key
    return best


def _match(rows: Sequence[dict[str, Any]], wanted: Mapping[str, Any]) -> dict[str, Any] | None:
    for row in rows:
        if all(row.get(k) == v for k, v in wanted.items()):
            return row
    return None


def _holdout_metrics(row: Mapping[str, Any] | None, data: Mapping[str, Any]
                     ) -> dict[str, float] | None:
    """Evaluate a trial's saved model on a fresh data set: ``{"holdout_loss", ...}``."""
    if row is None or not row.get("_model_path") or not Path(row["_model_path"]).exists():
        return None
    from scratchnn import datasets
    from scratchnn.models import saving

    kwargs = dict(data)
    name = kwargs.pop("name")
    x, y = datasets.get(name, **kwargs)
    model = saving.load_model(row["_model_path"])
    logs = model.evaluate(x, y, return_dict=True)
    return {metric_column("holdout", k): float(v) for k, v in logs.items()}


def sweep_report(
    sweep: str | Path,
    runs_dir: str | Path | None = None,
    *,
    filter: str | None = None,
    sort: Sequence[str] | str | None = None,
    pick: str | None = None,
    reference: Mapping[str, Any] | None = None,
    holdout: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    fmt: str = "md",
    plots: bool | None = None,
    include_stale: bool = False,
) -> SweepReport:
    """Build (and with ``out``, write) the report of a sweep.

    Args:
        sweep: a sweep id, or the path of its spec (whose ``[report]`` table gives defaults).
            With an id, the spec copy saved by ``sweep run`` is read for those defaults.
        runs_dir: the run store (as for ``run_sweep``).
        filter: an expression over the columns (overrides the spec's).
        sort: columns to sort by, ``-`` for descending (default ``-dev_acc`` or ``dev_loss``).
        pick: what to minimise among passing trials (``-`` prefix: maximise).
        reference: parameters of a trial to show beside the pick.
        holdout: a data set (``{"name": "moons", "n_samples": 500, ...}``) to evaluate the pick
            and the reference on.
        out: a directory to write ``report.md``/``report.html`` and the PNG plots into.
        fmt: ``"md"`` (also ``"markdown"``) or ``"html"``.
        plots: draw the plots (default: when ``out`` is given).
        include_stale: also show finished trials that the current spec no longer has.

    Returns:
        The :class:`SweepReport`.

    Raises:
        ExpressionError: an invalid filter, sort or pick.
        LookupError: no finished trial in the sweep.
    """
    from scratchnn.runs import RunStore
    from scratchnn.sweep.runner import artifacts_dir
    from scratchnn.sweep.spec import load_spec

    spec = None
    sweep_text = str(sweep)
    store = RunStore(runs_dir)
    try:
        if sweep_text.endswith(".toml") and Path(sweep_text).exists():
            spec = load_spec(Path(sweep_text))
            sweep_id = spec.name
        else:
            sweep_id = sweep_text
            saved = artifacts_dir(store.path, sweep_id) / "spec.toml"
            if saved.exists():  # accepted, with its limits, when it was run
                spec = load_spec(saved, name=sweep_id, max_trials=None, max_memory=math.inf)
        runs = store.list_runs(sweep_id=sweep_id, order_by="created_at")
    finally:
        store.close()
    defaults = dict(spec.report) if spec is not None else {}
    metric_names = spec.metric_names() if spec is not None else _metric_names(runs)
    params = [p.name for p in spec.params] if spec is not None else _param_names(runs)
    columns = base_columns(params, metric_names)
    counts = {"finished": 0, "failed": 0, "running": 0, "interrupted": 0}
    wanted = {t.key for t in spec.trials} if spec is not None else None
    kept = []
    stale = 0
    for run in runs:
        if wanted is not None and run.trial_key not in wanted and not include_stale:
            stale += 1
            continue
        counts[run.status] = counts.get(run.status, 0) + 1
        if run.status == "finished":
            kept.append(run)
    if wanted is not None:
        counts["missing"] = len(wanted) - sum(counts.values())
    if stale:
        counts["stale (not in the current spec)"] = stale
    rows = rows_from_runs(kept)
    if not rows:
        raise LookupError(f"sweep {sweep_id!r} has no finished trial in this run store; run "
                          "`scratchnn sweep run SPEC` first (or pass --runs-dir).")
    dev_metric = metric_column("dev", metric_names[0]) if metric_names else "dev_loss"
    higher = higher_is_better(dev_metric)
    filter = filter if filter is not None else defaults.get("filter")
    sort = sort if sort is not None else defaults.get("sort")
    sort = [sort] if isinstance(sort, str) else list(sort or
                                                      [("-" if higher else "") + dev_metric])
    for key in sort:
        if key.lstrip("-+") not in columns:
            from scratchnn.sweep.expr import ExpressionError

            raise ExpressionError(f"cannot sort by {key!r}: not a column; the columns are "
                                  f"{', '.join(columns)}.")
    pick = pick if pick is not None else defaults.get("pick")
    reference = reference if reference is not None else defaults.get("reference")
    holdout = holdout if holdout is not None else defaults.get("holdout")
    rows = sort_rows(rows, sort)
    passing = rows
    if filter:
        expression = compile_expression(filter, columns)
        passing = [row for row in rows if expression(row)]
    chosen = _pick(passing, pick, columns, dev_metric, higher) if pick else None
    ref_row = _match(rows, reference) if reference else None
    results: dict[str, dict[str, float]] = {}
    if holdout:
        for which, row in (("pick", chosen), ("reference", ref_row)):
            values = _holdout_metrics(row, holdout)
            if values is not None and row is not None:
                results[which] = values
                row.update(values)
    report = SweepReport(
        sweep_id=sweep_id, rows=rows, columns=columns, params=params, filter=filter,
        passing=passing, pick_by=pick, pick=chosen, reference=ref_row, holdout=results,
        counts=counts, holdout_spec=dict(holdout) if holdout else None,
    )
    if plots is None:
        plots = out is not None and defaults.get("plots", True)
    if plots and out is not None:
        report.plots = draw_plots(report, Path(out), dev_metric)
    if out is not None:
        report.write(out, fmt)
    return report


def _metric_names(runs: Sequence[Any]) -> list[str]:
    for run in runs:
        names = run.config.get("trial", {}).get("compile", {}).get("metrics")
        if names is not None:
            return list(names)
    return []


def _param_names(runs: Sequence[Any]) -> list[str]:
    for run in runs:
        if run.config.get("params") is not None:
            return list(run.config["params"])
    return []


def draw_plots(report: SweepReport, out: Path, dev_metric: str) -> list[Path]:
    """Dev metric against training time, and train against dev: PNGs in ``out``."""
    from scratchnn.plotting import plot_sweep_scatter

    out.mkdir(parents=True, exist_ok=True)
    train_metric = "train_" + dev_metric[len("dev_"):]
    finite = [r for r in report.rows
              if all(isinstance(r.get(c), (int, float)) and math.isfinite(r[c])
                     for c in ("fit_time", dev_metric, train_metric))]
    if not finite:
        return []
    color = next((p for p in report.params
                  if any(isinstance(r.get(p), str) for r in finite)), None)
    pick = report.pick if report.pick in finite else None
    written = []
    positive = all(r["fit_time"] > 0 for r in finite)
    fig = plot_sweep_scatter(
        finite, x="fit_time", y=dev_metric, color=color,
        highlight=pick, path=out / "accuracy_vs_time.png", logx=positive,
        title=f"{report.sweep_id}: {dev_metric} vs training time",
        xlabel="training time (s)",
    )
    written.append(out / "accuracy_vs_time.png")
    _close(fig)
    fig = plot_sweep_scatter(
        finite, x=train_metric, y=dev_metric, color=color, highlight=pick,
        path=out / "train_vs_dev.png", title=f"{report.sweep_id}: train vs dev",
        diagonal=True,
    )
    written.append(out / "train_vs_dev.png")
    _close(fig)
    return written


def _close(fig: Any) -> None:
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # pragma: no cover - the Figure may not be pyplot's
        pass
