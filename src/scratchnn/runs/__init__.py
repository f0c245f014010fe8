"""The run store: an embedded SQLite database of training runs (``scratchnn.runs``).

``scratchnn train`` records each run here, ``scratchnn runs`` lists and shows them, and sweeps
record each trial as a run of their sweep. Plain Python: nothing here imports ``Tensor``.

    >>> import tempfile
    >>> from scratchnn.runs import RunStore
    >>> store = RunStore(tempfile.mkdtemp())
    >>> with store.run({"units": 32}, name="mlp") as run:
    ...     run.log_epoch(0, {"loss": 0.5})
    >>> store.get_run(run.id[:11]).status
    'finished'

See ``docs/run-store.md`` for the schema, the location rules and the concurrency guarantees.
"""

from scratchnn.runs.errors import (
    AmbiguousRunIdError,
    DatabaseLockedError,
    DuplicateTrialError,
    NotADatabaseError,
    RunNotFoundError,
    RunStateError,
    RunStoreError,
    SchemaTooNewError,
)
from scratchnn.runs.schema import SCHEMA_VERSION
from scratchnn.runs.store import (
    ENV_VAR,
    FAILED,
    FINISHED,
    INTERRUPTED,
    RUNNING,
    STATUSES,
    Run,
    RunHandle,
    RunStore,
    resolve_path,
)

__all__ = [
    "ENV_VAR",
    "FAILED",
    "FINISHED",
    "INTERRUPTED",
    "RUNNING",
    "SCHEMA_VERSION",
    "STATUSES",
    "AmbiguousRunIdError",
    "DatabaseLockedError",
    "DuplicateTrialError",
    "NotADatabaseError",
    "Run",
    "RunHandle",
    "RunNotFoundError",
    "RunStateError",
    "RunStore",
    "RunStoreError",
    "SchemaTooNewError",
    "resolve_path",
]
