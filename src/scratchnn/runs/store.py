"""The run store: one SQLite row per training run, with its config, history and results.

A run is ``running`` from :meth:`RunStore.start_run` until :meth:`~RunStore.finish_run`,
:meth:`~RunStore.fail_run` or :meth:`~RunStore.mark_interrupted` ends it; these are its only
transitions, and each end is final. Epochs are appended one row at a time, so logging an epoch
never rewrites the run. A run whose writer process died (``kill -9``, power loss) is found by
:meth:`~RunStore.reap_stale` and marked ``interrupted``.

    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> with store.run({"lr": 0.1, "epochs": 2}, name="demo") as run:
    ...     for epoch in range(2):
    ...         run.log_epoch(epoch, {"loss": 1.0 / (epoch + 1)})
    ...     run.set_result({"accuracy": 0.9})
    >>> done = store.get_run(run.id)
    >>> done.status, done.history, done.metrics
    ('finished', {'loss': [1.0, 0.5]}, {'accuracy': 0.9})

Where the database lives, first match wins: the ``path`` argument, then the ``SCRATCHNN_RUNS``
environment variable, then ``./scratchnn-runs/runs.sqlite`` (see :func:`resolve_path`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import operator
import os
import secrets
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

from scratchnn.runs.errors import (
    AmbiguousRunIdError,
    DuplicateTrialError,
    RunNotFoundError,
    RunStateError,
    RunStoreError,
)
from scratchnn.runs.schema import connect, sqlite_errors

RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
INTERRUPTED = "interrupted"
STATUSES = (RUNNING, FINISHED, FAILED, INTERRUPTED)
"""Every status a run can have; only ``running`` ever changes."""

ENV_VAR = "SCRATCHNN_RUNS"
"""Environment variable naming the run directory (or database file) when no path is passed."""

DEFAULT_DIR = "scratchnn-runs"
DB_NAME = "runs.sqlite"
_FILE_SUFFIXES = (".sqlite", ".sqlite3", ".db")

ORDER_KEYS = ("created_at", "started_at", "finished_at", "name", "status", "id")
"""Columns :meth:`RunStore.list_runs` sorts by; ``metrics.NAME`` and ``timings.NAME`` also work."""

_COLUMN_NAMES = (
    "id", "name", "status", "created_at", "started_at", "finished_at", "config", "metrics",
    "timings", "model_path", "version", "error", "pid", "hostname", "sweep_id", "trial_key",
)  # fmt: skip
_COLUMNS = ", ".join(_COLUMN_NAMES)


# ---------------------------------------------------------------------------------------------
# Where the database lives


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The absolute path of the run database that ``RunStore(path)`` opens.

    Precedence: ``path`` if given, else ``$SCRATCHNN_RUNS`` if set and non-empty, else
    ``./scratchnn-runs``. The chosen location is a *directory* holding ``runs.sqlite``, unless it
    ends in ``.sqlite``, ``.sqlite3`` or ``.db`` or is an existing file: then it is the database
    file itself.

        >>> resolve_path("/tmp/exp").as_posix()
        '/tmp/exp/runs.sqlite'
        >>> resolve_path("/tmp/exp/mine.db").as_posix()
        '/tmp/exp/mine.db'
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is None:
        return Path.cwd() / DEFAULT_DIR / DB_NAME
    location = Path(path).expanduser()
    if location.is_dir():
        return (location / DB_NAME).absolute()
    if location.suffix.lower() in _FILE_SUFFIXES or location.is_file():
        return location.absolute()
    return (location / DB_NAME).absolute()


# ---------------------------------------------------------------------------------------------
# Small helpers: time, ids, JSON, processes

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base 32, lower case


def _base32(value: int, width: int) -> str:
    """``value`` in Crockford base 32, left-padded with zeros to ``width`` digits."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        digits.append(_ID_ALPHABET[digit])
    return "".join(reversed(digits))


