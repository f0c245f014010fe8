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
   non-empty names, configs nested at most :data:`MAX_CONFIG_DEPTH` deep; a stack has an
   ``Input`` only first; a graph (``Functional``) is resolved call by call as
   ``Functional.from_config`` would, refusing cycles, dangling references, more than
   :data:`MAX_GRAPH_CALLS` calls, a tensor read by more than :data:`MAX_FAN` calls, a shared
   layer called on inputs that would give it other weights; nested models are planned in place;
   registered model classes plan themselves (``Model.plan_config``: RBM, DBN, GAN), nested at
   most :data:`MAX_NESTED_MODELS` deep;
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
import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from scratchnn import backend
from scratchnn.layers import LAYERS, Input, Layer

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

MAX_GRAPH_CALLS = 100_000
"""Most layer calls a functional graph may make (``Functional.MAX_NODES`` refuses more too)."""

MAX_FAN = 1_000
"""Most calls that may read one tensor of a graph, and most inputs one call may take."""

MAX_NESTED_MODELS = 8
"""Deepest nesting of registered models in one another (a GAN's networks are nested once; a
graph's nested models are bounded by :data:`MAX_CONFIG_DEPTH`)."""

PLANNED_MODELS = ("Sequential", "Functional")
"""Model classes whose architecture is checked before building (a registered custom class runs
its own code: its weights are compared once it is built)."""

_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError,
           RecursionError)
"""What constructing a layer from hostile JSON may raise; all become one ValueError."""

_CORRUPT = "The file is corrupt or was edited; nothing was built."

CORRUPT = _CORRUPT
"""The advice ending a message about a model file that cannot be what scratchnn wrote."""

Made = TypeVar("Made")


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
        input_shape: the layer's input sample shape (``None`` for a weight of a built model).
    """

    key: str
    layer: str
    weight: str
    index: int
    class_name: str
    shape: tuple[int, ...]
    dtype: str
    input_shape: tuple[int, ...] | None

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
        outputs: one output sample's shape per output (empty for an unbuilt model).
    """

    input_shape: tuple[int, ...] | None
    weights: list[PlannedWeight] = field(default_factory=list)
    entries: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)
    outputs: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def n_params(self) -> int:
        """Scalars in all planned weights."""
        return sum(math.prod(w.shape) for w in self.weights)


# ------------------------------------------------------------------------------ architecture
def plan_model_config(
    config: Any,
    where: str,
    model_class: str = "Sequential",
    input_shapes: list[Any] | None = None,
) -> ModelPlan:
    """Check an architecture (``model.get_config()`` data) and plan its weights, allocating nothing.

    Args:
        config: the ``"model"`` entry of a file's header, as parsed JSON.
        where: the file, for messages (each starts ``"<where>: "``).
        model_class: ``"Sequential"`` (a stack) or ``"Functional"`` (a graph of layer calls).
        input_shapes: the shapes a model nested in a graph receives (``None`` at the top).

    Returns:
        The :class:`ModelPlan`.

    Raises:
        ValueError: a malformed architecture, an unknown layer class, a layer that cannot be made
            from its config or cannot take its input shape, a repeated layer name, a bad dtype;
            for a graph also a cycle, a reference to a layer or call that does not exist, a
            layer called with inputs that would give it other weights, more than
            :data:`MAX_GRAPH_CALLS` calls or a tensor read more than :data:`MAX_FAN_OUT` times.
            A class other than these two (a registered custom model) cannot be planned.

    Example:
        >>> config = {"dtype": "float32", "layers": [
        ...     {"class_name": "Input", "config": {"name": "in", "shape": [3]}},
        ...     {"class_name": "Dense", "config": {"name": "d", "units": 4}}]}
        >>> [(w.key, w.shape) for w in plan_model_config(config, "m.snn").weights]
        [('d/kernel', (3, 4)), ('d/bias', (4,))]
    """
    if model_class not in PLANNED_MODELS:
        raise ValueError(
            f"{where}: model class {model_class!r} cannot be checked before building; only "
            f"{', '.join(PLANNED_MODELS)} architectures can."
        )
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(
            f"{where}: the architecture is missing or malformed; expected a JSON object with a "
            f"'layers' list. {_CORRUPT}"
        )
    if len(config["layers"]) > MAX_LAYERS:
        raise ValueError(
            f"{where}: the architecture lists {len(config['layers']):,} layers; model files may "
            f"hold at most {MAX_LAYERS:,}. {_CORRUPT}"
        )
    if model_class == "Functional":
        return _plan_graph(config, where, input_shapes)
    return _plan_sequential(config, where, input_shapes)


