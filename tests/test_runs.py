"""Tests for scratchnn.runs, the SQLite run store: real files, real processes, no mocks."""

from __future__ import annotations

import ast
import itertools
import json
import math
import os
import pickle
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path

import numpy as np
import pytest

import scratchnn
from scratchnn import runs
from scratchnn.runs import (
    AmbiguousRunIdError,
    DatabaseLockedError,
    DuplicateTrialError,
    NotADatabaseError,
    RunNotFoundError,
    RunStateError,
    RunStore,
    RunStoreError,
    SchemaTooNewError,
    resolve_path,
)
from scratchnn.runs import schema as runs_schema

SRC = Path(runs.__file__).parent


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "runs") as opened:
        yield opened


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


# --- where the database lives ------------------------------------------------------------------


def test_location_precedence_is_argument_then_env_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCRATCHNN_RUNS", raising=False)
    assert resolve_path() == tmp_path / "scratchnn-runs" / "runs.sqlite"
    monkeypatch.setenv("SCRATCHNN_RUNS", "")  # empty means unset
    assert resolve_path() == tmp_path / "scratchnn-runs" / "runs.sqlite"

    monkeypatch.setenv("SCRATCHNN_RUNS", str(tmp_path / "from-env"))
    assert resolve_path() == tmp_path / "from-env" / "runs.sqlite"
    assert resolve_path(tmp_path / "from-arg") == tmp_path / "from-arg" / "runs.sqlite"
    assert resolve_path("rel") == tmp_path / "rel" / "runs.sqlite"  # relative to cwd

    # A file name (by suffix, or an existing file) is the database itself.
    assert resolve_path(tmp_path / "x" / "mine.db") == tmp_path / "x" / "mine.db"
    (tmp_path / "plainfile").write_bytes(b"")
    assert resolve_path(tmp_path / "plainfile") == tmp_path / "plainfile"

    with RunStore() as env_store:
        env_store.start_run({"where": "env"})
    assert (tmp_path / "from-env" / "runs.sqlite").is_file()
    monkeypatch.delenv("SCRATCHNN_RUNS")
    with RunStore() as default_store:
        assert default_store.path == tmp_path / "scratchnn-runs" / "runs.sqlite"
    assert default_store.path.is_file()


def test_database_uses_wal_and_current_schema(store: RunStore) -> None:
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == runs.SCHEMA_VERSION == 2
    conn.close()


# --- one run's life ----------------------------------------------------------------------------


def test_start_log_finish_round_trip(store: RunStore, tmp_path: Path) -> None:
    config = {"lr": 0.1, "layers": [2, 8, 1], "optimizer": {"name": "adam"}}
    run_id = store.start_run(config, name="mlp")
    assert re.fullmatch(r"[0-9a-z]{13}", run_id)
    running = store.get_run(run_id)
    assert running.status == "running"
    assert running.finished_at is None and running.duration_seconds is None
    assert running.pid == os.getpid() and running.hostname == socket.gethostname()

    for epoch in range(3):
        store.log_epoch(run_id, epoch, {"loss": 1.0 / (epoch + 1), "acc": 0.5 + epoch / 10})
    store.finish_run(
        run_id, {"test_acc": 0.9}, timings={"fit_seconds": 1.25}, model_path=tmp_path / "m"
    )

    run = store.get_run(run_id)
    assert run.status == "finished"
    assert run.name == "mlp"
    assert run.config == config
    assert run.epochs == (0, 1, 2)
    assert run.history == {"loss": [1.0, 0.5, 1 / 3], "acc": [0.5, 0.6, 0.7]}
    assert run.metrics == {"test_acc": 0.9}
    assert run.timings == {"fit_seconds": 1.25}
    assert run.model_path == str(tmp_path / "m")
    assert run.version == scratchnn.__version__
    assert run.error is None and run.sweep_id is None and run.trial_key is None
    assert run.created_at.tzinfo == timezone.utc
    assert run.created_at <= run.started_at <= run.finished_at
    assert run.duration_seconds >= 0
    assert json.loads(json.dumps(run.to_dict()))["history"] == run.history


def test_history_aligns_metrics_missing_from_some_epochs(store: RunStore) -> None:
    run_id = store.start_run({})
    store.log_epoch(run_id, 1, {"loss": 0.5})
    store.log_epoch(run_id, 0, {"loss": 0.9})  # out of order: read back in epoch order
    store.log_epoch(run_id, 2, {"loss": 0.4, "val_loss": 0.6})
    store.log_epoch(run_id, 1, {"loss": 0.45})  # logging an epoch again replaces it
    run = store.get_run(run_id)
    assert run.epochs == (0, 1, 2)
    assert run.history == {"loss": [0.9, 0.45, 0.4], "val_loss": [None, None, 0.6]}


