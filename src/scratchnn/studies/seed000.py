"""Study 000: the two-layer network on moons and its hyper-parameter study (Russian tutorial).

The tutorial trains 2 -> n_h -> 1 networks (hidden tanh, sigmoid or relu; sigmoid output;
``W ~ N(0, 1) * 0.01``, ``b = 0``; binary cross-entropy averaged over m; full-batch gradient
descent) on ``make_moons(2000, noise=0.25)``, sweeps a grid of hidden sizes, activations, learning
rates and iteration counts, keeps the configurations with accuracy > 95 % and a train-dev gap
<= 1 % trained in < 30 s, picks the fastest (n_h=3, tanh, lr 0.6, 10 000 iterations) and scores
it on a fresh draw of 500 points: **93.6 %**.

Here the grid runs through the sweep engine (:func:`scratchnn.sweep.run_sweep`, populations of
networks trained together, every trial recorded in a run store under ``out_dir``), on
:data:`SPLITS` train/dev splits, because the tutorial does not say how it split its data and its
figures move with the split. The specs are :func:`spec_text`; the full one holds, for each
split, the trials of ``examples/sweeps/tutorial000.toml``. Training times are measured for each
network alone (:func:`time_alone`), not taken from the populations. The chosen configuration is
then trained on its own with ``Sequential.fit`` and checked on fresh draws.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scratchnn import datasets, plotting
from scratchnn.studies._common import (
    Figure,
    Progress,
    Reporter,
    StudyResult,
    blas_single_threaded,
    image_path,
    shown,
    verdict,
)

if TYPE_CHECKING:
    from scratchnn.sweep.executors import ExecutorName

STUDY = "000"
TITLE = "Two-layer network on moons and its hyper-parameter grid"

N_TRAIN = 2000  # make_moons(2000, noise=0.25), split into train and dev
N_FRESH = 500  # the fresh draw of the final check
NOISE = 0.25
DEV_FRACTION = 0.2  # the tutorial does not say; 80/20 is our reading
SPLITS = 10  # train/dev splits measured: split seeds seed .. seed + 9
FRESH_TARGET = 93.6  # percent
FILTER_ACCURACY = 95.0  # percent, dev accuracy must exceed it
FILTER_GAP = 1.0  # points, |train - dev| must not exceed it
FILTER_SECONDS = 30.0
N_FRESH_REPEATS = 20  # further fresh draws, for the spread of the final check
TIMING_STEPS = 300  # full-batch steps timed per network alone, scaled to its iterations
TIMING_NOISE = 0.10  # relative: timings closer than this are a tie (a shared machine)
SWEEP_NAME = "study000"


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
    "n_h": (3, 5),
    "activation": ("tanh", "sigmoid"),
    "learning_rate": (0.6, 1.2),
    "iterations": (1000, 10_000),
}
"""16 configurations (8 networks, each checked at 1000 and 10 000 steps) per split: the corner of
the tutorial's grid where its filter can pass, :data:`CHOSEN` included."""

GRID_DEFAULT = {
    "n_h": (1, 2, 3, 4, 5, 10),
    "activation": ("tanh", "sigmoid", "relu"),
    "learning_rate": (1.2, 0.6, 0.1),
    "iterations": (1000, 10_000),
}
"""108 configurations per split: the tutorial's grid without n_h=50, lr 0.01/0.001 and the 100
and 100 000 iteration counts."""

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


def passes_filter(row: dict[str, Any]) -> bool:
    """The tutorial's filter: dev accuracy > 95 %, train-dev gap <= 1 point, time < 30 s.

    Args:
        row: a grid row (``train_acc``, ``dev_acc`` in percent, ``fit_time`` in seconds).
    """
    return (
        row["dev_acc"] > FILTER_ACCURACY
        and abs(row["train_acc"] - row["dev_acc"]) <= FILTER_GAP
        and row["fit_time"] < FILTER_SECONDS
    )


