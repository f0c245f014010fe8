"""Plots of models, training runs and sweeps: matplotlib, headless, PNG.

Every function builds a :class:`matplotlib.figure.Figure` attached to the non-interactive Agg
canvas (no ``pyplot``, no global state, no display needed), returns it, and with ``path=`` also
writes it as a PNG of exactly ``figsize * dpi`` pixels. The file is written atomically: to a
temporary file in the same folder, then moved over ``path`` with :func:`os.replace`, so a reader
never sees half a PNG.

matplotlib is imported inside the functions, so ``import scratchnn`` does not import it.

This module works on plain arrays and callables only (the convolution pictures read weights and
call layers through their public attributes, without importing the engine). A *model* is anything
with a ``.predict(X) -> array`` method, or a plain callable ``f(X) -> array``, whose output is
read as in :mod:`scratchnn.metrics` (N samples, K classes):

====================================  =========================================================
output                                classes
====================================  =========================================================
``(N,)`` or ``(N, 1)`` floats/bools   binary: ``p > 0.5`` is class 1; ``p`` shades the plot
``(N,)`` or ``(N, 1)`` integers       class labels, as they are
``(N, K)``, K > 1                     ``argmax`` of each row (K = 2 shades by column 1)
====================================  =========================================================

    >>> import numpy as np
    >>> from scratchnn import plotting
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.5], [-0.5, 1.0], [0.5, -1.0]])
    >>> y = np.array([0, 1, 0, 1])
    >>> fig = plotting.plot_decision_boundary(lambda X: X[:, 0] > 0, X, y, resolution=20)
    >>> fig.axes[0].get_title()
    'Decision boundary'
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from scratchnn import backend, callbacks

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    from scratchnn.callbacks import History

PathLike = str | os.PathLike[str]
"""A file path: ``str`` or :class:`os.PathLike`."""

Model = Any
"""Anything with ``.predict(X) -> array``, or a callable ``f(X) -> array``."""

DEFAULT_DPI = 100.0
"""Dots per inch of new figures: a ``(6, 4.5)`` inch figure is a 600 x 450 pixel PNG."""

_BINARY_CMAP = "RdBu"  # probability 0 -> red, 1 -> blue
_TRAIN_MARKER = "o"
_TEST_MARKER = "^"


# --- figures and files ------------------------------------------------------------------------


def plain_log_ticks(axis: Any) -> None:
    """Label a logarithmic axis 0.2, 0.5, 1, 2, 5, 10, ... rather than 2×10⁻¹ (call it after
    ``set_xscale("log")`` / ``set_yscale("log")``)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.axes.autoscale_view()
    lo, hi = sorted(axis.get_view_interval())
    decades = math.log10(hi / lo) if lo > 0 else math.inf
    subs = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0) if decades <= 1.5 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(subs=subs if decades <= 2.5 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _check_figsize(figsize: Any) -> tuple[float, float]:
    """``figsize`` as two positive finite floats (inches), or a ValueError naming it."""
    try:
        w, h = (float(v) for v in figsize)
    except (TypeError, ValueError):
        w = h = math.nan
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise ValueError(
            f"figsize must be (width, height) in inches, both positive; received {figsize!r}."
        )
    return w, h


def _check_dpi(dpi: Any) -> float:
    """``dpi`` as a positive finite float, or a ValueError naming it."""
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float, np.integer, np.floating)):
        raise ValueError(f"dpi must be a positive number; received {dpi!r}.")
    if not (math.isfinite(float(dpi)) and dpi > 0):
        raise ValueError(f"dpi must be a positive number; received {dpi!r}.")
    return float(dpi)


def new_figure(figsize: tuple[float, float], dpi: float = DEFAULT_DPI) -> Figure:
    """A Figure on the Agg canvas, with constrained layout (the pixel size stays fixed).

    Args:
        figsize: ``(width, height)`` in inches.
        dpi: dots per inch; the PNG is ``figsize * dpi`` pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=_check_figsize(figsize), dpi=_check_dpi(dpi), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _root_figure(ax: Axes) -> Figure:
    """The top-level Figure that holds ``ax`` (``ax.figure`` may be a SubFigure)."""
    try:
        return cast("Figure", ax.get_figure(root=True))  # matplotlib >= 3.10
    except TypeError:
        return cast("Figure", ax.figure)


def _renderer(fig: Figure) -> Any:
    """The renderer of ``fig``'s Agg canvas (every figure here is on one: :func:`new_figure`)."""
    return cast("FigureCanvasAgg", fig.canvas).get_renderer()


def _suptitle(fig: Figure) -> Any:
    """The figure's title artist, or ``None`` (matplotlib offers only its text publicly)."""
    return getattr(fig, "_suptitle", None)


class PlotLayoutWarning(UserWarning):
    """A title, label, legend or annotation of a saved plot lies partly outside its place."""


_SLACK_PX = 2.0  # rounding of text extents, in pixels


def _title_room(fig: Figure, ax: Axes, renderer: Any) -> tuple[float, float]:
    """The horizontal span, in pixels, an axes title may use: centred on its axes, as wide as
    the space up to the nearest neighbour (a colour bar, another panel) or figure edge."""
    box = ax.get_window_extent(renderer)
    others = [a.get_window_extent(renderer) for a in fig.axes if a is not ax]
    beside = [o for o in others if o.y1 > box.y0 and o.y0 < box.y1]
    lo = max([o.x1 for o in beside if o.x1 <= box.x0 + _SLACK_PX] or [fig.bbox.x0])
    hi = min([o.x0 for o in beside if o.x0 >= box.x1 - _SLACK_PX] or [fig.bbox.x1])
    middle = (box.x0 + box.x1) / 2
    half = min(middle - lo, hi - middle)
    return middle - half, middle + half


def clipped_texts(fig: Figure) -> list[str]:
    """What of ``fig`` would be cut or would run over something else when saved, as text.

    Checked after a layout pass: every axes with its ticks, labels, title and legend lies inside
    the figure, and so do the figure's own title, texts and legends; an axes title does not run
    over a neighbouring axes or colour bar; an annotation stays inside its axes. An empty list
    means the figure is clean.

    Example:
        >>> fig = new_figure((3, 2))
        >>> ax = fig.add_subplot()
        >>> _ = ax.set_title("a title far too long to fit a figure three inches wide, surely")
        >>> clipped_texts(fig)[0].startswith("title")
        True
    """
    fig.draw_without_rendering()
    renderer = _renderer(fig)
    page = fig.bbox

    def outside(box: Any, frame: Any = page, slack: float = _SLACK_PX) -> bool:
        return (box.x0 < frame.x0 - slack or box.x1 > frame.x1 + slack
                or box.y0 < frame.y0 - slack or box.y1 > frame.y1 + slack)

    problems = []
    legends = [*fig.legends, *(legend for ax in fig.axes if (legend := ax.get_legend()))]
    legend_boxes = [legend.get_window_extent(renderer) for legend in legends]
    for ax in fig.axes:
        name = repr(ax.get_title()[:40]) if ax.get_title() else f"axes {fig.axes.index(ax)}"
        title = ax.title
        if title.get_visible() and title.get_text():
            box = title.get_window_extent(renderer)
            lo, hi = _title_room(fig, ax, renderer)
            if outside(box):
                problems.append(f"title {name} leaves the figure")
            elif box.x0 < lo - _SLACK_PX or box.x1 > hi + _SLACK_PX:
                problems.append(f"title {name} runs over its neighbour")
            elif any(box.overlaps(legend) for legend in legend_boxes):
                problems.append(f"title {name} is covered by a legend")
        for text in ax.texts:
            if text.get_visible() and hasattr(text, "xyann"):  # an Annotation
                if outside(text.get_window_extent(renderer), ax.get_window_extent(renderer), 0):
                    problems.append(f"annotation {text.get_text()[:40]!r} spills over {name}")
        if outside(ax.get_tightbbox(renderer)):
            problems.append(f"the labels, ticks or legend of {name} leave the figure")
    suptitle = _suptitle(fig)
    extras = [*fig.texts, *fig.legends, *([suptitle] if suptitle else [])]
    for artist in extras:
        if artist.get_visible() and outside(artist.get_window_extent(renderer)):
            problems.append(f"{type(artist).__name__.lower()} of the figure leaves it")
    return problems


