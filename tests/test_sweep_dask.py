"""The Dask executor against a real ``distributed.LocalCluster`` (scheduler and worker processes
on 127.0.0.1), including a worker killed with SIGKILL in the middle of the sweep."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from scratchnn.runs import RunStore
from scratchnn.sweep.runner import run_sweep
from scratchnn.sweep.spec import load_spec

distributed = pytest.importorskip(
    "distributed", reason="the dask extra is not installed: pip install 'scratchnn[dask]'"
)

SPEC = """\
[sweep]
name = "dasky"
history_points = 3

[data]
name = "moons"
n_samples = 120
noise = 0.2
seed = 0

[model]
[[model.layers]]
class_name = "Dense"
units = 3
activation = "tanh"
input_dim = 2

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
n_h = { path = "model.layers[0].units", values = [1, 2, 3, 4] }
lr = { path = "compile.optimizer.learning_rate", values = [0.5, 1.0] }
epochs = { path = "fit.epochs", values = [100, EPOCHS] }
"""


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local, Client(local) as client:
        yield local, client


def finished_keys(runs_dir):
    with RunStore(runs_dir) as store:
        runs = store.list_runs(sweep_id="dasky")
    keys = [r.trial_key for r in runs]
    assert len(keys) == len(set(keys)), "a trial was recorded twice"
    return {r.trial_key for r in runs if r.status == "finished"}


def test_a_sweep_runs_on_a_dask_cluster(tmp_path, cluster):
    local, _ = cluster
    spec = load_spec(SPEC.replace("EPOCHS", "300"))
    result = run_sweep(spec, tmp_path / "runs", executor="dask",
                       scheduler=local.scheduler_address, progress=False)
    assert (result.recorded, result.failed) == (16, 0)
    assert finished_keys(tmp_path / "runs") == {t.key for t in spec.trials}


def test_a_worker_killed_mid_sweep_loses_no_trial(tmp_path, cluster):
    local, client = cluster
    # one member per task, trained with Sequential.fit: each task takes about a second
    spec = load_spec(SPEC.replace("EPOCHS", "1500"))
    outcome = {}

    def sweep():
        try:
            outcome["result"] = run_sweep(spec, tmp_path / "runs", executor="dask",
                                          scheduler=local.scheduler_address,
                                          engine="sequential", progress=False)
        except BaseException as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=sweep)
    thread.start()
    victim = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and victim is None:
        time.sleep(0.05)
        busy = [address for address, tasks in client.processing().items() if tasks]
        if busy:
            pids = client.run(os.getpid)
            victim = pids[busy[0]]
    assert victim is not None, "no task started"
    time.sleep(0.3)  # let the task get going
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result.failed == 0 and result.recorded == len(spec.trials) == 16
    assert finished_keys(tmp_path / "runs") == {t.key for t in spec.trials}
    # the killed worker is gone (its nanny started a new process): its task ran elsewhere
    assert victim not in client.run(os.getpid).values()
