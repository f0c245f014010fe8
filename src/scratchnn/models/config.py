"""From configuration to model: the one builder, and the registry of custom model classes.

Every place that makes a model from data — ``Sequential.from_config``, ``scratchnn.load_model``,
the CLI's ``train``, sweeps and studies — goes through :func:`build_model` (or
:func:`model_from_config` / :func:`layer_from_config` beneath it). Classes are found in registries
by name — layers in :data:`scratchnn.layers.LAYERS`, models here — and never imported from a name
read from a file, so a configuration cannot run code.

A layer entry is ``{"class_name": "Dense", "config": {"units": 8, ...}}`` (what ``get_config``
writes) or the same flattened, ``{"class_name": "Dense", "units": 8, ...}`` (what sweep specs and
model files written by hand use).

    >>> model = build_model(
    ...     {"seed": 0, "layers": [{"class_name": "Dense", "units": 4, "input_dim": 2},
    ...                            {"class_name": "Dense", "units": 1, "activation": "sigmoid"}]},
    ...     compile={"optimizer": "sgd", "loss": "binary_crossentropy"})
    >>> model.output_shape, model.optimizer.name
    ((1,), 'sgd')
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from scratchnn import io_checks
from scratchnn.layers import LAYERS, Layer

if TYPE_CHECKING:
    from scratchnn.models.model import Model

ModelClass = TypeVar("ModelClass", bound="type[Model]")

MODELS: dict[str, type[Model]] = {}
"""Registered model classes by name (``Sequential`` and ``Functional`` are built in)."""


@overload
def register(cls: ModelClass, *, name: str | None = None) -> ModelClass: ...
@overload
def register(
    cls: None = None, *, name: str | None = None
) -> Callable[[ModelClass], ModelClass]: ...


def register(cls: Any = None, *, name: str | None = None) -> Any:
    """Register a ``Model`` subclass so that model files naming it can be loaded.

    Use as a decorator (``@scratchnn.models.register``). Loading finds the class here by the
    name it was saved under (its class name unless ``name`` is given); a file naming a class
    that was not registered in the loading process is refused, never imported.

    Raises:
        TypeError: for anything but a Model subclass.
        ValueError: a name already registered to another class.
    """
    def decorate(klass: Any) -> Any:
        from scratchnn.models.model import Model

        if not (isinstance(klass, type) and issubclass(klass, Model)):
            raise TypeError(f"register() takes a Model subclass; received {klass!r}.")
        key = name or klass.__name__
        if MODELS.get(key, klass) is not klass:
            raise ValueError(
                f"A model class named {key!r} is already registered ({MODELS[key]!r}); pass "
                "register(name=...) to save this one under another name."
            )
        MODELS[key] = klass
        klass.registry_name = key
        return klass

    return decorate if cls is None else decorate(cls)


def layer_from_config(entry: dict[str, Any]) -> Layer:
    """A layer from ``{"class_name", "config"}`` or the flattened ``{"class_name", **kwargs}``.

    Raises:
        ValueError: a malformed entry or an unknown layer class (the known ones are listed).
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(
            f"A layer entry must be a dict with a 'class_name'; received {entry!r}."
        )
    class_name = entry["class_name"]
    if class_name not in LAYERS:
        raise ValueError(
            f"Unknown layer class {class_name!r}; known layers: {', '.join(sorted(LAYERS))}."
        )
    if "config" in entry and isinstance(entry["config"], dict):
        kwargs = copy.deepcopy(entry["config"])
    else:
        kwargs = {k: copy.deepcopy(v) for k, v in entry.items() if k != "class_name"}
    try:
        return LAYERS[class_name](**kwargs)
    except TypeError as exc:
        raise ValueError(f"Cannot build layer {class_name} from {kwargs!r}: {exc}") from None


def model_class_name(model: Any) -> str:
    """The name a model's class is saved under: ``Sequential``, ``Functional`` or its
    registered name.

    Raises:
        ValueError: for a subclass that was never registered (it could not be loaded back).
    """
    from scratchnn.models.functional import Functional
    from scratchnn.models.sequential import Sequential

    cls = type(model)
    if cls is Sequential:
        return "Sequential"
    if cls is Functional:
        return "Functional"
    if cls.registry_name is not None and MODELS.get(cls.registry_name) is cls:
        return cls.registry_name
    raise ValueError(
        f"{cls.__name__} is not registered, so a file of it could not be loaded back: decorate "
        "the class with @scratchnn.models.register."
    )


