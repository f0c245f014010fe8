"""Study 003: a perceptron cannot fit moons; one hidden layer can (Spanish, stackabuse.com).

The tutorial draws ``make_moons(100, noise=0.10)`` after ``np.random.seed(0)``, trains a
perceptron (2 -> 1 sigmoid with a bias, ``np.random.seed(42)`` then ``rand`` weights, lr 0.5) on
the summed error ``Σ ½ (z - y)²`` and finds it "will not go below ~4.17"; a 2 -> 4 -> 1 sigmoid
network without biases (``rand`` weights, lr 0.5, same error) gets to **~1.50**. Both loops run
200 000 full-batch epochs.

Here both are :class:`~scratchnn.Sequential` models trained with ``fit(batch_size=None)`` on
``MeanSquaredError(reduction="sum")`` with ``loss_weights=0.5`` (the summed ½-squared error,
whose gradient is the tutorial's ``z - y``), and SGD at 0.5. The initial weights are the
tutorial's own numbers: ``RandomState(42).rand`` for the perceptron and, for the hidden-layer
network (whose script draws after ``make_moons`` from the stream seeded with 0), the next
``rand`` draws of ``RandomState(0)`` after the same ``make_moons`` call. They are passed with
``set_weights``; nothing is seeded globally.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from scratchnn import datasets, losses, plotting
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
    plot_curves,
    shown,
)

STUDY = "003"
TITLE = "Adding a hidden layer: perceptron vs 2-4-1 network on moons"

N_SAMPLES = 100
NOISE = 0.10
LEARNING_RATE = 0.5
EPOCHS_FULL = 200_000
PERCEPTRON_EPOCHS_QUICK = 2_000  # the plateau is reached within ~100 epochs
HIDDEN_EPOCHS_QUICK = 50_000
PERCEPTRON_TARGET = 4.17
PERCEPTRON_TOLERANCE = 0.1
HIDDEN_TARGET = 1.50
HIDDEN_TOLERANCE = 0.1


def tutorial_weights(seed: int) -> dict[str, list[np.ndarray]]:
    """The tutorial's initial weights, drawn from explicit ``RandomState`` objects.

    Args:
        seed: the data seed (the tutorial's ``np.random.seed(0)``); the perceptron's weights
            always come from ``RandomState(42)``, as in the tutorial.

    Returns:
        ``{"perceptron": [w (2, 1), b (1,)], "hidden": [wh (2, 4), wo (4, 1)]}``.
    """
    from sklearn.datasets import make_moons

    r42 = np.random.RandomState(42)
    perceptron = [r42.rand(2, 1), r42.rand(1)]
    stream = np.random.RandomState(seed)
    make_moons(N_SAMPLES, noise=NOISE, random_state=stream)  # advance it as the script did
    hidden = [stream.rand(2, 4), stream.rand(4, 1)]
    return {"perceptron": perceptron, "hidden": hidden}


def _compile(model: Sequential) -> Sequential:
    model.compile(
        optimizer=SGD(learning_rate=LEARNING_RATE),
        loss=losses.MeanSquaredError(reduction="sum"),
        loss_weights=0.5,
    )
    return model


def perceptron(weights: list[np.ndarray]) -> Sequential:
    """2 -> 1 sigmoid with a bias, set to ``weights``."""
    model = Sequential([Dense(1, activation="sigmoid", input_dim=2)], dtype="float64")
    model.set_weights(weights)
    return _compile(model)


def hidden_network(weights: list[np.ndarray]) -> Sequential:
    """2 -> 4 -> 1 sigmoid without biases, set to ``weights``."""
    model = Sequential(
        [
            Dense(4, activation="sigmoid", use_bias=False, input_dim=2),
            Dense(1, activation="sigmoid", use_bias=False),
        ],
        dtype="float64",
    )
    model.set_weights(weights)
    return _compile(model)


def summed_error(model: Sequential, X: np.ndarray, y: np.ndarray) -> float:
    """The tutorial's ``error_out.sum()``: ``Σ ½ (prediction - label)²``."""
    return float(0.5 * np.sum((model.predict(X)[:, 0] - y) ** 2))


@blas_single_threaded
def run(
    out_dir: Path, quick: bool = False, seed: int = 0, progress: Progress | None = None
) -> StudyResult:
    """Reproduce study 003: the perceptron's plateau and the hidden layer's lower error.

    Args:
        out_dir: folder for the PNGs (created when missing).
        quick: 2 000 perceptron epochs and 50 000 hidden-layer epochs instead of 200 000 each.
        seed: the data seed (``make_moons`` ``random_state``; the tutorial's is 0).
        progress: receives one line per step.

    Returns:
        The :class:`StudyResult`.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = Reporter(STUDY, progress)

    X, y = datasets.moons(N_SAMPLES, NOISE, seed=seed, source="sklearn")
    init = tutorial_weights(seed)
    p_epochs = PERCEPTRON_EPOCHS_QUICK if quick else EPOCHS_FULL
    h_epochs = HIDDEN_EPOCHS_QUICK if quick else EPOCHS_FULL

    with say.step(f"perceptron, {p_epochs} epochs"):
        single = perceptron(init["perceptron"])
        p_hist = single.fit(X, y, batch_size=None, epochs=p_epochs, shuffle=False, verbose=0)
        p_error = summed_error(single, X, y)
    say(f"perceptron error {p_error:.4f} (tutorial ~4.17)")
    with say.step(f"2-4-1 network, {h_epochs} epochs"):
        hidden = hidden_network(init["hidden"])
        h_hist = hidden.fit(X, y, batch_size=None, epochs=h_epochs, shuffle=False, verbose=0)
        h_error = summed_error(hidden, X, y)
    say(f"hidden-layer error {h_error:.4f} (tutorial ~1.50)")

    figures: list[Figure] = [
        compared(
            "003 perceptron summed ½·squared error plateau",
            "~4.17 (will not go lower)",
            f"{p_error:.3f} after {p_epochs} epochs",
            p_error, PERCEPTRON_TARGET, PERCEPTRON_TOLERANCE, higher_is_better=None,
        ),
        compared(
            "003 one hidden layer (2-4-1) summed ½·squared error",
            "~1.50",
            f"{h_error:.3f} after {h_epochs} epochs",
            h_error, HIDDEN_TARGET, HIDDEN_TOLERANCE, higher_is_better=False,
        ),
    ]
    images = []
    with say.step("plots"):
        path = image_path(out_dir, STUDY, "error_curves")
        plot_curves(
            {f"perceptron (2-1), {p_epochs} epochs": p_hist.history["loss"],
             f"one hidden layer (2-4-1), {h_epochs} epochs": h_hist.history["loss"]},
            path, "Summed ½·squared error per epoch (before each update)",
            ylabel="Σ ½ (prediction − label)²", logy=True, logx=True,
        )
        images.append(path)
        path_b = image_path(out_dir, STUDY, "boundaries")
        plotting.plot_boundary_grid(
            [single, hidden], X, y,
            [f"perceptron: error {p_error:.2f}", f"2-4-1 network: error {h_error:.2f}"],
            path=path_b, resolution=150, title="make_moons(100, noise=0.10)",
        )
        images.append(path_b)
    figures.append(shown(
        "003 error curves and boundaries",
        "printed error per epoch",
        f"{path.name}, {path_b.name}",
    ))

    notes = "\n\n".join([
        f"Data: `make_moons({N_SAMPLES}, noise={NOISE:.2f}, random_state={seed})`, the same "
        "points as the tutorial's `np.random.seed(0)` followed by `make_moons` (for seed 0). "
        "Initial weights: the tutorial's numbers, from explicit `RandomState` objects (see the "
        "module docstring), set with `set_weights`."
        + ("" if seed == 0 else
           f" **Seed {seed} is not the tutorial's**: other points and other starting weights, "
           "so its figures need not hold (with seed 1 the 2-4-1 network stays near 4.3)."),
        f"Perceptron: {p_error:.4f} after {p_epochs} epochs (tutorial \"will not go below "
        f"4.17\"; tolerance ±{PERCEPTRON_TOLERANCE}). The plateau is reached within about 100 "
        "epochs. The small difference is the tutorial's: its script multiplies the error by "
        "`sigmoid_der(z)` where `z` is already `sigmoid(XW + b)`, so it descends along a "
        "slightly wrong direction and settles at 4.179; the exact gradient (the library's "
        "autodiff) reaches the true minimum of the same error, 4.149.",
        f"One hidden layer: {h_error:.4f} after {h_epochs} epochs (tutorial ~1.50; tolerance "
        f"±{HIDDEN_TOLERANCE}, lower is better). "
        + (
            "Quick mode stops at 50 000 epochs, where the error is still falling slowly "
            "(about 1.55; 1.51 at 100 000 and 1.503 at 200 000 epochs in our full run)."
            if quick else
            "This is the tutorial's full 200 000 epochs (its prose says 2000 once; after "
            "2000 epochs the error is still about 2.3)."
        ),
        "The hidden layer's error does not fall smoothly: it sits near 2.2-2.4 for thousands "
        "of epochs, with spikes where a step of 0.5 on the summed error overshoots, before the "
        "network finds the moons' curve. That stretch is sensitive to rounding: our run and a "
        "plain NumPy transcription of the tutorial's loop agree to 1e-12 for the first 1000 "
        "epochs and then drift apart (2.21 vs 2.29 at epoch 10 000), ending close together "
        "(1.55 at 50 000 epochs, 1.50 at 200 000).",
    ])
    return StudyResult(
        study=STUDY,
        title=TITLE,
        figures=figures,
        images=images,
        notes=notes,
        seconds=time.perf_counter() - start,
    )
