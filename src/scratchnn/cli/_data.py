"""Data for the commands: numeric CSV files, the registry's data sets, and ``preprocess.json``.

``train`` fits a :class:`~sklearn.preprocessing.StandardScaler` on its training split and writes
its mean and scale, with the feature names, the target and the classes, to ``preprocess.json``
beside the model; ``predict`` reads that file back so new rows get exactly the same treatment.

Shape legend: N rows, D features, C columns of a CSV file.
"""

from __future__ import annotations

import array
import codecs
import csv
import errno
import inspect
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchnn._memory import available_memory
from scratchnn.cli._common import write_json

PREPROCESS_FILE = "preprocess.json"
PREPROCESS_FORMAT = "scratchnn.preprocess"
PREPROCESS_VERSION = 1
TASKS = ("binary", "multiclass", "regression")
MAX_PREPROCESS_BYTES = 16 * 2**20
"""Largest ``preprocess.json`` read (one mean and scale per feature: a few KB is usual)."""
MAX_AUTO_CLASSES = 20
"""A whole-number target with at most this many distinct values is read as class labels."""
MIN_ROWS = 20
"""Fewer rows than this make a training run meaningless (a handful of points per split)."""
SYNTHETIC_DEFAULTS: dict[str, dict[str, Any]] = {"moons": {"n_samples": 2000, "noise": 0.25}}
"""Data sets the command line draws differently from their loader's defaults: moons as tutorial
000 draws them (the loader's default, 100 noise-free points, is too easy to show anything)."""


def synthetic_defaults(name: str) -> dict[str, Any]:
    """``{"n_samples": ..., "noise": ...}`` a synthetic data set is drawn with by default:
    :data:`SYNTHETIC_DEFAULTS`, else its loader's own; ``{}`` for a fixed data set.

        >>> synthetic_defaults("moons"), synthetic_defaults("circles"), synthetic_defaults("digits")
        ({'n_samples': 2000, 'noise': 0.25}, {'n_samples': 500, 'noise': 0.0}, {})
    """
    from scratchnn import datasets

    if name not in datasets.DATASETS:
        return {}
    takes = inspect.signature(datasets.DATASETS[name]).parameters
    if "noise" not in takes or "n_samples" not in takes:
        return {}
    own = {key: takes[key].default for key in ("n_samples", "noise")}
    return {**own, **SYNTHETIC_DEFAULTS.get(name, {})}


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(
    path: str | os.PathLike[str], *, max_memory: int | None = None
) -> tuple[list[str], np.ndarray]:
    """Read a CSV file of numbers with a header row, streaming (:func:`read_labelled_csv`
    without a text column).

    Rows are turned into numbers as they are read, so memory holds 8 bytes per cell, never the
    text: a file of any size is read within ``max_memory`` or refused when its numbers outgrow it.

    Args:
        path: the file, UTF-8 text; the first row names the columns, every other cell is a number.
        max_memory: bytes the numbers may take; ``None``: a quarter of what this process may use
            (physical memory, or a lower address-space limit).

    Returns:
        ``(column names, (N, C) float64 array)``. Blank lines are skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, and the row, line or byte where it went wrong: binary data
            or text that is not UTF-8, no header or no rows, unnamed or repeated columns, a row
            of the wrong length, a missing, non-numeric or non-finite cell, a malformed line (a
            field over the csv module's size limit, e.g. an unclosed quote), or more numbers
            than ``max_memory`` holds.
    """
    header, data, _ = read_labelled_csv(path, None, max_memory=max_memory)
    return header, data


