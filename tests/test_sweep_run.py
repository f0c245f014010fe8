"""Running sweeps: recording in the run store, resuming, the command line, reports, and a real
SIGKILL of a real sweep process followed by a resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scratchnn import datasets
from scratchnn.cli.sweep import sweep as sweep_command
from scratchnn.models import saving
from scratchnn.runs import RunStore
from scratchnn.sweep.engine import history_epochs
from scratchnn.sweep.report import sweep_report
from scratchnn.sweep.runner import artifacts_dir, run_sweep
from scratchnn.sweep.spec import load_spec

SPEC = """\
[sweep]
name = "tiny"
history_points = 4

[data]
name = "moons"
n_samples = 120
noise = 0.2
seed = 0
source = "sklearn"

[model]
[[model.layers]]
class_name = "Dense"
units = 3
activation = "tanh"
input_dim = 2
kernel_initializer = { class_name = "RandomNormal", config = { stddev = 0.5 } }

[[model.layers]]
class_name = "Dense"
units = 1
activation = "sigmoid"

[compile]
optimizer = { name = "sgd", learning_rate = 0.5 }
loss = "binary_crossentropy"
metrics = ["accuracy"]

[fit]
batch_size = "full"
shuffle = false

[params]
n_h = { path = "model.layers[0].units", values = [1, 3] }
activation = { path = "model.layers[0].activation", values = ["tanh", "relu"] }
lr = { path = "compile.optimizer.learning_rate", values = [0.5, 1.0] }
epochs = { path = "fit.epochs", values = [5, 20] }

[report]
filter = "dev_acc > 0.5 and abs(train_acc - dev_acc) <= 0.2"
pick = "fit_time"
reference = { n_h = 3, activation = "tanh", lr = 1.0, epochs = 20 }

[report.holdout]
name = "moons"
n_samples = 50
noise = 0.2
seed = 1
source = "sklearn"
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC)
    return path


def finished(runs_dir: Path, sweep: str = "tiny") -> dict[str, str]:
    """``{trial_key: run id}`` of the finished trials (and a check that keys are unique)."""
    with RunStore(runs_dir) as store:
        runs = store.list_runs(sweep_id=sweep)
    keys = [r.trial_key for r in runs]
    assert len(keys) == len(set(keys)), "a trial was recorded twice"
    return {r.trial_key: r.id for r in runs if r.status == "finished"}


def test_a_sweep_records_every_trial_with_history_metrics_and_model(tmp_path, spec_file):
    spec = load_spec(spec_file)
    result = run_sweep(spec, tmp_path / "runs", executor="inline", progress=False)
    assert (result.total, result.recorded, result.skipped, result.failed) == (16, 16, 0, 0)
    with RunStore(tmp_path / "runs") as store:
        runs = {r.trial_key: r for r in store.list_runs(sweep_id="tiny")}
    assert set(runs) == {t.key for t in spec.trials}
    x_dev_check = None
    for trial in spec.trials:
        run = runs[trial.key]
        assert run.status == "finished" and run.name == "sweep:tiny"
        assert run.config["params"] == trial.params and run.config["trial"] == trial.config
        for column in ("train_loss", "dev_loss", "train_acc", "dev_acc"):
            assert 0 <= run.metrics[column] < 10
        assert run.metrics["epochs_run"] == trial.params["epochs"]
        assert run.metrics["diverged"] is False
        assert run.timings["fit_seconds"] > 0 and run.timings["engine"] == "population"
        epochs = trial.params["epochs"]
        assert list(run.epochs) == history_epochs(epochs, 4).tolist()
        assert set(run.history) == {"loss", "accuracy"}
        # the saved model reproduces the recorded dev accuracy
        model = saving.load_model(run.model_path)
        if x_dev_check is None:
            from scratchnn.sweep.engine import load_split

            _, _, x_dev_check, y_dev_check = load_split(trial.config["data"])
        logs = model.evaluate(x_dev_check, y_dev_check, return_dict=True)
        assert logs["accuracy"] == pytest.approx(run.metrics["dev_acc"])
    assert (artifacts_dir(result.store_path, "tiny") / "spec.toml").read_text() == SPEC


