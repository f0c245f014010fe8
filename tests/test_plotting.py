"""Tests for scratchnn.plotting: PNG files, what the figures show, validation, atomic writes."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from scratchnn import plotting

FIGSIZE = (4.0, 3.0)
DPI = 50  # 200 x 150 pixel PNGs keep the tests fast


def read_png(path: Path) -> np.ndarray:
    """The image as an (H, W, C) float array in [0, 1]."""
    return matplotlib.image.imread(path)


def assert_png(path: Path, figsize: tuple[float, float], dpi: float) -> np.ndarray:
    """``path`` is a PNG of ``figsize * dpi`` pixels with real content; return its pixels."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = read_png(path)
    assert img.shape[:2] == (round(figsize[1] * dpi), round(figsize[0] * dpi))
    colours = np.unique((img[..., :3] * 255).round().reshape(-1, 3), axis=0)
    assert len(colours) > 10, f"only {len(colours)} distinct colours: a blank image?"
    return img


def pixel(img: np.ndarray, fig: Figure, ax, x: float, y: float) -> np.ndarray:
    """The RGB pixel of the saved image at data coordinates (x, y) of ``ax``."""
    px, py = ax.transData.transform((x, y))  # display pixels, origin bottom-left
    row = img.shape[0] - 1 - round(py)
    return img[row, round(px), :3]


