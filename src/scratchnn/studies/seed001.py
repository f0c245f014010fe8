"""Study 001: logistic regression vs a 3-layer softmax network on moons, and five exercises.

The tutorial (a translation of wildml.com's "Implementing a neural network from scratch") fits
scikit-learn's ``LogisticRegression`` to ``make_moons(200, noise=0.20)`` (a straight boundary that
cannot follow the moons), then a 2 -> n_h -> 2 network (tanh hidden, softmax output,
cross-entropy) trained by batch gradient descent: learning rate 0.01 and L2 strength 0.01 on the
*summed* loss, 20 000 passes, weights ``randn / sqrt(fan_in)``. It plots the boundary for hidden
sizes 1, 2, 3, 4, 5, 20, 50 and sets five exercises: mini-batch gradient descent, an annealed
learning rate, other activations, three classes, a fourth layer. All five are done here.

The summed loss is ``SparseCategoricalCrossentropy(reduction="sum")`` and the penalty
``l2(0.005)`` on the kernels: the gradient of ``0.005 * sum(W²)`` is the tutorial's
``reg_lambda * W`` with ``reg_lambda = 0.01`` (biases are not penalised, as there).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from scratchnn import datasets, initializers, losses, plotting, regularizers
from scratchnn.activations import ActivationName
from scratchnn.layers import Dense
from scratchnn.models import Sequential
from scratchnn.optimizers import SGD, schedules
from scratchnn.studies._common import (
    Figure,
    Progress,
    Reporter,
    StudyResult,
    blas_single_threaded,
    compared,
    image_path,
    pct,
    plot_curves,
    shown,
)

STUDY = "001"
TITLE = "Logistic regression vs a 3-layer softmax network on moons; the five exercises"

N_SAMPLES = 200
NOISE = 0.20
LEARNING_RATE = 0.01  # on the summed loss
REG_LAMBDA = 0.01  # the tutorial's; our l2 factor is reg_lambda / 2
PASSES_FULL = 20_000
PASSES_QUICK = 3_000
HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)
MARGIN = 5.0  # points by which the network must beat logistic regression


def build_network(
    hidden: tuple[int, ...],
    n_classes: int = 2,
    activation: ActivationName = "tanh",
    learning_rate: Any = LEARNING_RATE,
    seed: int = 0,
) -> Sequential:
    """2 -> hidden... -> n_classes softmax, ``randn / sqrt(fan_in)`` weights, the tutorial's loss.

    Args:
        hidden: the hidden layers' sizes, e.g. ``(3,)``; two entries make the fourth layer.
        n_classes: output units.
        activation: hidden activation.
        learning_rate: a float or a schedule (for the annealing exercise).
        seed: the model's seed (weights).
    """
    layers: list[Dense] = []
    fan_in = 2
    for units in (*hidden, n_classes):
        is_output = len(layers) == len(hidden)
        layers.append(
            Dense(
                units,
                activation="softmax" if is_output else activation,
                kernel_initializer=initializers.random_normal(stddev=1.0 / math.sqrt(fan_in)),
                kernel_regularizer=regularizers.l2(REG_LAMBDA / 2),
                input_dim=2 if not layers else None,
            )
        )
        fan_in = units
    model = Sequential(layers, seed=seed, dtype="float64")
    model.compile(
        optimizer=SGD(learning_rate=learning_rate),
        loss=losses.SparseCategoricalCrossentropy(reduction="sum"),
        metrics=["accuracy"],
    )
    return model


def accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of points whose most probable class is their label."""
    out = np.asarray(model.predict(X))
    labels = out.argmax(axis=1) if out.ndim == 2 else out
    return float(np.mean(labels == y))


def _fit(model: Sequential, X: np.ndarray, y: np.ndarray, passes: int,
         batch_size: int | None = None, seed: int = 0) -> dict[str, list[float]]:
    history = model.fit(X, y, batch_size=batch_size, epochs=passes, shuffle=batch_size is not None,
                        verbose=0, seed=seed)
    return history.history