def test_numpy_values_and_nan_are_stored(store: RunStore) -> None:
    config = {"units": np.int64(32), "weights": np.arange(3), "lr": np.float32(0.5)}
    run_id = store.start_run(config)
    store.log_epoch(run_id, np.int64(0), {"loss": np.float64("nan"), "acc": np.float32(0.25)})
    store.finish_run(run_id, {"loss": float("inf")})
    run = store.get_run(run_id)
    assert run.config == {"units": 32, "weights": [0, 1, 2], "lr": 0.5}
    assert math.isnan(run.history["loss"][0]) and run.history["acc"] == [0.25]
    assert run.metrics == {"loss": math.inf}


def test_bad_arguments_are_refused_with_the_reason(store: RunStore) -> None:
    with pytest.raises(TypeError, match="config must be JSON-serialisable"):
        store.start_run({"callback": object()})
    with pytest.raises(TypeError, match="config must be a dict"):
        store.start_run([1, 2])
    run_id = store.start_run({})
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        store.log_epoch(run_id, -1, {"loss": 1.0})
    with pytest.raises(TypeError, match="epoch must be an integer"):
        store.log_epoch(run_id, 1.5, {"loss": 1.0})
    with pytest.raises(ValueError, match="needs a sweep_id"):
        store.start_run({}, trial_key="t")
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        RunStore(store.path, timeout=-1)
    assert store.get_run(run_id).epochs == ()  # nothing half-written


def test_an_ended_run_cannot_change(store: RunStore) -> None:
    run_id = store.start_run({})
    store.finish_run(run_id, {"acc": 1.0})
    with pytest.raises(RunStateError, match="already finished"):
        store.log_epoch(run_id, 0, {"loss": 1.0})
    with pytest.raises(RunStateError, match="already finished"):
        store.fail_run(run_id, "late")
    with pytest.raises(RunStateError):
        store.mark_interrupted(run_id)
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        store.finish_run("nope")
    assert store.get_run(run_id).metrics == {"acc": 1.0}


def test_fail_and_interrupt_record_the_reason(store: RunStore) -> None:
    failed = store.start_run({})
    store.fail_run(failed, ValueError("shapes (3,) and (4,) differ"))
    interrupted = store.start_run({})
    store.mark_interrupted(interrupted, "stopped by the user")
    assert store.get_run(failed).status == "failed"
    assert store.get_run(failed).error == "ValueError: shapes (3,) and (4,) differ"
    assert store.get_run(interrupted).status == "interrupted"
    assert store.get_run(interrupted).error == "stopped by the user"
    assert store.get_run(interrupted).finished_at is not None


def test_delete_run_removes_it_and_its_epochs(store: RunStore) -> None:
    run_id = store.start_run({})
    store.log_epoch(run_id, 0, {"loss": 1.0})
    keep = store.start_run({})
    store.delete_run(run_id)
    with pytest.raises(RunNotFoundError):
        store.get_run(run_id)
    with pytest.raises(RunNotFoundError):
        store.delete_run(run_id)
    assert [run.id for run in store.list_runs()] == [keep]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 0


# --- the context manager -----------------------------------------------------------------------


def test_run_context_finishes_on_success(store: RunStore) -> None:
    with store.run({"lr": 0.1}, name="ctx") as run:
        run.log_epoch(0, {"loss": 0.5})
        run.set_result({"acc": 0.8}, timings={"fit_seconds": 2.0}, model_path="m.safetensors")
        run.set_result({"f1": 0.7})  # merged
        assert store.get_run(run.id).status == "running"
    done = store.get_run(run.id)
    assert done.status == "finished"
    assert done.metrics == {"acc": 0.8, "f1": 0.7}
    assert done.timings["fit_seconds"] == 2.0 and done.timings["wall_seconds"] >= 0
    assert done.model_path == "m.safetensors"
    assert done.history == {"loss": [0.5]}


def test_run_context_marks_failed_and_reraises(store: RunStore) -> None:
    with pytest.raises(FloatingPointError, match="loss is nan"), store.run({}) as run:
        run.log_epoch(0, {"loss": float("nan")})
        raise FloatingPointError("loss is nan")
    failed = store.get_run(run.id)
    assert failed.status == "failed"
    assert failed.error == "FloatingPointError: loss is nan"
    assert failed.epochs == (0,)