def test_running_again_skips_finished_trials_and_new_values_run_alone(tmp_path, spec_file):
    runs_dir = tmp_path / "runs"
    run_sweep(spec_file, runs_dir, executor="inline", progress=False)
    before = finished(runs_dir)
    again = run_sweep(spec_file, runs_dir, executor="inline", progress=False)
    assert (again.recorded, again.skipped) == (0, 16) and again.units == []
    assert finished(runs_dir) == before
    grown = SPEC.replace("values = [0.5, 1.0]", "values = [0.5, 1.0, 0.1]")
    more = run_sweep(grown, runs_dir, executor="inline", progress=False)
    assert (more.recorded, more.skipped) == (8, 16)
    after = finished(runs_dir)
    assert len(after) == 24 and all(after[k] == v for k, v in before.items())


def test_the_command_line_runs_and_reports(tmp_path, spec_file):
    runner = CliRunner()
    runs_dir = str(tmp_path / "runs")
    check = runner.invoke(sweep_command, ["run", str(spec_file), "--check", "--workers", "2"])
    assert check.exit_code == 0, check.output
    assert "16 trials" in check.output and "on 2 workers" in check.output
    assert "about < 0.1 s" in check.output  # tiny: never "estimated 0 s"
    result = runner.invoke(sweep_command, ["run", str(spec_file), "--runs-dir", runs_dir,
                                       "--executor", "inline"])
    assert result.exit_code == 0, result.output
    assert "16 trials recorded" in result.output
    assert "tiny: trials 16/16" in result.output and "best dev_acc=" in result.output
    out = tmp_path / "report"
    result = runner.invoke(sweep_command, [
        "report", "tiny", "--runs-dir", runs_dir, "--out", str(out), "--format", "html",
        "--sort", "-dev_acc", "--sort", "fit_time", "--top", "5",
    ])
    assert result.exit_code == 0, result.output
    assert "| n_h | activation | lr | epochs |" in result.output
    assert "Pick (least fit_time)" in result.output and "Reference: n_h=3" in result.output
    assert "holdout_acc" in result.output
    page = (out / "report.html").read_text()
    assert "<table>" in page and 'src="' in page
    assert (out / "accuracy_vs_time.png").stat().st_size > 1000
    assert (out / "train_vs_dev.png").stat().st_size > 1000
    # a report of the spec file finds the same sweep; a bad filter is refused with its reason
    result = runner.invoke(sweep_command, ["report", str(spec_file), "--runs-dir", runs_dir,
                                       "--filter", "dev_acc > 2"])
    assert result.exit_code == 0 and "0 of 16 trials pass" in result.output
    result = runner.invoke(sweep_command, ["report", "tiny", "--runs-dir", runs_dir,
                                       "--filter", "__import__('os').getcwd()"])
    assert result.exit_code != 0 and "only abs, min, max" in result.output


def test_a_bad_spec_fails_naming_its_line_before_any_trial(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace("values = [1, 3]", "values = []"))
    runs_dir = tmp_path / "runs"
    result = CliRunner().invoke(sweep_command, ["run", str(bad), "--runs-dir", str(runs_dir)])
    assert result.exit_code != 0
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1)
                if text.startswith("n_h"))
    assert f"{bad}:{line}: [params.n_h] values is empty" in result.output
    assert not runs_dir.exists()


def test_report_api_filters_sorts_picks_and_checks_fresh_data(tmp_path, spec_file):
    runs_dir = tmp_path / "runs"
    run_sweep(spec_file, runs_dir, executor="inline", progress=False)
    report = sweep_report("tiny", runs_dir, sort=["-dev_acc", "fit_time"])
    assert len(report.rows) == 16
    devs = [r["dev_acc"] for r in report.rows]
    assert devs == sorted(devs, reverse=True)
    passing = [r for r in report.rows
               if r["dev_acc"] > 0.5 and abs(r["train_acc"] - r["dev_acc"]) <= 0.2]
    assert report.passing == passing and report.filter.startswith("dev_acc > 0.5")
    assert report.pick is min(passing, key=lambda r: (r["fit_time"], -r["dev_acc"],
                                                      abs(r["train_acc"] - r["dev_acc"])))
    assert report.reference["n_h"] == 3 and report.reference["epochs"] == 20
    x, y = datasets.get("moons", n_samples=50, noise=0.2, seed=1, source="sklearn")
    model = saving.load_model(report.reference["_model_path"])
    expected = model.evaluate(x, y, return_dict=True)["accuracy"]
    assert report.holdout["reference"]["holdout_acc"] == pytest.approx(expected)
    text = report.to_markdown()
    assert "Fresh data (moons(n_samples=50" in text
    best = sweep_report("tiny", runs_dir, filter="activation == 'relu'", pick="-dev_acc")
    assert {r["activation"] for r in best.passing} == {"relu"}
    assert best.pick["dev_acc"] == max(r["dev_acc"] for r in best.passing)
    with pytest.raises(LookupError):
        sweep_report("no-such-sweep", runs_dir)