def _wrap_titles(fig: Figure) -> None:
    """Break titles that are wider than the room they have onto several lines."""
    import textwrap

    for _ in range(3):  # wrapping moves the layout a little: check again
        fig.draw_without_rendering()
        renderer = _renderer(fig)
        candidates = [(ax.title, _title_room(fig, ax, renderer)) for ax in fig.axes]
        suptitle = _suptitle(fig)
        if suptitle is not None:
            candidates.append((suptitle, (fig.bbox.x0, fig.bbox.x1)))
        changed = False
        for text, (lo, hi) in candidates:
            content = text.get_text()
            width = text.get_window_extent(renderer).width
            room = (hi - lo) - _SLACK_PX
            if not content or width <= room or room <= 0:
                continue
            flat = " ".join(content.split()).replace(" %", "\u00a0%")  # keep "95 %" whole
            lines = math.ceil(width / room) if "\n" not in content else content.count("\n") + 2
            chars = math.ceil(len(flat) / lines)  # as balanced as the words allow
            while len(textwrap.wrap(flat, chars)) > lines:
                chars += 1
            text.set_text(textwrap.fill(flat, chars))
            changed = True
        if not changed:
            return


def save_png(fig: Figure, path: PathLike, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically (temporary file, then ``os.replace``).

    Titles too wide for their room are wrapped first; anything still cut or spilling (see
    :func:`clipped_texts`) is reported with a :class:`PlotLayoutWarning`. The parent folder is
    created when missing. On any error the temporary file is removed and an existing file at
    ``path`` is left as it was.

    Args:
        fig: the figure (its size in pixels is ``figsize * dpi``).
        path: a ``.png`` path.
        dpi: dots per inch of the PNG (default: the figure's).
    """
    import warnings

    import matplotlib

    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(
            f"path must name a .png file (plots are written as PNG); received {str(path)!r}."
        )
    _wrap_titles(fig)
    problems = clipped_texts(fig)
    if problems:
        warnings.warn(f"{target.name}: {'; '.join(problems)}.", PlotLayoutWarning, stacklevel=2)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh, matplotlib.rc_context({"savefig.bbox": "standard"}):
            # bbox "standard" (not a user's "tight") keeps the size at figsize * dpi pixels.
            fig.savefig(fh, format="png", dpi=fig.dpi if dpi is None else dpi)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        os.chmod(tmp, mode)  # mkstemp makes 0600 files
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


# --- inputs -----------------------------------------------------------------------------------


def _numeric(x: Any, name: str) -> np.ndarray:
    """``x`` as a float NumPy array (bools become 0/1), or a ValueError naming it."""
    arr = np.asarray(backend.to_numpy(x))
    if arr.dtype == np.bool_:
        arr = arr.astype(np.float64)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers; received dtype {arr.dtype}.")
    return arr


def _points(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a finite ``(N, 2)`` float array."""
    arr = _numeric(X, name)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty 2-D array of shape (N, 2): the plot shows two input "
            f"features; received shape {arr.shape}. Select two columns (e.g. {name}[:, :2]) "
            "or project the data first."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values (shape {arr.shape}).")
    return arr.astype(np.float64, copy=False)


def _labels(y: Any, n: int, name: str = "y", x_name: str = "X") -> np.ndarray:
    """Class labels of shape ``(n,)`` from labels ``(n,)``/``(n, 1)`` or one-hot ``(n, K)``."""
    arr = _numeric(y, name)
    if arr.ndim == 2 and arr.shape[1] > 1:
        arr = arr.argmax(axis=1)
    elif arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be labels (N,), (N, 1) or one-hot (N, K); received shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"{x_name} and {name} have different numbers of samples: {n} and {arr.shape[0]}."
        )
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} must hold whole class labels (e.g. 0, 1, 2); received non-integer "
                f"values such as {arr[arr != np.round(arr)][:3].tolist()}."
            )
        arr = arr.astype(np.int64)
    return arr


def _predict_fn(model: Model) -> Callable[[np.ndarray], Any]:
    """The function that maps inputs to outputs: ``model.predict`` or ``model`` itself."""
    predict = getattr(model, "predict", None)
    if callable(predict):
        return predict
    if callable(model):
        return model
    raise TypeError(
        "model must have a .predict(X) method or be a callable f(X) -> probabilities; "
        f"received {type(model).__name__}."
    )


def _classes_and_proba(out: Any, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels ``(n,)`` and, for binary outputs, the probability of class 1 ``(n,)``."""
    arr = _numeric(out, "the model's output")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(
            f"the model returned shape {arr.shape} for {n} inputs; expected (N,), (N, 1) or "
            f"(N, K) with N = {n}."
        )
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        if np.issubdtype(arr.dtype, np.integer):
            return arr.astype(np.int64), None
        return (arr > 0.5).astype(np.int64), np.clip(arr, 0.0, 1.0)
    if arr.ndim == 2:
        proba = np.clip(arr[:, 1], 0.0, 1.0) if arr.shape[1] == 2 else None
        return arr.argmax(axis=1).astype(np.int64), proba
    raise ValueError(
        f"the model returned shape {arr.shape}; expected (N,), (N, 1) or (N, K) probabilities."
    )


def _listed_colors(name: str, n: int) -> list[Any]:
    """The first ``n`` colours of the listed colour map ``name``."""
    import matplotlib

    colors = cast("ListedColormap", matplotlib.colormaps[name]).colors
    return list(cast("Sequence[Any]", colors)[:n])


def _class_colors(n: int) -> list[Any]:
    """``n`` distinguishable RGBA colours (binary: the red and blue ends of the shading)."""
    import matplotlib

    if n <= 2:
        cmap = matplotlib.colormaps[_BINARY_CMAP]
        return [cmap(0.1), cmap(0.9)][:n]
    if n <= 10:
        return _listed_colors("tab10", n)
    if n <= 20:
        return _listed_colors("tab20", n)
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(v) for v in np.linspace(0.0, 1.0, n)]


def _pair_of(names: Any, label: str) -> tuple[str, str]:
    """Two display names, or a ValueError naming ``label``."""
    if isinstance(names, str) or len(names) != 2:
        raise ValueError(f"{label} must hold two names; received {names!r}.")
    return str(names[0]), str(names[1])


def _feature_names(names: Sequence[str] | None) -> tuple[str, str]:
    """The two axis labels: ``names`` or ``("x1", "x2")``, the CLI's names for unnamed columns."""
    return ("x1", "x2") if names is None else _pair_of(names, "feature_names")


def _class_name(names: Sequence[str] | None, index: int, label: Any) -> str:
    return str(names[index]) if names is not None else f"class {label}"


# --- decision boundaries ----------------------------------------------------------------------


def _draw_boundary(
    ax: Axes,
    model: Model,
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray | None,
    y_test: np.ndarray | None,
    resolution: int,
    padding: float,
    class_names: Sequence[str] | None,
    legend: bool,
    feature_names: Sequence[str] = ("x1", "x2"),
    split_names: Sequence[str] = ("train", "test"),
) -> None:
    """Draw the predicted-class regions of ``model`` and the points onto ``ax``.

    With ``legend``, the legend goes outside the axes on the right, where it covers no point.
    """
    from matplotlib.colors import ListedColormap

    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ValueError(f"resolution must be an int >= 2; received {resolution!r}.")
    if resolution < 2:
        raise ValueError(f"resolution must be an int >= 2; received {resolution}.")
    if not (isinstance(padding, (int, float, np.number)) and padding >= 0):
        raise ValueError(f"padding must be a number >= 0; received {padding!r}.")

    every = X if X_test is None else np.concatenate([X, X_test])
    lo = every.min(axis=0) - padding  # (2,)
    hi = every.max(axis=0) + padding  # (2,)
    hi = np.where(hi > lo, hi, lo + 1.0)  # all points equal and no padding: a unit window
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )  # (R, R) each
    grid = np.column_stack([xx.ravel(), yy.ravel()])  # (R*R, 2)
    pred, proba = _classes_and_proba(_predict_fn(model)(grid), grid.shape[0])

    test_labels = [] if y_test is None else [y_test]
    classes = np.unique(np.concatenate([y, pred, *test_labels]))  # sorted labels
    if class_names is not None and len(class_names) != classes.size:
        raise ValueError(
            f"class_names has {len(class_names)} names but the labels and predictions hold "
            f"{classes.size} classes: {classes.tolist()}."
        )
    colors = _class_colors(classes.size)

    if proba is not None and classes.size <= 2:
        shade = proba.reshape(xx.shape)  # (R, R)
        ax.contourf(
            xx,
            yy,
            shade,
            levels=np.linspace(0.0, 1.0, 21),
            cmap=_BINARY_CMAP,
            vmin=0.0,
            vmax=1.0,
            alpha=0.7,
        )
        if shade.min() < 0.5 < shade.max():
            ax.contour(xx, yy, shade, levels=[0.5], colors="k", linewidths=1.0)
        if classes.size == 1:  # one class everywhere: colour the points by the side it is on
            colors = [_class_colors(2)[int(classes[0] != 0)]]
    else:
        index = np.searchsorted(classes, pred).reshape(xx.shape)  # (R, R) in 0..C-1
        ax.contourf(
            xx,
            yy,
            index,
            levels=np.arange(classes.size + 1) - 0.5,
            cmap=ListedColormap(colors),
            alpha=0.35,
        )

    splits = [(split_names[0], X, y, _TRAIN_MARKER)]
    if X_test is not None and y_test is not None:
        splits.append((split_names[1], X_test, y_test, _TEST_MARKER))
    for split, pts, labels, marker in splits:
        for i, label in enumerate(classes):
            mask = labels == label
            if not mask.any():
                continue
            ax.scatter(
                pts[mask, 0],
                pts[mask, 1],
                color=colors[i],
                marker=marker,
                s=25,
                edgecolors="k",
                linewidths=0.5,
                label=f"{_class_name(class_names, i, label)} ({split})",
            )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(feature_names[0])
    ax.set_ylabel(feature_names[1])
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize="small")