def _toml(values: Sequence[Any]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def spec_text(grid: dict[str, tuple[Any, ...]], splits: Sequence[int], seed: int = 0) -> str:
    """The sweep spec of the study: tutorial 000's network on ``make_moons(2000, 0.25,
    random_state=seed)``, the ``grid`` on each split seed of ``splits`` (column ``split``).

    With :data:`GRID_FULL`, ``seed=0`` and split 4, its trials are those of
    ``examples/sweeps/tutorial000.toml`` (a test holds them equal).
    """
    return f"""\
[sweep]
name = "{SWEEP_NAME}"
seeds = [{seed}]               # the model seed (the tutorial's np.random.seed(0))
history_points = 20
save_models = false            # the chosen network is trained again alone, and timed

[data]
name = "moons"
n_samples = {N_TRAIN}
noise = {NOISE}
seed = {seed}
source = "sklearn"
dev_size = {DEV_FRACTION}
split_seed = {splits[0]}

[model]
dtype = "float32"

[[model.layers]]
class_name = "Dense"
units = 3
activation = "tanh"
input_dim = 2
kernel_initializer = {{ class_name = "RandomNormal", config = {{ stddev = 0.01 }} }}
bias_initializer = "zeros"

[[model.layers]]
class_name = "Dense"
units = 1
activation = "sigmoid"
kernel_initializer = {{ class_name = "RandomNormal", config = {{ stddev = 0.01 }} }}
bias_initializer = "zeros"

[compile]
optimizer = {{ name = "sgd", learning_rate = 0.6 }}
loss = "binary_crossentropy"
metrics = ["accuracy"]

[fit]
batch_size = "full"
epochs = 10000
shuffle = false

[params]
n_h = {{ path = "model.layers[0].units", values = {_toml(grid["n_h"])} }}
activation = {{ path = "model.layers[0].activation", values = {_toml(grid["activation"])} }}
lr = {{ path = "compile.optimizer.learning_rate", values = {_toml(grid["learning_rate"])} }}
iterations = {{ path = "fit.epochs", values = {_toml(grid["iterations"])} }}
split = {{ path = "data.split_seed", values = {_toml(list(splits))} }}
"""


def _config_of(row: dict[str, Any]) -> Config:
    return Config(row["n_h"], row["activation"], row["lr"], row["iterations"])


def run_grid(
    grid: dict[str, tuple[Any, ...]], splits: Sequence[int], seed: int, store: Path,
    executor: ExecutorName = "inline",
) -> list[dict[str, Any]]:  # fmt: skip
    """Train the grid on every split through the sweep engine; one row per trial.

    Rows hold the parameters (``n_h``, ``activation``, ``lr``, ``iterations``, ``split``) and
    ``train_acc`` / ``dev_acc`` in percent (2 decimals, as the tutorial's ``compute_accuracy``).
    Finished trials already in ``store`` are reused, not trained again.
    """
    from scratchnn.runs import RunStore
    from scratchnn.sweep import load_spec, run_sweep

    spec = load_spec(spec_text(grid, splits, seed))
    run_sweep(spec, store, executor=executor, progress=False)
    wanted = {t.key for t in spec.trials}
    with RunStore(store) as runs:
        done = [r for r in runs.list_runs("finished", sweep_id=spec.name) if r.trial_key in wanted]
    rows = []
    for run in done:
        row = dict(run.config["params"])
        row["train_acc"] = round(100.0 * run.metrics["train_acc"], 2)
        row["dev_acc"] = round(100.0 * run.metrics["dev_acc"], 2)
        rows.append(row)
    return rows


def time_alone(
    keys: Sequence[tuple[int, str]], data: Sequence[np.ndarray], seed: int, rounds: int = 5
) -> dict[tuple[int, str], float]:
    """Seconds per full-batch step of each ``(n_h, activation)`` network trained alone with
    ``Sequential.fit`` on the study's training split.

    Each network runs :data:`TIMING_STEPS` steps once per round, the networks taking turns, and
    keeps its fastest round: a burst of load elsewhere on the machine slows one round of every
    network rather than every round of one. The cost of a step does not depend on the learning
    rate, so one timing serves every configuration with this hidden size and activation.
    """
    from scratchnn.sweep.engine import build_model

    x_train, _, y_train, _ = data
    configs = {key: _single_config(Config(*key, 0.6, TIMING_STEPS), seed) for key in keys}
    best = dict.fromkeys(keys, float("inf"))
    for _ in range(rounds):
        for key, config in configs.items():
            model = build_model(config, x_train.shape[1])
            start = time.perf_counter()
            model.fit(x_train, y_train, batch_size=None, epochs=TIMING_STEPS, shuffle=False,
                      verbose=0)  # fmt: skip
            best[key] = min(best[key], time.perf_counter() - start)
    return {key: seconds / TIMING_STEPS for key, seconds in best.items()}


def _single_config(config: Config, seed: int) -> dict[str, Any]:
    """The trial configuration of one grid point (as the sweep engine builds it)."""
    from scratchnn.sweep import load_spec

    grid = {"n_h": (config.n_h,), "activation": (config.activation,),
            "learning_rate": (config.learning_rate,), "iterations": (config.iterations,)}
    return load_spec(spec_text(grid, [seed], seed)).trials[0].config


def _spread(values: Sequence[float]) -> float:
    """Half the range of ``values``: how far they stray either side of their middle."""
    return (max(values) - min(values)) / 2.0


def _percent(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Percentage of points whose ``p > 0.5`` prediction is their label (2 decimals)."""
    p = model.predict(X)[:, 0]
    return round(100.0 * float(np.mean((p > 0.5) == (y == 1))), 2)


def _grid_table(rows: list[dict[str, Any]], picked: Config | None) -> str:
    lines = [
        "| n_h | activation | lr | iterations | train % | dev % | time alone (s) | filter |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        mark = "**picked**" if picked == _config_of(r) else ("passes" if r["passes"] else "")
        lines.append(
            f"| {r['n_h']} | {r['activation']} | {r['lr']:g} | {r['iterations']} | "
            f"{r['train_acc']:.2f} | {r['dev_acc']:.2f} | {r['fit_time']:.2f} | {mark} |"
        )
    return "\n".join(lines)


def _fastest(rows: list[dict[str, Any]]) -> tuple[Config | None, list[Config]]:
    """The pick among passing rows: least time alone; the configs tied with it (within
    :data:`TIMING_NOISE`), best dev accuracy and smallest gap first."""
    passing = [r for r in rows if r["passes"]]
    if not passing:
        return None, []
    least = min(r["fit_time"] for r in passing)
    tied = [r for r in passing if r["fit_time"] <= least * (1 + TIMING_NOISE)]
    tied.sort(key=lambda r: (-r["dev_acc"], abs(r["train_acc"] - r["dev_acc"]), r["fit_time"]))
    return _config_of(tied[0]), [_config_of(r) for r in tied]


@blas_single_threaded
def run(
    out_dir: Path,
    quick: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
    full: bool = False,
) -> StudyResult:
    """Reproduce study 000: the grid on :data:`SPLITS` splits, the pick, the fresh-draw check.

    The grid trains on one worker process per core: a script that calls this must do so under
    ``if __name__ == "__main__":`` (the workers import it).

    Args:
        out_dir: folder for the PNGs and the grid's run store (``000_sweep/``; finished trials
            found there are reused).
        quick: the grid :data:`GRID_QUICK` (16 configurations per split) instead of
            :data:`GRID_DEFAULT` (108).
        full: the tutorial's whole :data:`GRID_FULL` (420 per split). Not with ``quick``.
        seed: seeds the data draw (``make_moons`` ``random_state=seed``) and the weights; the
            splits are ``seed`` .. ``seed + 9`` (the headline is split ``seed``); the fresh draw
            uses ``seed + 1``.
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
    grid = GRID_FULL if full else GRID_QUICK if quick else GRID_DEFAULT
    splits = list(range(seed, seed + SPLITS))
    n_configs = len(grid_configs(grid))

    with say.step(f"grid of {n_configs} configurations on each of {len(splits)} splits "
                  f"({n_configs * len(splits)} trials, sweep engine)"):
        rows = run_grid(grid, splits, seed, out_dir / "000_sweep",
                        executor="processes")  # fmt: skip

    X, y = datasets.moons(N_TRAIN, NOISE, seed=seed, source="sklearn")
    data = datasets.train_test_split(X, y, test_size=DEV_FRACTION, random_state=seed)
    with say.step("timing each network alone"):
        per_step = time_alone(sorted({(r["n_h"], r["activation"]) for r in rows}), data, seed)
    for row in rows:
        row["fit_time"] = per_step[row["n_h"], row["activation"]] * row["iterations"]
        row["passes"] = passes_filter(row)

    by_split = {s: [r for r in rows if r["split"] == s] for s in splits}
    best_dev = {s: max(r["dev_acc"] for r in by_split[s]) for s in splits}
    n_above = {s: sum(r["dev_acc"] > FILTER_ACCURACY for r in by_split[s]) for s in splits}
    n_pass = {s: sum(r["passes"] for r in by_split[s]) for s in splits}
    picks = {s: _fastest(by_split[s]) for s in splits}
    home = sorted(by_split[seed], key=lambda r: (r["n_h"], r["activation"], r["lr"],
                                                 r["iterations"]))  # fmt: skip
    for s in splits:
        pick = picks[s][0]
        say(f"split {s}: best dev {best_dev[s]:.2f} %, {n_above[s]} above 95 %, {n_pass[s]} "
            "pass" + (f"; fastest {pick.label()}" if pick else ""))

    from scratchnn.sweep.engine import build_model

    with say.step(f"training the chosen config {CHOSEN.label()} alone"):
        chosen = build_model(_single_config(CHOSEN, seed), 2)
        chosen.fit(data[0], data[2], batch_size=None, epochs=CHOSEN.iterations, shuffle=False,
                   verbose=0)  # fmt: skip
    X_fresh, y_fresh = datasets.moons(N_FRESH, NOISE, seed=seed + 1, source="sklearn")
    fresh_acc = _percent(chosen, X_fresh, y_fresh)
    repeats = [
        _percent(chosen, *datasets.moons(N_FRESH, NOISE, seed=seed + 100 + k, source="sklearn"))
        for k in range(N_FRESH_REPEATS)
    ]
    say(f"chosen config on the fresh draw: {fresh_acc:.2f} % (tutorial 93.6 %)")

    figures = [_fresh_figure(fresh_acc, repeats)]
    figures.append(_above_figure(seed, best_dev, n_above, len(by_split[seed])))
    figures.append(_pick_figure(seed, picks, per_step))

    images = []
    pick_home = picks[seed][0]
    with say.step("plots"):
        path = image_path(out_dir, STUDY, "accuracy_vs_time")
        ringed = pick_home or CHOSEN  # nothing passes on this split: ring the tutorial's choice
        highlight = next((i for i, r in enumerate(home) if _config_of(r) == ringed), None)
        plotting.plot_sweep_scatter(
            home, x="fit_time", y="dev_acc", color="activation", highlight=highlight,
            highlight_label="picked" if pick_home else "the tutorial's choice",
            title=f"Split {seed}: {len(home)} configurations, dev accuracy vs training time",
            xlabel="training time alone (s)", ylabel="dev accuracy (%)", path=path,
            logx=True,
        )  # fmt: skip
        images.append(path)
        figures.append(shown(
            "000 accuracy vs training time plot",
            "scatter of the grid's accuracy against training time",
            f"{path.name}: {len(home)} configurations of split {seed}",
        ))
        path = image_path(out_dir, STUDY, "decision_boundary")
        plotting.plot_decision_boundary(
            chosen, data[0], data[2], X_fresh, y_fresh,
            title=f"Chosen config ({CHOSEN.label()}): {fresh_acc:.1f} % on a fresh draw",
            split_names=("train", "fresh draw"), path=path,
        )  # fmt: skip
        images.append(path)
        figures.append(shown(
            "000 decision boundary of the chosen config",
            "moons separated by the 3-unit tanh network",
            f"{path.name}",
        ))

    notes = _notes(seed, grid, full, quick, rows, splits, best_dev, n_pass, picks, home,
                   fresh_acc, repeats)  # fmt: skip
    return StudyResult(
        study=STUDY,
        title=TITLE,
        figures=figures,
        images=images,
        notes=notes,
        seconds=time.perf_counter() - start,
    )


def _fresh_figure(fresh_acc: float, repeats: list[float]) -> Figure:
    """93.6 % on a fresh draw, judged against the draw-to-draw spread we measure."""
    spread = round(_spread(repeats), 1)
    return Figure(
        name="000 fresh-draw accuracy of the chosen config",
        tutorial="93.6 %",
        ours=f"{fresh_acc:.1f} % (fresh draws: {min(repeats):.1f}-{max(repeats):.1f} %)",
        verdict=verdict(fresh_acc, FRESH_TARGET, spread),
        value=fresh_acc,
        target=FRESH_TARGET,
        tolerance=spread,
        higher_is_better=True,
        note=f"tolerance ±{spread:.1f} pt: the spread of {N_FRESH_REPEATS} further fresh draws "
             f"of {N_FRESH} points",
    )


def _above_figure(seed: int, best_dev: dict[int, float], n_above: dict[int, int],
                  n_configs: int) -> Figure:  # fmt: skip
    """"Several configs exceed 95 %": the best dev accuracy against 95 %, judged against the
    split-to-split spread of that best."""
    spread = round(_spread(list(best_dev.values())), 2)
    lo, hi = min(best_dev.values()), max(best_dev.values())
    several = sum(n >= 2 for n in n_above.values())
    return Figure(
        name="000 grid configs above 95 %",
        tutorial="several (dev > 95 %)",
        ours=f"split {seed}: {n_above[seed]} of {n_configs} (best dev {best_dev[seed]:.2f} %); "
             f"over {len(best_dev)} splits the best is {lo:.2f}-{hi:.2f} % and 2 or more "
             f"configs exceed 95 % on {several} of them",
        verdict=verdict(best_dev[seed], FILTER_ACCURACY, spread),
        value=best_dev[seed],
        target=FILTER_ACCURACY,
        tolerance=spread,
        higher_is_better=True,
        note=f"within the split-to-split spread of the best dev accuracy, ±{spread:.2f} pt "
             f"measured over {len(best_dev)} splits",
    )


def _pick_figure(seed: int, picks: dict[int, tuple[Config | None, list[Config]]],
                 per_step: dict[tuple[int, str], float]) -> Figure:  # fmt: skip
    """The fastest passing config: matched when the tutorial's choice is it, or ties with it
    within timing noise, on a split where anything passes."""
    with_pick = [s for s, (pick, _) in picks.items() if pick is not None]
    agree = [s for s in with_pick if CHOSEN in picks[s][1]]
    if not with_pick:
        ours = f"nothing passes on any of {len(picks)} splits"
    else:
        shown_split = agree[0] if agree else with_pick[0]
        pick, tied = picks[shown_split]
        assert pick is not None  # shown_split is one of with_pick
        others = [c.label() for c in tied if c != pick]
        ours = (f"split {shown_split}: {pick.label()}"
                + (f" (tied within timing noise with {'; '.join(others)})" if others else "")
                + f"; the tutorial's choice is the fastest on {len(agree)} of the "
                f"{len(with_pick)} splits where anything passes (of {len(picks)})")
    step = per_step.get((CHOSEN.n_h, CHOSEN.activation))
    chosen = "" if step is None else f"; the chosen one: {step * CHOSEN.iterations:.2f} s"
    return Figure(
        name="000 fastest config passing the filter",
        tutorial=CHOSEN.label(),
        ours=ours,
        verdict="matched" if agree else "not matched",
        note=f"times measured for each network alone ({TIMING_STEPS} steps, scaled{chosen}); "
             f"ties within {100 * TIMING_NOISE:.0f} %",
    )


def _notes(seed: int, grid: dict[str, Any], full: bool, quick: bool,
           rows: list[dict[str, Any]], splits: list[int], best_dev: dict[int, float],
           n_pass: dict[int, int], picks: dict[int, Any], home: list[dict[str, Any]],
           fresh_acc: float, repeats: list[float]) -> str:  # fmt: skip
    """The study's notes, in Markdown."""
    which = ("the tutorial's full 420-run grid" if full else "the reduced quick grid" if quick
             else "the reduced default grid (the 420-run grid runs with --full)")
    per_split = "; ".join(
        f"{s}: {best_dev[s]:.2f} % / {n_pass[s]}"
        + (f" / {picks[s][0].label()}" if picks[s][0] else "")
        for s in splits
    )
    return "\n\n".join([
        f"Data: `make_moons({N_TRAIN}, noise={NOISE}, random_state={seed})` (scikit-learn's own "
        f"generator), split {100 - 100 * DEV_FRACTION:.0f}/{100 * DEV_FRACTION:.0f} into train "
        f"and dev by `train_test_split(random_state=s)` for {len(splits)} split seeds s = "
        f"{splits[0]}..{splits[-1]}: the tutorial does not give its split, and with 400 dev "
        "points its figures move with it. The fresh draw is "
        f"`make_moons({N_FRESH}, noise={NOISE}, random_state={seed + 1})`.",
        "Model: 2 → n_h → 1, hidden activation from the grid, sigmoid output, weights "
        "`N(0, 0.01²)`, zero biases, binary cross-entropy averaged over m, plain SGD on the "
        f"full batch, float32. The grid is {which}: {len(grid_configs(grid))} configurations "
        f"per split, {len(rows)} trials, trained by the sweep engine (networks of one structure "
        "as one population; iteration counts as checkpoints of one training) and recorded in "
        "`000_sweep/runs.sqlite` beside this report (`scratchnn runs --runs-dir "
        "<report>/000_sweep --sweep study000`; running again reuses them).",
        "Training time: each network is timed alone with `Sequential.fit` "
        f"({TIMING_STEPS} full-batch steps, best of 5 rounds taken in turns, scaled to its "
        "iterations; a step costs "
        "the same at every learning rate), so the fastest configuration is a measurement, not "
        "a share of a population's time. Every time is far below the 30 s limit, so that part "
        "of the filter never bites.",
        f"Filter (our reading of the tutorial's): dev accuracy > {FILTER_ACCURACY:g} %, "
        f"|train − dev| ≤ {FILTER_GAP:g} point, training time < {FILTER_SECONDS:g} s; then "
        "the fastest (ties within timing noise go to the better dev accuracy, then the "
        "smaller gap). Per split, best dev accuracy / configurations passing / the pick: "
        f"{per_split.removesuffix('.')}. The tutorial's own choice reaches about 95 % on train "
        "and dev; whether "
        "it clears the strict 95 % bar on 400 dev points depends on the split.",
        f"Chosen config {CHOSEN.label()}, trained alone on split {seed}: {fresh_acc:.2f} % on "
        f"the fresh draw (tutorial 93.6 %). Over {N_FRESH_REPEATS} further fresh draws of "
        f"{N_FRESH} points it scores {statistics.mean(repeats):.2f} % on average (min "
        f"{min(repeats):.2f}, max {max(repeats):.2f}): the tutorial's 93.6 % is one such draw.",
        f"The grid on split {seed}:",
        _grid_table(home, picks[seed][0]),
    ])
