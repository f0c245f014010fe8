"""Sweep specs: a TOML file that names a data set, a model, its training, and what to vary.

A spec has these tables (``examples/sweeps/tutorial000.toml`` is a complete one)::

    [sweep]    name (the sweep id; default: the file name), method = "grid" | "random",
               samples (random), random_seed, seeds (model seeds, default [0]),
               history_points (default 100), save_models (default true)
    [data]     name (a scratchnn.datasets loader) and its arguments; dev_size (0.2),
               split_seed (0), stratify (false), scale (false)
    [model]    dtype ("float32"); [[model.layers]] tables: class_name and the layer's arguments
    [compile]  optimizer (a name or a table with name and arguments), loss, metrics
    [fit]      epochs, batch_size (a number or "full"), shuffle, seed
    [params]   NAME = { path = "...", values = [...] }         grid values, or a random choice
               NAME = { path = "...", distribution = "uniform" | "log_uniform" | "int",
                        low = ..., high = ... }                  random search only
    [report]   filter, pick, sort, plots, reference, holdout (see scratchnn.sweep.report)

A ``path`` points at any parameter of a layer, the optimizer, the loss or the fit:
``model.layers[0].units``, ``compile.optimizer.learning_rate``, ``fit.batch_size``, ``fit.epochs``,
``data.noise``. ``NAME`` becomes the column of the report.

Everything is checked before any trial starts: unknown tables or parameters, empty grids, values
of the wrong type, and every trial's layers, optimizer and loss are built once. Errors name the
spec's line: ``tutorial000.toml:41: [params.lr] values[2]: ...``.

Limits, so that a spec from someone else cannot exhaust the machine before any work starts: a spec
file is at most :data:`MAX_SPEC_BYTES` of UTF-8 text; a sweep expands to at most
:data:`MAX_TRIALS` trials (``max_trials=``, ``--max-trials`` to allow more); and one trial's
estimated memory (data, weights with their gradients and optimizer state, activations of a batch)
must fit in the memory this process may use (``max_memory=``, ``--max-memory`` to say otherwise).
Both are checked before a trial is expanded, data loaded or a model built.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import itertools
import math
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from scratchnn._memory import available_memory
from scratchnn.sweep.engine import base_columns, canonical_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SECTIONS = ("sweep", "data", "model", "compile", "fit", "params", "report")
SWEEP_KEYS = ("name", "description", "method", "samples", "random_seed", "seeds",
              "history_points", "save_models")
DATA_SPLIT_KEYS = ("dev_size", "split_seed", "stratify", "scale")
FIT_KEYS = ("epochs", "batch_size", "shuffle", "seed")
PARAM_KEYS = ("path", "values", "distribution", "low", "high")
DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "int")
REPORT_KEYS = ("filter", "pick", "sort", "plots", "reference", "holdout")
RESERVED_COLUMNS = ("seed", "fit_time", "epochs_run", "diverged", "engine", "status", "run_id",
                    "trial_key")
MAX_TRIALS = 10_000
"""Most trials a spec may expand to unless ``max_trials`` says more (tutorial 000's has 420)."""
MAX_SPEC_BYTES = 2**20
"""Largest spec read (1 MiB of TOML; specs are a few KB)."""


class SpecError(ValueError):
    """A sweep spec that cannot run; the message starts with ``FILE:LINE:``.

    Attributes:
        path: the spec file (or ``"<spec>"``).
        line: the 1-based line the problem is on (``None`` when it has none).
    """

    def __init__(self, message: str, path: str = "<spec>", line: int | None = None) -> None:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


@dataclasses.dataclass(frozen=True)
class Param:
    """One swept parameter: its column name, its path in the trial config, its values."""

    name: str
    path: tuple[str | int, ...]
    values: tuple[Any, ...] | None = None
    distribution: str = "choice"
    low: float | None = None
    high: float | None = None

    @property
    def choices(self) -> tuple[Any, ...]:
        """The values of a ``choice`` parameter (every parameter of a grid is one)."""
        assert self.values is not None, f"{self.name} is not a choice parameter"
        return self.values

    @property
    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a parameter drawn from a distribution."""
        assert self.low is not None and self.high is not None, f"{self.name} has no bounds"
        return self.low, self.high


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training of the study.

    Attributes:
        key: unique within the sweep: the readable assignment, then a hash of ``config``.
        params: ``{column name: value}`` of the swept parameters.
        seed: the model seed.
        config: the full trial configuration (``data``, ``model``, ``compile``, ``fit``).
    """

    key: str
    params: dict[str, Any]
    seed: int
    config: dict[str, Any]


@dataclasses.dataclass
class SweepSpec:
    """A parsed, checked sweep spec.

    Attributes:
        name: the sweep id in the run store.
        method: ``"grid"`` or ``"random"``.
        trials: every trial, in order.
        params: the swept parameters.
        report: the ``[report]`` table (may be empty).
        history_points: history rows kept per trial.
        save_models: write a model file per trial.
        text: the TOML text; path: its file (or ``None``).
    """

    name: str
    method: str
    trials: list[Trial]
    params: list[Param]
    report: dict[str, Any]
    history_points: int
    save_models: bool
    text: str
    path: Path | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The report's parameter columns: the swept names, then ``seed``."""
        return [p.name for p in self.params] + ["seed"]

    def metric_names(self) -> list[str]:
        """The compiled metrics (``compile.metrics``) of the base configuration."""
        return list(self.raw.get("compile", {}).get("metrics", []))


# ------------------------------------------------------------------------- where keys are
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_INLINE_KEY = re.compile(r"""(?:^|[{,])\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")


def _split_dotted(text: str) -> tuple[str, ...]:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``."""
    parts, current, quote = [], "", ""
    for ch in text.strip():
        if quote:
            if ch == quote:
                quote = ""
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return tuple(parts)


def _code_part(line: str, state: dict[str, Any]) -> str:
    """The line without comments and string contents; tracks multi-line strings and the
    bracket depth of a value spanning lines in ``state``."""
    out: list[str] = []
    i, n = 0, len(line)
    while i < n:
        quote = state.get("ml")
        if quote:
            end = line.find(quote, i)
            if end < 0:
                return "".join(out)
            i = end + 3
            state["ml"] = None
            out.append('""')
            continue
        ch = line[i]
        if ch == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            state["ml"] = line[i:i + 3]
            i += 3
            continue
        if ch in "\"'":
            j = i + 1
            while j < n and line[j] != ch:
                j += 2 if ch == '"' and line[j] == "\\" else 1
            out.append(line[i:j + 1])
            i = j + 1
            continue
        if ch in "[{":
            state["depth"] += 1
        elif ch in "]}":
            state["depth"] -= 1
        out.append(ch)
        i += 1
    return "".join(out)


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map each key path of a TOML text to its 1-based line (tomllib keeps no positions).

    Array-of-tables entries get their index: the ``units`` of the first ``[[model.layers]]`` is
    ``("model", "layers", 0, "units")``. Keys inside an inline table are mapped to its line.
    """
    lines: dict[tuple[Any, ...], int] = {}
    counters: dict[tuple[str, ...], int] = {}
    table: tuple[Any, ...] = ()
    state: dict[str, Any] = {"ml": None, "depth": 0}
    for number, raw in enumerate(text.splitlines(), start=1):
        starts_at_top = state["depth"] == 0 and not state["ml"]
        code = _code_part(raw, state)
        if not starts_at_top or not code.strip():
            continue
        header = _HEADER.match(code)
        if header and code.strip().startswith("["):
            path = _split_dotted(header.group(2))
            resolved: list[Any] = []
            for i in range(len(path)):
                resolved.append(path[i])
                prefix = path[: i + 1]
                if prefix in counters and i < len(path) - 1:
                    resolved.append(counters[prefix])
            if header.group(1) == "[[":
                counters[path] = counters.get(path, -1) + 1
                resolved.append(counters[path])
                lines.setdefault(tuple(resolved[:-1]), number)
            table = tuple(resolved)
            lines.setdefault(table, number)
            continue
        if "=" not in code:
            continue
        key_text, _, value = code.partition("=")
        full = table + _split_dotted(key_text)
        lines.setdefault(full, number)
        for match in _INLINE_KEY.finditer(value):
            inner = match.group(1).strip("\"'")
            lines.setdefault((*full, inner), number)
    return lines


class _Locator:
    """Finds the line of a key path (its longest known prefix) for error messages."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = key_lines(text)
        self.path = path

    def line(self, *keys: Any) -> int | None:
        for end in range(len(keys), 0, -1):
            if keys[:end] in self.lines:
                return self.lines[keys[:end]]
        return None

    def error(self, message: str, *keys: Any) -> SpecError:
        return SpecError(message, self.path, self.line(*keys))


# ---------------------------------------------------------------------------- small checks
def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _named(registry: Mapping[str, Any], name: Any) -> Any:
    """``registry[name]``, or ``None`` for an unknown name or one that is not text (a TOML
    list or table cannot be looked up)."""
    return registry.get(name) if isinstance(name, str) else None


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _where(keys: Iterable[Any]) -> str:
    """``[model.layers][0] units`` style label of a key path, for messages."""
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def parse_path(text: str) -> tuple[str | int, ...]:
    """``"model.layers[0].units"`` (or ``model.layers.0.units``) -> ``("model", "layers", 0,
    "units")``.

    Raises:
        ValueError: an empty path or an empty part.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a path must be non-empty text such as 'fit.epochs'; received {text!r}")
    parts: list[str | int] = []
    for piece in text.strip().split("."):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)?((?:\[\d+\])*)", piece)
        if piece.isdigit():
            parts.append(int(piece))
            continue
        if not match or not (match.group(1) or match.group(2)):
            raise ValueError(f"invalid path {text!r}: cannot read {piece!r}")
        if match.group(1):
            parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(parts)


def _accepted(cls: Any) -> list[str]:
    """The keyword arguments a class's constructor takes."""
    params = inspect.signature(cls.__init__).parameters
    return [name for name in params if name not in ("self", "args", "kwargs")]


# ------------------------------------------------------------------------------ the loader
def load_spec(
    source: str | Path,
    *,
    name: str | None = None,
    max_trials: int | None = MAX_TRIALS,
    max_memory: float | None = None,
) -> SweepSpec:
    """Read, check and expand a sweep spec: a path to a ``.toml`` file, or TOML text.

    Args:
        source: a file path or the TOML text itself.
        name: the sweep id, overriding ``sweep.name`` (default: the file name without suffix,
            or ``"sweep"`` for text).
        max_trials: refuse a spec of more trials (counted before they are expanded); ``None``
            for no limit.
        max_memory: refuse a trial whose estimated memory is larger, in bytes; ``None``: the
            memory this process may use (physical memory, or a lower ``RLIMIT_AS``);
            ``math.inf``: no limit.

    Returns:
        The :class:`SweepSpec` with every trial.

    Raises:
        SpecError: anything wrong, with the file and line: a file too large or not UTF-8,
            invalid TOML, an unknown table or parameter, an empty grid, a value of the wrong
            type, a layer, optimizer or loss that cannot be built with a trial's values, more
            trials than ``max_trials``, a trial estimated above ``max_memory`` (the message
            gives the count or the estimate and how to run it anyway).

    Example:
        >>> spec = load_spec('''
        ... [data]
        ... name = "moons"
        ... n_samples = 100
        ... [model]
        ... layers = [{ class_name = "Dense", units = 1, activation = "sigmoid" }]
        ... [compile]
        ... optimizer = "sgd"
        ... loss = "binary_crossentropy"
        ... [fit]
        ... epochs = 5
        ... [params]
        ... lr = { path = "compile.optimizer.learning_rate", values = [0.1, 0.01] }
        ... ''')
        >>> [t.params for t in spec.trials]
        [{'lr': 0.1}, {'lr': 0.01}]
    """
    path: Path | None = None
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and (
            source.strip().endswith(".toml") or Path(source).is_file())):
        path = Path(source)
        label = str(path)
        text = _read_text(path)
    else:
        text = str(source)
        label = "<spec>"
        if len(text) > MAX_SPEC_BYTES:
            raise SpecError(f"the spec text has {len(text):,} characters; specs are at most "
                            f"{MAX_SPEC_BYTES:,} (a few KB is usual).", label)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise SpecError(f"invalid TOML: {exc}", label,
                        int(match.group(1)) if match else None) from None
    except RecursionError:
        raise SpecError("invalid TOML: arrays or tables nested too deeply to read.",
                        label) from None
    default_name = path.stem if path is not None else "sweep"
    checker = _Checker(raw, text, label, path, name, default_name)
    checker.max_trials = max_trials
    checker.max_memory = max_memory
    return checker.spec()


def _read_text(path: Path) -> str:
    """The spec file as text: at most :data:`MAX_SPEC_BYTES`, UTF-8 (the error gives the byte)."""
    label = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(f"the spec file is {size:,} bytes; specs are at most "
                            f"{MAX_SPEC_BYTES:,} bytes (a few KB is usual). Is it the right "
                            "file?", label)
        data = path.read_bytes()[: MAX_SPEC_BYTES + 1]
    except OSError as exc:
        raise SpecError(f"cannot read the spec: {exc}", label) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"not UTF-8 text: byte {exc.start} (0x{data[exc.start]:02x}) cannot be "
                        "decoded; a spec is a TOML text file saved as UTF-8.", label,
                        line) from None