def read_labelled_csv(
    path: str | os.PathLike[str], text_column: str | int | None, *,
    max_memory: int | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray | None]:  # fmt: skip
    """:func:`read_csv`, where one column may hold text: class labels such as ``yes`` / ``no``.

    Args:
        path: the file, as for :func:`read_csv`.
        text_column: the column that may hold text, by name or position (``-1``: the last);
            ``None``: none.
        max_memory: as for :func:`read_csv`.

    Returns:
        ``(column names, (N, C) float64 array, labels)``. When the text column holds anything
        that is not a number, ``labels`` is its ``(N,)`` array of stripped strings and its
        column in the array is NaN; otherwise ``labels`` is ``None``.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_csv` (an empty label is a missing value).
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(errno.ENOENT, "No such CSV file", str(path))
    budget = "the limit given"
    if max_memory is None:
        available = available_memory()
        max_memory = available // 4 if available is not None else None
        budget = "a quarter of the memory this process may use"
    try:
        with source.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            try:
                header = _csv_header(next(reader, []), path)
                if isinstance(text_column, int) and -len(header) <= text_column < len(header):
                    text_column = header[text_column]
                text = header.index(text_column) if text_column in header else None
                values, lines, cells = _csv_rows(reader, header, path, max_memory, budget, text)
            except csv.Error as exc:
                raise ValueError(
                    f"{path}: line {reader.line_num} is not valid CSV ({exc}); check for an "
                    "unclosed quote."
                ) from None
    except UnicodeDecodeError:
        raise _encoding_error(source, path) from None
    if not lines:
        raise ValueError(f"{path} has a header but no data rows.")
    data = np.frombuffer(values, dtype=np.float64).reshape(len(lines), len(header))  # (N, C)
    labels = None
    finite = np.isfinite(data)
    if cells is not None and not all(_is_number(cell) for cell in cells):
        labels = np.array(cells, dtype=str)
        data = data.copy()
        data[:, text] = np.nan
        finite[:, text] = True
    bad = np.argwhere(~finite)
    if len(bad):
        r, c = (int(i) for i in bad[0])
        raise ValueError(
            f"{path}: row {r + 1} (line {lines[r]}), column {header[c]!r} holds "
            f"{float(data[r, c])}, not a finite number; every cell must be a number (fill or "
            "drop that row)."
        )
    return header, data, labels


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _csv_header(row: list[str], path: Any) -> list[str]:
    """The column names of a header row, checked."""
    header = [name.strip() for name in row]
    if not header:
        raise ValueError(f"{path} is empty; expected a header row naming the columns.")
    _refuse_binary(row, 0, 1, path)
    for i, name in enumerate(header):
        if not name:
            raise ValueError(f"{path}: column {i + 1} of the header row has no name.")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: the header repeats the column names {repeated}.")
    return header


def _csv_rows(
    reader: Any, header: list[str], path: Any, max_memory: int | None, budget: str,
    text: int | None = None,
) -> tuple[array.array, array.array, list[str] | None]:  # fmt: skip
    """The cells of every data row as float64 (row-major), each row's line number, and the
    stripped cells of column ``text`` (which may hold words: NaN among the numbers)."""
    values = array.array("d")
    lines = array.array("q")
    cells: list[str] | None = None if text is None else []
    width = len(header)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        number: int = len(lines) + 1
        _refuse_binary(row, number, reader.line_num, path)
        if len(row) != width:
            raise ValueError(
                f"{path}: row {number} (line {reader.line_num}) has {len(row)} cells; the header "
                f"has {width} columns."
            )
        if cells is not None and text is not None and row[text].strip():
            cells.append(row[text].strip())
            if not _is_number(row[text]):
                row = [*row[:text], "nan", *row[text + 1:]]
        for c, cell in enumerate(row):
            try:
                values.append(float(cell))
            except ValueError:
                shown = cell.strip()
                problem = f"holds {shown[:40]!r}, not a number" if shown else (
                    "is empty (a missing value)")
                raise ValueError(
                    f"{path}: row {number} (line {reader.line_num}), column {header[c]!r} "
                    f"{problem}; every cell must be a number (fill or drop that row)."
                ) from None
        lines.append(reader.line_num)
        if max_memory is not None and values.itemsize * len(values) > max_memory:
            raise ValueError(
                f"{path}: the numbers up to row {number} (line {reader.line_num}) already take "
                f"{values.itemsize * len(values):,} bytes, more than the {max_memory:,} bytes "
                f"allowed for a CSV table here ({budget}). Use a sample of the rows, or a "
                "machine with more memory."
            )
    return values, lines, cells


def _refuse_binary(row: list[str], number: int, line: int, path: Any) -> None:
    """A NUL character means binary data, not CSV text."""
    for cell in row:
        if "\x00" in cell:
            where = "the header row" if number == 0 else f"row {number}"
            raise ValueError(
                f"{path}: {where} (line {line}) holds a NUL byte: this is binary data, not CSV "
                "text. Pass a CSV file (a header row, then numbers)."
            )


def _encoding_error(source: Path, path: Any) -> ValueError:
    """The error for a file that is not UTF-8: its first bad byte and line (a streaming scan)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    with source.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 16)
            pending = len(decoder.getstate()[0])  # bytes of a character split across chunks
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                start = offset - pending + exc.start
                line = newlines + chunk.count(b"\n", 0, max(exc.start - pending, 0)) + 1
                return ValueError(
                    f"{path}: not UTF-8 text: byte {start} (0x{exc.object[exc.start]:02x}) on "
                    f"line {line} cannot be decoded. Save the file as UTF-8 (CSV files are read "
                    "as UTF-8)."
                )
            if not chunk:
                return ValueError(f"{path}: not UTF-8 text.")  # pragma: no cover - decoded twice
            offset += len(chunk)
            newlines += chunk.count(b"\n")


