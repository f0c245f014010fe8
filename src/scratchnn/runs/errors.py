"""The exceptions of the run store. Every one is a :class:`RunStoreError`.

Each message names the database file and says what to do about it, so that ``scratchnn runs``
can print it as it is.
"""

from __future__ import annotations


class RunStoreError(Exception):
    """Base class of every error the run store raises on purpose."""


class NotADatabaseError(RunStoreError):
    """The file at the store's path exists but is not a SQLite database."""


class DatabaseLockedError(RunStoreError):
    """Another connection held the database's write lock for longer than the busy timeout."""


class SchemaTooNewError(RunStoreError):
    """The database was written by a newer scratchnn whose schema this one cannot read."""


class RunNotFoundError(RunStoreError, LookupError):
    """No run has the given id (or id prefix)."""


class AmbiguousRunIdError(RunStoreError, LookupError):
    """An id prefix matches more than one run; ``candidates`` holds their ids."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class DuplicateTrialError(RunStoreError):
    """A run for this ``(sweep_id, trial_key)`` exists already; ``existing`` holds its id."""

    def __init__(self, message: str, existing: str, status: str) -> None:
        super().__init__(message)
        self.existing = existing
        self.status = status


class RunStateError(RunStoreError):
    """The run is not in a state that allows the operation (e.g. logging to a finished run)."""