class _Checker:
    """Checks a parsed spec section by section and expands its trials."""

    def __init__(self, raw: dict[str, Any], text: str, label: str, path: Path | None,
                 name: str | None, default_name: str) -> None:
        self.raw = raw
        self.text = text
        self.label = label
        self.path = path
        self.loc = _Locator(text, label)
        self.name_override = name
        self.default_name = default_name
        self.max_trials: int | None = MAX_TRIALS
        self.max_memory: float | None = None

    def fail(self, message: str, *keys: Any) -> SpecError:
        return self.loc.error(message, *keys)

    # ------------------------------------------------------------------------- sections
    def spec(self) -> SweepSpec:
        raw = self.raw
        for key in raw:
            if key not in SECTIONS:
                raise self.fail(
                    f"unknown table [{key}]; a spec has the tables {', '.join(SECTIONS)}.", key
                )
            if not isinstance(raw[key], dict):
                raise self.fail(f"[{key}] must be a table; received {raw[key]!r}.", key)
        for key in ("data", "model", "compile"):
            if key not in raw:
                raise SpecError(f"the spec has no [{key}] table; it is required.", self.label)
        sweep = self._sweep(raw.get("sweep", {}))
        base = {
            "data": self._data(raw["data"]),
            "model": self._model(raw["model"]),
            "compile": self._compile(raw["compile"]),
            "fit": self._fit(raw.get("fit", {})),
        }
        params = self._params(raw.get("params", {}), sweep["method"])
        report = self._report(raw.get("report", {}), params, base)
        self._check_trial_count(params, sweep)
        trials = self._expand(base, params, sweep)
        self._check_trials(trials, params)
        return SweepSpec(
            name=self.name_override or sweep["name"] or self.default_name,
            method=sweep["method"],
            trials=trials,
            params=params,
            report=report,
            history_points=sweep["history_points"],
            save_models=sweep["save_models"],
            text=self.text,
            path=self.path,
            raw=copy.deepcopy(raw),
        )

    def _sweep(self, table: dict[str, Any]) -> dict[str, Any]:
        for key in table:
            if key not in SWEEP_KEYS:
                raise self.fail(
                    f"unknown key {key!r} in [sweep]; accepted: {', '.join(SWEEP_KEYS)}.",
                    "sweep", key,
                )
        name = table.get("name")
        if name is not None and (not isinstance(name, str)
                                 or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name)):
            raise self.fail(
                f"[sweep] name must be letters, digits, '_', '-' or '.'; received {name!r}.",
                "sweep", "name",
            )
        method = table.get("method", "grid")
        if method not in ("grid", "random"):
            raise self.fail(
                f"[sweep] method must be \"grid\" or \"random\"; received {method!r}.",
                "sweep", "method",
            )
        samples = table.get("samples")
        if method == "random":
            if not _is_int(samples) or samples < 1:
                raise self.fail(
                    f"[sweep] method = \"random\" needs samples = an integer >= 1; received "
                    f"samples={samples!r}.", "sweep", "samples" if samples is not None else
                    "method",
                )
        elif samples is not None:
            raise self.fail("[sweep] samples is for method = \"random\" only.", "sweep",
                            "samples")
        random_seed = table.get("random_seed", 0)
        if not _is_int(random_seed) or random_seed < 0:
            raise self.fail(f"[sweep] random_seed must be an integer >= 0; received "
                            f"{random_seed!r}.", "sweep", "random_seed")
        seeds = table.get("seeds", [0])
        if (not isinstance(seeds, list) or not seeds
                or not all(_is_int(s) and s >= 0 for s in seeds)):
            raise self.fail(
                f"[sweep] seeds must be a non-empty list of integers >= 0 (model seeds); "
                f"received {seeds!r}.", "sweep", "seeds",
            )
        if len(set(seeds)) != len(seeds):
            raise self.fail(f"[sweep] seeds repeats a seed: {seeds!r}.", "sweep", "seeds")
        points = table.get("history_points", 100)
        if not _is_int(points) or points < 1:
            raise self.fail(f"[sweep] history_points must be an integer >= 1; received "
                            f"{points!r}.", "sweep", "history_points")
        save = table.get("save_models", True)
        if not isinstance(save, bool):
            raise self.fail(f"[sweep] save_models must be true or false; received {save!r}.",
                            "sweep", "save_models")
        return {"name": name, "method": method, "samples": samples,
                "random_seed": random_seed, "seeds": seeds, "history_points": points,
                "save_models": save}

    def _data(self, table: dict[str, Any]) -> dict[str, Any]:
        from scratchnn.datasets import DATASETS

        name = table.get("name")
        if _named(DATASETS, name) is None:
            raise self.fail(
                f"[data] name must be one of {', '.join(sorted(DATASETS))}; received {name!r}.",
                "data", "name" if "name" in table else None,
            )
        accepted = [p for p in inspect.signature(DATASETS[str(name)]).parameters]
        for key in table:
            if key != "name" and key not in accepted and key not in DATA_SPLIT_KEYS:
                raise self.fail(
                    f"unknown key {key!r} in [data]: the loader {name!r} takes "
                    f"{', '.join(accepted) or 'no arguments'}, and the split takes "
                    f"{', '.join(DATA_SPLIT_KEYS)}.", "data", key,
                )
        dev = table.get("dev_size", 0.2)
        if not ((_is_number(dev) and 0 < dev < 1) or (_is_int(dev) and dev >= 1)):
            raise self.fail(f"[data] dev_size must be a fraction in (0, 1) or a number of "
                            f"rows; received {dev!r}.", "data", "dev_size")
        for key in ("split_seed",):
            if key in table and (not _is_int(table[key]) or table[key] < 0):
                raise self.fail(f"[data] {key} must be an integer >= 0; received "
                                f"{table[key]!r}.", "data", key)
        for key in ("stratify", "scale"):
            if key in table and not isinstance(table[key], bool):
                raise self.fail(f"[data] {key} must be true or false; received "
                                f"{table[key]!r}.", "data", key)
        return dict(table)

    def _model(self, table: dict[str, Any]) -> dict[str, Any]:
        from scratchnn.layers import LAYERS

        for key in table:
            if key not in ("dtype", "layers"):
                raise self.fail(f"unknown key {key!r} in [model]; accepted: dtype, layers "
                                "(written as [[model.layers]] tables).", "model", key)
        dtype = table.get("dtype", "float32")
        if dtype not in ("float32", "float64"):
            raise self.fail(f"[model] dtype must be \"float32\" or \"float64\"; received "
                            f"{dtype!r}.", "model", "dtype")
        layers = table.get("layers")
        if not isinstance(layers, list) or not layers:
            raise self.fail("[model] needs layers: one [[model.layers]] table per layer, "
                            "each with class_name and the layer's arguments.", "model")
        for i, layer in enumerate(layers):
            if not isinstance(layer, dict):
                raise self.fail(f"[model.layers][{i}] must be a table; received {layer!r}.",
                                "model", "layers", i)
            cls = _named(LAYERS, layer.get("class_name"))
            if cls is None:
                raise self.fail(
                    f"[model.layers][{i}] class_name must be one of "
                    f"{', '.join(sorted(LAYERS))}; received {layer.get('class_name')!r}.",
                    "model", "layers", i, "class_name",
                )
            accepted = _accepted(cls)
            for key in layer:
                if key != "class_name" and key not in accepted:
                    raise self.fail(
                        f"{cls.__name__} has no parameter {key!r} ([model.layers][{i}]); "
                        f"accepted: {', '.join(accepted)}.", "model", "layers", i, key,
                    )
        return {"dtype": dtype, "layers": copy.deepcopy(layers)}

    def _compile(self, table: dict[str, Any]) -> dict[str, Any]:
        from scratchnn import optimizers

        for key in table:
            if key not in ("optimizer", "loss", "metrics"):
                raise self.fail(f"unknown key {key!r} in [compile]; accepted: optimizer, "
                                "loss, metrics.", "compile", key)
        opt = table.get("optimizer", "rmsprop")
        if isinstance(opt, str):
            opt = {"name": opt}
        if not isinstance(opt, dict) or "name" not in opt:
            raise self.fail(
                "[compile] optimizer must be a name (\"sgd\") or a table with name and "
                f"arguments ({{ name = \"sgd\", learning_rate = 0.1 }}); received {opt!r}.",
                "compile", "optimizer",
            )
        cls = optimizers.OPTIMIZERS.get(str(opt["name"]).lower())
        if cls is None:
            raise self.fail(f"[compile] optimizer name must be one of "
                            f"{', '.join(sorted(optimizers.OPTIMIZERS))}; received "
                            f"{opt['name']!r}.", "compile", "optimizer", "name")
        accepted = _accepted(cls)
        for key in opt:
            if key != "name" and key not in accepted:
                raise self.fail(f"{cls.__name__} has no parameter {key!r}; accepted: "
                                f"{', '.join(accepted)}.", "compile", "optimizer", key)
        if "loss" not in table:
            raise self.fail("[compile] needs a loss, e.g. loss = \"binary_crossentropy\".",
                            "compile")
        loss = table["loss"]
        if not isinstance(loss, (str, dict)):
            raise self.fail(f"[compile] loss must be a name or a table; received {loss!r}.",
                            "compile", "loss")
        metric_names = table.get("metrics", [])
        if not isinstance(metric_names, list) or not all(isinstance(m, str)
                                                         for m in metric_names):
            raise self.fail(f"[compile] metrics must be a list of names; received "
                            f"{metric_names!r}.", "compile", "metrics")
        from scratchnn import metrics

        for m in metric_names:
            try:
                metrics.get(m)
            except ValueError as exc:
                raise self.fail(f"[compile] metrics: {exc}", "compile", "metrics") from None
        return {"optimizer": dict(opt), "loss": copy.deepcopy(loss),
                "metrics": list(metric_names)}

    def _fit(self, table: dict[str, Any]) -> dict[str, Any]:
        for key in table:
            if key not in FIT_KEYS:
                raise self.fail(f"unknown key {key!r} in [fit]; accepted: "
                                f"{', '.join(FIT_KEYS)}.", "fit", key)
        fit = {"epochs": table.get("epochs", 1), "batch_size": table.get("batch_size", 32),
               "shuffle": table.get("shuffle", True), "seed": table.get("seed")}
        problem = _fit_problem(fit)
        if problem:
            key, message = problem
            raise self.fail(f"[fit] {message}", "fit", key)
        return _normalise_fit(fit)

    def _params(self, table: dict[str, Any], method: str) -> list[Param]:
        params = []
        for name, entry in table.items():
            where = ("params", name)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in RESERVED_COLUMNS:
                raise self.fail(
                    f"[params] {name!r} is not usable as a column name: use letters, digits "
                    f"and '_' (not starting with a digit), and none of "
                    f"{', '.join(RESERVED_COLUMNS)}.", *where,
                )
            if name.startswith(("train_", "dev_", "holdout_")):
                raise self.fail(f"[params] {name!r}: names starting with train_, dev_ or "
                                "holdout_ are metric columns.", *where)
            if not isinstance(entry, dict):
                raise self.fail(
                    f"[params] {name} must be a table such as {{ path = \"fit.epochs\", "
                    f"values = [10, 100] }}; received {entry!r}.", *where,
                )
            for key in entry:
                if key not in PARAM_KEYS:
                    raise self.fail(f"[params.{name}] unknown key {key!r}; accepted: "
                                    f"{', '.join(PARAM_KEYS)}.", *where, key)
            try:
                path = parse_path(entry.get("path", ""))
            except ValueError as exc:
                raise self.fail(f"[params.{name}] {exc}.", *where, "path") from None
            self._check_path(name, path)
            params.append(self._param_values(name, entry, path, method))
        return params

    def _check_path(self, name: str, path: tuple[Any, ...]) -> None:
        """A path must end at a parameter the section accepts."""
        from scratchnn import optimizers
        from scratchnn.datasets import DATASETS
        from scratchnn.layers import LAYERS

        where = ("params", name, "path")
        text = _where(path)
        head = path[0]
        if head == "fit":
            if len(path) != 2 or path[1] not in FIT_KEYS:
                raise self.fail(f"[params.{name}] path {text!r}: [fit] has the parameters "
                                f"{', '.join(FIT_KEYS)}.", *where)
        elif head == "data":
            loader = DATASETS[self.raw["data"]["name"]]
            accepted = [*inspect.signature(loader).parameters, *DATA_SPLIT_KEYS]
            if len(path) != 2 or path[1] not in accepted:
                raise self.fail(f"[params.{name}] path {text!r}: the data set takes "
                                f"{', '.join(accepted)}.", *where)
        elif head == "model":
            layers = self.raw["model"].get("layers", [])
            if path[1:2] == ("dtype",) and len(path) == 2:
                return
            if len(path) < 3 or path[1] != "layers" or not _is_int(path[2]):
                raise self.fail(f"[params.{name}] path {text!r}: model paths look like "
                                "model.layers[0].units (or model.dtype).", *where)
            if not 0 <= path[2] < len(layers):
                raise self.fail(f"[params.{name}] path {text!r}: the model has {len(layers)} "
                                f"layers (indices 0..{len(layers) - 1}).", *where)
            if len(path) < 4:
                raise self.fail(f"[params.{name}] path {text!r} names a layer, not one of its "
                                "parameters (e.g. model.layers[0].units).", *where)
            cls = LAYERS[layers[path[2]]["class_name"]]
            accepted = _accepted(cls)
            if path[3] not in accepted:
                raise self.fail(f"[params.{name}] path {text!r}: {cls.__name__} has no "
                                f"parameter {path[3]!r}; accepted: {', '.join(accepted)}.",
                                *where)
        elif head == "compile":
            if len(path) == 2 and path[1] in ("optimizer", "loss"):
                return
            if len(path) >= 3 and path[1] == "optimizer":
                opt = self.raw["compile"].get("optimizer", "rmsprop")
                opt_name = opt if isinstance(opt, str) else opt.get("name")
                opt_cls = optimizers.OPTIMIZERS.get(str(opt_name).lower())
                accepted = ["name", *_accepted(opt_cls)] if opt_cls else ["name"]
                if path[2] not in accepted:
                    raise self.fail(f"[params.{name}] path {text!r}: {opt_name} has no "
                                    f"parameter {path[2]!r}; accepted: {', '.join(accepted)}.",
                                    *where)
                return
            raise self.fail(f"[params.{name}] path {text!r}: compile paths are "
                            "compile.optimizer.NAME, compile.optimizer or compile.loss.", *where)
        else:
            raise self.fail(f"[params.{name}] path {text!r} must start with model, compile, "
                            "fit or data.", *where)

    def _param_values(self, name: str, entry: dict[str, Any], path: tuple[Any, ...],
                      method: str) -> Param:
        where = ("params", name)
        has_values = "values" in entry
        distribution = entry.get("distribution", "choice")
        if distribution not in DISTRIBUTIONS:
            raise self.fail(f"[params.{name}] distribution must be one of "
                            f"{', '.join(DISTRIBUTIONS)}; received {distribution!r}.",
                            *where, "distribution")
        if distribution == "choice":
            if not has_values:
                raise self.fail(f"[params.{name}] needs values = [...] (or a distribution "
                                "with low and high, for random search).", *where)
            values = entry["values"]
            if not isinstance(values, list):
                raise self.fail(f"[params.{name}] values must be a list; received "
                                f"{values!r}.", *where, "values")
            if not values:
                raise self.fail(f"[params.{name}] values is empty: the grid would have no "
                                "trials. List at least one value.", *where, "values")
            for i, value in enumerate(values):
                if isinstance(value, list):
                    raise self.fail(f"[params.{name}] values[{i}] is a list; values must be "
                                    "numbers, strings, booleans or tables.", *where, "values")
            if len({canonical_json(v) for v in values}) != len(values):
                raise self.fail(f"[params.{name}] values repeats a value: {values!r}.",
                                *where, "values")
            for key in ("low", "high"):
                if key in entry:
                    raise self.fail(f"[params.{name}] {key} is for the uniform, "
                                    "log_uniform and int distributions.", *where, key)
            return Param(name, path, tuple(values), "choice")
        if method == "grid":
            raise self.fail(f"[params.{name}] distribution = {distribution!r} needs "
                            "method = \"random\" in [sweep]; a grid takes values = [...].",
                            *where, "distribution")
        if has_values:
            raise self.fail(f"[params.{name}] values is for distribution = \"choice\".",
                            *where, "values")
        low, high = entry.get("low"), entry.get("high")
        check = _is_int if distribution == "int" else _is_number
        kind = "integers" if distribution == "int" else "numbers"
        for key, value in (("low", low), ("high", high)):
            if not check(value):
                raise self.fail(f"[params.{name}] {key} must be given as {kind} for "
                                f"distribution = {distribution!r}; received {value!r}.",
                                *where, key if key in entry else "distribution")
        assert low is not None and high is not None  # numbers: checked just above
        if (high < low) if distribution == "int" else (high <= low):
            raise self.fail(f"[params.{name}] needs low < high (low <= high for int); "
                            f"received low={low}, high={high}.", *where, "high")
        if distribution == "log_uniform" and low <= 0:
            raise self.fail(f"[params.{name}] log_uniform needs low > 0; received low={low}.",
                            *where, "low")
        return Param(name, path, None, distribution, low, high)

    def _report(self, table: dict[str, Any], params: list[Param],
                base: dict[str, Any]) -> dict[str, Any]:
        from scratchnn.sweep.expr import ExpressionError, compile_expression

        for key in table:
            if key not in REPORT_KEYS:
                raise self.fail(f"unknown key {key!r} in [report]; accepted: "
                                f"{', '.join(REPORT_KEYS)}.", "report", key)
        columns = base_columns([p.name for p in params], base["compile"]["metrics"])
        for key in ("filter", "pick"):
            if key in table:
                text = table[key]
                if key == "pick" and isinstance(text, str):
                    text = text.lstrip("-+")
                try:
                    compile_expression(text, columns)
                except ExpressionError as exc:
                    raise self.fail(f"[report] {key}: {exc}", "report", key) from None
        if "plots" in table and not isinstance(table["plots"], bool):
            raise self.fail(f"[report] plots must be true or false; received "
                            f"{table['plots']!r}.", "report", "plots")
        sort = table.get("sort", [])
        if isinstance(sort, str):
            sort = [sort]
        if not isinstance(sort, list):
            raise self.fail(f"[report] sort must be a column name or a list of them; received "
                            f"{sort!r}.", "report", "sort")
        for item in sort:
            if not isinstance(item, str) or item.lstrip("-+") not in columns:
                raise self.fail(f"[report] sort: {item!r} is not a column; the columns are "
                                f"{', '.join(columns)}.", "report", "sort")
        reference = table.get("reference")
        if reference is not None:
            if not isinstance(reference, dict):
                raise self.fail("[report] reference must be a table of parameter values.",
                                "report", "reference")
            names = [p.name for p in params] + ["seed"]
            for key in reference:
                if key not in names:
                    raise self.fail(f"[report] reference: {key!r} is not a swept parameter "
                                    f"({', '.join(names)}).", "report", "reference")
        holdout = table.get("holdout")
        if holdout is not None:
            from scratchnn.datasets import DATASETS

            if not isinstance(holdout, dict) or _named(DATASETS, holdout.get("name")) is None:
                raise self.fail("[report.holdout] needs name = a data set "
                                f"({', '.join(sorted(DATASETS))}) and its arguments.",
                                "report", "holdout")
            accepted = list(inspect.signature(DATASETS[holdout["name"]]).parameters)
            for key in holdout:
                if key != "name" and key not in accepted:
                    raise self.fail(f"[report.holdout] unknown key {key!r}; the loader "
                                    f"takes {', '.join(accepted)}.", "report", "holdout", key)
        return copy.deepcopy(table)

    # ---------------------------------------------------------------------------- trials
    def _check_trial_count(self, params: list[Param], sweep: dict[str, Any]) -> None:
        """Refuse more than ``max_trials`` trials, counted without expanding them."""
        seeds = len(sweep["seeds"])
        if sweep["method"] == "grid":
            count = math.prod(len(p.choices) for p in params) * seeds
            parts = [f"{len(p.choices)} {p.name}" for p in params]
        else:
            count = sweep["samples"] * seeds
            parts = [f"{sweep['samples']} samples"]
        if self.max_trials is None or count <= self.max_trials:
            return
        how = " x ".join([*parts, f"{seeds} seed{'s' if seeds > 1 else ''}"])
        raise self.fail(
            f"the sweep has {count:,} trials ({how}), more than max_trials = "
            f"{self.max_trials:,}. Shrink the grid, or run it anyway with `scratchnn sweep run "
            f"SPEC --max-trials {count}` (in Python: load_spec / run_sweep(..., "
            f"max_trials={count})).", "params" if params else "sweep",
        )

    def _expand(self, base: dict[str, Any], params: list[Param],
                sweep: dict[str, Any]) -> list[Trial]:
        if sweep["method"] == "grid":
            grids = [p.choices for p in params]
            assignments = [dict(zip([p.name for p in params], combo, strict=True))
                           for combo in itertools.product(*grids)]
        else:
            rng = np.random.default_rng(sweep["random_seed"])
            assignments = [{p.name: _draw(p, rng) for p in params}
                           for _ in range(sweep["samples"])]
        trials, seen = [], set()
        for assignment in assignments:
            for seed in sweep["seeds"]:
                config = copy.deepcopy(base)
                config["model"]["seed"] = seed
                for p in params:
                    _assign(config, p.path, assignment[p.name])
                config["fit"] = _normalise_fit(config["fit"])
                readable = ",".join(f"{k}={_show(v)}" for k, v in assignment.items())
                digest = hashlib.sha256(canonical_json(config).encode()).hexdigest()[:10]
                key = f"{readable + ',' if readable else ''}seed={seed}#{digest}"
                if key in seen:
                    continue
                seen.add(key)
                trials.append(Trial(key, dict(assignment), seed, config))
        return trials

    def _check_trials(self, trials: list[Trial], params: list[Param]) -> None:
        """Build every distinct layer stack, optimizer and loss once, and check fit values."""
        from scratchnn.layers import LAYERS

        done: set[str] = set()
        for trial in trials:
            cfg = trial.config
            problem = _fit_problem(cfg["fit"])
            if problem:
                raise self._trial_error(trial, params, ("fit", problem[0]),
                                        f"[fit] {problem[1]}")
            for i, layer in enumerate(cfg["model"]["layers"]):
                key = canonical_json(["layer", layer])
                if key in done:
                    continue
                entry = dict(layer)
                cls = LAYERS[entry.pop("class_name")]
                try:
                    cls(**entry)
                except (TypeError, ValueError) as exc:
                    raise self._trial_error(trial, params, ("model", "layers", i),
                                            f"[model.layers][{i}] {cls.__name__}: {exc}"
                                            ) from None
                done.add(key)
            for part in ("optimizer", "loss"):
                key = canonical_json([part, cfg["compile"][part]])
                if key in done:
                    continue
                try:
                    _build_compile_part(part, cfg["compile"][part])
                except (TypeError, ValueError) as exc:
                    raise self._trial_error(trial, params, ("compile", part),
                                            f"[compile] {part}: {exc}") from None
                done.add(key)
            key = canonical_json(["model", cfg["model"], cfg["compile"], cfg["data"]])
            if key not in done:
                self._build_once(trial, params)
                done.add(key)

    def _build_once(self, trial: Trial, params: list[Param]) -> None:
        """Build the trial's model on its data and check the targets fit the output layer.

        Data sets drawn with ``n_samples`` are sized from a small draw first, and the trial's
        memory is estimated before the data is loaded; fixed data sets are loaded as they are.
        """
        from scratchnn.models import data as model_data
        from scratchnn.sweep.engine import build_model, load_split

        probe = _data_probe(trial.config["data"])
        if probe is not None:
            self._check_memory(trial, params, *probe)
        try:
            x_train, y_train, _, _ = load_split(trial.config["data"])
        except (TypeError, ValueError, OSError) as exc:
            raise self._trial_error(trial, params, ("data",), f"[data] {exc}") from None
        except MemoryError:
            raise self._trial_error(trial, params, ("data",), "[data] out of memory loading "
                                    "the data set; ask for fewer rows (n_samples).") from None
        if probe is None:
            self._check_memory(trial, params, len(x_train), x_train.shape[1:], 0.0)
        try:
            model = build_model(trial.config, x_train.shape[1])
            model_data.as_targets(y_train, model.loss, model.output_shapes[0],
                                  model.layers[-1].name, model.dtype, len(y_train))
        except (TypeError, ValueError) as exc:
            raise self._trial_error(trial, params, ("model",), str(exc)) from None
        except MemoryError:
            raise self._trial_error(trial, params, ("model",), "out of memory building the "
                                    "model; make its layers smaller.") from None

    def _check_memory(self, trial: Trial, params: list[Param], rows: int,
                      sample_shape: tuple[int, ...], row_bytes: float) -> None:
        """Refuse a trial whose estimated memory exceeds ``max_memory`` (or what is available)."""
        limit = self.max_memory if self.max_memory is not None else available_memory()
        if limit is None:
            return
        parts = estimate_trial_memory(trial.config, rows, sample_shape, row_bytes)
        total = sum(parts.values())
        if total <= limit:
            return
        detail = ", ".join(f"{k} {_size(v)}" for k, v in parts.items() if v)
        largest = max(parts, key=parts.__getitem__)
        raise self._trial_error(
            trial, params, ("data",) if largest == "data" else ("model",),
            f"one trial needs about {_size(total)} of memory ({detail}), more than the "
            f"{_size(limit)} {'allowed' if self.max_memory is not None else 'this process can use'}"
            f". Shrink the layers, n_samples or batch_size, or run it anyway with `scratchnn "
            f"sweep run SPEC --max-memory {_size_up(total)}` (in Python: max_memory={total})",
        )

    def _trial_error(self, trial: Trial, params: list[Param], section: tuple[Any, ...],
                     message: str) -> SpecError:
        """Point at the swept parameter behind a bad value, else at the section."""
        for p in params:
            if p.path[: len(section)] == section or section[: len(p.path)] == p.path:
                return self.fail(f"{message} (with {p.name} = {_show(trial.params[p.name])})",
                                 "params", p.name, "values")
        return self.fail(message, *section)