# --- data sets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Features and target of a data set, with their names.

    Attributes:
        name: the registry name, or the CSV file's path.
        X: ``(N, D)`` float64 features.
        y: ``(N,)`` target values.
        feature_names: the ``D`` feature names.
        target: the target's name.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target: str


def load_table(
    spec: str,
    *,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    target: str | None = None,
) -> Table:
    """Load a data set by registry name (``moons``, ``digits``, ...) or from a CSV path.

    Args:
        spec: a name of :data:`scratchnn.datasets.DATASETS` or a CSV file (header row; the last
            column is the target unless ``target`` names another).
        n_samples: rows to draw (synthetic sets; default :func:`synthetic_defaults`) or to
            keep, picked at random (other sets; default all).
        noise: noise of a synthetic set (default :func:`synthetic_defaults`).
        seed: seed of the draw and of the subsample.
        target: the target column of a CSV file.

    Raises:
        ValueError: an unknown name (the message lists the known ones), an option that does not
            apply to this data set, an unknown target column, a bad CSV file.
        FileNotFoundError: MNIST files missing (the message says where to put which file).
    """
    from scratchnn import datasets

    if spec in datasets.DATASETS:
        if target is not None:
            raise ValueError(
                f"--target applies to CSV files; data set {spec!r} has its target already."
            )
        defaults = synthetic_defaults(spec)
        if defaults:
            n_samples = defaults["n_samples"] if n_samples is None else n_samples
            noise = defaults["noise"] if noise is None else noise
        table = _registry_table(spec, n_samples, noise, seed)
        drawn = "n_samples" in inspect.signature(datasets.DATASETS[spec]).parameters
    elif spec.lower().endswith(".csv") or Path(spec).is_file():
        if noise is not None:
            raise ValueError("--noise applies to the synthetic data sets, not to a CSV file.")
        table, drawn = _csv_table(spec, target), False
    else:
        raise ValueError(
            f"unknown data set {spec!r}. Known data sets: {', '.join(sorted(datasets.DATASETS))}; "
            "or give the path of a CSV file (header row, last column = target)."
        )
    X, y = table.X, table.y
    if n_samples is not None and not drawn and n_samples < len(y):
        keep = np.sort(np.random.default_rng(seed).choice(len(y), n_samples, replace=False))
        X, y = X[keep], y[keep]
    X = np.asarray(X, dtype=np.float64)  # after the subsample: MNIST stays uint8 until then
    return Table(table.name, X, y, table.feature_names, table.target)


def _registry_table(name: str, n_samples: int | None, noise: float | None, seed: int) -> Table:
    """A registry data set as a :class:`Table` (MNIST images flattened to 784 columns)."""
    from scratchnn import datasets

    takes = inspect.signature(datasets.DATASETS[name]).parameters
    kwargs: dict[str, Any] = {}
    if "seed" in takes:
        kwargs["seed"] = seed
    if "n_samples" in takes and n_samples is not None:
        kwargs["n_samples"] = n_samples
    if noise is not None:
        if "noise" not in takes:
            raise ValueError(
                f"--noise applies to the synthetic data sets; {name!r} is a fixed data set."
            )
        kwargs["noise"] = noise
    loaded = datasets.get(name, **kwargs)
    target = "y"
    feature_names = None
    if name == "churn":
        X, y, feature_names, target = loaded.X, loaded.y, loaded.feature_names, "Exited"
    elif name == "mnist":
        (x_train, y_train), _ = loaded  # the test split stays unseen; --val-split holds out
        X, y = x_train.reshape(len(x_train), -1), y_train  # (N, 28, 28) -> (N, 784)
    else:
        X, y = loaded
    names = tuple(feature_names or (f"x{i + 1}" for i in range(X.shape[1])))
    return Table(name, X, np.asarray(y), names, target)