def test_run_context_marks_keyboard_interrupt_as_interrupted(store: RunStore) -> None:
    with pytest.raises(KeyboardInterrupt), store.run({}) as run:
        raise KeyboardInterrupt
    assert store.get_run(run.id).status == "interrupted"
    assert store.get_run(run.id).error == "KeyboardInterrupt"
    # What the block set before the interrupt (the model saved on Ctrl-C) is kept.
    with pytest.raises(KeyboardInterrupt), store.run({}) as run:
        run.set_result(timings={"fit_seconds": 1.5}, model_path="m.snn")
        raise KeyboardInterrupt
    kept = store.get_run(run.id)
    assert (kept.status, kept.model_path, kept.timings) == ("interrupted", "m.snn",
                                                            {"fit_seconds": 1.5})


def test_run_context_keeps_the_original_error_if_recording_fails(store: RunStore) -> None:
    with pytest.raises(ZeroDivisionError) as info, store.run({}) as run:
        store.finish_run(run.id)  # ends the run behind the context's back
        _ = 1 / 0
    assert store.get_run(run.id).status == "finished"
    if sys.version_info >= (3, 11):
        assert "already finished" in info.value.__notes__[0]


# --- finding runs ------------------------------------------------------------------------------


def shortest_unique_prefix(run_id: str, others: list[str]) -> str:
    for length in range(1, len(run_id) + 1):
        if not any(other.startswith(run_id[:length]) for other in others if other != run_id):
            return run_id[:length]
    raise AssertionError("ids are unique")


def test_get_run_by_unique_prefix_and_ambiguous_prefix(store: RunStore) -> None:
    ids = [store.start_run({"i": i}, name=f"run{i}") for i in range(3)]
    prefix = shortest_unique_prefix(ids[1], ids)
    assert store.get_run(prefix).id == ids[1]
    assert store.get_run(ids[2]).config == {"i": 2}

    common = ids[0]
    while not all(run_id.startswith(common) for run_id in ids):
        common = common[:-1]
    assert common  # ids made within a second share their leading time digits
    with pytest.raises(AmbiguousRunIdError, match=r"3 runs .* start with") as info:
        store.get_run(common)
    assert sorted(info.value.candidates) == sorted(ids)
    assert all(run_id in str(info.value) for run_id in ids)
    assert str(store.path) in str(info.value) and "\n" not in str(info.value)

    # The random end of an id finds it too, when no id starts with those characters.
    suffix = next(ids[1][-k:] for k in range(1, 14)
                  if sum(i.endswith(ids[1][-k:]) for i in ids) == 1
                  and not any(i.startswith(ids[1][-k:]) for i in ids))
    assert store.get_run(suffix).id == ids[1]

    with pytest.raises(RunNotFoundError, match=re.escape(str(store.path))):
        store.get_run("zzzz")
    with pytest.raises(RunNotFoundError):
        store.get_run("%")  # LIKE wildcards are literal
    with pytest.raises(ValueError, match="non-empty"):
        store.get_run("")


def test_list_runs_filters_orders_and_limits(store: RunStore) -> None:
    results = {"a": 0.30, "b": 0.10, "c": float("nan"), "d": None, "e": 0.20}
    ids = {}
    for name, loss in results.items():
        ids[name] = store.start_run({"name": name}, name=name, sweep_id="s" if name < "c" else None)
        if loss is not None:
            store.finish_run(ids[name], {"val_loss": loss})
    store.fail_run(ids["d"], "boom")

    def names(**kwargs: object) -> list[str]:
        return [run.name for run in store.list_runs(**kwargs)]

    assert names() == ["e", "d", "c", "b", "a"]  # newest first
    assert names(order_by="created_at") == ["a", "b", "c", "d", "e"]
    assert names(order_by="metrics.val_loss") == ["b", "e", "a", "c", "d"]  # NaN, missing last
    assert names(order_by="-metrics.val_loss") == ["a", "e", "b", "d", "c"]  # ties: newest 1st
    assert names(order_by="metrics.val_loss", limit=2) == ["b", "e"]
    assert names(status="failed") == ["d"]
    assert names(status=("failed", "finished"), order_by="name") == ["a", "b", "c", "d", "e"]
    assert names(sweep_id="s", order_by="name") == ["a", "b"]
    assert names(name="c") == ["c"]
    assert names(limit=0) == []
    assert store.list_runs(order_by="name")[0].history == {}
    with pytest.raises(ValueError, match="order_by must be one of created_at"):
        store.list_runs(order_by="loss")
    with pytest.raises(ValueError, match="status must be one of running"):
        store.list_runs(status="done")


