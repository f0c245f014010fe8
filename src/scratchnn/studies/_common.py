"""What every study shares: the result types, the verdict rule, progress and small plot helpers.

A study returns a :class:`StudyResult`: its figures (each a :class:`Figure`: the tutorial's value
beside ours and a verdict), the PNGs it wrote and notes in Markdown. Verdicts come from one rule,
:func:`verdict`, so that "matched" means the same thing in every study.

The two plot helpers here (:func:`plot_curves`, :func:`plot_bars`) cover the comparisons that
:mod:`scratchnn.plotting` has no function for (several runs' curves on one axes, a bar chart); they
use its figures and its writer (the Agg canvas, no pyplot, titles fitted, PNG written atomically).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

VERDICTS = ("matched", "beaten", "not matched", "shown")
"""The verdicts a figure can carry; ``"shown"`` is for qualitative figures (a plot, a table)."""

Progress = Callable[[str], None]
"""A callback that receives one line of progress text."""


@dataclass(frozen=True)
class Figure:
    """One figure of a tutorial: the tutorial's value, ours, and whether we matched or beat it.

    Attributes:
        name: stable label of the figure (the report's table and the tests key on it).
        tutorial: the tutorial's value as text, e.g. ``"93.6 %"``.
        ours: our value as text, e.g. ``"93.4 %"``.
        verdict: one of :data:`VERDICTS`.
        value: our value as a number, when the figure is quantitative.
        target: the tutorial's value as a number, in the same unit as ``value``.
        tolerance: the largest ``|value - target|`` that still counts as matched.
        higher_is_better: ``True``/``False`` when beating the target is possible in that
            direction; ``None`` for two-sided figures (a plateau, a derivative).
        note: how the verdict was reached when the tolerance was measured, e.g. ``"within the
            split-to-split spread, ±1.1 pt over 10 splits"``; shown beside the verdict.
    """

    name: str
    tutorial: str
    ours: str
    verdict: str
    value: float | None = None
    target: float | None = None
    tolerance: float | None = None
    higher_is_better: bool | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"Figure {self.name!r}: verdict must be one of {VERDICTS}; "
                f"received verdict={self.verdict!r}."
            )


@dataclass(frozen=True)
class StudyResult:
    """What one study returns.

    Attributes:
        study: the study's number as text, ``"000"`` .. ``"004"``.
        title: a one-line title.
        figures: its figures, in the tutorial's order.
        images: the PNG files it wrote under ``out_dir``.
        notes: Markdown paragraphs: what was done, which reading was used, anything weak.
        seconds: wall-clock time of the study.
    """

    study: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    notes: str = ""
    seconds: float = 0.0


def verdict(
    value: float, target: float, tolerance: float, higher_is_better: bool | None = True
) -> str:
    """The verdict of a quantitative figure.

    ``"matched"`` when ``|value - target| <= tolerance``; ``"beaten"`` when ``value`` is beyond
    the tolerance on the better side (higher, or lower when ``higher_is_better`` is False);
    ``"not matched"`` otherwise (always, beyond the tolerance, for two-sided figures).

    Example:
        >>> verdict(93.4, 93.6, 1.5), verdict(98.0, 86.0, 5.0), verdict(4.5, 4.17, 0.1, None)
        ('matched', 'beaten', 'not matched')
    """
    diff = value - target
    if abs(diff) <= tolerance:
        return "matched"
    if (higher_is_better is True and diff > 0) or (higher_is_better is False and diff < 0):
        return "beaten"
    return "not matched"


def compared(
    name: str,
    tutorial: str,
    ours: str,
    value: float,
    target: float,
    tolerance: float,
    higher_is_better: bool | None = True,
) -> Figure:
    """A quantitative :class:`Figure` whose verdict comes from :func:`verdict`."""
    return Figure(
        name=name,
        tutorial=tutorial,
        ours=ours,
        verdict=verdict(value, target, tolerance, higher_is_better),
        value=float(value),
        target=float(target),
        tolerance=float(tolerance),
        higher_is_better=higher_is_better,
    )


def shown(name: str, tutorial: str, ours: str, value: float | None = None) -> Figure:
    """A qualitative :class:`Figure` (a plot, a table, a prediction): verdict ``"shown"``."""
    return Figure(
        name=name,
        tutorial=tutorial,
        ours=ours,
        verdict="shown",
        value=None if value is None else float(value),
    )


def pct(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage text: ``pct(0.936) == "93.6 %"``."""
    return f"{100.0 * fraction:.{digits}f} %"


def seconds_text(seconds: float) -> str:
    """A duration as short text: ``"84 µs"``, ``"41.0 ms"``, ``"2.3 s"``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.1f} s"


class Reporter:
    """Sends progress lines, prefixed with the study number, to an optional callback.

    Args:
        study: ``"000"`` .. ``"004"``.
        progress: the caller's callback, or ``None`` to stay silent.
    """

    def __init__(self, study: str, progress: Progress | None) -> None:
        self.study = study
        self._progress = progress

    def __call__(self, message: str) -> None:
        """Send ``"<study>: <message>"`` to the callback, if there is one."""
        if self._progress is not None:
            self._progress(f"{self.study}: {message}")

    @contextlib.contextmanager
    def step(self, message: str) -> Iterator[None]:
        """Report ``message`` and, when the block ends, how long it took."""
        self(f"{message} ...")
        start = time.perf_counter()
        yield
        self(f"{message}: done in {seconds_text(time.perf_counter() - start)}")


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with BLAS limited to one thread (restored afterwards).

    The studies' networks are small: a multi-threaded BLAS gains nothing on their matrices and,
    when the cores are busy with other work, its threads wait on each other (we measured the
    dropout demo of study 004 at 2 s single-threaded against 30 s with OpenBLAS' default
    threads on a loaded 2-core machine). ``threadpoolctl`` comes with scikit-learn.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def blas_single_threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: call ``fn`` inside :func:`single_threaded_blas`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper


def image_path(out_dir: Path, study: str, name: str) -> Path:
    """Where a study writes a PNG: ``out_dir / "<study>_<name>.png"``."""
    return Path(out_dir) / f"{study}_{name}.png"


def save_png(fig: Any, path: Path) -> Path:
    """Write a matplotlib figure to ``path`` atomically, titles fitted
    (:func:`scratchnn.plotting.save_png`)."""
    from scratchnn.plotting import save_png as save

    return save(fig, path)


def _new_figure(figsize: tuple[float, float]) -> Any:
    from scratchnn.plotting import new_figure

    return new_figure(figsize)


def plot_curves(
    series: Mapping[str, Sequence[float] | np.ndarray],
    path: Path,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "",
    *,
    logy: bool = False,
    logx: bool = False,
    markers: Mapping[str, float] | None = None,
    styles: Mapping[str, tuple[str, str]] | None = None,
) -> Path:
    """Several runs' curves on one axes (one line per entry of ``series``), written as a PNG.

    Args:
        series: ``{label: values}``; x runs 1, 2, ... for each.
        path: the PNG to write.
        title, xlabel, ylabel: the axes' texts.
        logy: logarithmic y axis.
        logx: logarithmic x axis (for runs of very different lengths).
        markers: ``{label: x}`` vertical dashed lines (e.g. the epoch early stopping chose).
        styles: ``{label: (color, linestyle)}`` for some lines, e.g. ``("C0", "--")`` to pair a
            run's train and test curves by colour.
    """
    fig = _new_figure((6.5, 4.2))
    ax = fig.add_subplot()
    for label, values in series.items():
        y = np.asarray(values, dtype=np.float64)
        color, linestyle = (styles or {}).get(label, (None, "-"))
        ax.plot(np.arange(1, y.size + 1), y, label=label, linewidth=1.5, color=color,
                linestyle=linestyle)
    for label, x in (markers or {}).items():
        ax.axvline(x, color="0.3", linestyle="--", linewidth=1.0, label=label)
    from scratchnn.plotting import plain_log_ticks

    if logy:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    if logx:
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return save_png(fig, path)


def plot_bars(
    labels: Sequence[str],
    values: Sequence[float],
    path: Path,
    title: str,
    ylabel: str = "",
    *,
    reference: tuple[str, float] | None = None,
    fmt: str = "{:.1f}",
    ylim: tuple[float, float] | None = None,
) -> Path:
    """A bar chart with each bar's value written on it, written as a PNG.

    Args:
        labels: one label per bar.
        values: one height per bar.
        path: the PNG to write.
        title, ylabel: the axes' texts.
        reference: ``(label, y)`` of a horizontal dashed line (e.g. the tutorial's value).
        fmt: format of the value written above each bar.
        ylim: the y range (default from 0 to a little above the tallest bar).
    """
    fig = _new_figure((max(4.5, 1.4 * len(labels) + 1.5), 4.2))
    ax = fig.add_subplot()
    heights = np.asarray(values, dtype=np.float64)
    bars = ax.bar(range(len(labels)), heights, color=[f"C{i % 10}" for i in range(len(labels))])
    for bar, h in zip(bars, heights, strict=True):
        ax.annotate(
            fmt.format(h), (bar.get_x() + bar.get_width() / 2, h), xytext=(0, 3),
            textcoords="offset points", ha="center", va="bottom", fontsize="small",
        )
    if reference is not None:
        ax.axhline(reference[1], color="crimson", linestyle="--", label=reference[0])
        ax.legend(fontsize="small")
    ax.set_xticks(range(len(labels)), labels=list(labels), fontsize="small")
    top = float(np.nanmax(heights)) if heights.size else 1.0
    if reference is not None:
        top = max(top, reference[1])
    ax.set_ylim(ylim if ylim is not None else (0.0, top * 1.12 if math.isfinite(top) else 1.0))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    return save_png(fig, path)
