"""Safe model files: named arrays in a safetensors file, everything else as JSON metadata.

One model is one file (suggested suffix ``.snn``; any name is accepted). It is a plain
`safetensors <https://huggingface.co/docs/safetensors>`_ file:

* tensors ``weights/<layer>/<weight>`` (e.g. ``weights/dense/kernel``) hold the weights, and, in a
  full model file saved with its optimizer, tensors ``optimizer/<key>`` (e.g. ``optimizer/m.0``)
  hold the optimizer state from ``Optimizer.get_state()``;
* the string metadata has one entry, ``"scratchnn"``, a JSON object with the format name
  (``"scratchnn.model"`` or ``"scratchnn.weights"``), the format version, the scratchnn version
  that wrote it, the architecture (``model.get_config()``), the compile settings
  (``model.compile_config()``), whether optimizer state is included, and a SHA-256 of the
  header and tensors (``"sha256"``), checked on load.

Safety: loading parses JSON and reads raw arrays; nothing in a file is ever executed. There is no
pickle, no ``eval``, no import of a name read from a file: layer classes come from the registry
:data:`scratchnn.layers.LAYERS`, losses and optimizers from their registries.

Writes are atomic: the bytes go to a temporary file in the target's directory, which is flushed,
``fsync``-ed and then renamed onto the target with :func:`os.replace`. A crash mid-save leaves the
previous file intact (at worst a stray ``.<name>.*.tmp`` file beside it).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import safetensors
import safetensors.numpy

from scratchnn import backend, io_checks

if TYPE_CHECKING:
    from scratchnn.models import Model

FORMAT_VERSION = 1  # the newest file format this module writes and reads
MODEL_FORMAT = "scratchnn.model"
WEIGHTS_FORMAT = "scratchnn.weights"
METADATA_KEY = "scratchnn"
WEIGHTS_PREFIX = "weights/"
OPTIMIZER_PREFIX = "optimizer/"

PathLike = str | os.PathLike

_before_replace: Callable[[str, str], None] | None = None
"""Test seam, ``None`` outside tests: called as ``(temporary file, target)`` once the temporary
file is complete and fsync-ed, just before the rename. The crash test sets it in a child process
to stop there and be killed at that very point."""

# First bytes of formats people mistake for model files, to say what a foreign file is.
_FOREIGN_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive (e.g. a NumPy .npz, which may hold pickles)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (e.g. a Keras .h5 model)"),
    (b"\x1f\x8b", "a gzip file"),
    *((bytes([0x80, proto]), "a Python pickle") for proto in range(2, 6)),
)


@dataclass
class _File:
    """What :func:`_read` found in a valid file."""

    header: dict[str, Any]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ public API
def save_model(model: Model, path: PathLike, include_optimizer: bool = True) -> None:
    """Save a model (architecture, weights, compile settings, optimizer state) to one file.

    The file is written atomically: until the new file is complete, ``path`` keeps its previous
    content. ``Sequential.save`` calls this function.

    Args:
        model: the model to save (built or not; an unbuilt model has no weights to store).
        path: target file; ``.snn`` is the suggested suffix. Its directory must exist.
        include_optimizer: also store the optimizer's state (moments, step counts), so that
            training resumes exactly where it stopped. The optimizer's hyper-parameters are
            stored with the compile settings either way.

    Raises:
        FileNotFoundError: when the directory of ``path`` does not exist.
        TypeError: when the configuration cannot be written as JSON (e.g. a custom function
            used as activation or learning rate).
        OSError: when the file cannot be written; ``path`` is then left unchanged.

    Example:
        >>> from scratchnn.layers import Dense
        >>> from scratchnn.models import Sequential
        >>> model = Sequential([Dense(2, input_dim=3)])
        >>> save_model(model, "model.snn")  # doctest: +SKIP
        >>> load_model("model.snn").get_config() == model.get_config()  # doctest: +SKIP
        True
    """
    tensors = _weight_tensors(model)
    compile_config = model.compile_config()
    optimizer = getattr(model, "optimizer", None)
    with_state = bool(include_optimizer) and compile_config is not None and optimizer is not None
    if with_state:
        for key, value in optimizer.get_state().items():
            tensors[OPTIMIZER_PREFIX + key] = _contiguous(value)
    header = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": _library_version(),
        "model_class": _model_class(model),
        "model": model.get_config(),
        "compile": compile_config,
        "optimizer_state": with_state,
    }
    _write(path, tensors, header)


def load_model(path: PathLike) -> Model:
    """Rebuild a model saved by :func:`save_model` (or ``model.save``).

    Before anything is built, the architecture is checked against the stored tensors
    (:mod:`scratchnn.io_checks`): every weight its layer configs imply must be stored with exactly
    that shape and dtype, nothing else may be stored, integers in layer configs are bounded, and
    the optimizer state must fit the parameters. Only then is the model rebuilt through the layer
    registry, given its weights, compiled again when it was compiled, and given back its
    optimizer state when it was saved.

    Args:
        path: a file written by :func:`save_model`.

    Returns:
        The model, ready for ``predict`` (and ``fit`` when it was saved compiled).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming ``path`` and the problem, when the file is empty, truncated,
            corrupt, foreign (not a safetensors file, or one without scratchnn metadata), a
            weights-only file, written by a newer format version, names a layer class, loss
            or optimizer this scratchnn does not know, or when its architecture and its tensors
            disagree (the message names the layer, the stored shape and the config's shape).

    Example:
        >>> model = load_model("model.snn")  # doctest: +SKIP
        >>> model.predict(x)  # doctest: +SKIP
    """
    path = os.fspath(path)
    found = _read(path)
    header = found.header
    if header["format"] != MODEL_FORMAT:
        raise ValueError(
            f"{path}: a weights-only file (written by save_weights), not a full model. Build "
            "the model in code, then call model.load_weights(path)."
        )
    model_class = header.get("model_class", "Sequential")
    if not isinstance(model_class, str):
        raise ValueError(f"{path}: 'model_class' must be a string; received {model_class!r}.")
    config = header.get("model")
    if model_class in io_checks.PLANNED_MODELS:
        # Everything the file describes is checked against what it stores before anything is
        # built; the built model must then hold exactly the planned weights.
        plan = io_checks.plan_model_config(config, path, model_class)
        io_checks.check_stored_weights(plan, _stored(found.weights), path)
        io_checks.check_config_bounds(plan, path)
        compile_config = _checked_compile_settings(header, found, plan, path)
        model = _model_from_config(config, model_class, path)
        io_checks.check_built(_model_weights(model), plan, path)
    else:  # a registered custom class builds itself by its own code; then the same checks
        if not isinstance(config, dict):
            raise ValueError(f"{path}: the architecture is not a JSON object.")
        io_checks.check_config_bounds(
            io_checks.ModelPlan(None, entries=[(0, model_class, str(config.get("name")), config)]),
            path,
        )
        model = _model_from_config(config, model_class, path)
        if not model.built and found.weights:
            model.build(_input_shape_from_weights(model, found.weights, header, path))
        plan = _plan_of_built(model)
        io_checks.check_stored_weights(plan, _stored(found.weights), path)
        compile_config = _checked_compile_settings(header, found, plan, path)
    if model.built:
        _assign_weights(model, found.weights)
    if compile_config is not None:
        try:
            model.compile_from_config(compile_config)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{path}: cannot restore the compile settings {compile_config!r}: {exc}"
            ) from exc
    if header["optimizer_state"]:
        try:
            model.optimizer.set_state(found.optimizer)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{path}: cannot restore the optimizer state: {exc}") from exc
    return model


def save_weights(model: Model, path: PathLike) -> None:
    """Save only the weights of a built model (atomically, like :func:`save_model`).

    Args:
        model: a built model.
        path: target file (e.g. ``"model.weights.snn"``); its directory must exist.

    Raises:
        ValueError: when the model is not built (it has no weights yet).
        FileNotFoundError: when the directory of ``path`` does not exist.
        OSError: when the file cannot be written; ``path`` is then left unchanged.

    Example:
        >>> save_weights(model, "model.weights.snn")  # doctest: +SKIP
        >>> load_weights(model, "model.weights.snn")  # doctest: +SKIP
    """
    if not model.built:
        raise ValueError(
            "save_weights needs a built model; this one has no weights yet. Build it first "
            "(model.build(input_shape), or give the first layer an input shape)."
        )
    tensors = _weight_tensors(model)
    header = {
        "format": WEIGHTS_FORMAT,
        "format_version": FORMAT_VERSION,
        "scratchnn_version": _library_version(),
        "model": model.get_config(),  # for information; load_weights matches names and shapes
        "compile": None,
        "optimizer_state": False,
    }
    _write(path, tensors, header)


def load_weights(model: Model, path: PathLike) -> None:
    """Load weights saved by :func:`save_weights` (or :func:`save_model`) into ``model``.

    Every weight of the model must be in the file with the same shape, and the file must hold no
    other weights. Weights are matched by layer name; when the names differ (a model rebuilt in
    code gets fresh automatic names such as ``dense_3``), they are matched by position instead,
    layer by layer, provided every layer holds the same weights with the same shapes. An unbuilt
    model is first built from the shape of its first kernel when the file makes that unambiguous;
    the shapes its layers will create are checked against the file before it is built. Values
    are cast to the dtype of the model's weights (stored weights must be floating-point).

    Args:
        model: a model with the same layers (names, or order and weight shapes) as the saved one.
        path: a file written by :func:`save_weights` or :func:`save_model`.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming ``path`` when the file is not a valid scratchnn file (see
            :func:`load_model`), or naming the weight, expected and received shape when the
            file does not match the model.

    Example:
        >>> model.load_weights("model.weights.snn")  # doctest: +SKIP
    """
    from scratchnn.models import Sequential

    path = os.fspath(path)
    found = _read(path)
    if not model.built and not found.weights:
        return  # an unbuilt model and a file of an unbuilt model: nothing to load
    input_shape = None
    if model.built:
        plan = _plan_of_built(model)
    else:
        input_shape = model.input_shape
        if input_shape is None:
            input_shape = _input_shape_from_weights(model, found.weights, found.header, path)
        if isinstance(model, Sequential):  # a stack: its weights are known before building
            plan = io_checks.ModelPlan(input_shape)
            plan.weights = io_checks.plan_layers(
                list(enumerate(model.layers)), input_shape, model.dtype, path, _MISMATCH
            )
        else:  # a custom model builds itself by its own code
            model.build(input_shape)
            plan = _plan_of_built(model)
    weights = _by_model_names(plan, found.weights, found.header)
    io_checks.check_stored_weights(
        plan, _stored(weights), path, exact_dtype=False, source="model", advice=_MISMATCH
    )
    if not model.built:
        model.build(input_shape)
        io_checks.check_built(_model_weights(model), plan, path)
    _assign_weights(model, weights)


_MISMATCH = (
    "Weights are matched by layer name, or by position when every layer holds the same weights "
    "with the same shapes; neither matched. Check the layer sizes, or name the layers explicitly "
    "(name=...)."
)


# ------------------------------------------------------------------------------------ writing
def _weight_tensors(model: Model) -> dict[str, np.ndarray]:
    return {WEIGHTS_PREFIX + name: _contiguous(w) for name, w in model.weight_dict().items()}


def _model_class(model: Model) -> str:
    from scratchnn.models.config import model_class_name

    return model_class_name(model)


def _contiguous(value: Any) -> np.ndarray:
    return np.ascontiguousarray(backend.to_numpy(value))


def _library_version() -> str:
    import scratchnn  # late: this module is imported while scratchnn/__init__.py runs

    return scratchnn.__version__


def _digest(tensors: dict[str, np.ndarray], header: dict[str, Any]) -> str:
    """SHA-256 of the header (canonical JSON, without its ``"sha256"``) and of the tensors.

    Tensors enter by name order as name, dtype, shape and little-endian bytes. The digest detects
    damage (a flipped bit, a cut, an edit by a tool that knows safetensors but not scratchnn); it
    is not a signature: whoever crafts a file can compute it too.
    """
    h = hashlib.sha256()
    rest = {key: value for key, value in header.items() if key != "sha256"}
    h.update(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        array = tensors[name]
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        h.update(f"\0{name}\0{little.dtype.str}\0{list(array.shape)}\0".encode())
        h.update(np.ascontiguousarray(little).tobytes())
    return h.hexdigest()


def _write(path: PathLike, tensors: dict[str, np.ndarray], header: dict[str, Any]) -> None:
    try:
        header = {**header, "sha256": _digest(tensors, header)}
        text = json.dumps(header)
    except TypeError as exc:
        raise TypeError(
            f"Cannot save to {os.fspath(path)}: the model's configuration is not JSON: {exc}. "
            "Custom functions (activations, schedules, ...) cannot be stored; use registered "
            "names."
        ) from exc
    data = safetensors.numpy.save(tensors, metadata={METADATA_KEY: text})
    atomic_write(os.fspath(path), data)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old or its new bytes.

    The bytes go to a temporary file in the same directory, which is flushed, ``fsync``-ed and
    renamed onto ``path`` (the directory is ``fsync``-ed too); an existing file keeps its
    permissions, a new one gets the umask's. Used for model files and ONNX exports.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist.
    """
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT, "Cannot save: this directory does not exist", directory
        )
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):  # POSIX; mkstemp's files are private (0o600)
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        if _before_replace is not None:
            _before_replace(tmp, target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 when unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


# ------------------------------------------------------------------------------------ reading
def _read(path: str) -> _File:
    """Open, validate and read a scratchnn file; every problem is a ValueError naming ``path``."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such model file", path)
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise ValueError(
            f"{path}: empty file (0 bytes), not a scratchnn model file. Was a save interrupted "
            "by something that did not use model.save()?"
        )
    declared = int.from_bytes(head[:8], "little")
    if len(head) >= 8 and declared > io_checks.MAX_HEADER_BYTES:
        raise _foreign_or(path, head, ValueError(
            f"{path}: not a valid scratchnn model file: its first 8 bytes give a header of "
            f"{declared:,} bytes, above the {io_checks.MAX_HEADER_BYTES:,} bytes model files may "
            "have. The file is truncated or corrupt, or was not written by scratchnn."
        ))
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata()
            names = list(f.keys())
            tensors = {name: f.get_tensor(name) for name in names}
    except safetensors.SafetensorError as exc:
        # Only now look at the first bytes: a valid header length can look like a magic number.
        raise _foreign_or(path, head, ValueError(
            f"{path}: not a valid safetensors file ({exc}). The file is truncated or corrupt, "
            "or was not written by scratchnn."
        )) from exc
    header = _parse_header(metadata, path)
    if _digest(tensors, header) != header["sha256"]:
        raise ValueError(
            f"{path}: the content does not match the SHA-256 checksum written with it; the file "
            "is corrupt (or was edited by hand)."
        )
    found = _File(header)
    for name, array in tensors.items():
        if name.startswith(WEIGHTS_PREFIX):
            found.weights[name[len(WEIGHTS_PREFIX):]] = array
        elif name.startswith(OPTIMIZER_PREFIX):
            found.optimizer[name[len(OPTIMIZER_PREFIX):]] = array
        else:
            raise ValueError(
                f"{path}: unexpected tensor {name!r}; scratchnn files hold only "
                f"'{WEIGHTS_PREFIX}...' and '{OPTIMIZER_PREFIX}...' tensors."
            )
    return found


def _foreign_or(path: str, head: bytes, error: ValueError) -> ValueError:
    """The error for a file starting with ``head``: what it looks like if known, else ``error``."""
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return ValueError(
                f"{path}: not a scratchnn model file; it looks like {what}. scratchnn reads "
                "only the safetensors files written by model.save() / model.save_weights(), "
                "and never unpickles."
            )
    return error


def _parse_header(metadata: dict[str, str] | None, path: str) -> dict[str, Any]:
    if not metadata or METADATA_KEY not in metadata:
        keys = sorted(metadata or {})
        raise ValueError(
            f"{path}: not a scratchnn model file (no '{METADATA_KEY}' metadata; metadata keys: "
            f"{keys}); was it written by model.save()? It is a safetensors file from another "
            "program."
        )
    try:
        header = json.loads(metadata[METADATA_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{path}: the '{METADATA_KEY}' metadata is not valid JSON ({exc}); the file is "
            "corrupt."
        ) from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the '{METADATA_KEY}' metadata is not a JSON object.")
    fmt = header.get("format")
    if fmt not in (MODEL_FORMAT, WEIGHTS_FORMAT):
        raise ValueError(
            f"{path}: unknown file format {fmt!r}; expected {MODEL_FORMAT!r} or "
            f"{WEIGHTS_FORMAT!r}."
        )
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"{path}: invalid format_version {version!r}; expected a positive integer."
        )
    if version > FORMAT_VERSION:
        writer = header.get("scratchnn_version", "unknown")
        raise ValueError(
            f"{path}: written by scratchnn format version {version} (scratchnn {writer}); this "
            f"scratchnn reads up to {FORMAT_VERSION} — upgrade scratchnn."
        )
    if not isinstance(header.get("sha256"), str):
        raise ValueError(f"{path}: the metadata has no 'sha256' checksum; the file is corrupt.")
    return header


def _stored(weights: dict[str, np.ndarray]) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{name: (shape, dtype name)}`` of the file's tensors, for :mod:`scratchnn.io_checks`."""
    return {name: (tuple(array.shape), array.dtype.name) for name, array in weights.items()}


def _model_weights(model: Model) -> dict[str, Any]:
    """The model's weight Tensors by ``"<layer>/<weight>"``, in parameter order (no copies)."""
    return dict(model.weights)


def _plan_of_built(model: Model) -> io_checks.ModelPlan:
    """The plan of a model that holds its weights: what it has, in parameter order."""
    layers = {layer.name: (i, type(layer).__name__) for i, layer in enumerate(model.layers)}
    plan = io_checks.ModelPlan(None)
    for key, weight in _model_weights(model).items():
        layer, _, name = key.rpartition("/")
        index, class_name = layers.get(key.split("/", 1)[0], (0, "?"))
        plan.weights.append(io_checks.PlannedWeight(
            key, layer, name, index, class_name, tuple(weight.shape), np.dtype(weight.dtype).name,
            None,
        ))
    return plan


def _model_from_config(config: Any, model_class: str, path: str) -> Model:
    """The model of a checked architecture (a ValueError naming ``path`` if it cannot be)."""
    from scratchnn.models import model_from_config  # here: scratchnn.models imports this module

    try:
        return model_from_config(config, model_class)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as exc:
        raise ValueError(f"{path}: cannot rebuild the model from its architecture: {exc}") from exc


def _checked_compile_settings(
    header: dict[str, Any], found: _File, plan: io_checks.ModelPlan, path: str
) -> dict[str, Any] | None:
    """The compile settings, with the optimizer state checked against the planned parameters."""
    from scratchnn import optimizers

    compile_config = header.get("compile")
    with_state = header.get("optimizer_state")
    if compile_config is not None and not isinstance(compile_config, dict):
        raise ValueError(f"{path}: the compile settings are not a JSON object.")
    if not isinstance(with_state, bool):
        raise ValueError(
            f"{path}: 'optimizer_state' is {with_state!r}; expected true or false. The file is "
            "corrupt."
        )
    if not with_state:
        if found.optimizer:
            raise ValueError(
                f"{path}: optimizer tensors {sorted(found.optimizer)[:5]} present although the "
                "metadata says none were saved; the file is corrupt."
            )
        return compile_config
    if compile_config is None:
        raise ValueError(
            f"{path}: the file holds optimizer state but no compile settings; it is corrupt."
        )
    try:
        optimizer = optimizers.get(copy.deepcopy(compile_config["optimizer"]))
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        raise ValueError(
            f"{path}: cannot restore the compile settings {compile_config!r}: {exc}"
        ) from exc
    io_checks.check_optimizer_state(plan, optimizer, found.optimizer, path)
    return compile_config


def _saved_layer_names(header: dict[str, Any]) -> list[Any]:
    """The layer names of the file's architecture, in order (``[]`` when it has none)."""
    config = header.get("model")
    entries = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        e["config"].get("name") if isinstance(e, dict) and isinstance(e.get("config"), dict)
        else None
        for e in entries
    ]