def _plan_sequential(
    config: dict[str, Any], where: str, input_shapes: list[Any] | None = None
) -> ModelPlan:
    """A ``Sequential`` config: an optional ``Input`` entry first, then the layers in order."""
    entries = config["layers"]
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
            plan.input_shape = _declared_shape(layer)
            continue
        layers.append((i, layer))
    if plan.input_shape is None and layers:
        declared = getattr(layers[0][1], "declared_input_shape", None)
        if declared is not None:
            plan.input_shape = tuple(declared)
    if input_shapes is not None:  # nested in a graph: it takes what it is given
        given = input_shapes[0] if len(input_shapes) == 1 else None
        if not isinstance(given, tuple) or plan.input_shape not in (None, given):
            raise ValueError(
                f"{where}: a Sequential model nested in the graph takes inputs of shape "
                f"{plan.input_shape}; it is called with {input_shapes}. {_CORRUPT}"
            )
        plan.input_shape = given
    if plan.input_shape is not None:
        _check_rank(plan.input_shape, "the input", where)
        outputs: list[tuple[int, ...]] = []
        plan.weights = plan_layers(layers, plan.input_shape, dtype, where, outputs=outputs)
        plan.outputs = outputs[-1:] if outputs else [plan.input_shape]
    return plan


def _plan_graph(
    config: dict[str, Any], where: str, input_shapes: list[Any] | None = None
) -> ModelPlan:
    """A ``Functional`` config: layers (and nested models) with the calls feeding them.

    The calls are resolved in passes in the order ``Functional.from_config`` makes them, so the
    planned weights come in the order the rebuilt model holds them.
    """
    dtype = np.dtype(_model_dtype(config.get("dtype"), where)).name
    plan = ModelPlan(input_shape=None)
    nodes: dict[str, _GraphNode] = {}
    calls: list[tuple[_GraphNode, int, list[tuple[str, int, int]], bool]] = []
    made: dict[tuple[str, int], list[tuple[int, ...]]] = {}
    for i, entry in enumerate(config["layers"]):
        class_name, name, layer_config = _entry(entry, i, where, graph=True)
        if name in nodes:
            raise ValueError(f"{where}: the graph names layer {name!r} twice. {_CORRUPT}")
        plan.entries.append((i, class_name, name, layer_config))
        layer = None if class_name in PLANNED_MODELS else _construct(
            class_name, name, layer_config, i, where)
        node = nodes[name] = _GraphNode(i, class_name, name, layer_config, layer)
        inbound = entry.get("inbound_nodes", [])
        if not isinstance(inbound, list) or (class_name == "Input") != (not inbound):
            raise ValueError(
                f"{where}: layer {i} ({name!r}) has inbound_nodes {inbound!r}; an Input has "
                f"none, every other layer a list of calls. {_CORRUPT}"
            )
        if class_name == "Input":
            made[(name, 0)] = [_dims(_declared_shape(layer), f"input {name!r}", where)]
        for j, call in enumerate(inbound):
            calls.append((node, j, *_call_refs(call, name, where)))
        node.n_calls = max(len(inbound), 1)  # an Input makes one "call"
        if len(calls) > MAX_GRAPH_CALLS:
            raise ValueError(f"{where}: the graph makes more than {MAX_GRAPH_CALLS:,} layer "
                             f"calls. {_CORRUPT}")
    readers: dict[tuple[str, int, int], int] = {}
    for _, _, refs, _ in calls:
        for ref in refs:
            readers[ref] = readers.get(ref, 0) + 1
            if readers[ref] > MAX_FAN:
                raise ValueError(f"{where}: graph tensor {list(ref)} is read by more than "
                                 f"{MAX_FAN:,} calls. {_CORRUPT}")
    order: list[_GraphNode] = []
    while calls:
        waiting = []
        for node, j, refs, single in calls:
            if any((r[0], r[1]) not in made for r in refs):
                waiting.append((node, j, refs, single))
                continue
            shapes = [_output(made, ref, where) for ref in refs]
            if not node.called:
                order.append(node)
            made[(node.name, j)] = node.call(shapes[0] if single else shapes, dtype, where)
        if len(waiting) == len(calls):
            raise _unresolvable(waiting, made, nodes, where)
        calls = waiting
    given = [_output(made, ref, where) for ref in _graph_refs(config, "input_layers", where)]
    if input_shapes is not None and [tuple(s) for s in input_shapes] != given:
        raise ValueError(f"{where}: a Functional model nested in the graph takes inputs of "
                         f"shapes {given}; it is called with {input_shapes}. {_CORRUPT}")
    plan.input_shape = given[0] if len(given) == 1 else None
    plan.outputs = [_output(made, ref, where) for ref in _graph_refs(config, "output_layers",
                                                                        where)]
    plan.weights = [w for node in order for w in node.weights]
    return plan