def new_run_id() -> str:
    """A fresh 13-character run id: 9 digits of milliseconds since 1970, then 4 random ones.

    Ids sort by creation time (to the millisecond) and use ``0-9a-z`` without ``i l o u``.

        >>> len(new_run_id())
        13
    """
    return _base32(time.time_ns() // 1_000_000, 9) + _base32(secrets.randbits(20), 4)


def _now() -> str:
    """The current UTC time as ISO 8601 text, to the microsecond (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _parse_time(text: str | None) -> datetime | None:
    """An ISO timestamp read back from the database."""
    return None if text is None else datetime.fromisoformat(text)


def _json_default(value: Any) -> Any:
    """JSON for what ``json`` does not know: NumPy scalars and arrays, paths."""
    tolist = getattr(value, "tolist", None)  # NumPy (and CuPy) scalars and arrays
    if callable(tolist):
        return tolist()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r:.80} is not JSON-serialisable")


def _to_json(value: Any, what: str) -> str:
    """``value`` as JSON text; a clear TypeError naming ``what`` when it cannot be."""
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be JSON-serialisable (numbers, strings, lists, dicts; NumPy arrays "
            f"and scalars are converted). {exc}."
        ) from exc


def _as_dict(value: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """``value`` as a plain dict (``None`` is empty); a TypeError for anything not a mapping."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict; received {type(value).__name__}: {value!r:.80}")
    return dict(value)


def _describe_error(error: BaseException | str) -> str:
    """The text stored for a failure: ``'ValueError: bad shape'`` or the string as given."""
    if isinstance(error, BaseException):
        message = str(error)
        return f"{type(error).__name__}: {message}" if message else type(error).__name__
    return str(error)