def _csv_table(path: str, target: str | None) -> Table:
    """A CSV file as a :class:`Table`: ``target`` (default: the last column) is the target."""
    header, data, labels = read_labelled_csv(path, -1 if target is None else target)
    if len(header) < 2:
        raise ValueError(
            f"{path} has one column ({header[0]!r}); training needs at least one feature column "
            "and the target column."
        )
    if target is None:
        target = header[-1]
    if target not in header:
        raise ValueError(
            f"--target {target!r} is not a column of {path}; its columns are {', '.join(header)}."
        )
    t = header.index(target)
    features = [i for i in range(len(header)) if i != t]
    y = data[:, t] if labels is None else labels
    return Table(str(path), data[:, features], y, tuple(header[i] for i in features), target)


# --- preprocessing saved beside the model -------------------------------------------------------


@dataclass(frozen=True)
class Preprocess:
    """How ``train`` prepared the data, saved as ``preprocess.json`` beside the model.

    Attributes:
        feature_names: the input columns, in the model's order.
        target: the target column's name.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        classes: the original label of each output class (class ``i`` is ``classes[i]``);
            empty for regression.
        mean: per-feature mean of the training split (``StandardScaler.mean_``).
        scale: per-feature scale (``StandardScaler.scale_``; 1 for a constant feature).
        dataset: what the model was trained on.
    """

    feature_names: tuple[str, ...]
    target: str
    task: str
    classes: tuple[Any, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    dataset: str = ""

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardise ``(N, D)`` features as the training split was: ``(X - mean) / scale``."""
        return (X - np.asarray(self.mean)) / np.asarray(self.scale)  # (N, D)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``preprocess.json``."""
        return {
            "format": PREPROCESS_FORMAT,
            "version": PREPROCESS_VERSION,
            "dataset": self.dataset,
            "feature_names": list(self.feature_names),
            "target": self.target,
            "task": self.task,
            "classes": list(self.classes),
            "scaler": {"mean": list(self.mean), "scale": list(self.scale)},
        }

    def save(self, path: Path) -> None:
        """Write ``preprocess.json`` at ``path`` (atomically)."""
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Preprocess:
        """Read a ``preprocess.json`` written by ``train``.

        Raises:
            ValueError: the file is not JSON or not a scratchnn preprocessing file.
        """
        try:
            size = Path(path).stat().st_size
            if size > MAX_PREPROCESS_BYTES:
                raise ValueError(f"{size:,} bytes, more than the {MAX_PREPROCESS_BYTES:,} such a "
                                 "file may have")
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("format") != PREPROCESS_FORMAT:
                raise ValueError("no 'format': 'scratchnn.preprocess' entry")
            if data.get("version", 0) > PREPROCESS_VERSION:
                raise ValueError(
                    f"version {data.get('version')} is newer than this scratchnn reads "
                    f"({PREPROCESS_VERSION}); upgrade scratchnn"
                )
            prep = cls(
                feature_names=tuple(str(n) for n in data["feature_names"]),
                target=str(data["target"]),
                task=str(data["task"]),
                classes=tuple(data["classes"]),
                mean=tuple(float(v) for v in data["scaler"]["mean"]),
                scale=tuple(float(v) for v in data["scaler"]["scale"]),
                dataset=str(data.get("dataset", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, RecursionError,
                OSError) as exc:
            raise ValueError(
                f"{path} is not a preprocessing file written by scratchnn train ({exc}); "
                "delete it to predict on unscaled inputs."
            ) from None
        n = len(prep.feature_names)
        if prep.task not in TASKS or len(prep.mean) != n or len(prep.scale) != n:
            raise ValueError(
                f"{path} is inconsistent: task {prep.task!r}, {n} features, "
                f"{len(prep.mean)} means and {len(prep.scale)} scales."
            )
        if not all(math.isfinite(v) for v in prep.mean) or not all(
            math.isfinite(v) and v > 0 for v in prep.scale
        ):
            raise ValueError(
                f"{path} is inconsistent: its scaler holds a non-finite mean or a scale that is "
                "not a finite number > 0; delete it to predict on unscaled inputs."
            )
        return prep


def plain_label(value: Any) -> Any:
    """A class label for JSON and CSV: ``1.0`` -> ``1``, ``0.5`` stays ``0.5``."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