# --- sweeps: one run per trial -----------------------------------------------------------------


def test_a_trial_is_recorded_once(store: RunStore) -> None:
    first = store.start_run({"lr": 0.1}, sweep_id="s1", trial_key="lr=0.1")
    with pytest.raises(DuplicateTrialError, match="already has run") as info:
        store.start_run({"lr": 0.1}, sweep_id="s1", trial_key="lr=0.1")
    assert info.value.existing == first and info.value.status == "running"
    # The same key in another sweep, and runs without a trial key, are independent.
    store.start_run({"lr": 0.1}, sweep_id="s2", trial_key="lr=0.1")
    store.start_run({}, sweep_id="s1")
    store.start_run({}, sweep_id="s1")
    assert store.find_trial("s1", "lr=0.1").id == first
    assert store.find_trial("s1", "lr=9") is None

    # The database itself refuses a duplicate, whoever writes it.
    with sqlite3.connect(store.path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO runs (id, status, created_at, sweep_id, trial_key) "
            "VALUES ('x', 'running', '2024-01-01T00:00:00+00:00', 's1', 'lr=0.1')"
        )


def test_restart_replaces_only_failed_or_interrupted_trials(store: RunStore) -> None:
    failed = store.start_run({"try": 1}, sweep_id="s", trial_key="k")
    store.log_epoch(failed, 0, {"loss": 9.0})
    store.fail_run(failed, "diverged")
    with pytest.raises(DuplicateTrialError, match="restart=True"):
        store.start_run({"try": 2}, sweep_id="s", trial_key="k")
    again = store.start_run({"try": 2}, sweep_id="s", trial_key="k", restart=True)
    assert store.find_trial("s", "k").id == again
    assert [run.id for run in store.list_runs(sweep_id="s")] == [again]
    store.finish_run(again, {"acc": 1.0})
    with pytest.raises(DuplicateTrialError, match="finished"):
        store.start_run({"try": 3}, sweep_id="s", trial_key="k", restart=True)
    live = store.start_run({}, sweep_id="s", trial_key="live")
    with pytest.raises(DuplicateTrialError, match="running"):
        store.start_run({}, sweep_id="s", trial_key="live", restart=True)
    assert store.get_run(live).status == "running"


# --- runs whose writer died --------------------------------------------------------------------

HOLDER = """
import sys, time
from scratchnn.runs import RunStore
store = RunStore(sys.argv[1])
run_id = store.start_run({"holder": True}, name="victim")
store.log_epoch(run_id, 0, {"loss": 1.0})
print(run_id, flush=True)
time.sleep(60)
"""


def test_a_killed_writer_reads_as_interrupted(store: RunStore) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, "the holder process did not start a run"
        assert store.get_run(run_id).status == "running"  # alive: not reaped
    finally:
        proc.kill()  # SIGKILL: no chance to record anything
        proc.wait()
        proc.stdout.close()
    run = store.get_run(run_id)  # get_run reaps
    assert run.status == "interrupted"
    assert f"writer process {proc.pid}" in run.error
    assert run.history == {"loss": [1.0]}
    assert store.reap_stale() == []  # once


def test_reap_stale_leaves_live_and_foreign_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path, auto_reap=False)
    mine = store.start_run({})
    dead = store.start_run({})
    foreign = store.start_run({})
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE runs SET pid = ? WHERE id = ?", (int(gone.stdout), dead))
        conn.execute("UPDATE runs SET hostname = 'elsewhere', pid = 1 WHERE id = ?", (foreign,))
    assert store.get_run(dead).status == "running"  # auto_reap=False
    assert store.reap_stale() == [dead]
    assert [store.get_run(i).status for i in (mine, dead, foreign)] == [
        "running",
        "interrupted",
        "running",
    ]
    store.close()