def _by_model_names(
    plan: io_checks.ModelPlan, weights: dict[str, np.ndarray], header: dict[str, Any]
) -> dict[str, np.ndarray]:
    """``weights`` renamed to the model's layer names when they match by position, else as is.

    The file's layer order comes from its architecture; layer ``i`` of the file pairs with the
    ``i``-th layer of the model that has weights, and each pair must hold the same weight names
    and shapes. Anything less leaves the names as they are, so the name check reports the problem.
    """
    layers: dict[str, dict[str, tuple[int, ...]]] = {}
    for w in plan.weights:
        layers.setdefault(w.layer, {})[w.weight] = w.shape
    if not layers or all(w.key in weights for w in plan.weights):
        return weights
    groups = [
        {key.split("/", 1)[1]: key for key in weights if key.split("/", 1)[0] == name}
        for name in _saved_layer_names(header)
    ]
    groups = [group for group in groups if group]
    if len(groups) != len(layers) or sum(map(len, groups)) != len(weights):
        return weights
    renamed: dict[str, np.ndarray] = {}
    for (layer, shapes), group in zip(layers.items(), groups, strict=True):
        if set(group) != set(shapes):
            return weights
        for wname, key in group.items():
            if tuple(weights[key].shape) != shapes[wname]:
                return weights
            renamed[f"{layer}/{wname}"] = weights[key]
    return renamed