def moons_like(seed: int = 0, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    return X, (X[:, 0] > 0).astype(np.int64)


def right_half(X: np.ndarray) -> np.ndarray:
    """The known linear rule of the tests: class 1 right of x0 = 0 (bools, shape (N,))."""
    return X[:, 0] > 0


# --- one PNG per function ---------------------------------------------------------------------


def _make_all(tmp: Path) -> dict[str, Path]:
    """Call every public function with path=, returning {name: path}."""
    X, y = moons_like()
    Xt, yt = moons_like(seed=1, n=10)
    paths = {
        name: tmp / f"{name}.png"
        for name in ("boundary", "grid", "history", "confusion", "sweep", "cost")
    }
    kw = {"figsize": FIGSIZE, "dpi": DPI}
    plotting.plot_decision_boundary(
        right_half, X, y, Xt, yt, resolution=50, path=paths["boundary"], **kw
    )
    plotting.plot_boundary_grid(
        [right_half, lambda Z: Z[:, 1] > 0],
        X,
        y,
        ["a", "b"],
        resolution=30,
        path=paths["grid"],
        **kw,
    )
    plotting.plot_history(
        {"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.5]}, path=paths["history"], **kw
    )
    plotting.plot_confusion_matrix([[5, 1], [2, 7]], path=paths["confusion"], **kw)
    rows = [{"fit_time": t, "dev_acc": a} for t, a in [(1.0, 0.9), (2.0, 0.95), (4.0, 0.93)]]
    plotting.plot_sweep_scatter(rows, highlight=1, path=paths["sweep"], **kw)
    plotting.plot_cost_curve(np.exp(-np.arange(100) / 20), path=paths["cost"], **kw)
    return paths


def test_every_function_writes_a_png_of_figsize_times_dpi_and_no_temp_files(tmp_path):
    paths = _make_all(tmp_path)
    for path in paths.values():
        assert_png(path, FIGSIZE, DPI)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths.values())


def test_pixel_size_follows_dpi_and_figsize(tmp_path):
    path = tmp_path / "c.png"
    plotting.plot_cost_curve([3.0, 2.0, 1.0], path=path, figsize=(3.0, 2.0), dpi=80)
    assert_png(path, (3.0, 2.0), 80)


def test_a_users_tight_bbox_setting_does_not_change_the_pixel_size(tmp_path):
    path = tmp_path / "c.png"
    with matplotlib.rc_context({"savefig.bbox": "tight"}):
        plotting.plot_cost_curve([3.0, 2.0, 1.0], path=path, figsize=FIGSIZE, dpi=DPI)
    assert_png(path, FIGSIZE, DPI)


def test_returns_figures_without_path_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = plotting.plot_cost_curve([1.0, 0.5])
    assert isinstance(fig, Figure)
    assert os.listdir(tmp_path) == []


def test_parent_folders_are_created(tmp_path):
    path = tmp_path / "a" / "b" / "cost.png"
    plotting.plot_cost_curve([1.0, 0.5], path=path, figsize=FIGSIZE, dpi=DPI)
    assert_png(path, FIGSIZE, DPI)


# --- atomic writes ----------------------------------------------------------------------------


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "cost.png"
    plotting.plot_cost_curve([1.0, 0.5], path=path, figsize=FIGSIZE, dpi=DPI)
    before = path.read_bytes()

    def broken_savefig(self, fname, **kwargs):
        fname.write(b"\x89PNG half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.plot_cost_curve([9.0, 1.0], path=path, figsize=FIGSIZE, dpi=DPI)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["cost.png"]


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "cost.png"
    plotting.plot_cost_curve([1.0, 0.5], path=path, figsize=FIGSIZE, dpi=DPI)
    plotting.plot_cost_curve([1.0, 0.5], path=path, figsize=(2.0, 2.0), dpi=DPI)
    assert_png(path, (2.0, 2.0), DPI)
    assert os.listdir(tmp_path) == ["cost.png"]


def test_path_must_be_png(tmp_path):
    with pytest.raises(ValueError, match=r"\.png"):
        plotting.plot_cost_curve([1.0], path=tmp_path / "cost.svg")
    assert os.listdir(tmp_path) == []


# --- imports ----------------------------------------------------------------------------------


def test_import_scratchnn_does_not_import_matplotlib_and_plotting_avoids_pyplot():
    code = (
        "import sys, scratchnn, scratchnn.plotting as p\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'\n"
        "p.plot_cost_curve([1.0, 0.5])\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    env = {**os.environ, "MPLBACKEND": "TkAgg"}  # an interactive default must not matter
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_plotting_does_not_import_the_engine():
    source = Path(plotting.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    banned = ("scratchnn.tensor", "scratchnn.ops", "scratchnn.layers", "scratchnn.models")
    assert not [m for m in imported if m.startswith(banned)]
    assert "matplotlib.pyplot" not in imported


# --- decision boundaries ----------------------------------------------------------------------


def _corner_colours(model, tmp_path, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Pixel colours in the bottom-left and bottom-right padding (no data points there)."""
    X, y = moons_like()
    path = tmp_path / "db.png"
    fig = plotting.plot_decision_boundary(
        model, X, y, resolution=60, path=path, figsize=FIGSIZE, dpi=DPI, **kwargs
    )
    img = assert_png(path, FIGSIZE, DPI)
    ax = fig.axes[0]
    (x0, x1), (y0, _) = ax.get_xlim(), ax.get_ylim()
    return pixel(img, fig, ax, x0 + 0.2, y0 + 0.2), pixel(img, fig, ax, x1 - 0.2, y0 + 0.2)


def test_decision_boundary_reflects_a_known_linear_rule(tmp_path):
    left, right = _corner_colours(right_half, tmp_path)
    assert left[0] > left[2] + 0.2  # class 0 (x0 < 0) is shaded red
    assert right[2] > right[0] + 0.2  # class 1 (x0 > 0) is shaded blue
    flipped_left, flipped_right = _corner_colours(lambda X: X[:, 0] < 0, tmp_path)
    np.testing.assert_allclose(flipped_left, right, atol=0.02)
    np.testing.assert_allclose(flipped_right, left, atol=0.02)


def test_decision_boundary_accepts_predict_objects_and_softmax_outputs(tmp_path):
    class Model:
        def predict(self, X):  # (N, 2) softmax-like probabilities
            p = 1.0 / (1.0 + np.exp(-20.0 * X[:, 0]))
            return np.column_stack([1.0 - p, p])

    left, right = _corner_colours(Model(), tmp_path)
    assert left[0] > left[2] + 0.2 and right[2] > right[0] + 0.2

    def column(X):  # (N, 1) probabilities
        return (X[:, 0] > 0).astype(np.float64)[:, None]

    left2, right2 = _corner_colours(column, tmp_path)
    np.testing.assert_allclose(left2, left, atol=0.02)
    np.testing.assert_allclose(right2, right, atol=0.02)


def test_decision_boundary_multiclass_shows_three_regions(tmp_path):
    def three_bands(X):  # (N, 3) one-hot: bands along x0
        return np.eye(3)[np.digitize(X[:, 0], [-0.4, 0.4])]

    rng = np.random.default_rng(0)
    X = rng.uniform(-1.0, 1.0, size=(60, 2))
    y = np.digitize(X[:, 0], [-0.4, 0.4])
    path = tmp_path / "db3.png"
    fig = plotting.plot_decision_boundary(
        three_bands,
        X,
        np.eye(3)[y],
        resolution=60,
        path=path,
        figsize=FIGSIZE,
        dpi=DPI,
        class_names=["a", "b", "c"],
    )
    img = assert_png(path, FIGSIZE, DPI)
    ax = fig.axes[0]
    (x0, x1), (y0, _) = ax.get_xlim(), ax.get_ylim()
    colours = [pixel(img, fig, ax, x, y0 + 0.2) for x in (x0 + 0.2, 0.0, x1 - 0.2)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(colours[i] - colours[j]).max() > 0.1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a (train)", "b (train)", "c (train)"]


def test_decision_boundary_marks_train_and_test_points_differently():
    X, y = moons_like()
    Xt, yt = moons_like(seed=1, n=12)
    fig = plotting.plot_decision_boundary(right_half, X, y, Xt, yt, resolution=20, title="moons")
    ax = fig.axes[0]
    assert ax.get_title() == "moons"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["class 0 (train)", "class 1 (train)", "class 0 (test)", "class 1 (test)"]
    named = plotting.plot_decision_boundary(
        right_half, X, y, Xt, yt, resolution=20, feature_names=["age", "income"],
        split_names=["train", "validation"],
    ).axes[0]
    assert (named.get_xlabel(), named.get_ylabel()) == ("age", "income")
    assert named.get_legend().get_texts()[-1].get_text() == "class 1 (validation)"
    # The points are all there: the scatter offsets hold X then X_test.
    offsets = np.concatenate([c.get_offsets() for c in ax.collections if c.get_label() in labels])
    assert offsets.shape == (len(X) + len(Xt), 2)
    # The view spans the points plus the padding.
    every = np.concatenate([X, Xt])
    np.testing.assert_allclose(ax.get_xlim(), [every[:, 0].min() - 0.5, every[:, 0].max() + 0.5])


def test_decision_boundary_draws_into_a_given_axes(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(6.0, 3.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    X, y = moons_like()
    out = plotting.plot_decision_boundary(
        right_half, X, y, resolution=20, ax=right, path=tmp_path / "two.png"
    )
    assert out is fig
    assert len(right.collections) > 0 and len(left.collections) == 0
    assert_png(tmp_path / "two.png", (6.0, 3.0), DPI)


def test_boundary_grid_has_one_titled_panel_per_model():
    X, y = moons_like()
    sizes = [1, 2, 3, 4, 5, 20, 50]
    fns = [lambda Z, s=s: Z[:, 0] > 0.1 * s for s in sizes]
    fig = plotting.plot_boundary_grid(fns, X, y, [f"hidden size {s}" for s in sizes], resolution=15)
    assert [ax.get_title() for ax in fig.axes] == [f"hidden size {s}" for s in sizes]
    assert all(ax.get_legend() is None for ax in fig.axes)  # one legend, beside the panels
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["class 0 (train)", "class 1 (train)"]
    assert [fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()] == ["x1", "x2"]
    fig3 = plotting.plot_boundary_grid(fns[:5], X, y, list("abcde"), ncols=2, resolution=10)
    assert len(fig3.axes) == 5


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 1), (0, 2)])
def test_boundary_plots_name_the_received_shape_of_x(shape):
    X = np.zeros(shape)
    with pytest.raises(ValueError, match=re_shape(shape)):
        plotting.plot_decision_boundary(right_half, X, np.zeros(shape[0]))
    with pytest.raises(ValueError, match=re_shape(shape)):
        plotting.plot_boundary_grid([right_half], X, np.zeros(shape[0]), ["a"])


def re_shape(shape: tuple[int, ...]) -> str:
    return r"received shape " + str(shape).replace("(", r"\(").replace(")", r"\)")


def test_decision_boundary_validation():
    X, y = moons_like()
    with pytest.raises(ValueError, match="different numbers of samples: 40 and 39"):
        plotting.plot_decision_boundary(right_half, X, y[:-1])
    with pytest.raises(ValueError, match="together"):
        plotting.plot_decision_boundary(right_half, X, y, X_test=X)
    with pytest.raises(ValueError, match="X_test and y_test have different numbers"):
        plotting.plot_decision_boundary(right_half, X, y, X, y[:5])
    with pytest.raises(ValueError, match="whole class labels"):
        plotting.plot_decision_boundary(right_half, X, y + 0.5)
    with pytest.raises(ValueError, match=r"returned shape \(3,\)"):
        plotting.plot_decision_boundary(lambda Z: np.zeros(3), X, y, resolution=5)
    with pytest.raises(TypeError, match="predict"):
        plotting.plot_decision_boundary(42, X, y)
    with pytest.raises(ValueError, match="resolution"):
        plotting.plot_decision_boundary(right_half, X, y, resolution=1)
    with pytest.raises(ValueError, match="class_names has 3 names"):
        plotting.plot_decision_boundary(right_half, X, y, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="figsize"):
        plotting.plot_decision_boundary(right_half, X, y, figsize=(0, 3))
    with pytest.raises(ValueError, match="titles must hold one title per model: 2 models"):
        plotting.plot_boundary_grid([right_half, right_half], X, y, ["only one"])


# --- history ----------------------------------------------------------------------------------


def test_history_puts_train_and_val_twins_in_one_panel_per_metric():
    logs = {
        "loss": [0.9, 0.5, 0.3],
        "accuracy": [0.6, 0.8, 0.9],
        "val_loss": [1.0, 0.7, 0.6],
        "val_accuracy": [0.55, 0.75, 0.8],
    }
    fig = plotting.plot_history(logs)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax, base in zip(fig.axes, ["loss", "accuracy"], strict=True):
        assert [line.get_label() for line in ax.lines] == [base, f"val_{base}"]
        for line in ax.lines:
            np.testing.assert_allclose(line.get_ydata(), logs[line.get_label()])
            np.testing.assert_allclose(line.get_xdata(), [1, 2, 3])


def test_history_accepts_an_object_with_a_history_dict_and_picks_metrics():
    class History:
        def __init__(self) -> None:
            self.history = {"loss": [2.0, 1.0], "val_loss": [2.5, 1.5], "accuracy": [0.5, 0.7]}

    fig = plotting.plot_history(History(), metrics=["accuracy"])
    assert len(fig.axes) == 1
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.7])
    with pytest.raises(ValueError, match=r"Unknown metric\(s\) \['acc'\].*\['loss', 'accuracy'\]"):
        plotting.plot_history(History(), metrics=["acc"])


def test_history_val_series_without_a_twin_gets_its_own_panel():
    fig = plotting.plot_history({"loss": [1.0, 0.5], "val_auc": [0.7, 0.8]})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "val_auc"]


@pytest.mark.parametrize("bad", [{}, {"loss": []}, {"loss": [], "val_loss": []}])
def test_history_empty_raises(bad):
    with pytest.raises(ValueError, match=r"empty|no values"):
        plotting.plot_history(bad)


def test_history_rejects_other_types_and_shapes():
    with pytest.raises(TypeError, match="history must be a dict"):
        plotting.plot_history([0.9, 0.5])
    with pytest.raises(ValueError, match=r"history\['loss'\].*shape \(2, 2\)"):
        plotting.plot_history({"loss": [[1.0, 2.0], [3.0, 4.0]]})


# --- confusion matrix -------------------------------------------------------------------------


def test_confusion_matrix_annotates_counts_with_readable_colours():
    cm = [[1541, 54], [230, 175]]
    fig = plotting.plot_confusion_matrix(cm, class_names=["stayed", "exited"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["1541", "54", "230", "175"]
    # Text sits at (column, row) of its cell.
    assert [t.get_position() for t in ax.texts] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    colours = [matplotlib.colors.to_rgb(t.get_color()) for t in ax.texts]
    assert colours[0] == (1.0, 1.0, 1.0)  # the darkest cell: white text
    assert colours[1] == (0.0, 0.0, 0.0)  # a light cell: black text
    assert [t.get_text() for t in ax.get_xticklabels()] == ["stayed", "exited"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"


def test_confusion_matrix_normalized_shows_row_fractions_and_counts():
    fig = plotting.plot_confusion_matrix(np.array([[3, 1], [0, 0]]), normalize=True)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["0.75\n(3)", "0.25\n(1)", "0.00\n(0)", "0.00\n(0)"]
    np.testing.assert_allclose(ax.images[0].get_array(), [[0.75, 0.25], [0.0, 0.0]])


@pytest.mark.parametrize("cm", [[[1, 2, 3], [4, 5, 6]], [1, 2, 3], [[]]])
def test_confusion_matrix_must_be_square(cm):
    shape = np.asarray(cm).shape
    with pytest.raises(ValueError, match=re_shape(shape)):
        plotting.plot_confusion_matrix(cm)


def test_confusion_matrix_other_validation():
    with pytest.raises(ValueError, match="non-negative"):
        plotting.plot_confusion_matrix([[1, -1], [0, 2]])
    with pytest.raises(ValueError, match="class_names must hold 2 names"):
        plotting.plot_confusion_matrix([[1, 0], [0, 2]], class_names=["a", "b", "c"])


# --- sweep scatter ----------------------------------------------------------------------------


SWEEP = [
    {"fit_time": 0.5, "dev_acc": 0.90, "activation": "tanh", "n_h": 3},
    {"fit_time": 2.0, "dev_acc": 0.96, "activation": "relu", "n_h": 5},
    {"fit_time": 8.0, "dev_acc": 0.95, "activation": "tanh", "n_h": 50},
]


def test_sweep_scatter_rows_and_columns_give_the_same_points():
    fig_rows = plotting.plot_sweep_scatter(SWEEP)
    columns = {k: [r[k] for r in SWEEP] for k in SWEEP[0]}
    fig_cols = plotting.plot_sweep_scatter(columns)
    expected = [[r["fit_time"], r["dev_acc"]] for r in SWEEP]
    for fig in (fig_rows, fig_cols):
        ax = fig.axes[0]
        np.testing.assert_allclose(ax.collections[0].get_offsets(), expected)
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("fit_time", "dev_acc")


def test_sweep_scatter_highlight_colour_and_log_scale():
    fig = plotting.plot_sweep_scatter(SWEEP, color="activation", highlight=1, logx=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["tanh", "relu", "picked"]
    ring = next(c for c in ax.collections if c.get_label() == "picked")
    np.testing.assert_allclose(ring.get_offsets(), [[2.0, 0.96]])
    fig2 = plotting.plot_sweep_scatter(SWEEP, color="n_h", highlight=SWEEP[2])
    assert len(fig2.axes) == 2  # the colour bar of a numeric column
    ring2 = next(c for c in fig2.axes[0].collections if c.get_label() == "picked")
    np.testing.assert_allclose(ring2.get_offsets(), [[8.0, 0.95]])


def test_sweep_scatter_validation():
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_sweep_scatter([])
    with pytest.raises(ValueError, match=r"y='acc' is not a column.*'dev_acc'"):
        plotting.plot_sweep_scatter(SWEEP, y="acc")
    with pytest.raises(ValueError, match="different lengths"):
        plotting.plot_sweep_scatter({"fit_time": [1.0, 2.0], "dev_acc": [0.9]})
    with pytest.raises(ValueError, match="must hold numbers"):
        plotting.plot_sweep_scatter(SWEEP, x="activation")
    with pytest.raises(ValueError, match="out of range"):
        plotting.plot_sweep_scatter(SWEEP, highlight=3)
    with pytest.raises(ValueError, match="positive"):
        plotting.plot_sweep_scatter([{"fit_time": 0.0, "dev_acc": 0.5}], logx=True)


# --- cost curve -------------------------------------------------------------------------------


def test_cost_curve_plots_the_costs_against_iterations():
    costs = np.linspace(1.0, 0.1, 10)
    fig = plotting.plot_cost_curve(costs, title="seed 002")
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_ydata(), costs)
    np.testing.assert_allclose(line.get_xdata(), np.arange(10))
    assert fig.axes[0].get_title() == "seed 002"
    fig2 = plotting.plot_cost_curve(costs, iterations=np.arange(0, 10000, 1000), logy=True)
    np.testing.assert_allclose(fig2.axes[0].lines[0].get_xdata(), np.arange(0, 10000, 1000))
    assert fig2.axes[0].get_yscale() == "log"


def test_cost_curve_validation():
    with pytest.raises(ValueError, match=r"shape \(0,\)"):
        plotting.plot_cost_curve([])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        plotting.plot_cost_curve([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="different shapes"):
        plotting.plot_cost_curve([1.0, 0.5], iterations=[0, 1, 2])
    with pytest.raises(ValueError, match="logy"):
        plotting.plot_cost_curve([1.0, 0.0], logy=True)


# --- convolutional networks -------------------------------------------------------------------


def _small_convnet():
    from scratchnn import Sequential
    from scratchnn.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D

    return Sequential([Input((8, 8, 1)), Conv2D(6, 3, activation="relu"), MaxPooling2D(2),
                       Conv2D(4, 2, padding="same"), Flatten(), Dense(3)], seed=0)


def test_filters_and_feature_maps_write_pngs(tmp_path):
    model = _small_convnet()
    digit = np.zeros((8, 8, 1))
    digit[1:7, 3:5] = 1.0  # a "1"
    kw = {"figsize": FIGSIZE, "dpi": DPI}
    fig = plotting.plot_filters(model, path=tmp_path / "filters.png", **kw)
    assert len(fig.axes) == 6  # one tile per filter of the first convolution
    assert "conv2d" in fig._suptitle.get_text() and "(3, 3, 1, 6)" in fig._suptitle.get_text()
    assert_png(tmp_path / "filters.png", FIGSIZE, DPI)
    fig = plotting.plot_feature_maps(model, digit, path=tmp_path / "maps.png", max_maps=3, **kw)
    assert len(fig.axes) == 1 + 3 + 3  # the input, then 3 maps of each convolution
    assert_png(tmp_path / "maps.png", FIGSIZE, DPI)
    # The maps drawn are the layer's own outputs: the first row's first map is conv2d's channel 0.
    first = model.layers[0](digit[None]).numpy()[0, :, :, 0]
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), first, rtol=1e-6)


def test_filters_of_a_kernel_array_and_rgb_kernels():
    kernel = np.random.default_rng(0).standard_normal((5, 5, 3, 20))
    fig = plotting.plot_filters(kernel, max_filters=12)
    assert len(fig.axes) == 12
    assert fig.axes[0].images[0].get_array().shape == (5, 5, 3)  # colour tiles for RGB inputs


def test_conv_picture_validation():
    from scratchnn import Sequential
    from scratchnn.layers import Dense

    with pytest.raises(ValueError, match=r"must be 4-D \(KH, KW, C, F\)"):
        plotting.plot_filters(np.ones((3, 3)))
    with pytest.raises(ValueError, match="no 2-D convolution layer"):
        plotting.plot_filters(Sequential([Dense(2, input_dim=3)], seed=0))
    with pytest.raises(ValueError, match=r"one image \(H, W, C\)"):
        plotting.plot_feature_maps(_small_convnet(), np.ones((2, 8, 8, 1)))
    with pytest.raises(ValueError, match="unknown layer names"):
        plotting.plot_feature_maps(_small_convnet(), np.ones((8, 8, 1)), layers=["nope"])


# --- layout: nothing cut, nothing spilling -----------------------------------------------------

LONG = "Chosen config (n_h=3, tanh, lr 0.6, 10000 it.); triangles: fresh draw, 93.4 % accuracy"


def test_long_titles_are_wrapped_so_nothing_is_cut(tmp_path, recwarn):
    X, y = moons_like()
    for fig in (
        plotting.plot_decision_boundary(right_half, X, y, resolution=20, title=LONG),
        plotting.plot_confusion_matrix([[1543, 62], [226, 169]], ["stayed", "exited"],
                                       title="Churn, 2000 test customers: accuracy 85.6 %"),
        plotting.plot_boundary_grid([right_half] * 3, X, y, ["a", "b", "c"], resolution=10,
                                    title=LONG + LONG),
    ):
        assert plotting.clipped_texts(fig), "the check must see the long title first"
        plotting.save_png(fig, tmp_path / "long.png")
        assert plotting.clipped_texts(fig) == []
    assert not [w for w in recwarn if issubclass(w.category, plotting.PlotLayoutWarning)]


def test_the_layout_check_reports_what_leaves_the_figure_or_its_axes(tmp_path):
    fig = plotting.new_figure((4, 3))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.annotate("a note past the edge", (0.9, 0.5))
    problems = plotting.clipped_texts(fig)
    assert any(p.startswith("annotation 'a note") for p in problems), problems
    with pytest.warns(plotting.PlotLayoutWarning, match="spills over"):
        plotting.save_png(fig, tmp_path / "note.png")


def test_sweep_scatter_keeps_its_note_inside_and_can_draw_the_diagonal():
    rows = [{"train": 0.80 + 0.01 * i, "dev": 0.79 + 0.012 * i, "act": "tanh" if i % 2 else "relu"}
            for i in range(12)]  # fmt: skip
    for pick in (0, 11):  # bottom left, top right
        fig = plotting.plot_sweep_scatter(rows, x="train", y="dev", color="act", highlight=pick,
                                          highlight_label="picked (relaxed filter)",
                                          diagonal=True)  # fmt: skip
        assert plotting.clipped_texts(fig) == []
        ax = fig.axes[0]
        [line] = [ln for ln in ax.lines if ln.get_label() == "dev = train"]
        np.testing.assert_allclose(line.get_xdata(), line.get_ydata())
        assert ax.get_position().width > 0.7  # the plot uses the figure's width
