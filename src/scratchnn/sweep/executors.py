"""Where work units run: in this process, in local worker processes, or on a Dask cluster.

Every executor calls ``on_event(unit, kind, payload)`` in the calling (parent) thread, with
``kind`` one of ``"result"`` (a :class:`~scratchnn.sweep.engine.TrialResult`), ``"progress"``
(the fraction of the unit done) or ``"error"`` (the unit failed; ``payload`` is the error text).
Only the parent writes to the run store: workers compute and send results back.

* :class:`InlineExecutor`: units one after another in this process.
* :class:`ProcessExecutor` (the default): a pool of ``spawn``-ed processes, one unit each at a
  time, results streamed back through a queue as each checkpoint is reached. A worker that dies
  breaks the pool; the pool is rebuilt and the unfinished units are submitted again (trials
  already recorded are skipped by the runner). Workers stop by themselves when the parent dies.
* :class:`DaskExecutor`: units as tasks on a ``dask.distributed`` cluster (``--scheduler
  tcp://HOST:PORT``); results come back with each task. Dask moves the tasks of a lost worker
  to the others; a task that still fails (``KilledWorker``) is submitted again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from scratchnn.sweep.engine import StopTraining, TrialResult
from scratchnn.sweep.plan import WorkUnit, parent_watch, run_unit

if TYPE_CHECKING:
    from distributed import Client

OnEvent = Callable[[WorkUnit | None, str, Any], None]
"""``on_event(unit, kind, payload)``, called in the parent for every result and progress."""

MAX_RETRIES = 3
"""How many times a unit whose worker died is submitted again."""


def _single_threaded_blas() -> None:
    """One BLAS thread per worker: the workers already fill the cores."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _collecting(unit: WorkUnit, should_stop: Callable[[], bool] | None = None
                ) -> list[tuple[str, Any]]:
    """Run a unit and return its events (for executors that cannot stream)."""
    events: list[tuple[str, Any]] = []
    run_unit(unit, lambda kind, payload: events.append((kind, payload)), should_stop)
    return [e for e in events if e[0] == "result"]