def model_from_config(config: dict[str, Any], class_name: str | None = None) -> Model:
    """A model from its ``get_config`` data.

    Args:
        config: the architecture.
        class_name: ``"Sequential"``, ``"Functional"`` or a registered name; ``None`` reads
            ``config["class_name"]``, else infers it (``input_layers``: a graph; else a stack).

    Raises:
        ValueError: a malformed config, or a class name neither built in nor registered.
    """
    cls, config = _model_class(config, class_name)
    return cls.from_config(config)


def _model_class(config: Any, class_name: Any) -> tuple[type[Model], dict[str, Any]]:
    """The class a model config names (registries only) and the config without its class name."""
    from scratchnn.models.functional import Functional
    from scratchnn.models.sequential import Sequential

    if not isinstance(config, dict):
        raise ValueError(f"A model config must be a dict; received {type(config).__name__}.")
    config = dict(config)
    name = class_name or config.pop("class_name", None)
    config.pop("class_name", None)
    if name is None:
        name = "Functional" if "input_layers" in config else "Sequential"
    builtin: dict[str, type[Model]] = {"Sequential": Sequential, "Functional": Functional}
    cls = (builtin.get(name) or MODELS.get(name)) if isinstance(name, str) else None
    if cls is None:
        known = sorted({*builtin, *MODELS})
        raise ValueError(
            f"Unknown model class {name!r}; known: {', '.join(known)}. A custom model class "
            "must be registered (@scratchnn.models.register) in the process that loads it."
        )
    return cls, config


def plan_from_config(
    config: Any, class_name: Any, where: str, depth: int = 0
) -> io_checks.ModelPlan | None:
    """The weights the model of ``config`` will hold, computed without building it.

    ``Sequential`` and ``Functional`` architectures are planned by :mod:`scratchnn.io_checks`;
    a registered class by its :meth:`~scratchnn.models.Model.plan_config` (RBM, DBN and GAN
    have one). Nothing is allocated, and nothing a file names is imported.

    Args:
        config: the architecture (``get_config`` data), as read from a file.
        class_name: the model class it names (``None``: read or inferred as
            :func:`model_from_config` does).
        where: the file, for messages.
        depth: how deep this model is nested in others (at most
            :data:`~scratchnn.io_checks.MAX_NESTED_MODELS`).

    Returns:
        The plan, or ``None`` for a registered class that builds itself by its own code (its
        weights can only be compared once it is built).

    Raises:
        ValueError: naming ``where``: an unknown class, a malformed config, models nested too
            deep, or what the class's planning refuses.
    """
    if depth > io_checks.MAX_NESTED_MODELS:
        raise ValueError(f"{where}: models are nested more than {io_checks.MAX_NESTED_MODELS} "
                         f"deep (a model inside a model ...). {io_checks.CORRUPT}")
    try:
        cls, config = _model_class(config, class_name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    name = config.get("name")
    nested = depth > 0  # its weights are stored under its name
    bad = not isinstance(name, str) or (nested and (not name or "/" in name))
    if name is not None and bad:
        raise ValueError(f"{where}: a {cls.__name__} model is named {name!r}; a model's name is "
                         f"a{' non-empty' if nested else ''} string"
                         f"{' without / (its weights are stored under it)' if nested else ''}. "
                         f"{io_checks.CORRUPT}")
    if cls.registry_name is None and cls.__name__ in io_checks.PLANNED_MODELS:
        return io_checks.plan_model_config(config, where, cls.__name__)
    return cls.plan_config(config, where, depth)


def build_model(
    model: dict[str, Any],
    compile: dict[str, Any] | None = None,
    input_shape: Sequence[int] | None = None,
) -> Model:
    """The one configuration -> model builder: build, optionally compile.

    Args:
        model: the architecture (``get_config`` data, or the flattened layer entries of sweep
            specs): ``{"name"?, "dtype"?, "seed"?, "layers": [...]}`` for a stack, a functional
            graph's config, or ``{"class_name": <registered>, ...}``.
        compile: ``{"optimizer", "loss", "metrics"?, "loss_weights"?}`` (as ``compile_config``
            writes), or ``None`` to leave the model uncompiled.
        input_shape: the shape of one sample, to build a stack whose first layer declares none.

    Returns:
        The model, built when its input shape is known.
    """
    built = model_from_config(model)
    if input_shape is not None and not built.built:
        built.build(input_shape)
    if compile is not None:
        compile = copy.deepcopy(compile)
        built.compile(
            optimizer=compile.get("optimizer", "rmsprop"),
            loss=compile.get("loss"),
            metrics=compile.get("metrics") or None,
            loss_weights=compile.get("loss_weights"),
        )
    return built