class _GraphNode:
    """A layer (or nested model) of a graph being planned: its weights come from its first call."""

    def __init__(self, index: int, class_name: str, name: str, config: dict[str, Any],
                 layer: Layer | None) -> None:
        self.index, self.class_name, self.name, self.config = index, class_name, name, config
        self.layer = layer
        self.called = False
        self.n_calls = 0
        self.weights: list[PlannedWeight] = []
        self.first_input: Any = None

    def call(self, inputs: Any, dtype: str, where: str) -> list[tuple[int, ...]]:
        """The output shapes of one call on ``inputs``; the first call plans the weights."""
        label = f"layer {self.index} ({self.name!r}, {self.class_name})"
        if self.called and inputs != self.first_input and (
                self.layer is None or self._weight_shapes(self.layer, inputs, where) != [
                    w.shape for w in self.weights]):
            raise ValueError(
                f"{where}: {label} is called on inputs of shape {inputs} after {self.first_input}"
                f", which would give it other weights; a shared layer takes one input shape. "
                f"{_CORRUPT}"
            )
        if self.layer is None:  # a nested model: its own plan, its weights under its name
            sub = plan_model_config(self.config, where, self.class_name,
                                    [inputs] if isinstance(inputs, tuple) else inputs)
            if not self.called:
                self.weights = nested_weights(sub.weights, self.name)
            outputs = sub.outputs
        else:
            if not self.called:
                planned = plan_layers([(self.index, self.layer)], inputs, dtype, where)
                self.weights = planned
            try:
                shape = self.layer.compute_output_shape(inputs)
            except _ERRORS as exc:
                raise ValueError(f"{where}: {label} cannot take inputs of shape {inputs}: "
                                 f"{exc}. {_CORRUPT}") from None
            many = isinstance(shape, list) and all(isinstance(s, (list, tuple)) for s in shape)
            outputs = list(shape) if many else [shape]
        self.called = True
        self.first_input = self.first_input if self.first_input is not None else inputs
        return [_dims(s, f"the output of {label}", where) for s in outputs]

    def _weight_shapes(self, layer: Layer, inputs: Any, where: str) -> list[tuple[int, ...]]:
        return [w.shape for w in plan_layers([(self.index, layer)], inputs, "float32",
                                             where)]


def _unresolvable(waiting: list[Any], made: dict[tuple[str, int], Any],
                  nodes: dict[str, _GraphNode], where: str) -> ValueError:
    """The error for calls that can never run: a dangling reference, else a cycle."""
    missing = sorted({r for _, _, refs, _ in waiting for r in refs if (r[0], r[1]) not in made})
    calls = {name: node.n_calls for name, node in nodes.items()}
    dangling = [list(r) for r in missing if r[1] >= calls.get(r[0], 0)]
    if dangling:
        return ValueError(f"{where}: the graph cannot be built: calls read {dangling[:5]}, "
                          f"which no layer makes (a dangling reference). {_CORRUPT}")
    stuck = sorted({node.name for node, _, _, _ in waiting})
    return ValueError(f"{where}: the graph cannot be built: the calls of {stuck[:5]} wait on each "
                      f"other's outputs (a cycle). {_CORRUPT}")


def _call_refs(call: Any, name: str, where: str) -> tuple[list[tuple[str, int, int]], bool]:
    """The references a call reads and whether it takes one input (not a list)."""
    refs = call.get("inputs") if isinstance(call, dict) else None
    single = call.get("single", True) if isinstance(call, dict) else None
    if (not isinstance(refs, list) or not 1 <= len(refs) <= MAX_FAN
            or not isinstance(single, bool) or (single and len(refs) != 1)):
        raise ValueError(
            f"{where}: layer {name!r} has a call {call!r}; a call is {{'inputs': [1 to "
            f"{MAX_FAN:,} references], 'single': true for one input}}. {_CORRUPT}"
        )
    return [_ref(ref, where) for ref in refs], single


def _ref(ref: Any, where: str) -> tuple[str, int, int]:
    """``[layer, call, output]`` as a tuple, checked."""
    if not (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < MAX_GRAPH_CALLS
                    for v in ref[1:])):
        raise ValueError(f"{where}: a graph reference must be [layer, call, output]; received "
                         f"{ref!r}. {_CORRUPT}")
    return ref[0], ref[1], ref[2]


