"""Saving and loading models: ``save_model`` / ``load_model`` and the weights-only pair.

The file format is :mod:`scratchnn.io`'s (safetensors + JSON metadata, atomic writes, nothing ever
executed on load); this module turns a model into such a file and a file back into a model,
through the one builder (:mod:`scratchnn.models.config`) and only after
:mod:`scratchnn.io_checks` has checked the architecture against the stored tensors.
``Model.save`` / ``save_weights`` / ``load_weights`` and ``scratchnn.load_model`` call these.

    >>> import os, tempfile
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(2, input_dim=3)], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.snn")
    >>> save_model(model, path)
    >>> load_model(path).get_weights()[0].shape
    (3, 2)
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from scratchnn import io, io_checks, optimizers
from scratchnn.models.config import model_class_name, model_from_config, plan_from_config
from scratchnn.models.sequential import Sequential

if TYPE_CHECKING:
    from scratchnn.models.model import Model


def save_model(model: Model, path: io.PathLike, include_optimizer: bool = True) -> None:
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
    optimizer = model.optimizer if include_optimizer and compile_config is not None else None
    with_state = optimizer is not None
    if optimizer is not None:
        for key, value in optimizer.get_state().items():
            tensors[io.OPTIMIZER_PREFIX + key] = io.as_stored(value)
    header = {
        "format": io.MODEL_FORMAT,
        "format_version": io.FORMAT_VERSION,
        "scratchnn_version": io.library_version(),
        "model_class": _model_class(model),
        "model": model.get_config(),
        "compile": compile_config,
        "optimizer_state": with_state,
    }
    io.write_file(path, tensors, header)


def load_model(path: io.PathLike) -> Model:
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
    found = io.read_file(path)
    header = found.header
    if header["format"] != io.MODEL_FORMAT:
        raise ValueError(
            f"{path}: a weights-only file (written by save_weights), not a full model. Build "
            "the model in code, then call model.load_weights(path)."
        )
    model_class = header.get("model_class", "Sequential")
    if not isinstance(model_class, str):
        raise ValueError(f"{path}: 'model_class' must be a string; received {model_class!r}.")
    config = header.get("model")
    if model_class not in io_checks.PLANNED_MODELS:  # a registered class: its config's numbers
        if not isinstance(config, dict):
            raise ValueError(f"{path}: the architecture is not a JSON object.")
        io_checks.check_config_bounds(
            io_checks.ModelPlan(None, entries=[(0, model_class, str(config.get("name")), config)]),
            path,
        )
    # Everything the file describes is checked against what it stores before anything is
    # built; the built model must then hold exactly the planned weights. A registered class
    # without a plan_config builds itself by its own code first; then the same checks.
    plan = plan_from_config(config, model_class, path)
    if plan is not None:
        io_checks.check_stored_weights(plan, io.stored_shapes(found.weights), path)
        io_checks.check_config_bounds(plan, path)
        compile_config = _checked_compile_settings(header, found, plan, path)
        model = _model_from_config(config, model_class, path)
        io_checks.check_built(_model_weights(model), plan, path)
    else:
        model = _model_from_config(config, model_class, path)
        if not model.built and found.weights:
            model.build(_input_shape_from_weights(model, found.weights, header, path))
        plan = _plan_of_built(model)
        io_checks.check_stored_weights(plan, io.stored_shapes(found.weights), path)
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
            if model.optimizer is None:
                raise ValueError("the file holds an optimizer state but no compile settings")
            model.optimizer.set_state(found.optimizer)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{path}: cannot restore the optimizer state: {exc}") from exc
    return model


def save_weights(model: Model, path: io.PathLike) -> None:
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
        "format": io.WEIGHTS_FORMAT,
        "format_version": io.FORMAT_VERSION,
        "scratchnn_version": io.library_version(),
        "model": model.get_config(),  # for information; load_weights matches names and shapes
        "compile": None,
        "optimizer_state": False,
    }
    io.write_file(path, tensors, header)


def load_weights(model: Model, path: io.PathLike) -> None:
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
    path = os.fspath(path)
    found = io.read_file(path)
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
        plan, io.stored_shapes(weights), path, exact_dtype=False, source="model", advice=_MISMATCH
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



def _weight_tensors(model: Model) -> dict[str, np.ndarray]:
    return {io.WEIGHTS_PREFIX + name: io.as_stored(w) for name, w in model.weight_dict().items()}


def _model_class(model: Model) -> str:
    return model_class_name(model)



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

    try:
        return model_from_config(config, model_class)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as exc:
        raise ValueError(f"{path}: cannot rebuild the model from its architecture: {exc}") from exc


def _checked_compile_settings(
    header: dict[str, Any], found: io.StoredFile, plan: io_checks.ModelPlan, path: str
) -> dict[str, Any] | None:
    """The compile settings, with the optimizer state checked against the planned parameters."""
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