def plot_decision_boundary(
    model: Model,
    X: ArrayLike,
    y: ArrayLike,
    X_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    resolution: int = 200,
    padding: float = 0.5,
    title: str | None = None,
    path: PathLike | None = None,
    ax: Axes | None = None,
    *,
    class_names: Sequence[str] | None = None,
    legend: bool = True,
    feature_names: Sequence[str] | None = None,
    split_names: Sequence[str] = ("train", "test"),
    figsize: tuple[float, float] = (6.0, 4.5),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Plot the classes a model predicts over the plane of two features, with the data on top.

    The model is evaluated on a ``resolution x resolution`` grid spanning the points plus
    ``padding``. The regions are filled by predicted class; binary models are shaded by their
    probability of class 1 (red 0 to blue 1) with the 0.5 contour drawn in black. Training points
    are circles, test points triangles, coloured by their true class.

    Args:
        model: ``.predict(X) -> array`` or a callable ``f(X) -> array`` of shape ``(M,)``,
            ``(M, 1)`` or ``(M, K)``; it receives float64 inputs of shape ``(M, 2)``.
        X: training inputs ``(N, 2)``.
        y: training labels ``(N,)``, ``(N, 1)`` or one-hot ``(N, K)``.
        X_test: optional test inputs ``(T, 2)``; give ``y_test`` with it.
        y_test: test labels ``(T,)``, ``(T, 1)`` or one-hot.
        resolution: grid points along each axis (>= 2).
        padding: margin around the points, in data units.
        title: the axes title (default ``"Decision boundary"``).
        path: write a PNG there (atomically) when given.
        ax: draw into these axes instead of a new figure; ``figsize`` is then ignored and the
            PNG is written at the figure's own dpi.
        class_names: one display name per class, in sorted label order.
        legend: draw the legend (outside the axes, on the right).
        feature_names: the two axis labels (default ``("x1", "x2")``, the names ``scratchnn
            train`` gives a data set's columns).
        split_names: how the legend names the two sets of points (default ``("train",
            "test")``; ``scratchnn train`` says ``"validation"``).
        figsize: ``(width, height)`` in inches of a new figure.
        dpi: dots per inch of a new figure and of the PNG.

    Returns:
        The Figure (the one holding ``ax`` when given).

    Raises:
        ValueError: ``X`` not of shape ``(N, 2)`` (the message names the received shape),
            different sample counts, ``X_test`` without ``y_test``, a model output of the wrong
            shape, or a path not ending in ``.png``.
        TypeError: ``model`` neither has ``.predict`` nor is callable.

    Example:
        >>> import numpy as np
        >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])
        >>> fig = plot_decision_boundary(lambda X: X[:, 0] > 0, X, [0, 1], resolution=10)
        >>> len(fig.axes)
        1
    """
    X = _points(X, "X")
    y = _labels(y, X.shape[0], "y", "X")
    if (X_test is None) != (y_test is None):
        raise ValueError("Give X_test and y_test together (one of them is None).")
    test_points = test_labels = None
    if X_test is not None:
        test_points = _points(X_test, "X_test")
        test_labels = _labels(y_test, test_points.shape[0], "y_test", "X_test")
    if ax is None:
        fig = new_figure(figsize, dpi)
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
        dpi = fig.dpi
    _draw_boundary(ax, model, X, y, test_points, test_labels, resolution, padding, class_names,
                   legend,
                   _feature_names(feature_names), _pair_of(split_names, "split_names"))
    ax.set_title("Decision boundary" if title is None else title)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


def plot_boundary_grid(
    models_or_fns: Sequence[Model],
    X: ArrayLike,
    y: ArrayLike,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    path: PathLike | None = None,
    *,
    resolution: int = 100,
    padding: float = 0.5,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Plot the decision boundaries of several models side by side, on the same data.

    Seed 001's figure: one network per hidden size 1, 2, 3, 4, 5, 20, 50, to show small networks
    generalising and large ones overfitting. One legend serves every panel, on the figure's
    right, where it covers no point.

    Args:
        models_or_fns: the models (``.predict`` or callables, as in
            :func:`plot_decision_boundary`).
        X: inputs ``(N, 2)`` shown in every panel.
        y: labels ``(N,)``, ``(N, 1)`` or one-hot ``(N, K)``.
        titles: one title per model (default ``"model 0"``, ``"model 1"``, ...).
        ncols: panels per row (default ``min(len(models_or_fns), 4)``).
        path: write a PNG there (atomically) when given.
        resolution: grid points along each axis of each panel.
        padding: margin around the points, in data units.
        title: a title over the whole grid.
        class_names: one display name per class, in sorted label order.
        feature_names: the two axis labels (default ``("x1", "x2")``).
        figsize: ``(width, height)`` in inches (default 4 x 3.2 per panel).
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure, with one axes per model (unused cells of the last row are removed).

    Raises:
        ValueError: no models, a ``titles`` length different from the number of models, a bad
            ``ncols``, or any error of :func:`plot_decision_boundary`.

    Example:
        >>> import numpy as np
        >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])
        >>> fns = [lambda X: X[:, 0] > 0, lambda X: X[:, 1] > 0]
        >>> fig = plot_boundary_grid(fns, X, [0, 1], ["x0 > 0", "x1 > 0"], resolution=10)
        >>> [a.get_title() for a in fig.axes]
        ['x0 > 0', 'x1 > 0']
    """
    models = list(models_or_fns)
    if not models:
        raise ValueError("models_or_fns is empty; pass at least one model or function.")
    n = len(models)
    if titles is None:
        titles = [f"model {i}" for i in range(n)]
    if isinstance(titles, str) or len(titles) != n:
        raise ValueError(
            f"titles must hold one title per model: {n} models but "
            f"{'a single string' if isinstance(titles, str) else f'{len(titles)} titles'}."
        )
    if ncols is None:
        ncols = min(n, 4)
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive int; received {ncols!r}.")
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)
    X = _points(X, "X")
    y = _labels(y, X.shape[0], "y", "X")

    fig = new_figure((4.0 * ncols, 3.2 * nrows) if figsize is None else figsize, dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False)  # (nrows, ncols)
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.remove()
            continue
        _draw_boundary(ax, models[i], X, y, None, None, resolution, padding, class_names,
                       False, _feature_names(feature_names))
        ax.set_title(str(titles[i]))
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4),
               fontsize="small")
    if title is not None:
        fig.suptitle(title)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


