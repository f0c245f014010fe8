"""Checks a model file passes before anything it describes is allocated.

A model file's architecture is a promise about its tensors: every weight the layer configs imply
must be stored with exactly that shape and dtype, and nothing else may be stored. These checks hold
the promise *before* a layer is built, so that a crafted file (its SHA-256 recomputed, as anyone
can) whose config says ``Dense(units=4_000_000_000)`` while its kernel is ``(3, 4)`` is one
``ValueError`` naming the layer and both shapes, not a 48 GB allocation.

The checks are generic over layer classes: layers are constructed from their configs (construction
allocates nothing), then walked with their input shapes through :meth:`Layer.weight_shapes` and
:meth:`Layer.compute_output_shape`, which compute from the config alone. A new layer class gets
the checks by implementing those two methods, as ``layers/base.py`` asks.

Order of the checks (:func:`plan_model_config`, :func:`check_stored_weights`,
:func:`check_config_bounds`, :func:`check_optimizer_state`):

1. structure: a JSON object with at most :data:`MAX_LAYERS` layers, registered classes, unique
   non-empty names, configs nested at most :data:`MAX_CONFIG_DEPTH` deep, an ``Input`` only first;
2. shapes: the weights the walk implies against the stored tensors (names, shapes, dtypes, no
   extra tensor, the same total parameter count), and sample shapes of rank <= :data:`MAX_RANK`;
3. numbers: every integer of a layer config (``units``, ``filters``, kernel sizes, sequence
   lengths, input shapes, ...) within :data:`MAX_CONFIG_INT` in absolute value; seeds are exempt;
4. optimizer state: ``iterations`` and one ``<slot>.<i>`` entry per slot for parameters ``i`` of
   the model only, each slot shaped like its parameter.

Shape legend: shapes exclude the batch axis (written ``None`` in messages).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratchnn import backend
from scratchnn.layers import LAYERS, Layer

MAX_HEADER_BYTES = 16 * 2**20
"""Largest JSON header of a model file read (16 MiB; scratchnn writes a few KB per layer)."""

MAX_LAYERS = 10_000
"""Most layers an architecture in a model file may list."""

MAX_CONFIG_INT = 2**24
"""Largest absolute value of an integer in a layer config (16,777,216): units, filters, kernel
sizes, sequence lengths, input dimensions. Seeds (``seed``, ``*_seed``) are exempt. A model that
truly needs more can raise it (``scratchnn.io_checks.MAX_CONFIG_INT = ...``) before loading."""

MAX_CONFIG_DEPTH = 32
"""Deepest nesting of dicts and lists in one layer config."""

MAX_RANK = 32
"""Most axes of one sample's shape at any layer's input or output."""

_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError,
           RecursionError)
"""What constructing a layer from hostile JSON may raise; all become one ValueError."""

_CORRUPT = "The file is corrupt or was edited; nothing was built."


@dataclass(frozen=True)
class PlannedWeight:
    """One weight the architecture implies.

    Attributes:
        key: ``"<layer>/<weight>"``, the tensor name without its ``weights/`` prefix.
        layer: the layer's name; weight: the weight's name.
        index: the layer's position in the architecture (an ``Input`` entry counts).
        class_name: the layer's class.
        shape: the shape :meth:`Layer.weight_shapes` gives for the layer's input shape.
        dtype: the NumPy dtype name the weight will have (the layer's, else the model's).
        input_shape: the layer's input sample shape.
    """

    key: str
    layer: str
    weight: str
    index: int
    class_name: str
    shape: tuple[int, ...]
    dtype: str
    input_shape: tuple[int, ...]

    @property
    def label(self) -> str:
        """``layer 2 ('hidden', Dense)``: how messages name the layer."""
        return f"layer {self.index} ({self.layer!r}, {self.class_name})"


@dataclass
class ModelPlan:
    """What a model will hold once built, computed without building it.

    Attributes:
        input_shape: one input sample's shape, or ``None`` for an unbuilt model (no weights).
        weights: every weight, in the model's parameter order (layer by layer, as created).
        entries: ``(index, class_name, name, config)`` of each layer config (for the bounds).
    """

    input_shape: tuple[int, ...] | None
    weights: list[PlannedWeight] = field(default_factory=list)
    entries: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def n_params(self) -> int:
        """Scalars in all planned weights."""
        return sum(math.prod(w.shape) for w in self.weights)


# ------------------------------------------------------------------------------ architecture
def plan_model_config(config: Any, where: str) -> ModelPlan:
    """Check an architecture (``model.get_config()`` data) and plan its weights, allocating nothing.

    Args:
        config: the ``"model"`` entry of a file's header, as parsed JSON.
        where: the file, for messages (each starts ``"<where>: "``).

    Returns:
        The :class:`ModelPlan`.

    Raises:
        ValueError: a malformed architecture, an unknown layer class, a layer that cannot be made
            from its config or cannot take its input shape, a repeated layer name, a bad dtype.

    Example:
        >>> config = {"dtype": "float32", "layers": [
        ...     {"class_name": "Input", "config": {"name": "in", "shape": [3]}},
        ...     {"class_name": "Dense", "config": {"name": "d", "units": 4}}]}
        >>> [(w.key, w.shape) for w in plan_model_config(config, "m.snn").weights]
        [('d/kernel', (3, 4)), ('d/bias', (4,))]
    """
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return _plan_sequential(config, where)
    # A functional model's config (a graph: nodes with inbound references) gets its own
    # planner here: topological order, refusing cycles, dangling references and absurd fan-out,
    # each node's input shapes from its inbound nodes' outputs, then _plan_layer per node.
    raise ValueError(
        f"{where}: the architecture is missing or malformed; expected a JSON object with a "
        f"'layers' list. {_CORRUPT}"
    )


def _plan_sequential(config: dict[str, Any], where: str) -> ModelPlan:
    """A ``Sequential`` config: an optional ``Input`` entry first, then the layers in order."""
    entries = config["layers"]
    if len(entries) > MAX_LAYERS:
        raise ValueError(
            f"{where}: the architecture lists {len(entries):,} layers; model files may hold at "
            f"most {MAX_LAYERS:,}. {_CORRUPT}"
        )
    dtype = _model_dtype(config.get("dtype"), where)
    plan = ModelPlan(input_shape=None)
    names: set[str] = set()
    layers: list[tuple[int, Layer]] = []
    for i, entry in enumerate(entries):
        class_name, name, layer_config = _entry(entry, i, where)
        if name in names:
            raise ValueError(
                f"{where}: two layers are named {name!r} (layer {i}); layer names must be unique. "
                f"{_CORRUPT}"
            )
        names.add(name)
        plan.entries.append((i, class_name, name, layer_config))
        layer = _construct(class_name, name, layer_config, i, where)
        if class_name == "Input":
            if i != 0:
                raise ValueError(
                    f"{where}: layer {i} ({name!r}) is an Input; an Input may only come first. "
                    f"{_CORRUPT}"
                )
            plan.input_shape = tuple(layer.shape)
            continue
        layers.append((i, layer))
    if plan.input_shape is None and layers:
        declared = getattr(layers[0][1], "declared_input_shape", None)
        if declared is not None:
            plan.input_shape = tuple(declared)
    if plan.input_shape is not None:
        _check_rank(plan.input_shape, "the input", where)
        plan.weights = plan_layers(layers, plan.input_shape, dtype, where)
    return plan


def plan_layers(
    layers: Sequence[tuple[int, Layer]],
    input_shape: tuple[int, ...],
    dtype: Any,
    where: str,
    advice: str = _CORRUPT,
) -> list[PlannedWeight]:
    """The weights a stack of layers holds for inputs of ``input_shape``, allocating nothing.

    Built layers report the weights they have; unbuilt ones what :meth:`Layer.weight_shapes`
    says :meth:`Layer.build` will create.

    Args:
        layers: ``(position, layer)`` pairs, in order; the position names the layer in messages.
        input_shape: one sample's shape at the first layer.
        dtype: the model's dtype, for layers without their own.
        where: the file, for messages.
        advice: the last sentence of a message.

    Raises:
        ValueError: a layer that cannot take its input shape, or whose shapes are not made of
            non-negative integers.
    """
    model_dtype = np.dtype(dtype).name
    planned: list[PlannedWeight] = []
    shape = tuple(input_shape)
    for index, layer in layers:
        label = f"layer {index} ({layer.name!r}, {type(layer).__name__})"
        try:
            if layer.built:
                shapes = {n: tuple(w.shape) for n, w in layer.weights.items()}
                dtypes = {n: np.dtype(w.dtype).name for n, w in layer.weights.items()}
            else:
                shapes = dict(layer.weight_shapes(shape))
                own = layer.dtype
                dtypes = dict.fromkeys(shapes, model_dtype if own is None else np.dtype(own).name)
            output = tuple(layer.compute_output_shape(shape))
        except _ERRORS as exc:
            raise ValueError(
                f"{where}: {label} cannot take inputs of shape {_batch(shape)}: {exc}. {advice}"
            ) from None
        for wname, wshape in shapes.items():
            wshape = _dims(wshape, f"{label} weight {wname!r}", where)
            planned.append(PlannedWeight(f"{layer.name}/{wname}", layer.name, str(wname), index,
                                         type(layer).__name__, wshape, dtypes[wname], shape))
        shape = _dims(output, f"the output of {label}", where)
        _check_rank(shape, f"the output of {label}", where)
    return planned


def _entry(entry: Any, i: int, where: str) -> tuple[str, str, dict[str, Any]]:
    """``(class_name, name, config)`` of one layer entry, checked for structure."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(
            f"{where}: layer {i} of the architecture is malformed; expected "
            "{'class_name': ..., 'config': {...}}."
        )
    class_name = entry.get("class_name")
    if not isinstance(class_name, str) or class_name not in LAYERS:
        raise ValueError(
            f"{where}: unknown layer class {class_name!r} (layer {i}); known layer classes: "
            f"{', '.join(sorted(LAYERS))}."
        )
    config = entry["config"]
    name = config.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(
            f"{where}: layer {i} ({class_name}) has name {name!r}; every layer in a model file "
            f"has a non-empty name without '/' (its weights are stored under it). {_CORRUPT}"
        )
    depth = _depth(config)
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError(
            f"{where}: the config of layer {i} ({name!r}, {class_name}) is nested {depth} levels "
            f"deep; at most {MAX_CONFIG_DEPTH} are allowed. {_CORRUPT}"
        )
    return class_name, name, config