def _exercise_minibatch(
    data: tuple[np.ndarray, ...], passes: int, seed: int, out_dir: Path, say: Reporter
) -> tuple[Figure, Path, str]:
    X, y, X_test, y_test = data
    batch_size = 20
    epochs = max(passes // 10, 1)
    batch = build_network((3,), seed=seed)
    h_batch = _fit(batch, X, y, epochs)
    # The loss is summed over the batch: scale the rate by 200 / 20 so that a step of 20
    # points moves as far, per point, as a step of 200.
    mini = build_network((3,), learning_rate=LEARNING_RATE * N_SAMPLES / batch_size, seed=seed)
    h_mini = _fit(mini, X, y, epochs, batch_size=batch_size, seed=seed)
    per_sample_batch = np.asarray(h_batch["loss"]) / N_SAMPLES
    per_sample_mini = np.asarray(h_mini["loss"]) / batch_size  # mean of the batches' sums
    path = image_path(out_dir, STUDY, "ex1_minibatch")
    plot_curves(
        {
            "batch GD (1 step of 200 per pass)": per_sample_batch,
            f"mini-batch GD ({N_SAMPLES // batch_size} steps of {batch_size} per pass)":
                per_sample_mini,
        },
        path, f"Exercise 1: mini-batch vs batch gradient descent, {epochs} passes",
        xlabel="pass over the data", ylabel="training loss per point (with L2)", logy=True,
    )
    acc_b, acc_m = accuracy(batch, X_test, y_test), accuracy(mini, X_test, y_test)
    say(f"exercise 1 (mini-batch): held-out {pct(acc_m)} vs batch {pct(acc_b)}")
    fig = shown(
        "001 exercise 1: mini-batch gradient descent",
        "exercise (no figure)",
        f"after {epochs} passes: mini-batch {pct(acc_m)} vs batch {pct(acc_b)} held-out",
        value=acc_m,
    )
    note = (
        f"Exercise 1, mini-batch GD: batches of {batch_size}, shuffled each pass, learning rate "
        f"{LEARNING_RATE * N_SAMPLES / batch_size:g} on each batch's summed loss (the same step "
        f"per point as 0.01 on 200 points). With the same {epochs} passes over the data, "
        f"mini-batches take {N_SAMPLES // batch_size}x more steps: held-out accuracy "
        f"{pct(acc_m)} against {pct(acc_b)} for batch GD, training loss per point "
        f"{per_sample_mini[-1]:.3f} against {per_sample_batch[-1]:.3f}."
    )
    return fig, path, note


def _exercise_annealing(
    data: tuple[np.ndarray, ...], passes: int, seed: int, out_dir: Path, say: Reporter
) -> tuple[Figure, Path, str]:
    X, y, X_test, y_test = data
    fixed = build_network((3,), seed=seed)
    h_fixed = _fit(fixed, X, y, passes)
    decay_steps = max(passes // 10, 1)
    schedule = schedules.InverseTimeDecay(
        initial_learning_rate=4 * LEARNING_RATE, decay_steps=decay_steps, decay_rate=1.0
    )
    annealed = build_network((3,), learning_rate=schedule, seed=seed)
    h_ann = _fit(annealed, X, y, passes)
    path = image_path(out_dir, STUDY, "ex2_annealing")
    plot_curves(
        {"fixed lr 0.01": h_fixed["loss"],
         f"annealed 0.04 / (1 + t / {decay_steps})": h_ann["loss"]},
        path, "Exercise 2: annealed learning rate (InverseTimeDecay)",
        xlabel="pass", ylabel="summed training loss (with L2)", logy=True,
    )
    loss_f, loss_a = h_fixed["loss"][-1], h_ann["loss"][-1]
    acc_f, acc_a = accuracy(fixed, X_test, y_test), accuracy(annealed, X_test, y_test)
    say(f"exercise 2 (annealing): final loss {loss_a:.2f} vs fixed {loss_f:.2f}")
    fig = shown(
        "001 exercise 2: annealed learning rate",
        "exercise (no figure)",
        f"final loss {loss_a:.2f} (annealed) vs {loss_f:.2f} (fixed); "
        f"held-out {pct(acc_a)} vs {pct(acc_f)}",
        value=loss_a,
    )
    note = (
        f"Exercise 2, annealed learning rate: `InverseTimeDecay(0.04, decay_steps={decay_steps}, "
        f"decay_rate=1)` starts 4x higher than the fixed 0.01 and falls below it after "
        f"{3 * decay_steps} steps. Final summed loss {loss_a:.2f} against {loss_f:.2f}; "
        f"held-out accuracy {pct(acc_a)} against {pct(acc_f)}."
    )
    return fig, path, note


def _exercise_activations(
    data: tuple[np.ndarray, ...], passes: int, seed: int, out_dir: Path, say: Reporter
) -> tuple[Figure, Path, str]:
    X, y, X_test, y_test = data
    models, titles, accs = [], [], {}
    for act in ("tanh", "relu", "sigmoid"):
        model = build_network((3,), activation=act, seed=seed)
        _fit(model, X, y, passes)
        accs[act] = accuracy(model, X_test, y_test)
        models.append(model)
        titles.append(f"{act}: held-out {pct(accs[act])}")
    path = image_path(out_dir, STUDY, "ex3_activations")
    plotting.plot_boundary_grid(
        models, X, y, titles, ncols=3, path=path, resolution=120,
        title="Exercise 3: other hidden activations (3 units)",
    )
    say("exercise 3 (activations): " + ", ".join(f"{a} {pct(v)}" for a, v in accs.items()))
    fig = shown(
        "001 exercise 3: other activations",
        "exercise (no figure)",
        ", ".join(f"{a} {pct(v)}" for a, v in accs.items()) + " held-out",
        value=min(accs.values()),
    )
    note = (
        "Exercise 3, other activations: the same 3-unit network with tanh, relu and sigmoid "
        "hidden units (the library differentiates each; no backward pass to rewrite). Held-out "
        "accuracy: " + ", ".join(f"{a} {pct(v)}" for a, v in accs.items()) + "."
    )
    return fig, path, note


def three_moons(n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three interleaved half circles: moons' two classes plus the upper moon shifted by (2, 0).

    Class 0 is the upper moon at x in [-1, 1], class 1 the lower moon at x in [0, 2] and class 2
    another upper moon at x in [1, 3]; the lower moon interleaves with both.

    Returns:
        ``(X, y)``: float64 ``(N, 2)`` and int64 ``(N,)`` in {0, 1, 2}, N about ``n_samples``.
    """
    per_class = n_samples // 3
    X_a, y_a = datasets.moons(2 * per_class, noise, seed=seed)
    X_b, y_b = datasets.moons(2 * per_class, noise, seed=seed + 10_000)
    X_c = X_b[y_b == 0] + np.array([2.0, 0.0])  # (per_class, 2)
    X = np.concatenate([X_a, X_c])
    y = np.concatenate([y_a, np.full(len(X_c), 2, dtype=np.int64)])
    order = np.random.default_rng(seed).permutation(len(y))
    return X[order], y[order]


def _exercise_three_classes(
    passes: int, seed: int, out_dir: Path, say: Reporter
) -> tuple[Figure, Path, str]:
    from sklearn.linear_model import LogisticRegression

    X, y = three_moons(300, NOISE, seed)
    X_test, y_test = three_moons(300, NOISE, seed + 1)
    logreg = LogisticRegression().fit(X, y)
    model = build_network((5,), n_classes=3, seed=seed)
    _fit(model, X, y, passes)
    acc_n, acc_l = accuracy(model, X_test, y_test), accuracy(logreg, X_test, y_test)
    path = image_path(out_dir, STUDY, "ex4_three_classes")
    plotting.plot_decision_boundary(
        model, X, y, X_test, y_test, path=path, resolution=150,
        title=f"Exercise 4: three moons, 2-5-3 softmax: held-out {pct(acc_n)}",
    )
    say(f"exercise 4 (three classes): {pct(acc_n)} (logistic regression {pct(acc_l)})")
    fig = shown(
        "001 exercise 4: three classes",
        "exercise (no figure)",
        f"2-5-3 softmax {pct(acc_n)} held-out (logistic regression {pct(acc_l)})",
        value=acc_n,
    )
    note = (
        f"Exercise 4, three classes: three interleaved moons (300 points, noise {NOISE:.2f}; "
        "the two moons plus a copy of the upper one shifted right; a fresh draw as held-out "
        "set), 2 → 5 → 3 softmax with the same loss and optimizer: held-out "
        f"{pct(acc_n)}, against {pct(acc_l)} for multinomial logistic regression."
    )
    return fig, path, note


def _exercise_fourth_layer(
    data: tuple[np.ndarray, ...], passes: int, seed: int, out_dir: Path, say: Reporter
) -> tuple[Figure, Path, str]:
    X, y, X_test, y_test = data
    shapes = [(3,), (3, 3), (5, 5), (10, 10)]
    models, titles, accs = [], [], {}
    for hidden in shapes:
        model = build_network(hidden, seed=seed)
        _fit(model, X, y, passes)
        label = "2-" + "-".join(map(str, hidden)) + "-2"
        accs[label] = accuracy(model, X_test, y_test)
        models.append(model)
        titles.append(f"{label}: held-out {pct(accs[label])}")
    path = image_path(out_dir, STUDY, "ex5_fourth_layer")
    plotting.plot_boundary_grid(
        models, X, y, titles, ncols=4, path=path, resolution=120,
        title="Exercise 5: a fourth layer (two hidden tanh layers)",
    )
    say("exercise 5 (fourth layer): " + ", ".join(f"{k} {pct(v)}" for k, v in accs.items()))
    best = max(accs, key=lambda k: accs[k])
    fig = shown(
        "001 exercise 5: a fourth layer",
        "exercise (no figure)",
        ", ".join(f"{k} {pct(v)}" for k, v in accs.items()) + " held-out",
        value=max(v for k, v in accs.items() if k.count("-") == 3),
    )
    note = (
        "Exercise 5, a fourth layer: two hidden tanh layers of several sizes beside the 3-layer "
        "network. Held-out accuracy: " + ", ".join(f"{k} {pct(v)}" for k, v in accs.items())
        + f" (best {best})."
    )
    return fig, path, note


@blas_single_threaded
def run(
    out_dir: Path, quick: bool = False, seed: int = 0, progress: Progress | None = None
) -> StudyResult:
    """Reproduce study 001: baseline vs network, the hidden-size grid and the five exercises.

    Args:
        out_dir: folder for the PNGs (created when missing).
        quick: train for 3 000 passes instead of the tutorial's 20 000.
        seed: ``make_moons`` ``random_state`` of the training set (``seed + 1`` for the
            held-out set) and the networks' seed.
        progress: receives one line per step.

    Returns:
        The :class:`StudyResult`.
    """
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = Reporter(STUDY, progress)
    passes = PASSES_QUICK if quick else PASSES_FULL

    X, y = datasets.moons(N_SAMPLES, NOISE, seed=seed, source="sklearn")
    X_test, y_test = datasets.moons(N_SAMPLES, NOISE, seed=seed + 1, source="sklearn")
    figures: list[Figure] = []
    images: list[Path] = []
    notes: list[str] = []

    with say.step("logistic regression"):
        logreg = LogisticRegression().fit(X, y)
        lr_train, lr_test = accuracy(logreg, X, y), accuracy(logreg, X_test, y_test)
        path = image_path(out_dir, STUDY, "logistic_regression")
        plotting.plot_decision_boundary(
            logreg, X, y, path=path,
            title=f"Logistic regression: train {pct(lr_train)}, held-out {pct(lr_test)}",
        )
        images.append(path)
    figures.append(shown(
        "001 logistic-regression baseline",
        "a straight boundary that cannot follow the moons",
        f"train {pct(lr_train)}, held-out {pct(lr_test)} ({path.name})",
        value=lr_train,
    ))

    with say.step(f"3-layer network, 3 tanh units, {passes} passes"):
        net = build_network((3,), seed=seed)
        _fit(net, X, y, passes)
        nn_train, nn_test = accuracy(net, X, y), accuracy(net, X_test, y_test)
        path = image_path(out_dir, STUDY, "network_hidden3")
        plotting.plot_decision_boundary(
            net, X, y, path=path,
            title=f"2-3-2 network: train {pct(nn_train)}, held-out {pct(nn_test)}",
        )
        images.append(path)
    figures.append(compared(
        "001 3-layer network vs logistic regression",
        "the network follows the moons; logistic regression does not",
        f"train {pct(nn_train)} vs {pct(lr_train)} (+{100 * (nn_train - lr_train):.1f} points); "
        f"held-out {pct(nn_test)} vs {pct(lr_test)}",
        value=100 * (nn_train - lr_train),
        target=MARGIN,
        tolerance=0.0,
    ))
    say(f"network train {pct(nn_train)} vs logistic regression {pct(lr_train)}")

    with say.step(f"hidden sizes {', '.join(map(str, HIDDEN_SIZES))}"):
        models, titles, rows = [], [], []
        for n_h in HIDDEN_SIZES:
            model = build_network((n_h,), seed=seed)
            _fit(model, X, y, passes)
            tr, te = accuracy(model, X, y), accuracy(model, X_test, y_test)
            rows.append((n_h, tr, te))
            models.append(model)
            titles.append(f"hidden {n_h}: train {pct(tr)}, held-out {pct(te)}")
        path = image_path(out_dir, STUDY, "hidden_sizes")
        plotting.plot_boundary_grid(
            models, X, y, titles, ncols=4, path=path, resolution=120,
            title="Decision boundary by hidden-layer size",
        )
        images.append(path)
    gap_small = np.mean([tr - te for n, tr, te in rows if n <= 5])
    gap_large = np.mean([tr - te for n, tr, te in rows if n >= 20])
    figures.append(shown(
        "001 decision boundaries for hidden sizes 1, 2, 3, 4, 5, 20, 50",
        "small sizes generalise, large sizes overfit",
        f"{path.name}; train-held-out gap {100 * gap_small:.1f} points (sizes 1-5) vs "
        f"{100 * gap_large:.1f} (20, 50)",
    ))

    exercise_data = (X, y, X_test, y_test)
    for i, runner in enumerate(
        (_exercise_minibatch, _exercise_annealing, _exercise_activations, None,
         _exercise_fourth_layer), start=1,
    ):
        with say.step(f"exercise {i}"):
            if runner is None:
                fig, path, note = _exercise_three_classes(passes, seed, out_dir, say)
            else:
                fig, path, note = runner(exercise_data, passes, seed, out_dir, say)
        figures.append(fig)
        images.append(path)
        notes.append(note)

    size_table = "\n".join(
        ["| hidden units | train | held-out |", "|---:|---:|---:|"]
        + [f"| {n} | {pct(tr)} | {pct(te)} |" for n, tr, te in rows]
    )
    intro = [
        f"Data: `make_moons({N_SAMPLES}, noise={NOISE:.2f}, random_state={seed})`; the tutorial "
        f"trains and plots on these 200 points only. We also score a second draw "
        f"(`random_state={seed + 1}`) as a held-out set, to put numbers on \"generalise\" and "
        "\"overfit\".",
        f"Network: 2 → n_h → 2, tanh, softmax output, weights `randn / sqrt(fan_in)`, zero "
        f"biases; loss: cross-entropy summed over the 200 points plus `{REG_LAMBDA / 2:g} * "
        f"sum(W²)` (the tutorial's `reg_lambda = {REG_LAMBDA}` in its gradient); batch gradient "
        f"descent, learning rate {LEARNING_RATE} on that summed loss; {passes} passes"
        + (" (quick; the tutorial runs 20 000)." if quick else " (as the tutorial)."),
        f"Baseline vs network: the 2-3-2 network reaches {pct(nn_train)} on the training points "
        f"against {pct(lr_train)} for logistic regression (held-out {pct(nn_test)} vs "
        f"{pct(lr_test)}). The figure passes when the network is at least {MARGIN:g} points "
        "better on the training set; the tutorial gives no numbers, only the two boundaries.",
        f"Hidden sizes: the mean train − held-out gap is {100 * gap_small:.1f} points for "
        f"sizes 1-5 and {100 * gap_large:.1f} for 20 and 50. "
        + (
            "The large networks overfit more, as the tutorial says."
            if gap_large - gap_small >= 0.01 else
            "With the L2 penalty the large networks overfit little on this draw: the "
            "tutorial's \"large sizes overfit\" is a visual claim about the boundaries, and "
            "our numbers do not show a clear effect."
        ) + "\n\n" + size_table,
        "The five exercises, each with its figure:",
    ]
    return StudyResult(
        study=STUDY,
        title=TITLE,
        figures=figures,
        images=images,
        notes="\n\n".join(intro + notes),
        seconds=time.perf_counter() - start,
    )
