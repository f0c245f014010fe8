"""Tutorial 000's 420-run grid: the sweep runner vs one Sequential.fit per trial vs scikit-learn.

(a) the whole grid through ``run_sweep`` (processes on every core, populations, checkpoints,
    recording every trial with its history and model file in a fresh run store);
(b) one trial at a time through ``Sequential.fit`` (full batch, compiled without metrics, then
    train and dev accuracy with ``evaluate``): the cost of a step is measured on a sample, one
    fit of ``--sample-epochs`` epochs for each of the 21 (n_h, activation) pairs, and
    extrapolated to every trial's epochs (5 learning rates x 111 100 epochs per pair); also
    shown compiled with ``metrics=["accuracy"]`` (the per-epoch History the sweep records);
(c) scikit-learn's ``MLPClassifier`` on the same trials (solver "sgd", full batch, no momentum,
    no L2, constant learning rate), sampled and extrapolated the same way.

(a) is timed in full each repetition; (b) and (c) are sampled each repetition. The script prints
the medians and the ratios (b)/(a) and (c)/(a) of wall-clock time (the target), and of CPU time
(parent and worker processes for (a)), which other jobs on a shared machine disturb less. All on
one machine, in one run::

    python benchmarks/bench_sweep.py                     # 3 repetitions of everything
    python benchmarks/bench_sweep.py --repeats 1 --spec examples/sweeps/tutorial000_small.toml

With ``--baseline SRC`` (the ``src`` folder of another checkout, e.g. a git worktree of an
earlier commit), (a) is also run with that code, in a child process beside a child process of
this code, alternating, so that two versions of the sweep runner are compared in one run;
``--runner-only`` skips (b) and (c)::

    git worktree add /tmp/base 79cdec7   # the hand-written population engine
    python benchmarks/bench_sweep.py --baseline /tmp/base/src --runner-only --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

from scratchnn.sweep.engine import build_model, load_split
from scratchnn.sweep.runner import run_sweep
from scratchnn.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the sweep's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_sweep(spec_path: Path, workers: int | None) -> tuple[float, float]:
    """(a): wall and CPU seconds for the whole spec through run_sweep into a fresh store."""
    with tempfile.TemporaryDirectory() as runs:
        cpu = cpu_seconds()
        started = time.perf_counter()
        result = run_sweep(spec_path, runs, workers=workers, progress=False)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        assert result.recorded == result.total and result.failed == 0, result
    return seconds, cpu


_CHILD = """
import json, resource, sys, tempfile, time
from scratchnn.sweep.runner import run_sweep
def cpu():
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime
with tempfile.TemporaryDirectory() as runs:
    c0, t0 = cpu(), time.perf_counter()
    result = run_sweep(sys.argv[1], runs, workers=None if sys.argv[2] == "None" else
                       int(sys.argv[2]), progress=False)
    wall, used = time.perf_counter() - t0, cpu() - c0
    assert result.recorded == result.total and result.failed == 0, result
print(json.dumps({"wall": wall, "cpu": used}))
"""


def time_sweep_in(src: Path, spec_path: Path, workers: int | None) -> tuple[float, float]:
    """(a) with the code under ``src`` (a child process): wall and CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(spec_path), str(workers)],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return figures["wall"], figures["cpu"]