# ------------------------------------------------------------------------------ memory
def estimate_trial_memory(config: dict[str, Any], rows: int, sample_shape: tuple[int, ...],
                          row_bytes: float) -> dict[str, int]:
    """Estimated bytes of one trial trained alone, by part, computed without allocating.

    ``data``: the rows three times (as loaded, split, scaled); ``weights``: the parameters five
    times (weights, gradients, two optimizer slots, the copy kept to undo a non-finite step);
    ``activations``: each layer's output for a batch (the whole training split for
    ``batch_size = "full"``, else the larger of the batch and an evaluation chunk), three times
    (values, gradients, temporaries). Layers that cannot be made or that refuse the input shape
    count nothing: building the trial reports them.

    Args:
        config: a trial configuration (``Trial.config``).
        rows: rows of the data set; sample_shape: one row's feature shape.
        row_bytes: bytes per row of the loaded arrays (0 when already loaded).

    Example:
        >>> config = {"data": {}, "fit": {"batch_size": 32}, "model": {"dtype": "float32",
        ...           "layers": [{"class_name": "Dense", "units": 1000}]}}
        >>> estimate_trial_memory(config, 100, (10,), 88.0)
        {'data': 26400, 'weights': 220000, 'activations': 960000}
    """
    from scratchnn.io_checks import plan_layers
    from scratchnn.models import PREDICT_BATCH_SIZE
    from scratchnn.models.config import layer_from_config

    model = config["model"]
    dtype = model.get("dtype") if model.get("dtype") in ("float32", "float64") else "float32"
    itemsize = np.dtype(dtype).itemsize
    try:
        layers = [layer_from_config(entry) for entry in model["layers"]]
    except (TypeError, ValueError, KeyError):
        layers = []
    shape = tuple(getattr(layers[0], "declared_input_shape", None) or sample_shape) \
        if layers else tuple(sample_shape)
    dev = config["data"].get("dev_size", 0.2)
    train_rows = rows - (dev if _is_int(dev) and dev >= 1 else int(rows * dev))
    batch = config["fit"].get("batch_size")
    batch_rows = max(1, train_rows) if batch is None else max(batch, min(train_rows,
                                                                         PREDICT_BATCH_SIZE))
    try:
        params = sum(math.prod(w.shape) for w in plan_layers(
            list(enumerate(layers)), shape, dtype, "", ""))
        outputs = 0
        for layer in layers:
            shape = tuple(layer.compute_output_shape(shape))
            outputs += math.prod(shape)
    except (TypeError, ValueError, KeyError, IndexError, ArithmeticError):
        params = outputs = 0
    return {"data": int(rows * row_bytes * 3), "weights": params * itemsize * 5,
            "activations": batch_rows * outputs * itemsize * 3}