def _graph_refs(config: dict[str, Any], key: str, where: str) -> list[tuple[str, int, int]]:
    refs = config.get(key)
    if not isinstance(refs, list) or not 1 <= len(refs) <= MAX_FAN:
        raise ValueError(f"{where}: a functional model config needs a non-empty {key!r} list. "
                         f"{_CORRUPT}")
    return [_ref(ref, where) for ref in refs]


def _output(made: dict[tuple[str, int], list[tuple[int, ...]]], ref: tuple[str, int, int],
            where: str) -> tuple[int, ...]:
    outputs = made.get((ref[0], ref[1]))
    if outputs is None or ref[2] >= len(outputs):
        raise ValueError(f"{where}: the graph refers to {list(ref)}, which no layer makes. "
                         f"{_CORRUPT}")
    return outputs[ref[2]]


def plan_layers(
    layers: Sequence[tuple[int, Layer]],
    input_shape: tuple[int, ...],
    dtype: Any,
    where: str,
    advice: str = _CORRUPT,
    outputs: list[tuple[int, ...]] | None = None,
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
        outputs: when given, each layer's output shape is appended to it.

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
        if outputs is not None:
            outputs.append(shape)
    return planned


def _entry(
    entry: Any, i: int, where: str, graph: bool = False
) -> tuple[str, str, dict[str, Any]]:
    """``(class_name, name, config)`` of one layer entry, checked for structure.

    A graph's entries also carry their ``name`` outside the config; both must agree (weights are
    stored under the layer's own name, references use the entry's). Models nest in graphs.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(
            f"{where}: layer {i} of the architecture is malformed; expected "
            "{'class_name': ..., 'config': {...}}."
        )
    class_name = entry.get("class_name")
    known = (*LAYERS, *PLANNED_MODELS) if graph else tuple(LAYERS)
    if not isinstance(class_name, str) or class_name not in known:
        raise ValueError(
            f"{where}: unknown layer class {class_name!r} (layer {i}); known layer classes: "
            f"{', '.join(sorted(known))}."
        )
    config = entry["config"]
    name = config.get("name")
    if graph and entry.get("name") != name:
        raise ValueError(
            f"{where}: layer {i} is named {entry.get('name')!r} in the graph but {name!r} in "
            f"its config. {_CORRUPT}"
        )
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


def _declared_shape(layer: Layer | None) -> tuple[int, ...]:
    """The sample shape an ``Input`` layer (made from the class name "Input") declares."""
    assert isinstance(layer, Input)
    return tuple(layer.shape)


def _construct(class_name: str, name: str, config: dict[str, Any], i: int, where: str) -> Layer:
    """The layer, made from its config by the registry class (construction allocates nothing)."""
    return made_from_config(LAYERS[class_name], config, f"layer {i} ({name!r}, {class_name})",
                            where, advice="")


def made_from_config(
    factory: Callable[..., Made], config: dict[str, Any], what: str, where: str,
    advice: str = _CORRUPT,
) -> Made:
    """``factory(**config)`` on a deep copy of ``config``; any error one ValueError naming ``what``.

    For constructors that allocate nothing (layers, unbuilt models): they check every field of a
    config read from a file, and their messages name the field and the value received.

    Raises:
        ValueError: ``"<where>: <what> cannot be made from its config: <reason>"``.
    """
    try:
        return factory(**copy.deepcopy(config))
    except _ERRORS as exc:
        raise ValueError(
            f"{where}: {what} cannot be made from its config: {exc}" + (f" {advice}" if advice
                                                                         else "")
        ) from None


def nested_weights(weights: Iterable[PlannedWeight], prefix: str) -> list[PlannedWeight]:
    """The planned weights of a model nested in another: stored under ``<prefix>/`` (its name)."""
    return [dataclasses.replace(w, key=f"{prefix}/{w.key}", layer=f"{prefix}/{w.layer}")
            for w in weights]


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
        items: Iterable[Any]
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
            load, as :func:`scratchnn.models.saving.load_weights` documents).
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
            inputs = "" if w.input_shape is None else (
                f" for inputs of shape {_batch(w.input_shape)}")
            raise ValueError(
                f"{where}: {w.label} of the {source} {verb} weight {w.key!r} of shape "
                f"{w.shape}{inputs}; the file stores it with shape {tuple(shape)}. {advice}"
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
