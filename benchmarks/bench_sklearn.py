"""NeuralNetClassifier vs scikit-learn's MLPClassifier: same network, same budget, same data.

For each data set both estimators get the same hidden layers (ReLU), Adam with the same learning
rate, the same batch size and exactly the same number of epochs (no L2 term, no early stop: the
tolerance can never be met), on the same float32 rows. Test accuracy and fit wall-clock time
are reported side by side; fits alternate between the two, and the medians of ``--repeats``
rounds are shown, with the ratio MLPClassifier / NeuralNetClassifier of fit time (target >= 1.3
at equal or better accuracy).

Data sets: digits (scikit-learn's 8x8 digits, 1797 rows, standardised), churn (the packaged
bank-churn table, 11 encoded inputs, standardised), MNIST (``shared/datasets/mnist.npz``, 60 000
training and 10 000 test images scaled to [0, 1]).

    python benchmarks/bench_sklearn.py                   # the figure: 3 repetitions, full MNIST
    python benchmarks/bench_sklearn.py --quick           # short: 1 repetition, 5 000 MNIST rows
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common import MNIST, blas_info, limit_threads  # benchmarks/ is on sys.path as a script


@dataclass(frozen=True)
class Case:
    """One data set with the network and the budget both estimators get."""

    name: str
    hidden: tuple[int, ...]
    epochs: int
    batch: int
    lr: float


CASES = {
    "digits": Case("digits", (64,), epochs=50, batch=64, lr=1e-3),
    "churn": Case("churn", (16, 16), epochs=30, batch=64, lr=1e-3),
    "mnist": Case("mnist", (256,), epochs=10, batch=128, lr=1e-3),
}


def load(name: str, mnist_rows: int | None) -> tuple[np.ndarray, ...]:
    """``(x_train, x_test, y_train, y_test)`` as float32 features and int64 labels."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "mnist":
        if not MNIST.exists():
            raise SystemExit(f"MNIST is missing: {MNIST} not found (or leave mnist out of "
                             "--datasets).")
        with np.load(MNIST) as data:
            x_train = data["x_train"].reshape(-1, 784).astype(np.float32) / np.float32(255)
            x_test = data["x_test"].reshape(-1, 784).astype(np.float32) / np.float32(255)
            y_train, y_test = data["y_train"].astype(np.int64), data["y_test"].astype(np.int64)
        if mnist_rows is not None:  # a subset: test rows in MNIST's proportion, at least 1000
            n_test = max(1000, mnist_rows // 6)
            x_train, y_train = x_train[:mnist_rows], y_train[:mnist_rows]
            x_test, y_test = x_test[:n_test], y_test[:n_test]
        return x_train, x_test, y_train, y_test
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    else:
        from scratchnn.datasets import load_churn

        churn = load_churn()
        X, y = churn.X, churn.y
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)  # fmt: skip
    scaler = StandardScaler().fit(x_train)
    return (scaler.transform(x_train).astype(np.float32),
            scaler.transform(x_test).astype(np.float32), y_train, y_test)  # fmt: skip


def scratchnn_estimator(case: Case, seed: int) -> object:
    from scratchnn.sklearn import NeuralNetClassifier

    return NeuralNetClassifier(
        hidden_layer_sizes=case.hidden, activation="relu", optimizer="adam",
        learning_rate=case.lr, batch_size=case.batch, epochs=case.epochs, tol=0.0,
        n_iter_no_change=case.epochs + 1, random_state=seed,
    )  # fmt: skip


def sklearn_estimator(case: Case, seed: int) -> object:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=case.hidden, activation="relu", solver="adam", alpha=0.0,
        learning_rate_init=case.lr, batch_size=case.batch, max_iter=case.epochs, tol=0.0,
        n_iter_no_change=case.epochs + 1, random_state=seed,
    )  # fmt: skip


COMPETITORS: dict[str, Callable[[Case, int], object]] = {
    "scratchnn NeuralNetClassifier": scratchnn_estimator,
    "sklearn MLPClassifier": sklearn_estimator,
}


def run_case(case: Case, data: tuple[np.ndarray, ...], repeats: int) -> dict[str, dict]:
    """Fit each competitor ``repeats`` times (alternating); times, accuracies and epochs run."""
    from sklearn.exceptions import ConvergenceWarning

    x_train, x_test, y_train, y_test = data
    results = {name: {"seconds": [], "accuracy": [], "epochs": []} for name in COMPETITORS}
    names = list(COMPETITORS)
    for round_ in range(repeats):
        order = names[round_ % 2:] + names[: round_ % 2]
        for name in order:
            est = COMPETITORS[name](case, round_)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                est.fit(x_train, y_train)
                elapsed = time.perf_counter() - t0
            results[name]["seconds"].append(elapsed)
            results[name]["accuracy"].append(float(est.score(x_test, y_test)))
            results[name]["epochs"].append(int(est.n_iter_))
            time.sleep(0.2)
    return results


def main() -> None:
    """Run the cases and print a Markdown table per data set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fits per estimator and data set")
    parser.add_argument("--datasets", default="digits,churn,mnist",
                        help="comma-separated: digits, churn, mnist")
    parser.add_argument("--mnist-rows", type=int, default=None,
                        help="MNIST training rows (default: all 60 000)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="1 repetition and 5 000 MNIST rows (a check that the script works)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.mnist_rows = 1, args.mnist_rows or 5000
    limit_threads(args.threads)

    print("# NeuralNetClassifier vs MLPClassifier\n")
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}, NumPy "
          f"{np.__version__}; BLAS: {blas_info()}.")
    print(f"Each fit timed {args.repeats} time(s), alternating; medians shown. Same hidden "
          "layers (ReLU), Adam, learning rate, batch size and epochs for both; no L2, no early "
          "stop; float32 data.\n")
    verdicts = []
    for name in args.datasets.split(","):
        case = CASES[name.strip()]
        data = load(case.name, args.mnist_rows)
        results = run_case(case, data, args.repeats)
        n_train, n_test = len(data[0]), len(data[1])
        print(f"**{case.name}**: {n_train} training / {n_test} test rows, {data[0].shape[1]} "
              f"inputs, hidden {case.hidden}, {case.epochs} epochs, batch {case.batch}, "
              f"lr {case.lr:g}\n")
        print("| estimator | test accuracy | fit time (median) | min | max | epochs |")
        print("|---|---:|---:|---:|---:|---:|")
        for est_name, r in results.items():
            print(f"| {est_name} | {statistics.median(r['accuracy']):.4f} | "
                  f"{statistics.median(r['seconds']):.3g} s | {min(r['seconds']):.3g} s | "
                  f"{max(r['seconds']):.3g} s | {r['epochs'][0]} |")
        ours, theirs = (results[n] for n in COMPETITORS)
        speedup = statistics.median(theirs["seconds"]) / statistics.median(ours["seconds"])
        acc_gap = statistics.median(ours["accuracy"]) - statistics.median(theirs["accuracy"])
        met = speedup >= 1.3 and acc_gap >= -0.005
        verdicts.append((case.name, speedup, acc_gap, met))
        print(f"\nMLPClassifier / NeuralNetClassifier fit time: {speedup:.2f}x (target >= 1.3); "
              f"accuracy difference {acc_gap:+.4f}: {'MET' if met else 'NOT MET'}\n")
    print("Summary: " + "; ".join(
        f"{n} {s:.2f}x, accuracy {g:+.4f} {'MET' if m else 'NOT MET'}" for n, s, g, m in verdicts
    ))  # fmt: skip


if __name__ == "__main__":
    main()