class InlineExecutor:
    """Runs the units one after another in this process (no worker processes)."""

    name = "inline"
    workers = 1

    def run(self, units: Sequence[WorkUnit], on_event: OnEvent) -> None:
        """Train every unit, calling ``on_event`` as results come."""
        for unit in units:
            try:
                run_unit(unit, functools.partial(on_event, unit))
            except (KeyboardInterrupt, StopTraining):
                raise
            except Exception as exc:  # a unit that fails must not stop the others
                on_event(unit, "error", f"{type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------- processes
_EVENTS: Any = None
_PARENT: int | None = None


def _init_worker(events: Any, parent: int) -> None:
    """Worker start-up: remember the event queue and the parent, one BLAS thread, and a watch
    that ends this process when the parent dies (killed sweeps leave no orphans behind, idle
    or busy)."""
    global _EVENTS, _PARENT
    _EVENTS, _PARENT = events, parent
    events.put(("", "started", os.getpid()))  # the parent now knows workers can start
    _single_threaded_blas()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Poll the parent pid; exit at once when this process has been re-parented."""
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _process_task(unit: WorkUnit) -> list[tuple[str, Any]]:
    """Run a unit in a worker; stream events to the parent, and return the results too."""
    results: list[tuple[str, Any]] = []

    def emit(kind: str, payload: Any) -> None:
        if kind == "result":
            results.append((kind, payload))
        _EVENTS.put((unit.id, kind, payload))

    run_unit(unit, emit, parent_watch(_PARENT) if _PARENT is not None else None)
    return results


NO_WORKER_STARTED = (
    "the worker processes died before they started any work. A script that calls run_sweep "
    'must call it under `if __name__ == "__main__":`, because each worker process imports the '
    "script (the workers' own error is printed above)."
)


class ProcessExecutor:
    """Runs units in ``workers`` spawned processes (default: one per core).

    Args:
        workers: number of processes; ``None`` is ``os.cpu_count()``.
    """

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def run(self, units: Sequence[WorkUnit], on_event: OnEvent) -> None:
        """Train every unit, calling ``on_event`` in this thread as results stream in."""
        context = multiprocessing.get_context("spawn")
        by_id = {u.id: u for u in units}
        todo = list(units)
        attempts = dict.fromkeys(by_id, 0)
        while todo:
            events = context.Queue()
            workers = min(self.workers, len(todo))
            pool = concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker,
                initargs=(events, os.getpid()),
            )
            broken: list[WorkUnit] = []
            clean = False
            heard = [False]  # did any worker of this pool get through its start-up?

            def relay(unit: WorkUnit | None, kind: str, payload: Any,
                      heard: list[bool] = heard) -> None:
                heard[0] = True
                if unit is not None:
                    on_event(unit, kind, payload)

            try:
                futures = {pool.submit(_process_task, u): u for u in todo}
                todo = []
                pending = set(futures)
                while pending:
                    self._drain(events, by_id, relay, timeout=0.2)
                    finished = {f for f in pending if f.done()}
                    for future in finished:
                        unit = futures[future]
                        pending.discard(future)
                        self._drain(events, by_id, relay, timeout=0.0)
                        try:
                            for kind, payload in future.result():
                                relay(unit, kind, payload)
                        except concurrent.futures.process.BrokenProcessPool:
                            broken.append(unit)
                        except Exception as exc:
                            relay(unit, "error", f"{type(exc).__name__}: {exc}")
                self._drain(events, by_id, relay, timeout=0.0)
                clean = not broken
            finally:
                if clean:  # every unit done: let the workers exit and reap them
                    pool.shutdown(wait=True)
                else:  # interrupted, or a worker died: stop the rest now
                    _terminate(pool)
                    pool.shutdown(wait=False, cancel_futures=True)
                events.close()
            if broken and not heard[0]:
                for unit in broken:  # no worker ever started: retrying would fail the same way
                    on_event(unit, "error", NO_WORKER_STARTED)
                return
            for unit in broken:
                attempts[unit.id] += 1
                if attempts[unit.id] > MAX_RETRIES:
                    on_event(unit, "error", f"its worker process died {MAX_RETRIES + 1} times")
                else:
                    todo.append(unit)

    @staticmethod
    def _drain(events: Any, by_id: dict[str, WorkUnit], on_event: OnEvent,
               timeout: float) -> None:
        """Hand every queued event to ``on_event``; wait up to ``timeout`` for the first."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0:
                    unit_id, kind, payload = events.get(timeout=remaining)
                else:
                    unit_id, kind, payload = events.get_nowait()
            except queue.Empty:
                return
            except Exception:  # pragma: no cover - a worker died while writing to the queue
                return  # its unit is submitted again; what it sent so far is recorded
            on_event(by_id.get(unit_id), kind, payload)  # "started" names no unit
            deadline = time.monotonic()


def _terminate(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop the pool's worker processes now (after an interrupt or a broken pool)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)


# ----------------------------------------------------------------------------------- dask
def _dask_task(unit: WorkUnit) -> list[tuple[str, Any]]:
    """Run a unit on a Dask worker and return its results."""
    _single_threaded_blas()
    return _collecting(unit)


class DaskExecutor:
    """Runs units as tasks on a ``dask.distributed`` cluster.

    Args:
        scheduler: the scheduler's address (``tcp://HOST:PORT``), or a ``distributed.Client``.
        workers: how many units to aim for (big populations are split until there are about
            this many); default 8.

    The workers need scratchnn installed (the same version) and their own access to the data
    sets named in the spec; results travel back to this process, which alone writes the run
    store.
    """

    name = "dask"

    def __init__(self, scheduler: str | Client, workers: int | None = None) -> None:
        self.scheduler = scheduler
        self.workers = max(1, int(workers or 8))

    def run(self, units: Sequence[WorkUnit], on_event: OnEvent) -> None:
        """Submit every unit and record results as tasks finish."""
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise ImportError(
                "the dask executor needs dask.distributed: pip install 'scratchnn[dask]'"
            ) from None
        own = not isinstance(self.scheduler, Client)
        client = self.scheduler if isinstance(self.scheduler, Client) else Client(self.scheduler)
        try:
            attempts = {u.id: 0 for u in units}
            run = uuid.uuid4().hex[:8]  # task keys unique to this run of the sweep
            futures = {client.submit(_dask_task, u, pure=False,
                                     key=f"scratchnn-{u.id}-{run}-0"): u for u in units}
            done = as_completed(list(futures))
            for future in done:
                unit = futures[future]
                try:
                    results = future.result()
                except Exception as exc:
                    attempts[unit.id] += 1
                    if attempts[unit.id] <= MAX_RETRIES and _lost_worker(exc):
                        retry = client.submit(
                            _dask_task, unit, pure=False,
                            key=f"scratchnn-{unit.id}-{run}-{attempts[unit.id]}",
                        )
                        futures[retry] = unit
                        done.add(retry)
                    else:
                        on_event(unit, "error", f"{type(exc).__name__}: {exc}")
                    continue
                for kind, payload in results:
                    on_event(unit, kind, payload)
                on_event(unit, "progress", 1.0)
        finally:
            if own:
                client.close()


def _lost_worker(exc: BaseException) -> bool:
    """Whether a task failed because its worker died (as opposed to raising)."""
    return type(exc).__name__ in ("KilledWorker", "CommClosedError", "FutureCancelledError")


ExecutorName: TypeAlias = Literal["processes", "inline", "dask"]
"""The executors :func:`get_executor` makes by name."""


def get_executor(
    name: str, workers: int | None = None,
    scheduler: str | Client | None = None,
) -> InlineExecutor | ProcessExecutor | DaskExecutor:
    """The executor called ``name``: ``"processes"``, ``"inline"`` or ``"dask"``.

    Raises:
        ValueError: an unknown name, or ``"dask"`` without a scheduler.
    """
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "inline":
        return InlineExecutor()
    if name == "dask":
        if scheduler is None:
            raise ValueError("the dask executor needs a scheduler address: "
                             "--scheduler tcp://HOST:PORT")
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"executor must be 'processes', 'inline' or 'dask'; received {name!r}.")


__all__ = ["DaskExecutor", "InlineExecutor", "ProcessExecutor", "TrialResult", "get_executor"]