def children(pid: int) -> list[int]:
    """Pids of the processes whose parent is ``pid`` (from /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "scratchnn.cli.sweep", *args]


def test_module_entry_point_runs_with_worker_processes(tmp_path, spec_file):
    runs_dir = tmp_path / "runs"
    done = subprocess.run(_cli("run", str(spec_file), "--runs-dir", str(runs_dir),
                               "--workers", "2", "-q"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "16 trials recorded" in done.stdout
    assert len(finished(runs_dir)) == 16
    report = subprocess.run(_cli("report", "tiny", "--runs-dir", str(runs_dir), "--no-plots"),
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and "# Sweep tiny" in report.stdout


CHILD_SWEEP_STOPPED_AT = """
import sys, time
from scratchnn.sweep import runner
from scratchnn.cli.sweep import sweep

point, n = sys.argv[1], int(sys.argv[2])

def stop_here(at, recorded):
    if (at, recorded) == (point, n):
        print("stopped", at, recorded, flush=True)  # only printed at that point
        while True:  # wait there for the SIGKILL
            time.sleep(60)

runner._record_hook = stop_here
sweep(sys.argv[3:])
"""


@pytest.mark.parametrize("point", ["recorded", "started"])
def test_sigkill_mid_sweep_then_resume_loses_and_duplicates_nothing(tmp_path, spec_file, point):
    """A real sweep process with its workers, SIGKILLed at a named point, then run again.

    ``recorded``: right after its third trial is finished. ``started``: after three trials and
    the start of a fourth, whose run is left ``running`` with a dead writer. The child stops
    there through ``runner._record_hook`` and says so; the test checks the store is in that
    state before it kills it.
    """
    total = len(load_spec(spec_file).trials)  # 16
    runs_dir = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD_SWEEP_STOPPED_AT, point, "3", "run", str(spec_file),
         "--runs-dir", str(runs_dir), "--workers", "2", "--engine", "sequential", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.split() == ["stopped", point, "3"], line + process.stderr.read()
        # the kill lands at the named point: three trials finished, a fourth started or not
        with RunStore(runs_dir) as store:
            runs = store.list_runs(sweep_id="tiny")
        expected = ["finished"] * 3 + (["running"] if point == "started" else [])
        assert sorted(r.status for r in runs) == expected
        assert all(r.pid == process.pid for r in runs)
        workers = children(process.pid)
        assert workers or not sys.platform.startswith("linux"), "no worker processes seen"
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert process.stdout.read() == ""  # it never went on
    killed = finished(runs_dir)
    assert killed == {r.trial_key: r.id for r in runs if r.status == "finished"}
    resumed = run_sweep(spec_file, runs_dir, executor="processes", workers=2, progress=False)
    assert resumed.skipped == 3
    assert resumed.recorded == total - 3
    after = finished(runs_dir)
    assert len(after) == total
    assert all(after[k] == v for k, v in killed.items())  # kept, not re-run
    with RunStore(runs_dir) as store:
        assert len(store.list_runs(sweep_id="tiny")) == total  # no leftover runs
    # the orphaned workers of the killed sweep noticed and stopped by themselves
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


def test_weights_of_a_resumed_trial_equal_an_uninterrupted_run(tmp_path, spec_file):
    # determinism across runs is what makes resuming safe: same spec, same numbers
    a = tmp_path / "a"
    b = tmp_path / "b"
    run_sweep(spec_file, a, executor="inline", progress=False)
    run_sweep(spec_file, b, executor="inline", progress=False, engine="sequential")
    with RunStore(a) as sa, RunStore(b) as sb:
        ra = {r.trial_key: r for r in sa.list_runs(sweep_id="tiny")}
        rb = {r.trial_key: r for r in sb.list_runs(sweep_id="tiny")}
    for key, run in ra.items():
        wa = saving.load_model(run.model_path).get_weights()
        wb = saving.load_model(rb[key].model_path).get_weights()
        for x, y in zip(wa, wb, strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=1e-6)
        assert rb[key].timings["engine"] == "sequential"


def test_pick_ties_go_to_the_better_dev_metric_then_the_smaller_gap():
    from scratchnn.sweep.report import _pick

    rows = [
        {"n": 1, "fit_time": 0.5, "train_acc": 0.95, "dev_acc": 0.96},
        {"n": 2, "fit_time": 0.1, "train_acc": 0.949, "dev_acc": 0.9525},
        {"n": 3, "fit_time": 0.1, "train_acc": 0.950, "dev_acc": 0.9525},  # smaller gap
        {"n": 4, "fit_time": 0.1, "train_acc": 0.900, "dev_acc": 0.9500},
        {"n": 5, "fit_time": None, "train_acc": 0.99, "dev_acc": 0.99},  # no time: skipped
    ]
    columns = ["n", "fit_time", "train_acc", "dev_acc"]
    assert _pick(rows, "fit_time", columns, "dev_acc")["n"] == 3
    assert _pick(rows, "-fit_time", columns, "dev_acc")["n"] == 1
    assert _pick(rows, "-dev_acc", columns, "dev_acc")["n"] == 5
    assert _pick(rows, "fit_time * 10 + n", columns)["n"] == 2  # 3.0 < 4.0 < 5.0 < 6.0


def test_an_error_metric_sweep_calls_the_lowest_value_best(tmp_path, capsys):
    """With metrics = ["mae"] the progress bar's "best" and the report's order are the lowest."""
    spec = load_spec(
        SPEC.replace('name = "moons"\nn_samples = 120', 'name = "plane"\nn_samples = 120', 1)
        .replace('seed = 0\nsource = "sklearn"', 'seed = 0\nscale = true', 1)
        .replace("values = [0.5, 1.0]", "values = [0.01, 0.1]")
        .replace('"binary_crossentropy"', '"mse"').replace('["accuracy"]', '["mae"]')
        .replace('activation = "sigmoid"', 'activation = "linear"')
        .replace("[report]", "[unused]").split("[unused]")[0]
    )
    run_sweep(spec, tmp_path / "runs", executor="inline", progress=True)
    with RunStore(tmp_path / "runs") as store:
        maes = [r.metrics["dev_mae"] for r in store.list_runs(sweep_id="tiny")]
    assert len(set(maes)) > 1
    err = capsys.readouterr().err
    shown = err.replace("\r", "\n").strip().splitlines()[-1]
    assert f"best dev_mae={min(maes):.4f}" in shown, shown
    assert " 100%|" in shown and "<00:00" in shown and "Warning" not in err  # ends at 100 %
    report = sweep_report("tiny", tmp_path / "runs")
    assert [row["dev_mae"] for row in report.rows] == sorted(maes)  # best first


def test_a_script_without_a_main_guard_fails_once_with_the_fix_in_the_message(tmp_path, spec_file):
    """Spawned workers import the script; unguarded, they die at start-up. The sweep raises at
    once (no retries), naming the guard, instead of returning a quiet count of failures."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from scratchnn.sweep import SweepFailedError, run_sweep\n"
        "try:\n"
        f"    run_sweep({str(spec_file)!r}, {str(tmp_path / 'runs')!r}, workers=2,\n"
        "              progress=False)\n"
        "except SweepFailedError as exc:\n"
        "    print('RAISED:', exc)\n"
    )
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    out = done.stdout.strip().splitlines()
    assert out and out[0].startswith("RAISED: every trial of sweep 'tiny' failed (16 of 16)"), (
        done.stdout, done.stderr[-2000:])
    assert 'if __name__ == "__main__":' in out[0]
    assert done.stderr.count("Traceback") <= 2  # one per worker, no retry storm
    with RunStore(tmp_path / "runs") as store:
        assert {r.status for r in store.list_runs(sweep_id="tiny")} == {"failed"}


def test_a_sweep_whose_every_trial_fails_raises_with_the_first_failure(tmp_path, spec_file):
    from scratchnn.sweep import SweepFailedError

    class Failing:
        workers = 1

        def run(self, units, on_event):
            for i, unit in enumerate(units):
                on_event(unit, "error", f"ValueError: broken unit {i}.")

    with pytest.raises(SweepFailedError, match=r"failed \(16 of 16\).*broken unit 0\.") as info:
        run_sweep(spec_file, tmp_path / "runs", executor=Failing(), progress=False)
    assert info.value.failed == 16 and info.value.first_error == "ValueError: broken unit 0."
