"""Study 000: the two-layer network on moons and its hyper-parameter study (Russian tutorial).

The tutorial trains 2 -> n_h -> 1 networks (hidden tanh, sigmoid or relu; sigmoid output;
``W ~ N(0, 1) * 0.01``, ``b = 0``; binary cross-entropy averaged over m; full-batch gradient
descent) on ``make_moons(2000, noise=0.25)``, sweeps a grid of hidden sizes, activations, learning
rates and iteration counts, keeps the configurations with accuracy > 95 % and a train-dev gap
<= 1 % trained in < 30 s, picks the fastest (n_h=3, tanh, lr 0.6, 10 000 iterations) and scores
it on a fresh draw of 500 points: **93.6 %**.

Here every network is a :class:`~scratchnn.Sequential` trained with ``fit(batch_size=None)``.
The grid is a reduced one by default (:data:`GRID_QUICK`, :data:`GRID_DEFAULT`); ``full=True``
trains the tutorial's whole 420-run grid (:data:`GRID_FULL`) the same way, one fit at a time
(about 45 minutes on 2 cores; ``scratchnn sweep run examples/sweeps/tutorial000.toml`` trains it
as populations in about 2).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchnn import datasets, initializers, plotting
from scratchnn.layers import Dense
from scratchnn.models import Sequential
from scratchnn.optimizers import SGD
from scratchnn.studies._common import (
    Figure,
    Progress,
    Reporter,
    StudyResult,
    blas_single_threaded,
    compared,
    image_path,
    shown,
)

STUDY = "000"
TITLE = "Two-layer network on moons and its hyper-parameter grid"

N_TRAIN = 2000  # make_moons(2000, noise=0.25), split into train and dev
N_FRESH = 500  # the fresh draw of the final check
NOISE = 0.25
DEV_FRACTION = 0.2  # the tutorial does not say; 80/20 is our reading
FRESH_TARGET = 93.6  # percent
FRESH_TOLERANCE = 1.5  # points
FILTER_ACCURACY = 95.0  # percent, dev accuracy must exceed it
FILTER_GAP = 1.0  # points, |train - dev| must not exceed it
FILTER_SECONDS = 30.0
N_FRESH_REPEATS = 20  # further fresh draws, for the spread of the final check


@dataclass(frozen=True)
class Config:
    """One configuration of the grid (the tutorial's hyper-parameters)."""

    n_h: int  # hidden units
    activation: str  # hidden activation: tanh | sigmoid | relu
    learning_rate: float
    iterations: int  # full-batch gradient steps

    def label(self) -> str:
        """Short text, e.g. ``"n_h=3, tanh, lr 0.6, 10000 it."``."""
        lr = f"{self.learning_rate:g}"
        return f"n_h={self.n_h}, {self.activation}, lr {lr}, {self.iterations} it."


CHOSEN = Config(n_h=3, activation="tanh", learning_rate=0.6, iterations=10_000)
"""The tutorial's pick."""

GRID_QUICK = {
    "n_h": (1, 3, 5),
    "activation": ("tanh", "relu"),
    "learning_rate": (0.6,),
    "iterations": (1000, 10_000),
}
"""12 runs (about 10 s): enough to show the filter at work; contains :data:`CHOSEN`."""

GRID_DEFAULT = {
    "n_h": (1, 2, 3, 4, 5, 10),
    "activation": ("tanh", "sigmoid", "relu"),
    "learning_rate": (1.2, 0.6, 0.1),
    "iterations": (1000, 10_000),
}
"""108 runs (2-4 minutes on 2 cores): the tutorial's grid without n_h=50, lr 0.01/0.001 and the
100 and 100 000 iteration counts."""


GRID_FULL = {
    "n_h": (1, 2, 3, 4, 5, 10, 50),
    "activation": ("tanh", "sigmoid", "relu"),
    "learning_rate": (1.2, 0.6, 0.1, 0.01, 0.001),
    "iterations": (100, 1000, 10_000, 100_000),
}
"""The tutorial's grid: 7 hidden sizes x 3 activations x 5 learning rates x 4 iteration counts."""


def grid_configs(grid: dict[str, tuple[Any, ...]]) -> list[Config]:
    """Every combination of a grid given as ``{field: values}``, in product order."""
    keys = ("n_h", "activation", "learning_rate", "iterations")
    return [Config(*values) for values in itertools.product(*(grid[k] for k in keys))]


def build_model(config: Config, seed: int) -> Sequential:
    """The tutorial's network: 2 -> n_h -> 1, ``N(0, 0.01²)`` weights, zero biases, plain SGD."""
    init = initializers.random_normal(stddev=0.01)  # np.random.randn(...) * 0.01
    model = Sequential(
        [
            Dense(config.n_h, activation=config.activation, input_dim=2, kernel_initializer=init),
            Dense(1, activation="sigmoid", kernel_initializer=init),
        ],
        seed=seed,
        dtype="float64",
    )
    model.compile(
        optimizer=SGD(learning_rate=config.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def accuracy(model: Sequential, X: np.ndarray, y: np.ndarray) -> float:
    """Percentage of points whose ``p > 0.5`` prediction is their label (2 decimals)."""
    p = model.predict(X)[:, 0]
    return round(100.0 * float(np.mean((p > 0.5) == (y == 1))), 2)


def train_config(
    config: Config, data: tuple[np.ndarray, ...], seed: int
) -> tuple[Sequential, dict[str, Any]]:
    """Train one configuration; return the model and its grid row."""
    X_train, X_dev, y_train, y_dev = data
    model = build_model(config, seed)
    start = time.perf_counter()
    model.fit(X_train, y_train, batch_size=None, epochs=config.iterations, shuffle=False,
              verbose=0)
    fit_time = time.perf_counter() - start
    row = {
        "n_h": config.n_h,
        "activation": config.activation,
        "learning_rate": config.learning_rate,
        "iterations": config.iterations,
        "train_acc": accuracy(model, X_train, y_train),
        "dev_acc": accuracy(model, X_dev, y_dev),
        "fit_time": fit_time,
    }
    return model, row


def passes_filter(row: dict[str, Any], floor: float | None = None) -> bool:
    """The tutorial's filter: dev accuracy > 95 %, train-dev gap <= 1 point, time < 30 s.

    Args:
        row: a grid row (``train_acc``, ``dev_acc`` in percent, ``fit_time`` in seconds).
        floor: relaxed form: dev accuracy >= ``floor`` instead of > 95 %.
    """
    accurate = row["dev_acc"] > FILTER_ACCURACY if floor is None else row["dev_acc"] >= floor
    return (
        accurate
        and abs(row["train_acc"] - row["dev_acc"]) <= FILTER_GAP
        and row["fit_time"] < FILTER_SECONDS
    )


def _config_of(row: dict[str, Any]) -> Config:
    return Config(row["n_h"], row["activation"], row["learning_rate"], row["iterations"])


def _grid_table(rows: list[dict[str, Any]], pick: int | None) -> str:
    lines = [
        "| n_h | activation | lr | iterations | train % | dev % | time (s) | filter |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for i, r in enumerate(rows):
        mark = "**picked**" if i == pick else ("passes" if passes_filter(r) else "")
        lines.append(
            f"| {r['n_h']} | {r['activation']} | {r['learning_rate']:g} | {r['iterations']} | "
            f"{r['train_acc']:.2f} | {r['dev_acc']:.2f} | {r['fit_time']:.2f} | {mark} |"
        )
    return "\n".join(lines)


@blas_single_threaded
def run(
    out_dir: Path,
    quick: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
    full: bool = False,
) -> StudyResult:
    """Reproduce study 000: the chosen configuration's fresh-draw accuracy and the grid.

    Args:
        out_dir: folder for the PNGs (created when missing).
        quick: run :data:`GRID_QUICK` (12 runs) instead of :data:`GRID_DEFAULT` (108 runs).
        full: run the tutorial's whole :data:`GRID_FULL` (420 runs; slow). Not with ``quick``.
        seed: seeds the data draw (``make_moons`` ``random_state=seed``), the split and the
            weights; the fresh draw uses ``seed + 1``.
        progress: receives one line per step.

    Returns:
        The :class:`StudyResult` with the figures "fresh-draw accuracy", "grid configs above
        95 %", "fastest config passing the filter", "accuracy vs training time" and "decision
        boundary".
    """
    if quick and full:
        raise ValueError("study 000: choose quick or full, not both.")
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = Reporter(STUDY, progress)

    X, y = datasets.moons(N_TRAIN, NOISE, seed=seed, source="sklearn")
    data = datasets.train_test_split(X, y, test_size=DEV_FRACTION, random_state=seed)
    X_fresh, y_fresh = datasets.moons(N_FRESH, NOISE, seed=seed + 1, source="sklearn")

    grid = GRID_FULL if full else GRID_QUICK if quick else GRID_DEFAULT
    configs = grid_configs(grid)
    rows: list[dict[str, Any]] = []
    models: dict[Config, Sequential] = {}
    say(f"grid of {len(configs)} configurations ...")
    for i, config in enumerate(configs):
        model, row = train_config(config, data, seed)
        rows.append(row)
        if config == CHOSEN:
            models[config] = model
        say(f"[{i + 1}/{len(configs)}] {config.label()}: train {row['train_acc']:.2f} %, "
            f"dev {row['dev_acc']:.2f} %, {row['fit_time']:.2f} s")
    passing = [i for i, r in enumerate(rows) if passes_filter(r)]
    pick = min(passing, key=lambda i: rows[i]["fit_time"]) if passing else None
    best_dev = max(r["dev_acc"] for r in rows)
    relaxed = [i for i, r in enumerate(rows) if passes_filter(r, best_dev - FILTER_GAP)]
    relaxed_pick = min(relaxed, key=lambda i: rows[i]["fit_time"]) if relaxed else None

    if CHOSEN not in models:
        with say.step(f"training the chosen config {CHOSEN.label()}"):
            models[CHOSEN], _ = train_config(CHOSEN, data, seed)
    chosen = models[CHOSEN]
    fresh_acc = accuracy(chosen, X_fresh, y_fresh)
    repeats = [
        accuracy(chosen, *datasets.moons(N_FRESH, NOISE, seed=seed + 100 + k, source="sklearn"))
        for k in range(N_FRESH_REPEATS)
    ]
    say(f"chosen config on the fresh draw: {fresh_acc:.2f} % (tutorial 93.6 %)")

    figures: list[Figure] = [
        compared(
            "000 fresh-draw accuracy of the chosen config",
            "93.6 %",
            f"{fresh_acc:.1f} %",
            fresh_acc,
            FRESH_TARGET,
            FRESH_TOLERANCE,
        )
    ]
    above = [r for r in rows if r["dev_acc"] > FILTER_ACCURACY]
    figures.append(
        Figure(
            name="000 grid configs above 95 %",
            tutorial="several",
            ours=f"{len(above)} of {len(rows)} (best dev {best_dev:.2f} %)",
            verdict="matched" if len(above) >= 2 else "not matched",
            value=float(len(above)),
        )
    )
    if pick is None:
        pick_text = "none passed the filter"
        if relaxed_pick is not None:
            pick_text += (f"; relaxed (dev ≥ best − {FILTER_GAP:g}): "
                          f"{_config_of(rows[relaxed_pick]).label()}")
        pick_verdict = "not matched"
    else:
        picked = _config_of(rows[pick])
        pick_text = f"{picked.label()} ({rows[pick]['fit_time']:.2f} s)"
        pick_verdict = "matched" if picked == CHOSEN else "not matched"
    figures.append(
        Figure(
            name="000 fastest config passing the filter",
            tutorial=CHOSEN.label(),
            ours=pick_text,
            verdict=pick_verdict,
        )
    )

    images = []
    with say.step("plots"):
        highlight = pick if pick is not None else relaxed_pick
        path = image_path(out_dir, STUDY, "accuracy_vs_time")
        plotting.plot_sweep_scatter(
            rows, x="fit_time", y="dev_acc", color="activation", highlight=highlight,
            highlight_label="picked" if pick is not None else "picked (relaxed filter)",
            title=f"Grid of {len(rows)} runs: dev accuracy vs training time",
            xlabel="training time (s)", ylabel="dev accuracy (%)", path=path,
        )
        images.append(path)
        figures.append(shown(
            "000 accuracy vs training time plot",
            "scatter of the grid's accuracy against training time",
            f"{path.name}: {len(rows)} runs",
        ))
        path = image_path(out_dir, STUDY, "decision_boundary")
        X_train, _, y_train, _ = data
        plotting.plot_decision_boundary(
            chosen, X_train, y_train, X_fresh, y_fresh,
            title=f"Chosen config ({CHOSEN.label()}); triangles: fresh draw, "
                  f"{fresh_acc:.1f} %",
            path=path,
        )
        images.append(path)
        figures.append(shown(
            "000 decision boundary of the chosen config",
            "moons separated by the 3-unit tanh network",
            f"{path.name}",
        ))

    notes = "\n\n".join([
        f"Data: `make_moons({N_TRAIN}, noise={NOISE}, random_state={seed})` (scikit-learn's own "
        f"generator, through `datasets.moons(source='sklearn')`), split "
        f"{100 - 100 * DEV_FRACTION:.0f}/{100 * DEV_FRACTION:.0f} into train and dev "
        f"(`random_state={seed}`; the tutorial does not give its split). The fresh draw is "
        f"`make_moons({N_FRESH}, noise={NOISE}, random_state={seed + 1})`.",
        "Model: 2 → n_h → 1, hidden activation from the grid, sigmoid output, weights "
        "`N(0, 0.01²)` (`initializers.random_normal(stddev=0.01)`), zero biases, binary "
        "cross-entropy averaged over m, plain SGD on the full batch (`fit(batch_size=None)`), "
        "float64.",
        f"Chosen config {CHOSEN.label()}: {fresh_acc:.2f} % on the fresh draw (tutorial 93.6 %, "
        f"tolerance ±{FRESH_TOLERANCE} points). Over {N_FRESH_REPEATS} further fresh draws of "
        f"{N_FRESH} points it scores {np.mean(repeats):.2f} % on average "
        f"(min {min(repeats):.2f}, max {max(repeats):.2f}): the tutorial's 93.6 % is one "
        "such draw.",
        f"Filter (our reading of the tutorial's): dev accuracy > {FILTER_ACCURACY:g} %, "
        f"|train − dev| ≤ {FILTER_GAP:g} point, training time < {FILTER_SECONDS:g} s; then the "
        f"fastest. {len(passing)} of {len(rows)} runs pass. "
        + (
            f"None passing, we relax the accuracy condition to dev ≥ best dev − {FILTER_GAP:g} "
            f"point ({best_dev - FILTER_GAP:.2f} %): "
            f"{len(relaxed)} {'run passes' if len(relaxed) == 1 else 'runs pass'} that, the "
            "fastest "
            + (f"being {_config_of(rows[relaxed_pick]).label()}" if relaxed_pick is not None
               else "being none")
            + " (ringed in the plot; which of runs of similar length is fastest depends on "
            "timing noise). With `N(0, 0.01²)` weights many runs stay at the nearly linear "
            "solution (about 85 %), and the best ones reach about 94-95 % on train and dev: on "
            "our draw no run exceeds 95 % on the 400 dev points, so the tutorial's \"several "
            "configs above 95 %\" is not reproduced; it depends on the draw and split, which "
            "the tutorial does not give."
            if pick is None
            else f"The fastest is {_config_of(rows[pick]).label()}."
        )
        + (" This is the tutorial's full 420-run grid." if full
           else " This is the reduced quick grid." if quick
           else " This is the reduced default grid (the 420-run grid runs with --full, or as "
           "populations with `scratchnn sweep run examples/sweeps/tutorial000.toml`)."),
        "Timings are this machine's and depend on its load; every run here is far below the "
        "30 s limit, so that part of the filter never bites.",
        _grid_table(rows, pick),
    ])
    return StudyResult(
        study=STUDY,
        title=TITLE,
        figures=figures,
        images=images,
        notes=notes,
        seconds=time.perf_counter() - start,
    )