def _data_probe(data: dict[str, Any]) -> tuple[int, tuple[int, ...], float] | None:
    """``(rows, sample shape, bytes per row)`` of a data set drawn with ``n_samples``, from a
    draw of at most 64 rows; ``None`` for fixed data sets, or when the draw fails (loading the
    data reports why)."""
    from scratchnn.datasets import DATASETS

    loader = _named(DATASETS, data.get("name"))
    if loader is None or "n_samples" not in inspect.signature(loader).parameters:
        return None
    takes = inspect.signature(loader).parameters
    args = {k: v for k, v in data.items() if k != "name" and k not in DATA_SPLIT_KEYS}
    rows = args.get("n_samples", takes["n_samples"].default)
    if not _is_int(rows) or rows < 1:
        return None
    try:
        x, y = (np.asarray(a) for a in loader(**{**args, "n_samples": min(rows, 64)}))
    except (TypeError, ValueError):
        return None
    if len(x) == 0:
        return None
    return rows, tuple(x.shape[1:]), (x.nbytes + y.nbytes) / len(x)


def _size_up(n: int) -> str:
    """A size at least ``n`` bytes, for ``--max-memory``: ``187G`` or ``513M``."""
    return f"{math.ceil(n / 2**30)}G" if n >= 2**30 else f"{math.ceil(n / 2**20)}M"


