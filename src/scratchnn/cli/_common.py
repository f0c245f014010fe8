"""What every command shares: the errors shown as one line, option types, the run store options.

Commands raise ordinary exceptions for bad input (``ValueError``, ``FileNotFoundError``, the run
store's ``RunStoreError``); :class:`~scratchnn.cli.MainGroup` turns them into one ``Error: ...``
line. Nothing here catches them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from scratchnn.runs import RunStore, RunStoreError


class TrainingError(RuntimeError):
    """Training went wrong in a way the user can act on (say, the loss diverged)."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OSError,  # FileNotFoundError, PermissionError, IsADirectoryError, ...
    RunStoreError,
    TrainingError,
)
"""Exceptions that mean bad input or a bad environment: shown as one line, no traceback."""


def one_line(text: str) -> str:
    """``text`` on one line: runs of white space (newlines included) become one space."""
    return " ".join(str(text).split())


def describe_error(exc: BaseException) -> str:
    """The one-line message of a user error, e.g. ``No such file: 'x.csv'`` for an OSError.

        >>> describe_error(FileNotFoundError(2, "No such model file", "m.snn"))
        "No such model file: 'm.snn'"
    """
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return one_line(f"{exc.strerror}: {str(exc.filename)!r}")
    return one_line(str(exc)) or type(exc).__name__


class LayersType(click.ParamType):
    """``--layers 8,8``: hidden-layer sizes as comma-separated positive integers (``""``: none)."""

    name = "SIZES"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse ``"8,8"`` into ``(8, 8)``; fail with a message naming the bad value."""
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        if not text:
            return ()
        sizes = []
        for part in text.split(","):
            part = part.strip()
            if not part.isdigit() or int(part) < 1:
                self.fail(
                    f"expected comma-separated positive integers such as 8,8; received "
                    f"{value!r} ({part!r} is not a positive integer).",
                    param,
                    ctx,
                )
            sizes.append(int(part))
        return tuple(sizes)


LAYERS = LayersType()


def store_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--runs-dir`` and ``--lock-timeout`` (the run store's location and patience)."""
    command = click.option(
        "--lock-timeout",
        type=click.FloatRange(min=0),
        default=30.0,
        show_default=True,
        help="Seconds to wait for another process's write lock on the run store.",
    )(command)
    return click.option(
        "--runs-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Run store folder (or .sqlite file). Default: $SCRATCHNN_RUNS, else ./scratchnn-runs.",
    )(command)


def open_store(runs_dir: Path | None, lock_timeout: float) -> RunStore:
    """Open the run store at ``runs_dir`` (``None``: ``$SCRATCHNN_RUNS`` or the default)."""
    return RunStore(runs_dir, timeout=lock_timeout)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically: a temporary file, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fmt_number(value: Any, digits: int = 4) -> str:
    """A metric for a table: ``0.9125`` -> ``"0.9125"``, ``None`` -> ``"-"``, ints as they are."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != value:  # NaN
        return "nan"
    return f"{value:.{digits}g}"