# --- schema versions and migrations ------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, name TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
    config TEXT NOT NULL DEFAULT '{}', metrics TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}', model_path TEXT, version TEXT, error TEXT,
    pid INTEGER, hostname TEXT
);
CREATE TABLE epochs (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, metrics TEXT NOT NULL, logged_at TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
INSERT INTO runs VALUES ('0old0run0000a', 'legacy', 'finished', '2024-05-01T10:00:00+00:00',
    '2024-05-01T10:00:00+00:00', '2024-05-01T10:05:00+00:00', '{"lr": 0.5}', '{"acc": 0.75}',
    '{"fit_seconds": 300.0}', 'old.safetensors', '0.0.9', NULL, 4242, 'oldhost');
INSERT INTO epochs VALUES ('0old0run0000a', 0, '{"loss": 0.9}', '2024-05-01T10:01:00+00:00');
INSERT INTO epochs VALUES ('0old0run0000a', 1, '{"loss": 0.6}', '2024-05-01T10:02:00+00:00');
PRAGMA user_version = 1;
"""


def test_a_version_1_database_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    assert user_version(path) == 1

    with RunStore(path) as store:
        assert user_version(path) == 2
        old = store.get_run("0old")
        assert (old.name, old.status, old.config, old.metrics) == (
            "legacy",
            "finished",
            {"lr": 0.5},
            {"acc": 0.75},
        )
        assert old.history == {"loss": [0.9, 0.6]} and old.epochs == (0, 1)
        assert old.version == "0.0.9" and old.sweep_id is None and old.trial_key is None
        assert old.duration_seconds == 300.0
        new = store.start_run({}, sweep_id="s", trial_key="t")  # v2 columns work
        with pytest.raises(DuplicateTrialError):
            store.start_run({}, sweep_id="s", trial_key="t")
        assert {run.id for run in store.list_runs()} == {"0old0run0000a", new}
    with sqlite3.connect(path) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(runs)")}
    assert {"runs_sweep_trial", "runs_status", "runs_created"} <= indexes
    RunStore(path).close()  # opening a current database again changes nothing
    assert user_version(path) == 2


def test_a_failing_migration_leaves_the_database_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RunStore(tmp_path).close()

    def broken_v3(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration 3 failed")

    monkeypatch.setattr(runs_schema, "MIGRATIONS", [*runs_schema.MIGRATIONS, broken_v3])
    with pytest.raises(RuntimeError, match="migration 3 failed"):
        RunStore(tmp_path)
    path = tmp_path / "runs.sqlite"
    assert user_version(path) == 2
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables


def test_a_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 5")
    message = (
        f"{path} was written by a newer scratchnn (schema 5, this one reads up to 2); "
        "upgrade scratchnn or use another --runs-dir"
    )
    with pytest.raises(SchemaTooNewError, match=re.escape(message)):
        RunStore(tmp_path)
    assert user_version(path) == 5


def test_a_file_that_is_not_sqlite_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_text("these are my notes, not a database\n" * 50)
    with pytest.raises(NotADatabaseError, match=re.escape(f"{path} is not a SQLite database")):
        RunStore(path)
    assert path.read_text().startswith("these are my notes")
    assert issubclass(NotADatabaseError, RunStoreError)


def test_a_locked_database_is_reported_with_its_path(tmp_path: Path) -> None:
    store = RunStore(tmp_path, timeout=0.2)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    started = time.perf_counter()
    with pytest.raises(DatabaseLockedError, match=re.escape(str(store.path))):
        store.start_run({})
    # it waited out its 0.2 s busy timeout before refusing: a lower bound, which a loaded machine
    # can only exceed (no speed verdict); a store that refused at once would fail it
    assert time.perf_counter() - started >= 0.15
    assert store.list_runs() == []  # readers are not blocked in WAL mode
    blocker.execute("ROLLBACK")
    store.start_run({})  # the lock is gone, so is the error
    blocker.close()
    store.close()

    fresh = tmp_path / "fresh.sqlite"  # still empty: opening must migrate, and cannot
    blocker = sqlite3.connect(fresh, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    blocker.execute("CREATE TABLE mine (x)")
    with pytest.raises(DatabaseLockedError, match=re.escape(str(fresh))):
        RunStore(fresh, timeout=0.1)
    blocker.execute("ROLLBACK")
    blocker.close()


# --- several writers ---------------------------------------------------------------------------

WORKER = """
import json, sys, time
from pathlib import Path
from scratchnn.runs import DuplicateTrialError, RunStore

db, worker, n, epochs, ready, go, mode = sys.argv[1:]
worker, n, epochs = int(worker), int(n), int(epochs)
store = RunStore(db)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
done = []
for i in range(n):
    if mode == "runs":
        run_id = store.start_run({"worker": worker, "i": i}, name=f"w{worker}")
        for epoch in range(epochs):
            store.log_epoch(run_id, epoch, {"loss": worker * 1000 + i + epoch / 100})
        store.list_runs(limit=1)  # reads (and reaping) between the writes
        store.finish_run(run_id, {"worker": worker, "i": i})
        done.append(run_id)
    else:
        try:
            with store.run({"i": i}, sweep_id="sweep", trial_key=f"t{i}") as run:
                run.log_epoch(0, {"worker": worker})
            done.append(f"t{i}")
        except DuplicateTrialError:
            pass
print(json.dumps(done))
"""


def run_workers(
    tmp_path: Path, db: Path, processes: int, mode: str, n: int, epochs: int = 0
) -> list[list[str]]:
    """Run ``processes`` copies of WORKER against ``db``, released together; their outputs."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / f"go-{mode}"
    procs = []
    for w in range(processes):
        ready = tmp_path / f"ready-{mode}-{w}"
        args = [str(arg) for arg in (script, db, w, n, epochs, ready, go, mode)]
        procs.append(
            subprocess.Popen(
                [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    deadline = time.monotonic() + 20
    while not all((tmp_path / f"ready-{mode}-{w}").exists() for w in range(processes)):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.touch()  # all start writing at once
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    processes, n, epochs = 4, 12, 5
    db = tmp_path / "runs.sqlite"
    RunStore(db).close()
    outputs = run_workers(tmp_path, db, processes, "runs", n, epochs)

    with RunStore(db) as store:
        all_runs = store.list_runs()
    assert len(all_runs) == processes * n == len({run.id for run in all_runs})
    assert sorted(run.id for run in all_runs) == sorted(i for out in outputs for i in out)
    for run in all_runs:
        worker, i = run.config["worker"], run.config["i"]
        assert run.status == "finished"
        assert run.metrics == {"worker": worker, "i": i}
        assert run.epochs == tuple(range(epochs))
        assert run.history == {"loss": [worker * 1000 + i + e / 100 for e in range(epochs)]}
    assert {(run.config["worker"], run.config["i"]) for run in all_runs} == {
        (w, i) for w in range(processes) for i in range(n)
    }
    # The writers really overlapped: in creation order, the worker changes more often than
    # the processes - 1 times that running them one after another would give.
    workers = [run.config["worker"] for run in reversed(all_runs)]
    assert sum(a != b for a, b in itertools.pairwise(workers)) >= processes


def test_concurrent_sweep_workers_record_each_trial_once(tmp_path: Path) -> None:
    processes, trials = 3, 20
    db = tmp_path / "runs.sqlite"
    # The database does not exist yet: the workers also create and migrate it together.
    outputs = run_workers(tmp_path, db, processes, "sweep", trials)

    claimed = [key for out in outputs for key in out]
    assert sorted(claimed) == sorted(f"t{i}" for i in range(trials))  # each by one worker
    with RunStore(db) as store:
        sweep = store.list_runs(sweep_id="sweep")
    assert sorted(run.trial_key for run in sweep) == sorted(claimed)
    assert all(run.status == "finished" and len(run.epochs) == 1 for run in sweep)


def test_threads_can_share_one_store(store: RunStore) -> None:
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(10):
                with store.run({"thread": thread, "i": i}) as run:
                    run.log_epoch(0, {"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.list_runs(status="finished")) == 40


def test_a_store_pickles_by_path(store: RunStore) -> None:
    run_id = store.start_run({"a": 1})
    copy = pickle.loads(pickle.dumps(store))
    assert copy.path == store.path and copy is not store
    copy.finish_run(run_id)
    assert store.get_run(run_id).status == "finished"
    copy.close()
    copy.close()  # twice is fine
    assert copy.get_run(run_id).status == "finished"  # and it reopens


# --- the package's shape -----------------------------------------------------------------------


def test_run_store_imports_nothing_of_the_network() -> None:
    for source in SRC.glob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name == "scratchnn" or name.startswith("scratchnn."):
                    assert name.startswith("scratchnn.runs"), f"{source.name} imports {name}"
                assert name.split(".")[0] != "numpy", f"{source.name} imports numpy"


def test_every_public_name_has_a_docstring() -> None:
    for name in runs.__all__:
        obj = getattr(runs, name)
        if callable(obj):
            assert obj.__doc__, name
    for cls in (RunStore, runs.Run, runs.RunHandle):
        for attr, value in vars(cls).items():
            if callable(value) and not attr.startswith("_"):
                assert value.__doc__, f"{cls.__name__}.{attr}"