# --- training curves --------------------------------------------------------------------------


def _series(history: Any) -> dict[str, np.ndarray]:
    """``{name: (E,) float array}`` from a dict or an object with a ``.history`` dict."""
    logs = history
    if not isinstance(logs, Mapping):
        logs = getattr(history, "history", None)
        if not isinstance(logs, Mapping):
            raise TypeError(
                "history must be a dict {name: [per-epoch values]} or an object with a "
                f".history dict (such as the History callback); received "
                f"{type(history).__name__}."
            )
    if not logs:
        raise ValueError("history is empty: nothing to plot. Train for at least one epoch first.")
    out: dict[str, np.ndarray] = {}
    for name, values in logs.items():
        arr = _numeric(values, f"history[{name!r}]")
        if arr.ndim != 1:
            raise ValueError(
                f"history[{name!r}] must be a list of per-epoch numbers; received shape "
                f"{arr.shape}."
            )
        out[str(name)] = arr.astype(np.float64)
    if all(v.size == 0 for v in out.values()):
        raise ValueError(
            f"history holds no values (every series is empty: {sorted(out)}); "
            "train for at least one epoch first."
        )
    return out


def plot_history(
    history: History | Mapping[str, Sequence[float]],
    metrics: Sequence[str] | None = None,
    path: PathLike | None = None,
    *,
    title: str | None = None,
    ncols: int | None = None,
    logy: bool = False,
    figsize: tuple[float, float] | None = None,
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Plot loss and metric curves per epoch: one panel per metric, ``val_`` twin alongside.

    ``"loss"`` and ``"val_loss"`` share a panel titled ``"loss"``; a ``val_`` series without a
    training twin gets its own panel. Panels follow the order of first appearance in the history.
    Each line is labelled by its series name, and x runs over epochs 1, 2, ...

    Args:
        history: ``{name: [per-epoch values]}`` or an object with such a ``.history`` dict.
        metrics: base names to plot (e.g. ``["loss", "accuracy"]``); default all.
        path: write a PNG there (atomically) when given.
        title: a title over the whole figure.
        ncols: panels per row (default ``min(number of panels, 3)``).
        logy: logarithmic y axes.
        figsize: ``(width, height)`` in inches (default 4.5 x 3.5 per panel).
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure, one axes per metric; in each, ``ax.lines`` are the train then the val series.

    Raises:
        ValueError: an empty history, a series that is not 1-D numbers, or an unknown metric
            name (the message lists the available ones).
        TypeError: ``history`` neither a dict nor an object with a ``.history`` dict.

    Example:
        >>> fig = plot_history({"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6]})
        >>> [line.get_label() for line in fig.axes[0].lines]
        ['loss', 'val_loss']
    """
    from matplotlib.ticker import MaxNLocator

    series = _series(history)
    bases: list[str] = []
    for name in series:
        base = name[4:] if name.startswith("val_") and name[4:] in series else name
        if base not in bases:
            bases.append(base)
    if metrics is not None:
        if isinstance(metrics, str):
            metrics = [metrics]
        unknown = [m for m in metrics if m not in bases]
        if unknown:
            raise ValueError(
                f"Unknown metric(s) {unknown} for plot_history; the history holds {bases} "
                "(validation twins are plotted with their training series)."
            )
        if not metrics:
            raise ValueError(f"metrics is empty; pick from {bases} or pass None for all.")
        bases = list(dict.fromkeys(metrics))
    n = len(bases)
    if ncols is None:
        ncols = min(n, 3)
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive int; received {ncols!r}.")
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)

    fig = new_figure((4.5 * ncols, 3.5 * nrows) if figsize is None else figsize, dpi)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    for ax, base in zip(axes, bases, strict=False):
        for name in (base, f"val_{base}"):
            if name in series:
                values = series[name]
                epochs = np.arange(1, values.size + 1)
                ax.plot(
                    epochs,
                    values,
                    label=name,
                    marker="." if values.size <= 30 else None,
                    linestyle="--" if name.startswith("val_") else "-",
                )
        ax.set_title(base)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        if logy:
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title is not None:
        fig.suptitle(title)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


def plot_cost_curve(
    costs: ArrayLike,
    path: PathLike | None = None,
    title: str | None = None,
    xlabel: str = "iteration",
    ylabel: str = "cost",
    *,
    iterations: ArrayLike | None = None,
    logy: bool = False,
    figsize: tuple[float, float] = (6.0, 4.0),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Plot a cost per iteration as one line (seed 002's average cost over 3000 iterations).

    Args:
        costs: the cost values ``(E,)`` (a ``(E, 1)`` column is accepted).
        path: write a PNG there (atomically) when given.
        title: the axes title (default ``"Cost per iteration"``).
        xlabel: the x axis label.
        ylabel: the y axis label.
        iterations: x values ``(E,)`` when the cost was not recorded every iteration (e.g.
            ``range(0, 10000, 1000)``); default ``0, 1, ..., E - 1``.
        logy: logarithmic y axis (needs positive costs).
        figsize: ``(width, height)`` in inches.
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure; its one axes holds one line with the costs as y data.

    Raises:
        ValueError: empty or non-1-D costs, ``iterations`` of another length, or ``logy`` with
            a cost <= 0.

    Example:
        >>> fig = plot_cost_curve([0.9, 0.4, 0.2])
        >>> fig.axes[0].lines[0].get_ydata().tolist()
        [0.9, 0.4, 0.2]
    """
    y = _numeric(costs, "costs")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.size == 0:
        raise ValueError(
            f"costs must be a non-empty 1-D sequence of numbers; received shape {y.shape}."
        )
    if iterations is None:
        x = np.arange(y.size)
    else:
        x = _numeric(iterations, "iterations")
        if x.shape != y.shape:
            raise ValueError(
                f"iterations and costs have different shapes: {x.shape} and {y.shape}."
            )
    if logy and not np.all(y[np.isfinite(y)] > 0):
        raise ValueError("logy=True needs positive costs; some are <= 0. Use logy=False.")
    fig = new_figure(figsize, dpi)
    ax = fig.add_subplot()
    ax.plot(x, y.astype(np.float64), color="C0", linewidth=1.5)
    if logy:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    ax.set_title("Cost per iteration" if title is None else title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


# --- confusion matrix -------------------------------------------------------------------------


def plot_confusion_matrix(
    cm: ArrayLike,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    path: PathLike | None = None,
    *,
    title: str | None = None,
    cmap: str = "Blues",
    figsize: tuple[float, float] = (5.0, 4.5),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Plot a confusion matrix as an annotated heat map: rows true class, columns predicted.

    The layout is that of :func:`scratchnn.metrics.confusion_matrix` (and scikit-learn): for a
    binary problem ``[[tn, fp], [fn, tp]]``. Each cell shows its count; with ``normalize=True``
    the colours are row fractions (recall per class) and a cell reads ``"0.97\\n(1541)"``. Text is
    white on dark cells and black on light ones.

    Args:
        cm: a square ``(K, K)`` array of non-negative counts.
        class_names: ``K`` tick labels (default ``"0"``, ``"1"``, ...).
        normalize: colour by each row's fraction instead of raw counts.
        path: write a PNG there (atomically) when given.
        title: the axes title (default ``"Confusion matrix"``).
        cmap: a matplotlib colormap name.
        figsize: ``(width, height)`` in inches.
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure; ``fig.axes[0].texts`` are the cell annotations in row-major order.

    Raises:
        ValueError: ``cm`` not square 2-D, empty, negative or not finite, or ``class_names`` of
            another length.

    Example:
        >>> fig = plot_confusion_matrix([[1541, 54], [230, 175]], ["stayed", "exited"])
        >>> [t.get_text() for t in fig.axes[0].texts]
        ['1541', '54', '230', '175']
    """
    counts = _numeric(cm, "cm")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise ValueError(
            f"cm must be a square (K, K) matrix (rows true, columns predicted); received shape "
            f"{counts.shape}."
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("cm must hold finite, non-negative counts.")
    k = counts.shape[0]
    if class_names is None:
        class_names = [str(i) for i in range(k)]
    elif isinstance(class_names, str) or len(class_names) != k:
        raise ValueError(
            f"class_names must hold {k} names for a {k}x{k} matrix; received {class_names!r}."
        )
    whole = bool(np.all(counts == np.round(counts)))
    shown = counts.astype(np.float64)
    if normalize:
        totals = shown.sum(axis=1, keepdims=True)  # (K, 1)
        shown = np.divide(shown, totals, out=np.zeros_like(shown), where=totals > 0)

    fig = new_figure(figsize, dpi)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(float(shown.max()), 1.0)
    im = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="fraction of true class" if normalize else "count")
    for i in range(k):
        for j in range(k):
            count = f"{int(counts[i, j])}" if whole else f"{counts[i, j]:.3g}"
            text = f"{shown[i, j]:.2f}\n({count})" if normalize else count
            r, g, b, _ = im.cmap(im.norm(shown[i, j]))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize="medium" if k <= 10 else "x-small",
            )
    names = [str(c) for c in class_names]
    tilt = sum(len(c) for c in names) > 30  # long labels: tilt them so they do not overlap
    ax.set_xticks(
        np.arange(k), labels=names, rotation=45 if tilt else 0, ha="right" if tilt else "center"
    )
    ax.set_yticks(np.arange(k), labels=names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    default_title = "Confusion matrix (normalized by row)" if normalize else "Confusion matrix"
    ax.set_title(default_title if title is None else title)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


# --- sweeps -----------------------------------------------------------------------------------


def _columns(rows: Any) -> tuple[dict[str, list[Any]], int]:
    """``({column: values}, number of rows)`` from a list of dicts or a dict of columns."""
    if isinstance(rows, Mapping):
        cols = {
            str(k): list(backend.to_numpy(v)) if hasattr(v, "shape") else list(v)
            for k, v in rows.items()
        }
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"The columns of rows have different lengths: {lengths}.")
        n = next(iter(lengths.values()), 0)
    else:
        try:
            records = list(rows)
        except TypeError:
            raise TypeError(
                "rows must be a list of dicts (one per run) or a dict of columns; received "
                f"{type(rows).__name__}."
            ) from None
        bad = [i for i, r in enumerate(records) if not isinstance(r, Mapping)]
        if bad:
            raise TypeError(
                f"rows must be a list of dicts; row {bad[0]} is a {type(records[bad[0]]).__name__}."
            )
        keys = list(dict.fromkeys(k for r in records for k in r))
        cols = {str(k): [r.get(k) for r in records] for k in keys}
        n = len(records)
    if n == 0:
        raise ValueError("rows is empty: no sweep results to plot.")
    return cols, n


def _column(cols: dict[str, list[Any]], name: str, role: str) -> np.ndarray:
    """Column ``name`` as floats, or an error listing the columns there are."""
    if name not in cols:
        raise ValueError(f"{role}={name!r} is not a column of rows; the columns are {list(cols)}.")
    values = cols[name]
    missing = [i for i, v in enumerate(values) if v is None]
    if missing:
        raise ValueError(f"Column {name!r} is missing from row(s) {missing[:5]}.")
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Column {name!r} ({role}) must hold numbers; received e.g. {values[:3]!r}."
        ) from None


def _annotate_inside(ax: Axes, text: str, xy: tuple[float, float]) -> None:
    """Write ``text`` beside the point ``xy`` on whichever side keeps it inside the axes."""
    fig = _root_figure(ax)
    ax.autoscale_view()
    fy = ax.transAxes.inverted().transform(ax.transData.transform(xy))[1]
    dy, va = (-16, "top") if fy > 0.5 else (16, "bottom")  # towards the middle
    note = None
    for dx, ha in ((12, "left"), (-12, "right"), (0, "center")):
        if note is not None:
            note.remove()
        note = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha,
                           va=va, color="crimson", fontsize="small")  # fmt: skip
        fig.draw_without_rendering()
        box = note.get_window_extent(_renderer(fig))
        frame = ax.get_window_extent(_renderer(fig))
        if frame.x0 <= box.x0 and box.x1 <= frame.x1:
            return


def plot_sweep_scatter(
    rows: Any,
    x: str = "fit_time",
    y: str = "dev_acc",
    color: str | None = None,
    highlight: int | Mapping[str, Any] | None = None,
    path: PathLike | None = None,
    *,
    logx: bool = False,
    title: str | None = None,
    highlight_label: str = "picked",
    xlabel: str | None = None,
    ylabel: str | None = None,
    diagonal: bool = False,
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Scatter sweep results, by default dev accuracy against training time (seed 000's study).

    One point per run. ``color`` names a column: numbers are coloured on a scale with a colour
    bar; anything else (activation names, say) gets one colour per value and a legend.
    ``highlight`` rings the picked run.

    Args:
        rows: one dict per run (``[{"fit_time": 1.2, "dev_acc": 0.95, ...}, ...]``) or a dict of
            equally long columns.
        x: the column on the x axis.
        y: the column on the y axis.
        color: an optional column that colours the points.
        highlight: the picked run: a row index, or a row dict (its ``x`` and ``y`` are used).
        path: write a PNG there (atomically) when given.
        logx: logarithmic x axis (needs positive x values).
        title: the axes title (default ``"<y> vs <x>"``).
        highlight_label: the legend label of the highlighted point.
        xlabel: the x axis label (default the column name).
        ylabel: the y axis label (default the column name).
        diagonal: draw the line ``y = x`` (train against dev: points below it over-fit).
        figsize: ``(width, height)`` in inches.
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure.

    Raises:
        ValueError: empty rows, columns of different lengths, an unknown or non-numeric column
            (the message lists the columns), an out-of-range ``highlight``, or ``logx`` with
            x <= 0.
        TypeError: ``rows`` neither a list of dicts nor a dict of columns.

    Example:
        >>> rows = [{"fit_time": 1.0, "dev_acc": 0.9}, {"fit_time": 3.0, "dev_acc": 0.96}]
        >>> fig = plot_sweep_scatter(rows, highlight=1)
        >>> fig.axes[0].get_xlabel()
        'fit_time'
    """
    cols, n = _columns(rows)
    xs = _column(cols, x, "x")
    ys = _column(cols, y, "y")
    if logx and not np.all(xs[np.isfinite(xs)] > 0):
        raise ValueError(f"logx=True needs positive values of {x!r}; some are <= 0.")

    fig = new_figure(figsize, dpi)
    ax = fig.add_subplot()
    style: dict[str, Any] = {"s": 28, "edgecolors": "k", "linewidths": 0.3, "alpha": 0.85}
    numeric = False
    if color is None:
        ax.scatter(xs, ys, color="C0", **style)
    else:
        if color not in cols:
            raise ValueError(
                f"color={color!r} is not a column of rows; the columns are {list(cols)}."
            )
        raw = cols[color]
        numeric = all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in raw
        )
        if numeric:
            points = ax.scatter(
                xs, ys, c=np.asarray(raw, dtype=np.float64), cmap="viridis", **style
            )
            fig.colorbar(points, ax=ax, label=color)
        else:
            names = [str(v) for v in raw]
            groups = list(dict.fromkeys(names))
            palette = _class_colors(max(len(groups), 3))
            for g, group in enumerate(groups):
                mask = np.array([name == group for name in names])
                ax.scatter(xs[mask], ys[mask], color=palette[g], label=group, **style)
    if highlight is not None:
        if isinstance(highlight, Mapping):
            hx, hy = float(highlight[x]), float(highlight[y])
        elif isinstance(highlight, (int, np.integer)) and not isinstance(highlight, bool):
            if not -n <= highlight < n:
                raise ValueError(f"highlight={highlight} is out of range for {n} rows.")
            hx, hy = xs[highlight], ys[highlight]
        else:
            raise ValueError(
                f"highlight must be a row index or a row dict; received {highlight!r}."
            )
        ax.scatter(
            [hx],
            [hy],
            s=260,
            facecolors="none",
            edgecolors="crimson",
            linewidths=2.0,
            label=highlight_label,
            zorder=5,
        )
    if logx:
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
    if diagonal:
        lo = float(np.nanmin([xs.min(), ys.min()]))
        hi = float(np.nanmax([xs.max(), ys.max()]))
        ax.plot([lo, hi], [lo, hi], color="0.4", linestyle="--", linewidth=1.0,
                label=f"{y} = {x}", zorder=1)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=None if color is None or numeric else color, fontsize="small",
                  loc="best")
    ax.set_xlabel(x if xlabel is None else xlabel)
    ax.set_ylabel(y if ylabel is None else ylabel)
    ax.set_title(f"{y} vs {x}" if title is None else title)
    ax.grid(True, alpha=0.3)
    if highlight is not None:  # last: the layout around the axes is settled
        _annotate_inside(ax, f"{highlight_label}: {y}={hy:.4g}, {x}={hx:.3g}", (hx, hy))
    if path is not None:
        save_png(fig, path, dpi)
    return fig


# --- convolutional networks -------------------------------------------------------------------


def _values(obj: Any) -> np.ndarray:
    """A weight or layer output (anything with ``.numpy()``, or an array) as a NumPy array."""
    to_numpy = getattr(obj, "numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else obj, dtype=np.float64)


def _conv_kernel(source: Any) -> tuple[np.ndarray, str]:
    """``((KH, KW, C, F) kernel, label)`` from an array, a conv layer or a model's first conv."""
    layers = getattr(source, "layers", None)
    if layers is not None:
        for layer in layers:
            kernel = getattr(layer, "weights", {}).get("kernel")
            if kernel is not None and len(kernel.shape) == 4:
                return _values(kernel), f"{layer.name} ({type(layer).__name__})"
        raise ValueError(
            "the model has no 2-D convolution layer (a layer with a (KH, KW, C, F) kernel) "
            "whose filters could be drawn."
        )
    weights = getattr(source, "weights", None)
    if isinstance(weights, Mapping) and "kernel" in weights:
        return _values(weights["kernel"]), f"{source.name} ({type(source).__name__})"
    return _values(source), "kernel"


def plot_filters(
    source: Any,
    path: PathLike | None = None,
    *,
    title: str | None = None,
    max_filters: int = 64,
    figsize: tuple[float, float] = (8.0, 4.5),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Draw the learned filters of a 2-D convolution as a grid of small images.

    Each tile is one filter ``kernel[:, :, :, f]``: grey levels for one input channel, colours
    for three (RGB), the mean over the input channels otherwise. Every tile is scaled to its own
    range (dark = most negative weight, light = most positive), as filters are usually shown.

    Args:
        source: a ``(KH, KW, C, F)`` kernel (array or Tensor), a conv layer, or a model (its
            first layer with such a kernel is drawn).
        path: write a PNG there (atomically) when given.
        title: the figure title (default: the layer and the kernel's shape).
        max_filters: draw at most this many filters (the first ones).
        figsize: ``(width, height)`` in inches.
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure: one axes per drawn filter.

    Raises:
        ValueError: a kernel that is not 4-D, or a model without a 2-D convolution.

    Example:
        >>> import numpy as np
        >>> fig = plot_filters(np.random.default_rng(0).standard_normal((3, 3, 1, 8)))
        >>> len(fig.axes)
        8
    """
    kernel, label = _conv_kernel(source)
    if kernel.ndim != 4:
        raise ValueError(
            f"the kernel must be 4-D (KH, KW, C, F) to draw its filters; received shape "
            f"{kernel.shape}."
        )
    if isinstance(max_filters, bool) or not isinstance(max_filters, int) or max_filters < 1:
        raise ValueError(f"max_filters must be a positive integer; received {max_filters!r}.")
    count = min(kernel.shape[3], max_filters)
    cols = math.ceil(math.sqrt(count * figsize[0] / figsize[1]))
    rows = math.ceil(count / cols)
    fig = new_figure(figsize, dpi)
    for f in range(count):
        tile = kernel[:, :, :, f]  # (KH, KW, C)
        if tile.shape[2] != 3:
            tile = tile.mean(axis=2)
        low, high = float(tile.min()), float(tile.max())
        tile = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
        ax = fig.add_subplot(rows, cols, f + 1)
        ax.imshow(tile, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"Filters of {label}, kernel {tuple(kernel.shape)}" if title is None else title
    )
    if path is not None:
        save_png(fig, path, dpi)
    return fig


def plot_feature_maps(
    model: Model,
    x: ArrayLike,
    path: PathLike | None = None,
    *,
    layers: Sequence[str] | None = None,
    max_maps: int = 8,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Show one input and its feature maps after each 2-D convolution of a model.

    The input goes through ``model.layers`` one layer at a time (``training=False``); it is drawn
    on the left, and each row shows the first ``max_maps`` channels of one convolution's output
    (after its activation), each map scaled to its own range.

    Args:
        model: a model whose ``layers`` are called as ``layer(h, training=False)`` (e.g. a
            :class:`~scratchnn.Sequential` of Conv2D, MaxPooling2D, ... layers).
        x: one sample ``(H, W, C)`` (or a batch of one, ``(1, H, W, C)``).
        path: write a PNG there (atomically) when given.
        layers: names of the layers whose outputs to show (default: every layer with a 4-D
            kernel, i.e. each Conv2D / Conv2DTranspose).
        max_maps: at most this many channels per row.
        title: the figure title.
        figsize: ``(width, height)`` in inches (default: 10 wide, 1.3 + 1.3 per row high).
        dpi: dots per inch of the figure and of the PNG.

    Returns:
        The Figure: ``1 + len(rows) * max_maps`` axes at most; the first is the input.

    Raises:
        ValueError: ``x`` not one 3-D sample, unknown layer names, or nothing to show.
    """
    sample = _numeric(x, "x")
    if sample.ndim == 4 and sample.shape[0] == 1:
        sample = sample[0]
    if sample.ndim != 3:
        raise ValueError(
            f"x must be one image (H, W, C) or a batch of one (1, H, W, C); received shape "
            f"{sample.shape}."
        )
    if isinstance(max_maps, bool) or not isinstance(max_maps, int) or max_maps < 1:
        raise ValueError(f"max_maps must be a positive integer; received {max_maps!r}.")
    names = [layer.name for layer in model.layers]
    if layers is not None:
        unknown = sorted(set(layers) - set(names))
        if unknown:
            raise ValueError(f"unknown layer names {unknown}; the model's layers are {names}.")
    maps: list[tuple[str, np.ndarray]] = []
    h = sample[None]
    for layer in model.layers:
        h = layer(h, training=False)
        kernel = getattr(layer, "weights", {}).get("kernel")
        wanted = (layer.name in layers) if layers is not None else (
            kernel is not None and len(kernel.shape) == 4)
        if wanted:
            out = _values(h)[0]
            if out.ndim != 3:
                raise ValueError(
                    f"layer {layer.name!r} gives outputs of shape {out.shape}, not feature maps "
                    "(H, W, C)."
                )
            if getattr(layer, "data_format", "channels_last") == "channels_first":
                out = np.moveaxis(out, 0, -1)
            maps.append((f"{layer.name}\n{out.shape[0]}x{out.shape[1]}x{out.shape[2]}", out))
    if not maps:
        raise ValueError(
            "no feature maps to show: the model has no 2-D convolution layer (or pass layers=)."
        )
    cols = min(max_maps, max(m.shape[2] for _, m in maps))
    fig = new_figure((10.0, 1.3 + 1.3 * len(maps)) if figsize is None else figsize, dpi)
    grid = fig.add_gridspec(len(maps), cols + 1)
    ax = fig.add_subplot(grid[:, 0])  # the input, beside every row
    image = sample if sample.shape[2] == 3 else sample.mean(axis=2)
    low, high = float(image.min()), float(image.max())
    ax.imshow((image - low) / (high - low) if high > low else image, cmap="gray")
    ax.set_title(f"input {sample.shape[0]}x{sample.shape[1]}", fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    for r, (label, out) in enumerate(maps):
        for c in range(min(cols, out.shape[2])):
            ax = fig.add_subplot(grid[r, c + 1])
            ax.imshow(out[:, :, c], cmap="viridis", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize="x-small", rotation=0, ha="right", va="center")
    fig.suptitle("Feature maps of one input" if title is None else title)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


# --- deep architectures: images, codes, gradients, sample grids -------------------------------


def _images(x: Any, name: str, image_shape: Sequence[int] | None = None) -> np.ndarray:
    """``x`` as ``(N, H, W)`` grey or ``(N, H, W, 3)`` colour images (rows reshaped to
    ``image_shape``; one channel squeezed)."""
    arr = _numeric(x, name).astype(np.float64, copy=False)
    if image_shape is not None:
        try:
            arr = arr.reshape((len(arr), *tuple(image_shape)))
        except ValueError:
            raise ValueError(
                f"{name} of shape {arr.shape} cannot be read as images of shape "
                f"{tuple(image_shape)}."
            ) from None
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[3] != 3) or not len(arr):
        raise ValueError(
            f"{name} must be images (N, H, W), (N, H, W, 1) or (N, H, W, 3), or rows with "
            f"image_shape=...; received shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _scaled(tiles: np.ndarray, scale: str) -> np.ndarray:
    """Tiles in [0, 1]: ``"each"`` stretches every tile to its own range, ``"all"`` the whole
    set to one range, ``"none"`` clips values that already lie in [0, 1]."""
    if scale == "none":
        return np.clip(tiles, 0.0, 1.0)
    if scale not in ("each", "all"):
        raise ValueError(f"scale must be 'each', 'all' or 'none'; received scale={scale!r}.")
    axes = tuple(range(1, tiles.ndim)) if scale == "each" else None
    low = tiles.min(axis=axes, keepdims=axes is not None)
    span = tiles.max(axis=axes, keepdims=axes is not None) - low
    return (tiles - low) / np.where(span > 0, span, 1.0)


def _finish(fig: Figure, path: PathLike | None, dpi: float, title: str | None = None) -> Figure:
    """Give ``fig`` its title, write it to ``path`` when given, return it."""
    if title:
        fig.suptitle(title)
    if path is not None:
        save_png(fig, path, dpi)
    return fig


def _mosaic(tiles: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Tiles ``(N, H, W[, 3])`` laid out ``cols`` to a row, ``pad`` pixels apart, one array."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / cols)
    out = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad, *tiles.shape[3:]))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tile
    return out


def plot_image_grid(
    images: Any,
    path: PathLike | None = None,
    *,
    image_shape: Sequence[int] | None = None,
    cols: int | None = None,
    scale: str = "none",
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 6.4),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Draw images as one grid (a mosaic on a single axes, quick for hundreds of tiles).

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1)``, ``(N, H, W, 3)``, or rows ``(N, D)`` with
            ``image_shape``.
        path: write a PNG there (atomically) when given.
        image_shape: the shape to read rows as, e.g. ``(28, 28)``.
        cols: tiles per row (default: about square).
        scale: ``"none"`` (values in [0, 1], e.g. pixels or samples), ``"each"`` (each tile to
            its own range: filters, weights) or ``"all"`` (one range for all).
        title: the figure title.
        figsize, dpi: size of the figure.

    Returns:
        The Figure (one axes).

    Example:
        >>> import numpy as np
        >>> fig = plot_image_grid(np.random.default_rng(0).random((12, 8, 8)), cols=6)
        >>> fig.axes[0].images[0].get_array().shape
        (17, 53)
    """
    tiles = _scaled(_images(images, "images", image_shape), scale)
    if cols is None:
        cols = math.ceil(math.sqrt(len(tiles)))
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1:
        raise ValueError(f"cols must be a positive integer; received cols={cols!r}.")
    fig = new_figure(figsize, dpi)
    ax = fig.add_subplot()
    mosaic = _mosaic(tiles, min(cols, len(tiles)))
    ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    return _finish(fig, path, dpi, title)


def plot_rbm_filters(
    kernel: Any,
    image_shape: Sequence[int],
    path: PathLike | None = None,
    *,
    max_filters: int = 100,
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 6.4),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Draw an RBM's (or a Dense layer's) filters: each hidden unit's weights as an image.

    Args:
        kernel: ``(V, H)`` weights (an RBM's ``kernel``; a Dense layer's), V = prod(image_shape).
        image_shape: the shape of one input image, e.g. ``(28, 28)``.
        path: write a PNG there when given.
        max_filters: the first ones drawn, at most.
        title: the figure title.

    Example:
        >>> import numpy as np
        >>> fig = plot_rbm_filters(np.random.default_rng(0).normal(size=(64, 16)), (8, 8))
        >>> fig.get_suptitle()
        'RBM filters: 16 of 16 hidden units, 8x8'
    """
    w = _numeric(kernel, "kernel")
    if w.ndim != 2 or w.shape[0] != math.prod(image_shape):
        raise ValueError(
            f"kernel must be (V, H) with V = {math.prod(image_shape)} (image_shape "
            f"{tuple(image_shape)}); received shape {w.shape}."
        )
    count = min(w.shape[1], max_filters)
    label = "x".join(str(n) for n in image_shape)
    return plot_image_grid(
        w.T[:count], path, image_shape=image_shape, scale="each", figsize=figsize, dpi=dpi,
        title=title or f"RBM filters: {count} of {w.shape[1]} hidden units, {label}",
    )


def plot_image_rows(
    rows: Mapping[str, Any],
    path: PathLike | None = None,
    *,
    image_shape: Sequence[int] | None = None,
    max_images: int = 12,
    scale: str = "none",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Rows of images with a label each: original / noisy / reconstructed, or Gibbs steps.

    Args:
        rows: ``{label: images}``; each row shows its first ``max_images`` images.
        path: write a PNG there when given.
        image_shape: shape to read rows of features as.
        max_images: images per row, at most.
        scale: as :func:`plot_image_grid`.
        title: the figure title.
        figsize: default 10 wide, 0.9 + 1 inch per row.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).random((5, 64))
        >>> fig = plot_image_rows({"original": x, "reconstructed": x}, image_shape=(8, 8))
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['original', 'reconstructed']
    """
    if not rows:
        raise ValueError("rows must name at least one row of images.")
    size = figsize or (10.0, 0.9 + 1.0 * len(rows))
    fig = new_figure(size, dpi)
    for i, (label, images) in enumerate(rows.items()):
        tiles = _scaled(_images(images, f"rows[{label!r}]", image_shape)[:max_images], scale)
        ax = fig.add_subplot(len(rows), 1, i + 1)
        ax.imshow(_mosaic(tiles, len(tiles)), cmap="gray", vmin=0.0, vmax=1.0,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(str(label), rotation=0, ha="right", va="center", fontsize="small")
    return _finish(fig, path, dpi, title)


def plot_code_space(
    codes: Any,
    labels: Any,
    path: PathLike | None = None,
    *,
    title: str | None = None,
    class_names: Sequence[str] | None = None,
    figsize: tuple[float, float] = (6.5, 5.5),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """A 2-D code space (an autoencoder's codes, any embedding) coloured by class.

    Args:
        codes: ``(N, 2)`` codes.
        labels: ``(N,)`` classes (e.g. the digit of each image).
        path: write a PNG there when given.
        title: the axes title.
        class_names: legend labels per class (default the class values).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> fig = plot_code_space(rng.normal(size=(30, 2)), rng.integers(0, 3, 30))
        >>> len(fig.axes[0].collections)
        3
    """
    points = _points(codes, "codes")
    classes = _labels(labels, len(points), "labels", "codes")
    fig = new_figure(figsize, dpi)
    ax = fig.add_subplot()
    values = np.unique(classes)
    colors = _class_colors(len(values))
    for k, value in enumerate(values):
        chosen = classes == value
        name = str(value) if class_names is None else _class_name(class_names, k, value)
        ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.6, color=colors[k],
                   label=name, linewidths=0)
    ax.legend(markerscale=3, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title or "2-D code space")
    ax.grid(True, alpha=0.3)
    return _finish(fig, path, dpi)


def plot_gradient_norms(
    norms: Mapping[str, Sequence[float]],
    path: PathLike | None = None,
    *,
    title: str | None = None,
    styles: Mapping[str, tuple[str, str]] | None = None,
    ylabel: str = "gradient norm (log scale)",
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: float = DEFAULT_DPI,
) -> Figure:
    """Gradient norm per layer, one line per network (or moment): vanishing gradients at a glance.

    Args:
        norms: ``{label: [norm of layer 1, layer 2, ...]}`` (first layer first).
        path: write a PNG there when given.
        title: the axes title.
        styles: ``{label: (color, linestyle)}`` to pair lines, e.g. a network at initialisation
            (dashed) and after training (solid).
        ylabel: the y label.

    Example:
        >>> fig = plot_gradient_norms({"sigmoid": [1e-6, 1e-4, 1e-2], "relu": [0.1, 0.2, 0.3]})
        >>> fig.axes[0].get_yscale(), fig.axes[0].get_xlabel()
        ('log', 'layer (input side first)')
    """
    if not norms:
        raise ValueError("norms must hold at least one line {label: [norm per layer]}.")
    fig = new_figure(figsize, dpi)
    ax = fig.add_subplot()
    top = 0
    for label, values in norms.items():
        y = _numeric(values, f"norms[{label!r}]").astype(np.float64).ravel()
        if not np.all(np.isfinite(y)) or np.any(y <= 0):
            raise ValueError(f"norms[{label!r}] must be finite positive numbers (a log axis).")
        color, linestyle = (styles or {}).get(label, (None, "-"))
        x = np.arange(1, y.size + 1)
        ax.plot(x, y, marker="o", markersize=3, linewidth=1.5, label=label, color=color,
                linestyle=linestyle)
        top = max(top, y.size)
    ax.set_yscale("log")
    ax.set_xticks(range(1, top + 1))
    ax.set_xlabel("layer (input side first)")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Gradient norm per layer")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    if path is not None:
        save_png(fig, path, dpi)
    return fig


def save_gif(frames: Sequence[Any], path: PathLike, *, fps: float = 2.0,
             dpi: float = DEFAULT_DPI) -> Path:
    """Write an animated GIF of pictures (PNG files, or image arrays), with matplotlib's pillow
    writer; atomically, like the PNGs.

    Args:
        frames: PNG paths or ``(H, W[, 3|4])`` arrays in [0, 1], all of one size.
        path: a ``.gif`` path.
        fps: frames per second.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from matplotlib import image as mpimg
    from matplotlib.animation import FuncAnimation, PillowWriter

    target = Path(path)
    if target.suffix.lower() != ".gif":
        raise ValueError(f"path must name a .gif file; received {str(path)!r}.")
    pictures = [mpimg.imread(os.fspath(f)) if isinstance(f, (str, os.PathLike))
                else _numeric(f, "frame") for f in frames]
    if not pictures:
        raise ValueError("save_gif needs at least one frame.")
    if any(p.shape != pictures[0].shape for p in pictures):
        raise ValueError(f"every frame must have one shape; received "
                         f"{sorted({p.shape for p in pictures})}.")
    h, w = pictures[0].shape[:2]
    fig = new_figure((w / dpi, h / dpi), dpi)
    fig.set_layout_engine("none")
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    shown = ax.imshow(pictures[0], cmap="gray", vmin=0.0, vmax=1.0)

    def draw(i: int) -> list[Any]:
        shown.set_data(pictures[i])
        return [shown]

    animation = FuncAnimation(fig, draw, frames=len(pictures))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".gif", dir=target.parent)
    os.close(fd)
    try:
        # matplotlib's stubs say int; any positive number works (a frame lasts 1000/fps ms)
        writer = PillowWriter(fps=fps)  # type: ignore[arg-type]
        animation.save(tmp, writer=writer, dpi=dpi)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


class SampleGrids(callbacks.Callback):
    """After every epoch, draw a grid of the model's samples from fixed noise; at the end, an
    animated GIF of the grids (the GAN learning, epoch by epoch).

    The model must have ``generate(z=...)`` (a :class:`~scratchnn.models.GAN`). Files:
    ``<out_dir>/<prefix>_epoch_001.png``, ... and ``<out_dir>/<prefix>.gif``.

    Args:
        out_dir: the folder for the PNGs and the GIF.
        z: the fixed noise, ``(N, Z)`` (the same samples are followed over training).
        prefix: start of the file names.
        cols: tiles per row.
        gif: write the GIF at the end of training.
        title: a title; ``"{epoch}"`` in it is replaced by the epoch number.
        every: draw after every ``every``-th epoch (and after the last one).

    Attributes:
        paths: the PNGs written, in order; ``gif_path`` the GIF (``None`` before it is written).
    """

    def __init__(self, out_dir: PathLike, z: Any, *, prefix: str = "samples",
                 cols: int | None = None, gif: bool = True, title: str | None = None,
                 every: int = 1) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer; received every={every!r}.")
        self.every = every
        self.out_dir = Path(out_dir)
        self.z = z
        self.prefix = prefix
        self.cols = cols
        self.gif = gif
        self.title = title
        self.paths: list[Path] = []
        self.gif_path: Path | None = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Draw this epoch's grid (every ``every`` epochs, and the last)."""
        last = epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        generate = getattr(self.model, "generate", None)
        if generate is None:
            raise TypeError(f"SampleGrids needs a model with generate(z=...), such as a GAN; "
                            f"received a {type(self.model).__name__}.")
        images = generate(z=self.z)
        path = self.out_dir / f"{self.prefix}_epoch_{epoch + 1:03d}.png"
        title = (self.title or "Samples after epoch {epoch}").replace("{epoch}", str(epoch + 1))
        plot_image_grid(images, path, cols=self.cols, title=title)
        self.paths.append(path)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Write the GIF of the grids drawn so far."""
        if self.gif and self.paths:
            self.gif_path = save_gif(self.paths, self.out_dir / f"{self.prefix}.gif")


__all__ = [
    "DEFAULT_DPI",
    "PlotLayoutWarning",
    "SampleGrids",
    "clipped_texts",
    "new_figure",
    "plain_log_ticks",
    "plot_boundary_grid",
    "plot_code_space",
    "plot_confusion_matrix",
    "plot_cost_curve",
    "plot_decision_boundary",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_norms",
    "plot_history",
    "plot_image_grid",
    "plot_image_rows",
    "plot_rbm_filters",
    "plot_sweep_scatter",
    "save_gif",
    "save_png",
]