def _input_shape_from_weights(
    model: Model, weights: dict[str, np.ndarray], header: dict[str, Any], path: str
) -> tuple[int, ...]:
    """The input shape of an unbuilt model whose first layer is a Dense: its kernel's rows.

    The kernel is the file's weight of that layer's name, else the file's first kernel in its
    architecture's layer order. Full model files of built models carry their input shape in the
    architecture; this serves :func:`load_weights` into a model built in code without one.
    """
    layers = list(getattr(model, "layers", []))
    if weights and layers and type(layers[0]).__name__ == "Dense":
        kernel = weights.get(f"{layers[0].name}/kernel")
        if kernel is None:  # names differ: the file's first kernel, in its layer order
            saved = [n for n in _saved_layer_names(header) if isinstance(n, str)]
            kernel = next((weights[f"{n}/kernel"] for n in saved if f"{n}/kernel" in weights), None)
        if kernel is not None and kernel.ndim == 2 and kernel.shape[0] > 0:
            return (int(kernel.shape[0]),)
    raise ValueError(
        f"{path}: the model is not built and its input shape cannot be read from the file. "
        "Build it first (model.build(input_shape)), then load the weights."
    )


def _assign_weights(model: Model, weights: dict[str, np.ndarray]) -> None:
    """Hand the checked arrays over to a built model, cast to its weights' dtypes."""
    arrays = {
        name: np.asarray(weights[name], dtype=tensor.dtype)
        for name, tensor in _model_weights(model).items()
    }
    model.load_weight_dict(arrays)