def _library_version() -> str:
    """scratchnn's version, without importing anything heavy."""
    module = sys.modules.get("scratchnn")
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        from importlib.metadata import version as dist_version

        return dist_version("scratchnn")
    except Exception:
        return "unknown"


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` on this machine still runs (zombies count as dead).

    Unknown pids (``None``, 0, negative) count as alive, so that nothing is reaped by mistake.

        >>> pid_alive(os.getpid())
        True
    """
    if pid is None or pid <= 0:
        return True
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to someone else
        return True
    try:  # Linux: a killed child its parent has not waited for is a zombie
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    """Windows: ask OpenProcess/GetExitCodeProcess (``os.kill`` would terminate the process)."""
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # ERROR_ACCESS_DENIED: exists, not ours
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


# ---------------------------------------------------------------------------------------------
# What a run looks like when read back


@dataclasses.dataclass(frozen=True)
class Run:
    """One run as read from the store, JSON columns parsed. Immutable; re-read to refresh.

    ``history`` maps each metric to its values in epoch order, aligned with ``epochs`` (a metric
    missing from some epoch reads ``None`` there), as Keras' ``History.history`` does.
    """

    id: str  # 13 characters, sorts by creation time
    name: str | None  # what the caller called it (e.g. a model or command name)
    status: str  # 'running' | 'finished' | 'failed' | 'interrupted'
    created_at: datetime  # UTC
    started_at: datetime | None  # UTC
    finished_at: datetime | None  # UTC; set by finish, fail and interrupt
    config: dict[str, Any]  # as passed to start_run
    history: dict[str, list[Any]]  # {metric: [value per logged epoch]}
    epochs: tuple[int, ...]  # the logged epoch numbers, ascending
    metrics: dict[str, Any]  # final metrics, from finish_run
    timings: dict[str, Any]  # e.g. {"fit_seconds": 12.5}
    model_path: str | None  # where the trained model was saved
    version: str | None  # scratchnn.__version__ of the writer
    error: str | None  # why a run failed or was interrupted
    pid: int | None  # the writer process ...
    hostname: str | None  # ... and its machine, for reap_stale
    sweep_id: str | None  # the sweep this run is a trial of
    trial_key: str | None  # the trial's key, unique within its sweep

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end, or ``None`` while the run has not ended."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data (timestamps as ISO text), e.g. for ``runs show --json``."""
        data = dataclasses.asdict(self)
        for key in ("created_at", "started_at", "finished_at"):
            data[key] = None if data[key] is None else data[key].isoformat()
        data["epochs"] = list(self.epochs)
        return data


def _history(rows: Iterable[tuple[int, str]]) -> tuple[tuple[int, ...], dict[str, list[Any]]]:
    """``(epochs, history)`` from ``(epoch, metrics JSON)`` rows in epoch order."""
    epochs: list[int] = []
    history: dict[str, list[Any]] = {}
    for position, (epoch, payload) in enumerate(rows):
        values = json.loads(payload)
        for key in values:
            if key not in history:
                history[key] = [None] * position
        for key, column in history.items():
            column.append(values.get(key))
        epochs.append(epoch)
    return tuple(epochs), history


def _make_run(row: Sequence[Any], epoch_rows: Iterable[tuple[int, str]]) -> Run:
    """A :class:`Run` from a row of ``_COLUMNS`` and its epoch rows."""
    (run_id, name, status, created, started, finished, config, metrics, timings,
     model_path, version, error, pid, hostname, sweep_id, trial_key) = row  # fmt: skip
    epochs, history = _history(epoch_rows)
    return Run(
        id=run_id,
        name=name,
        status=status,
        created_at=datetime.fromisoformat(created),
        started_at=_parse_time(started),
        finished_at=_parse_time(finished),
        config=json.loads(config),
        history=history,
        epochs=epochs,
        metrics=json.loads(metrics),
        timings=json.loads(timings),
        model_path=model_path,
        version=version,
        error=error,
        pid=pid,
        hostname=hostname,
        sweep_id=sweep_id,
        trial_key=trial_key,
    )


# ---------------------------------------------------------------------------------------------
# The handle that `RunStore.run` yields


class RunHandle:
    """The live run inside ``with store.run(...) as run:``; log epochs and set the result.

    On a clean exit the run is finished with what :meth:`set_result` recorded (empty metrics if
    it was never called) and ``timings["wall_seconds"]`` filled in unless given.
    """

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store = store
        self.id = run_id
        self.metrics: dict[str, Any] = {}
        self.timings: dict[str, Any] = {}
        self.model_path: str | os.PathLike[str] | None = None

    def __repr__(self) -> str:
        return f"RunHandle(id={self.id!r}, store={str(self.store.path)!r})"

    def log_epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """Record one epoch's metrics now (see :meth:`RunStore.log_epoch`)."""
        self.store.log_epoch(self.id, epoch, metrics)

    def set_result(
        self,
        metrics: Mapping[str, Any] | None = None,
        *,
        timings: Mapping[str, Any] | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Set the final metrics, timings and model path written when the ``with`` block ends.

        Values given here are merged into those set before; nothing is written until the end.
        """
        self.metrics.update(_as_dict(metrics, "metrics"))
        self.timings.update(_as_dict(timings, "timings"))
        if model_path is not None:
            self.model_path = model_path


# ---------------------------------------------------------------------------------------------
# The store


class RunStore:
    """An embedded SQLite database of training runs, safe for several processes at once.

    Args:
        path: a directory (holding ``runs.sqlite``) or a ``.sqlite``/``.db`` file. ``None``
            means ``$SCRATCHNN_RUNS``, else ``./scratchnn-runs`` (see :func:`resolve_path`).
        timeout: seconds to wait for another process's write lock before
            :class:`~scratchnn.runs.errors.DatabaseLockedError`.
        auto_reap: call :meth:`reap_stale` before every :meth:`get_run` and :meth:`list_runs`,
            so that runs whose writer died read ``interrupted``.

    Raises:
        NotADatabaseError: the file exists and is not SQLite.
        SchemaTooNewError: a newer scratchnn wrote the file.
        DatabaseLockedError: the file stayed locked for ``timeout`` seconds while opening.

    A store holds one connection; close it with :meth:`close` or use it as a context manager.
    It may be shared by threads (calls take turns) and pickled (the copy reopens the file), and
    after ``fork`` the child opens its own connection.

        >>> import tempfile
        >>> with RunStore(tempfile.mkdtemp()) as store:
        ...     run_id = store.start_run({"lr": 0.01}, name="mlp")
        ...     store.log_epoch(run_id, 0, {"loss": 0.7, "val_loss": 0.8})
        ...     store.finish_run(run_id, {"val_loss": 0.8}, timings={"fit_seconds": 1.5})
        ...     [(r.name, r.status) for r in store.list_runs()]
        [('mlp', 'finished')]
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        auto_reap: bool = True,
    ) -> None:
        if not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds; received timeout={timeout!r}.")
        self.path = resolve_path(path)
        self.timeout = float(timeout)
        self.auto_reap = auto_reap
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = connect(self.path, self.timeout)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "timeout": self.timeout, "auto_reap": self.auto_reap}

    def __setstate__(self, state: dict[str, Any]) -> None:
        RunStore.__init__(
            self, state["path"], timeout=state["timeout"], auto_reap=state["auto_reap"]
        )

    def close(self) -> None:
        """Close the connection; later calls reopen it. Closing twice is fine."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # --- plumbing ------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The open connection; a fresh one after ``close`` or in a forked child."""
        if self._conn is None or self._pid != os.getpid():
            # A connection inherited through fork must not be used (SQLite forbids it).
            self._conn = connect(self.path, self.timeout)
            self._pid = os.getpid()
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction; ``write`` takes the write lock up front (``BEGIN IMMEDIATE``).

        Taking it up front matters: a read transaction that later writes cannot wait for the
        lock in WAL mode and would fail at once with "database is locked".
        """
        with self._lock, sqlite_errors(self.path, self.timeout):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _not_found(self, run_id: str) -> RunNotFoundError:
        return RunNotFoundError(
            f"no run {run_id!r} in {self.path}; `scratchnn runs list` shows the runs there."
        )

    def _require_running(self, conn: sqlite3.Connection, run_id: str, action: str) -> None:
        """Raise unless ``run_id`` exists and is running (call inside a write transaction)."""
        row = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise self._not_found(run_id)
        if row[0] != RUNNING:
            raise RunStateError(
                f"cannot {action} run {run_id!r}: it is already {row[0]}, and a run's end is "
                "final. Start a new run instead."
            )

    def _epoch_rows(
        self, conn: sqlite3.Connection, run_ids: Sequence[str]
    ) -> dict[str, list[tuple[int, str]]]:
        """Every logged epoch of ``run_ids``, in epoch order, by run."""
        rows: dict[str, list[tuple[int, str]]] = {run_id: [] for run_id in run_ids}
        chunk = 500  # stay below SQLite's limit on bound parameters
        for start in range(0, len(run_ids), chunk):
            ids = run_ids[start : start + chunk]
            marks = ", ".join("?" * len(ids))
            for run_id, epoch, payload in conn.execute(
                f"SELECT run_id, epoch, metrics FROM epochs WHERE run_id IN ({marks}) "
                "ORDER BY run_id, epoch",
                tuple(ids),
            ):
                rows[run_id].append((epoch, payload))
        return rows

    # --- writing -----------------------------------------------------------------------------

    def start_run(
        self,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
        *,
        sweep_id: str | None = None,
        trial_key: str | None = None,
        restart: bool = False,
    ) -> str:
        """Record a new ``running`` run and return its id.

        Args:
            config: the run's settings (JSON-serialisable; NumPy values are converted).
            name: a label, e.g. the model or command.
            sweep_id: the sweep (group of runs) this run belongs to.
            trial_key: the trial's key within ``sweep_id``, e.g. ``"lr=0.1,units=32"``.
                At most one run per ``(sweep_id, trial_key)`` exists, ever.
            restart: if a run of this trial exists and is ``failed`` or ``interrupted`` (or is
                ``running`` but its writer on this machine is dead), delete it and start anew,
                atomically. A ``finished`` or live trial still raises.

        Raises:
            DuplicateTrialError: the trial has a run already; ``.existing`` is its id and
                ``.status`` its status. A resumed sweep skips it (or passes ``restart=True``).

            >>> import tempfile
            >>> store = RunStore(tempfile.mkdtemp())
            >>> run_id = store.start_run({"lr": 0.1}, sweep_id="s1", trial_key="lr=0.1")
            >>> store.start_run({}, sweep_id="s1", trial_key="lr=0.1")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            scratchnn.runs.errors.DuplicateTrialError: trial 'lr=0.1' of sweep 's1' ...
        """
        if trial_key is not None and sweep_id is None:
            raise ValueError(
                f"trial_key={trial_key!r} needs a sweep_id: a trial key is unique per sweep."
            )
        config_json = _to_json(_as_dict(config, "config"), "config")
        now = _now()
        host = socket.gethostname()
        with self._transaction(write=True) as conn:
            if sweep_id is not None and trial_key is not None:
                self._claim_trial(conn, sweep_id, trial_key, restart, host)
            for _ in range(16):
                run_id = new_run_id()
                try:
                    conn.execute(
                        "INSERT INTO runs (id, name, status, created_at, started_at, config, "
                        "version, pid, hostname, sweep_id, trial_key) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, name, RUNNING, now, now, config_json, _library_version(),
                         os.getpid(), host, sweep_id, trial_key),
                    )  # fmt: skip
                    return run_id
                except sqlite3.IntegrityError:
                    taken = conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,))
                    if taken.fetchone() is None:
                        raise
            raise RunStoreError("could not draw an unused run id in 16 tries")  # pragma: no cover

    def _claim_trial(
        self, conn: sqlite3.Connection, sweep_id: str, trial_key: str, restart: bool, host: str
    ) -> None:
        """Make room for the trial's run, or raise DuplicateTrialError (in a write transaction)."""
        row = conn.execute(
            "SELECT id, status, pid, hostname FROM runs WHERE sweep_id = ? AND trial_key = ?",
            (sweep_id, trial_key),
        ).fetchone()
        if row is None:
            return
        existing, status, pid, writer_host = row
        dead_writer = status == RUNNING and writer_host == host and not pid_alive(pid)
        if restart and (status in (FAILED, INTERRUPTED) or dead_writer):
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (existing,))
            conn.execute("DELETE FROM runs WHERE id = ?", (existing,))
            return
        hint = (
            "pass restart=True to run it again"
            if status in (FAILED, INTERRUPTED) or dead_writer
            else "a trial is recorded once"
        )
        raise DuplicateTrialError(
            f"trial {trial_key!r} of sweep {sweep_id!r} already has run {existing!r} "
            f"({status}) in {self.path}; {hint}.",
            existing=existing,
            status=status,
        )

    def log_epoch(self, run_id: str, epoch: int, metrics: Mapping[str, Any]) -> None:
        """Append one epoch's metrics to a running run (one row; nothing else is rewritten).

        Logging the same epoch again replaces its metrics (a resumed fit may repeat one).

        Args:
            run_id: the full run id.
            epoch: the epoch number, an integer >= 0, numbered as the training loop does.
            metrics: ``{name: value}``, e.g. ``{"loss": 0.31, "val_accuracy": 0.9}``.

        Raises:
            RunNotFoundError, RunStateError: no such run, or it has ended.
        """
        try:
            epoch = operator.index(epoch)
        except TypeError:
            raise TypeError(f"epoch must be an integer; received {epoch!r}.") from None
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0; received epoch={epoch}.")
        payload = _to_json(_as_dict(metrics, "metrics"), f"metrics of epoch {epoch}")
        with self._transaction(write=True) as conn:
            self._require_running(conn, run_id, "log an epoch to")
            conn.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, metrics, logged_at) "
                "VALUES (?, ?, ?, ?)",
                (run_id, epoch, payload, _now()),
            )

    def finish_run(
        self,
        run_id: str,
        metrics: Mapping[str, Any] | None = None,
        timings: Mapping[str, Any] | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Mark a running run ``finished`` with its final metrics, timings and model file.

        Args:
            run_id: the full run id.
            metrics: final metrics, e.g. ``{"test_accuracy": 0.97}``.
            timings: e.g. ``{"fit_seconds": 12.5, "epochs_per_second": 0.8}``.
            model_path: where the model was saved.

        Raises:
            RunNotFoundError, RunStateError: no such run, or it has ended.
        """
        self._end_with(run_id, FINISHED, None, metrics, timings, model_path, "finish")

    def _end_with(
        self, run_id: str, status: str, error: str | None, metrics: Mapping[str, Any] | None,
        timings: Mapping[str, Any] | None, model_path: str | os.PathLike[str] | None,
        action: str,
    ) -> None:  # fmt: skip
        """End a running run with ``status``, its results and model file (one transaction)."""
        metrics_json = _to_json(_as_dict(metrics, "metrics"), "metrics")
        timings_json = _to_json(_as_dict(timings, "timings"), "timings")
        path = None if model_path is None else os.fspath(model_path)
        with self._transaction(write=True) as conn:
            self._require_running(conn, run_id, action)
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ?, metrics = ?, "
                "timings = ?, model_path = ? WHERE id = ?",
                (status, _now(), error, metrics_json, timings_json, path, run_id),
            )

    def fail_run(self, run_id: str, error: BaseException | str) -> None:
        """Mark a running run ``failed``; ``error`` is stored as ``'TypeName: message'``.

        Raises:
            RunNotFoundError, RunStateError: no such run, or it has ended.
        """
        self._set_end(run_id, FAILED, _describe_error(error), "fail")

    def mark_interrupted(
        self,
        run_id: str,
        reason: str | None = None,
        *,
        metrics: Mapping[str, Any] | None = None,
        timings: Mapping[str, Any] | None = None,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Mark a running run ``interrupted`` (Ctrl-C, a killed worker), with an optional reason
        and what it left: metrics and timings so far, and the model saved when it stopped.

        Raises:
            RunNotFoundError, RunStateError: no such run, or it has ended.
        """
        if metrics is None and timings is None and model_path is None:
            self._set_end(run_id, INTERRUPTED, reason, "interrupt")
        else:
            self._end_with(run_id, INTERRUPTED, reason, metrics, timings, model_path, "interrupt")

    def _set_end(self, run_id: str, status: str, error: str | None, action: str) -> None:
        with self._transaction(write=True) as conn:
            self._require_running(conn, run_id, action)
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                (status, _now(), error, run_id),
            )

    def delete_run(self, run_id: str) -> None:
        """Delete a run and its epochs. Takes the full id (resolve prefixes with get_run).

        Raises:
            RunNotFoundError: no run has this id.
        """
        with self._transaction(write=True) as conn:
            conn.execute("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            if conn.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise self._not_found(run_id)

    def reap_stale(self) -> list[str]:
        """Mark ``interrupted`` the running runs whose writer on this machine has died.

        A run records its writer's pid and hostname; a run still ``running`` whose writer
        process on this host no longer exists (killed with SIGKILL, crashed, machine reboot)
        can never end by itself. Runs written on other hosts are left alone: their processes
        cannot be seen from here. Returns the ids it marked. Called by :meth:`get_run` and
        :meth:`list_runs` unless the store was opened with ``auto_reap=False``.

        Limitation: if the OS has already reused the dead writer's pid for a new process,
        the run stays ``running`` until that process ends too.
        """
        host = socket.gethostname()
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT id, pid FROM runs WHERE status = ? AND hostname = ?", (RUNNING, host)
            ).fetchall()
        dead = [(run_id, pid) for run_id, pid in rows if not pid_alive(pid)]
        if not dead:
            return []
        reaped = []
        with self._transaction(write=True) as conn:
            for run_id, pid in dead:
                reason = f"writer process {pid} on {host} ended without finishing the run"
                cursor = conn.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, error = ? "
                    "WHERE id = ? AND status = ? AND pid = ?",
                    (INTERRUPTED, _now(), reason, run_id, RUNNING, pid),
                )
                if cursor.rowcount:
                    reaped.append(run_id)
        return reaped

    @contextlib.contextmanager
    def run(
        self,
        config: Mapping[str, Any] | None = None,
        name: str | None = None,
        *,
        sweep_id: str | None = None,
        trial_key: str | None = None,
        restart: bool = False,
    ) -> Iterator[RunHandle]:
        """Start a run for the ``with`` block and end it by how the block ends.

        A clean exit finishes it (with :meth:`RunHandle.set_result`'s values); an exception
        marks it ``failed`` with the error; ``KeyboardInterrupt`` (and ``SystemExit``) mark it
        ``interrupted``, keeping what :meth:`RunHandle.set_result` recorded before (say, the
        model saved when Ctrl-C came). The exception always propagates. Arguments as for
        :meth:`start_run`.

            >>> import tempfile
            >>> store = RunStore(tempfile.mkdtemp())
            >>> with store.run({"lr": 10.0}) as run:
            ...     raise FloatingPointError("loss is nan")
            Traceback (most recent call last):
            ...
            FloatingPointError: loss is nan
            >>> store.get_run(run.id).status, store.get_run(run.id).error
            ('failed', 'FloatingPointError: loss is nan')
        """
        run_id = self.start_run(
            config, name, sweep_id=sweep_id, trial_key=trial_key, restart=restart
        )
        handle = RunHandle(self, run_id)
        started = time.perf_counter()
        try:
            yield handle
        except Exception as exc:
            self._record_end(exc, self.fail_run, run_id, exc)
            raise
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: keep what was set
            def interrupted(run_id: str, reason: str) -> None:
                self.mark_interrupted(run_id, reason, metrics=handle.metrics or None,
                                      timings=handle.timings or None,
                                      model_path=handle.model_path)  # fmt: skip

            self._record_end(exc, interrupted, run_id, _describe_error(exc))
            raise
        timings = dict(handle.timings)
        timings.setdefault("wall_seconds", time.perf_counter() - started)
        self.finish_run(run_id, handle.metrics, timings=timings, model_path=handle.model_path)

    def _record_end(
        self, exc: BaseException, record: Callable[[str, Any], None], run_id: str, detail: Any
    ) -> None:
        """Call ``record(run_id, detail)``; if that fails, note it on ``exc`` (never hide it)."""
        try:
            record(run_id, detail)
        except Exception as err:
            if hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(f"(and recording the run's end in {self.path} failed: {err})")

    # --- reading -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """The run with this id, or with this unique id prefix, or else this unique id suffix.

        Ids begin with their creation time, so runs made close together share a long prefix;
        their last four characters are random, so a short *suffix* (``runs show 7qp``) is often
        the quicker handle. A prefix is tried first; the suffix only when no id starts with it.

        Raises:
            RunNotFoundError: nothing matches.
            AmbiguousRunIdError: several runs match; ``.candidates`` lists some of them.
        """
        if not isinstance(run_id, str) or not run_id.strip():
            raise ValueError(f"run_id must be a non-empty string; received {run_id!r}.")
        run_id = run_id.strip()
        if self.auto_reap:
            self.reap_stale()
        with self._transaction(write=False) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                escaped = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                for pattern in (escaped + "%", "%" + escaped):
                    matches = conn.execute(
                        f"SELECT {_COLUMNS} FROM runs WHERE id LIKE ? ESCAPE '\\' "
                        "ORDER BY created_at, id LIMIT 6",
                        (pattern,),
                    ).fetchall()
                    if matches:
                        break
                if not matches:
                    raise self._not_found(run_id)
                if len(matches) > 1:
                    raise self._ambiguous(conn, run_id, pattern, matches)
                row = matches[0]
            epochs = self._epoch_rows(conn, [row[0]])[row[0]]
        return _make_run(row, epochs)

    def _ambiguous(
        self, conn: sqlite3.Connection, given: str, pattern: str, matches: list[Any]
    ) -> AmbiguousRunIdError:
        """The error for an id part that matches several runs, naming up to five of them."""
        total = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE id LIKE ? ESCAPE '\\'", (pattern,)
        ).fetchone()[0]
        shown = matches[:5]
        listed = "; ".join(
            f"{row[0]} ({', '.join(filter(None, [row[1], row[2], row[3][:16]]))})"
            for row in shown
        )
        more = f"; and {total - len(shown)} more" if total > len(shown) else ""
        where = "start" if pattern.endswith("%") else "end"
        return AmbiguousRunIdError(
            f"{total} runs in {self.path} have ids that {where} with {given!r}: {listed}{more}. "
            "Give more characters (an id's last four characters are random, so its end is "
            "often the shortest handle).",
            candidates=[row[0] for row in shown],
        )

    def find_trial(self, sweep_id: str, trial_key: str) -> Run | None:
        """The run of trial ``trial_key`` in sweep ``sweep_id``, or ``None`` if there is none."""
        if self.auto_reap:
            self.reap_stale()
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM runs WHERE sweep_id = ? AND trial_key = ?",
                (sweep_id, trial_key),
            ).fetchone()
            if row is None:
                return None
            epochs = self._epoch_rows(conn, [row[0]])[row[0]]
        return _make_run(row, epochs)

    def list_runs(
        self,
        status: str | Iterable[str] | None = None,
        sweep_id: str | None = None,
        *,
        name: str | None = None,
        limit: int | None = None,
        order_by: str = "-created_at",
    ) -> list[Run]:
        """Runs matching every filter given, sorted, with their histories.

        Args:
            status: one status or several, e.g. ``"finished"`` or ``("failed", "interrupted")``.
            sweep_id: only the trials of this sweep.
            name: only runs with this name.
            limit: at most this many runs (after sorting).
            order_by: a key of :data:`ORDER_KEYS`, or ``"metrics.NAME"`` / ``"timings.NAME"``
                to sort by a final metric or timing; prefix ``-`` for descending. Runs without
                the value (or with NaN or a non-number there) come last either way; ties go by
                creation time, in the same direction. Default: newest first.

            >>> import tempfile
            >>> store = RunStore(tempfile.mkdtemp())
            >>> for lr, loss in [(0.1, 0.3), (0.01, 0.2)]:
            ...     store.finish_run(store.start_run({"lr": lr}), {"val_loss": loss})
            >>> best = store.list_runs("finished", order_by="metrics.val_loss", limit=1)[0]
            >>> best.config
            {'lr': 0.01}
        """
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            unknown = [s for s in statuses if s not in STATUSES]
            if unknown or not statuses:
                raise ValueError(
                    f"status must be one of {', '.join(STATUSES)}; received {status!r}."
                )
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if sweep_id is not None:
            where.append("sweep_id = ?")
            params.append(sweep_id)
        if name is not None:
            where.append("name = ?")
            params.append(name)
        sql = f"SELECT {_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        column, field, descending = _parse_order(order_by)
        if limit is not None:
            limit = operator.index(limit)
            if limit < 0:
                raise ValueError(f"limit must be >= 0; received limit={limit}.")
        if field is None:  # a plain column: SQLite sorts and limits
            direction = " DESC" if descending else ""
            sql += (
                f" ORDER BY {column} IS NULL, {column}{direction}, "
                f"created_at{direction}, id{direction}"
            )
            if limit is not None:
                sql += f" LIMIT {limit}"
        if self.auto_reap:
            self.reap_stale()
        with self._transaction(write=False) as conn:
            rows = conn.execute(sql, params).fetchall()
            if field is not None:  # a JSON value: sorted here, as values may be NaN
                rows = _sort_by_json(rows, column, field, descending)[:limit]
            epochs = self._epoch_rows(conn, [row[0] for row in rows])
        return [_make_run(row, epochs[row[0]]) for row in rows]


def _parse_order(order_by: str) -> tuple[str, str | None, bool]:
    """``(column, json_field or None, descending)`` for a :meth:`RunStore.list_runs` order."""
    descending = order_by.startswith("-")
    key = order_by[1:] if descending else order_by
    column, _, field = key.partition(".")
    if column in ("metrics", "timings") and field:
        return column, field, descending
    if key in ORDER_KEYS:
        return key, None, descending
    raise ValueError(
        f"order_by must be one of {', '.join(ORDER_KEYS)}, or metrics.NAME or timings.NAME, "
        f"optionally prefixed with '-'; received order_by={order_by!r}."
    )


def _sort_by_json(rows: list[Any], column: str, field: str, descending: bool) -> list[Any]:
    """``rows`` sorted by the number at ``column[field]``; missing, NaN and non-numbers last."""
    index = _COLUMN_NAMES.index(column)
    by_age = operator.itemgetter(_COLUMN_NAMES.index("created_at"), _COLUMN_NAMES.index("id"))

    def key(row: Sequence[Any]) -> tuple[int, float]:
        value = json.loads(row[index]).get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return (1, 0.0)
        return (0, -value if descending else value)

    ordered = sorted(rows, key=by_age, reverse=descending)  # ties: by creation time
    return sorted(ordered, key=key)