def compare_runners(args: argparse.Namespace) -> None:
    """(a) with this code and with ``--baseline`` code, alternating; medians and ratios."""
    this = ROOT / "src"
    rows = []
    for repeat in range(args.repeats):
        order = [("this", this), ("baseline", args.baseline)]
        if repeat % 2:
            order.reverse()  # alternate which runs first
        row = {"load_before": os.getloadavg()[0]}
        for label, src in order:
            row[label], row[f"{label}_cpu"] = time_sweep_in(src, args.spec, args.workers)
        rows.append(row)
        print(f"  repeat {repeat + 1}: this code {row['this']:7.1f} s (CPU {row['this_cpu']:6.1f}"
              f" s)   baseline {row['baseline']:7.1f} s (CPU {row['baseline_cpu']:6.1f} s)   "
              f"ratio {row['this'] / row['baseline']:.2f} (CPU "
              f"{row['this_cpu'] / row['baseline_cpu']:.2f})   load {row['load_before']:.1f}",
              flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"median wall: this code {med['this']:.1f} s, baseline {med['baseline']:.1f} s, "
          f"ratio {med['this'] / med['baseline']:.2f}; median of per-repeat ratios "
          f"{statistics.median(r['this'] / r['baseline'] for r in rows):.2f}")
    print(f"median CPU:  this code {med['this_cpu']:.1f} s, baseline {med['baseline_cpu']:.1f} s,"
          f" ratio {med['this_cpu'] / med['baseline_cpu']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"repeats": rows, "median": med}, indent=2))


def groups(spec_path: Path) -> dict[tuple, list]:
    """Trials by (hidden units, activation): the per-step cost does not depend on the rest."""
    out: dict[tuple, list] = defaultdict(list)
    for trial in load_spec(spec_path).trials:
        layer = trial.config["model"]["layers"][0]
        out[layer["units"], layer["activation"]].append(trial)
    return out


def sample_sequential(spec_path: Path, epochs: int, metrics: bool = False
                      ) -> tuple[float, float, float]:
    """(b): extrapolated wall and CPU seconds for every trial with Sequential.fit, and the
    seconds sampled. ``metrics``: compile with the spec's metrics (accuracy each epoch, the
    History the sweep records); by default none (the fastest fit, the conservative baseline)."""
    total, total_cpu, sampled = 0.0, 0.0, 0.0
    for trials in groups(spec_path).values():
        trial = trials[0]
        x_train, y_train, x_dev, y_dev = load_split(trial.config["data"])
        config = dict(trial.config)
        if not metrics:
            config["compile"] = {**config["compile"], "metrics": []}
        started, cpu = time.perf_counter(), time.process_time()
        model = build_model(config, x_train.shape[1])
        model.fit(x_train, y_train, batch_size=None, epochs=epochs, shuffle=False, verbose=0)
        model.evaluate(x_train, y_train)
        model.evaluate(x_dev, y_dev)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        sampled += seconds
        trial_epochs = sum(t.config["fit"]["epochs"] for t in trials)
        total += trial_epochs * seconds / epochs
        total_cpu += trial_epochs * cpu / epochs
    return total, total_cpu, sampled


def sample_sklearn(spec_path: Path, epochs: int) -> tuple[float, float, float]:
    """(c): extrapolated wall and CPU seconds for every trial with MLPClassifier, and the
    seconds sampled."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    names = {"tanh": "tanh", "sigmoid": "logistic", "relu": "relu"}
    total, total_cpu, sampled = 0.0, 0.0, 0.0
    for (units, activation), trials in groups(spec_path).items():
        trial = trials[0]
        x_train, y_train, x_dev, y_dev = load_split(trial.config["data"])
        clf = MLPClassifier(
            hidden_layer_sizes=(units,), activation=names[activation], solver="sgd",
            learning_rate="constant", learning_rate_init=0.6, momentum=0.0,
            nesterovs_momentum=False, alpha=0.0, batch_size=len(x_train), max_iter=epochs,
            shuffle=False, tol=0.0, n_iter_no_change=epochs + 1, random_state=0,
        )
        started, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x_train, y_train)
        clf.score(x_train, y_train)
        clf.score(x_dev, y_dev)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        sampled += seconds
        trial_epochs = sum(t.config["fit"]["epochs"] for t in trials)
        total += trial_epochs * seconds / epochs
        total_cpu += trial_epochs * cpu / epochs
    return total, total_cpu, sampled


def main() -> None:
    """Run the three measurements ``--repeats`` times and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "examples/sweeps/tutorial000.toml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-epochs", type=int, default=2000,
                        help="epochs of each sampled fit for (b) and (c)")
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="src folder of another checkout: compare its sweep runner with "
                             "this one, side by side")
    parser.add_argument("--runner-only", action="store_true",
                        help="with --baseline: only the runner comparison, no (b) and (c)")
    args = parser.parse_args()
    if args.baseline is not None:
        print(f"{args.spec.name}: sweep runner of this code vs {args.baseline}, "
              f"{args.repeats} repetitions, alternating")
        compare_runners(args)
        if args.runner_only:
            return

    spec = load_spec(args.spec)
    n_groups = len(groups(args.spec))
    print(f"{args.spec.name}: {len(spec.trials)} trials, "
          f"{sum(t.config['fit']['epochs'] for t in spec.trials):,} epochs in all; "
          f"{os.cpu_count()} cores; (b) and (c) sample {n_groups} fits of "
          f"{args.sample_epochs} epochs each")
    rows = []
    for repeat in range(args.repeats):
        load = os.getloadavg()[0]
        a_wall, a_cpu = time_sweep(args.spec, args.workers)
        b_wall, b_cpu, b_sampled = sample_sequential(args.spec, args.sample_epochs)
        bm_wall, _, _ = sample_sequential(args.spec, args.sample_epochs, metrics=True)
        c_wall, c_cpu, c_sampled = sample_sklearn(args.spec, args.sample_epochs)
        rows.append({"a": a_wall, "b": b_wall, "b_metrics": bm_wall, "c": c_wall,
                     "a_cpu": a_cpu, "b_cpu": b_cpu, "c_cpu": c_cpu, "load_before": load,
                     "load_after": os.getloadavg()[0]})
        print(f"  repeat {repeat + 1}: (a) sweep runner {a_wall:7.1f} s (CPU {a_cpu:6.1f} s)   "
              f"(b) Sequential.fit {b_wall:7.1f} s (CPU {b_cpu:6.1f} s; sampled "
              f"{b_sampled:.1f} s; with accuracy each epoch {bm_wall:.1f} s)   "
              f"(c) MLPClassifier {c_wall:7.1f} s (CPU {c_cpu:6.1f} s; sampled "
              f"{c_sampled:.1f} s)   load {load:.1f} -> {rows[-1]['load_after']:.1f}",
              flush=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"median wall: (a) {med['a']:.1f} s   (b) {med['b']:.1f} s (with accuracy "
          f"{med['b_metrics']:.1f} s)   (c) {med['c']:.1f} s   ratios (b)/(a) = "
          f"{med['b'] / med['a']:.1f}x (with accuracy {med['b_metrics'] / med['a']:.1f}x), "
          f"(c)/(a) = {med['c'] / med['a']:.1f}x")
    print(f"median CPU:  (a) {med['a_cpu']:.1f} s   (b) {med['b_cpu']:.1f} s   (c) "
          f"{med['c_cpu']:.1f} s   ratios (b)/(a) = {med['b_cpu'] / med['a_cpu']:.1f}x, "
          f"(c)/(a) = {med['c_cpu'] / med['a_cpu']:.1f}x")
    print("(wall-clock is the target; other jobs on the machine slow (a)'s two workers more than "
          "the single-process samples, which the load average shows)")
    if args.json:
        args.json.write_text(json.dumps({"repeats": rows, "median": med}, indent=2))


if __name__ == "__main__":
    main()