def _size(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


# ------------------------------------------------------------------------------- helpers
def _show(value: Any) -> str:
    """A value as it appears in a trial key."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return canonical_json(value)
    return repr(value)


def _draw(param: Param, rng: np.random.Generator) -> Any:
    """One random-search draw of ``param``."""
    if param.distribution == "choice":
        return copy.deepcopy(param.choices[int(rng.integers(len(param.choices)))])
    low, high = param.bounds
    if param.distribution == "int":
        return int(rng.integers(int(low), int(high) + 1))
    if param.distribution == "uniform":
        return float(rng.uniform(low, high))
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _assign(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Set ``config[path] = value`` (the path was checked against the spec)."""
    target: Any = config
    for key in path[:-1]:
        if isinstance(key, int):
            target = target[key]
        else:
            if key == "optimizer" and isinstance(target.get(key), str):
                target[key] = {"name": target[key]}
            target = target.setdefault(key, {})
    if path[-1] == "optimizer" and isinstance(value, str):
        value = {"name": value}
    target[path[-1]] = copy.deepcopy(value)


def _fit_problem(fit: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(key, message)`` for a bad fit setting, else ``None``."""
    epochs = fit.get("epochs")
    if not _is_int(epochs) or epochs < 1:
        return "epochs", f"epochs must be an integer >= 1; received {epochs!r}."
    batch = fit.get("batch_size")
    if not (batch is None or batch == "full" or (_is_int(batch) and batch >= 1)):
        return "batch_size", (f"batch_size must be an integer >= 1 or \"full\" (one batch); "
                              f"received {batch!r}.")
    if not isinstance(fit.get("shuffle"), bool):
        return "shuffle", f"shuffle must be true or false; received {fit.get('shuffle')!r}."
    seed = fit.get("seed")
    if seed is not None and (not _is_int(seed) or seed < 0):
        return "seed", f"seed must be an integer >= 0; received {seed!r}."
    return None


def _normalise_fit(fit: dict[str, Any]) -> dict[str, Any]:
    """``batch_size = "full"`` becomes ``None`` (``Sequential.fit``'s full batch)."""
    out = dict(fit)
    if out.get("batch_size") == "full":
        out["batch_size"] = None
    return out


def _build_compile_part(part: str, value: Any) -> None:
    from scratchnn import losses, optimizers

    if part == "optimizer":
        optimizers.get(copy.deepcopy(value) if isinstance(value, dict) else value)
    else:
        losses.get(copy.deepcopy(value))