def _construct(class_name: str, name: str, config: dict[str, Any], i: int, where: str) -> Layer:
    """The layer, made from its config by the registry class (construction allocates nothing)."""
    try:
        return LAYERS[class_name](**copy.deepcopy(config))
    except _ERRORS as exc:
        raise ValueError(
            f"{where}: layer {i} ({name!r}, {class_name}) cannot be made from its config: {exc}"
        ) from None


def _model_dtype(dtype: Any, where: str) -> Any:
    try:
        return backend.resolve_dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: the architecture's dtype is invalid: {exc}") from None


def _dims(shape: Any, what: str, where: str) -> tuple[int, ...]:
    """``shape`` as a tuple of ints >= 0, or a ValueError naming ``what``."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(f"{where}: {what} has shape {shape!r}, not a tuple of sizes >= 0.")
    return tuple(int(d) for d in dims)


def _check_rank(shape: tuple[int, ...], what: str, where: str) -> None:
    if len(shape) > MAX_RANK:
        raise ValueError(
            f"{where}: {what} has {len(shape)} axes; at most {MAX_RANK} are allowed. {_CORRUPT}"
        )


def _batch(shape: tuple[int, ...]) -> str:
    return str((None, *shape))


def _depth(value: Any) -> int:
    """Nesting depth of dicts and lists (iterative: hostile JSON may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if level <= MAX_CONFIG_DEPTH:
            stack.extend((child, level + 1) for child in items)
    return deepest


# ----------------------------------------------------------------------------- stored weights
def check_stored_weights(
    plan: ModelPlan,
    stored: Mapping[str, tuple[tuple[int, ...], str]],
    where: str,
    *,
    exact_dtype: bool = True,
    source: str = "architecture",
    advice: str = _CORRUPT,
) -> None:
    """Require every planned weight stored with its shape and dtype, and nothing else stored.

    Args:
        plan: from :func:`plan_model_config` (or a plan of a model in memory).
        stored: tensor name (without ``weights/``) -> ``(shape, dtype name)``, read from the file.
        where: the file, for messages.
        exact_dtype: require the planned dtype exactly; otherwise any floating dtype (cast on
            load, as :func:`scratchnn.io.load_weights` documents).
        source: what the weights come from, for messages: ``"architecture"`` (the file's own
            config) or ``"model"`` (a model in memory).
        advice: the last sentence of each message: what to do about it.

    Raises:
        ValueError: the first layer whose stored weight has another shape (naming the layer, the
            stored shape and the shape its config implies), weights missing from the file or
            stored but not implied, another dtype, or different parameter totals.

    Example:
        >>> plan = plan_model_config({"layers": [{"class_name": "Dense", "config": {
        ...     "name": "d", "units": 4, "input_shape": [3], "use_bias": False}}]}, "m.snn")
        >>> check_stored_weights(plan, {"d/kernel": ((3, 4), "float32")}, "m.snn")
        >>> check_stored_weights(plan, {"d/kernel": ((3, 5), "float32")}, "m.snn")
        Traceback (most recent call last):
        ...
        ValueError: m.snn: layer 0 ('d', Dense) of the architecture implies weight 'd/kernel' ...
    """
    verb = "implies" if source == "architecture" else "has"
    for w in plan.weights:
        if w.key not in stored:
            continue
        shape, dtype = stored[w.key]
        if tuple(shape) != w.shape:
            raise ValueError(
                f"{where}: {w.label} of the {source} {verb} weight {w.key!r} of shape {w.shape} "
                f"for inputs of shape {_batch(w.input_shape)}; the file stores it with shape "
                f"{tuple(shape)}. {advice}"
            )
        if exact_dtype and dtype != w.dtype:
            raise ValueError(
                f"{where}: {w.label} of the {source} {verb} weight {w.key!r} of dtype {w.dtype}; "
                f"the file stores it as {dtype}. {advice}"
            )
        if not exact_dtype and not np.issubdtype(np.dtype(dtype), np.floating):
            raise ValueError(
                f"{where}: weight {w.key!r} is stored as {dtype}; weights are floating-point "
                f"numbers. {advice}"
            )
    planned = {w.key for w in plan.weights}
    missing = [w.key for w in plan.weights if w.key not in stored]
    unexpected = sorted(key for key in stored if key not in planned)
    if missing or unexpected:
        raise ValueError(
            f"{where}: the file's weights do not match the {source}. Missing from the file: "
            f"{_listing(missing)}; in the file but not in the {source}: "
            f"{_listing(unexpected)}. {advice}"
        )
    held = sum(math.prod(shape) for shape, _ in stored.values())
    if held != plan.n_params:  # implied by the checks above; kept as the stated invariant
        raise ValueError(
            f"{where}: the {source} {verb} {plan.n_params:,} parameters; the file holds "
            f"{held:,}. {advice}"
        )


def _listing(keys: list[str], limit: int = 8) -> str:
    if not keys:
        return "none"
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# ------------------------------------------------------------------------------------ numbers
def check_config_bounds(plan: ModelPlan, where: str) -> None:
    """Refuse any integer of a layer config above :data:`MAX_CONFIG_INT` (seeds exempt).

    Generic over layer classes: every integer field is checked, nested ones included (an
    initializer's config, each entry of a kernel size or an input shape), and the message names
    the field.

    Raises:
        ValueError: naming the layer, the field, the value and the limit.

    Example:
        >>> plan = ModelPlan(None, entries=[(0, "Dense", "d", {"units": 2**40})])
        >>> check_config_bounds(plan, "m.snn")
        Traceback (most recent call last):
        ...
        ValueError: m.snn: layer 0 ('d', Dense): units=1099511627776 is above 16,777,216, ...
    """
    for index, class_name, name, config in plan.entries:
        for label, value in _int_fields(config):
            if abs(value) > MAX_CONFIG_INT:
                raise ValueError(
                    f"{where}: layer {index} ({name!r}, {class_name}): {label}={value} is above "
                    f"{MAX_CONFIG_INT:,}, the largest integer a layer config in a model file may "
                    f"hold (sizes, lengths, counts). {_CORRUPT} A model that truly needs it: "
                    "raise scratchnn.io_checks.MAX_CONFIG_INT before loading."
                )


def _int_fields(config: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """``(label, value)`` of every integer in ``config``: ``units``, ``shape[1]``, ... ."""
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in reversed(config.items())]
    while stack:
        label, value = stack.pop()
        last = label.rsplit(".", 1)[-1].split("[", 1)[0]
        if last == "seed" or last.endswith("_seed"):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            yield label, value
        elif isinstance(value, dict):
            stack.extend((f"{label}.{k}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{label}[{i}]", v) for i, v in reversed(list(enumerate(value))))


# ---------------------------------------------------------------------------- optimizer state
def check_optimizer_state(
    plan: ModelPlan, optimizer: Any, state: Mapping[str, np.ndarray], where: str
) -> None:
    """Check optimizer tensors against the planned parameters before ``set_state`` sees them.

    ``state`` must hold ``iterations`` (an integer >= 0) and, for parameters ``i`` of the model
    only, ``<slot>.<i>`` entries: array slots shaped and typed like parameter ``i``, counters as
    scalars (integers >= 0, or finite floats).

    Args:
        plan: the model's plan (its weights are the optimizer's parameters, in order).
        optimizer: the optimizer the compile settings make (its slot names are read from it).
        state: tensor name (without ``optimizer/``) -> array.
        where: the file, for messages.

    Raises:
        ValueError: naming the entry and what was expected.
    """
    arrays = tuple(optimizer._slot_names())  # the Optimizer subclass contract (optimizers/base)
    counters = dict(type(optimizer)._scalar_slots)
    n = len(plan.weights)
    if "iterations" not in state:
        raise ValueError(f"{where}: the optimizer state has no 'iterations' entry. {_CORRUPT}")
    for key, value in state.items():
        name, _, index = key.rpartition(".")
        if key == "iterations":
            _check_counter(key, value, 0, where)
            continue
        if (name not in arrays and name not in counters) or not index.isdecimal():
            raise ValueError(
                f"{where}: unknown optimizer state entry {key!r}; {type(optimizer).__name__} "
                f"keeps 'iterations' and '<slot>.<i>' with slot in "
                f"{list(arrays) + list(counters)}. {_CORRUPT}"
            )
        if len(index) > 9 or int(index) >= n:
            raise ValueError(
                f"{where}: optimizer state entry {key!r} is for parameter {index}; the model has "
                f"{n} parameters (0..{n - 1}). {_CORRUPT}"
            )
        if name in counters:
            _check_counter(key, value, counters[name], where)
            continue
        param = plan.weights[int(index)]
        if tuple(value.shape) != param.shape or np.dtype(value.dtype).name != param.dtype:
            raise ValueError(
                f"{where}: optimizer state entry {key!r} has shape {tuple(value.shape)} and "
                f"dtype {value.dtype}; parameter {index} ({param.key!r}) has shape {param.shape} "
                f"and dtype {param.dtype}, which its slots share. {_CORRUPT}"
            )


def _check_counter(key: str, value: np.ndarray, initial: int | float, where: str) -> None:
    """A per-parameter (or global) counter: an integer >= 0 or a finite float.

    It is one number, of shape ``()`` or ``(1,)`` (``numpy.ascontiguousarray``, used when
    saving, makes scalars one-dimensional).
    """
    integral = isinstance(initial, int)
    kind = np.integer if integral else np.floating
    ok = value.shape in ((), (1,)) and np.issubdtype(value.dtype, kind)
    if ok:
        number = value.item()
        ok = number >= 0 if integral else math.isfinite(number)
    if not ok:
        expected = "an integer >= 0" if integral else "a finite float"
        raise ValueError(
            f"{where}: optimizer state entry {key!r} must be a scalar, {expected}; received "
            f"shape {tuple(value.shape)}, dtype {value.dtype}. {_CORRUPT}"
        )


# ------------------------------------------------------------------------------ after building
def check_built(weights: Mapping[str, Any], plan: ModelPlan, where: str) -> None:
    """Require a built model's weights to be the plan's, in order (a layer-class invariant).

    Args:
        weights: the built model's ``{"<layer>/<weight>": Tensor or array}``, in parameter order.
        plan: the plan the file was checked against.
        where: the file, for messages.

    Raises:
        RuntimeError: a layer class whose ``build`` creates other weights than its
            ``weight_shapes`` names: a bug in that class, not in the file.
    """
    built = [(key, tuple(w.shape)) for key, w in weights.items()]
    planned = [(w.key, w.shape) for w in plan.weights]
    if built != planned:
        raise RuntimeError(
            f"{where}: the built model holds weights {built}, but the layers' weight_shapes() "
            f"planned {planned}. A layer class's build() and weight_shapes() disagree (names, "
            "order or shapes); fix that layer class."
        )
