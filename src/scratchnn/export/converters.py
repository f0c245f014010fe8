"""Converters from scratchnn layers and activations to ONNX nodes, one registry per family.

* :data:`LAYER_CONVERTERS` maps a layer class to ``convert(g, layer, x) -> y``: it adds the nodes
  that compute ``layer`` on the value named ``x`` (through the :class:`GraphBuilder` ``g``) and
  returns the name of the result. A new layer family registers its own with
  :func:`register_layer`; a class is matched exactly (a subclass may compute something else, so
  it needs a converter of its own).
* :data:`ACTIVATION_CONVERTERS` maps an activation name of :mod:`scratchnn.activations` to
  ``convert(g, x) -> y``; :func:`register_activation` adds one.
* :data:`MASK_CONVERTERS` maps a layer class with its own ``compute_mask`` (Embedding, Masking,
  the recurrent layers) to ``mask(g, layer, x, incoming) -> outgoing``, the graph value of the
  ``(N, T)`` mask it passes on; :func:`convert_chain` hands masks along with them, and
  converters read the incoming one as ``g.mask``. :func:`register_mask` adds one.

Every activation of :data:`scratchnn.activations.ACTIVATIONS` has a converter (a test holds it);
those without an ONNX operator at :data:`scratchnn.export.OPSET` (GELU, swish) are written with
elementary operators.

    >>> from scratchnn.export.graph import GraphBuilder
    >>> g = GraphBuilder("float32")
    >>> convert_activation(g, activations.get("swish"), "h", where="dense")
    'swish'
    >>> [node.op_type for node in g.nodes]
    ['Sigmoid', 'Mul']

Example, a converter for a hypothetical ``Scale`` layer that multiplies by a weight ``w``::

    @register_layer(Scale)
    def _scale(g: GraphBuilder, layer: Scale, x: str) -> str:
        return g.node("Mul", [x, g.weight(layer.w.data, f"{layer.name}/w")], hint=layer.name)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from scratchnn import activations, ops
from scratchnn.export.graph import GraphBuilder
from scratchnn.layers import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    GaussianNoise,
    Input,
    Layer,
    SpatialDropout2D,
)
from scratchnn.models import Model, Sequential

LayerConverter = Callable[[GraphBuilder, Any, str], str]
ActivationConverter = Callable[[GraphBuilder, str], str]
MaskConverter = Callable[[GraphBuilder, Any, str, "str | None"], "str | None"]

LAYER_CONVERTERS: dict[type[Layer], LayerConverter] = {}
"""Layer class -> converter. Filled by :func:`register_layer`."""

ACTIVATION_CONVERTERS: dict[str, ActivationConverter] = {}
"""Activation name (as :func:`scratchnn.activations.name_of` gives it) -> converter."""

MASK_CONVERTERS: dict[type[Layer], MaskConverter] = {}
"""Layer class with its own ``compute_mask`` -> ``mask(g, layer, x, incoming) -> outgoing``:
the graph value of the mask the layer passes on, from its input ``x`` and incoming mask (names
of graph values; ``None`` for no mask). Filled by :func:`register_mask`."""


def register_layer(cls: type[Layer]) -> Callable[[LayerConverter], LayerConverter]:
    """Decorator: register ``convert(g, layer, x) -> y`` as the ONNX converter of ``cls``."""

    def decorate(convert: LayerConverter) -> LayerConverter:
        LAYER_CONVERTERS[cls] = convert
        return convert

    return decorate


def register_mask(cls: type[Layer]) -> Callable[[MaskConverter], MaskConverter]:
    """Decorator: register ``mask(g, layer, x, incoming) -> outgoing`` for ``cls``, a layer
    that makes or transforms masks (it overrides ``compute_mask``)."""

    def decorate(convert: MaskConverter) -> MaskConverter:
        MASK_CONVERTERS[cls] = convert
        return convert

    return decorate


def register_activation(*names: str) -> Callable[[ActivationConverter], ActivationConverter]:
    """Decorator: register ``convert(g, x) -> y`` for the activation(s) ``names``."""

    def decorate(convert: ActivationConverter) -> ActivationConverter:
        for name in names:
            ACTIVATION_CONVERTERS[name] = convert
        return convert

    return decorate


def convert_layer(g: GraphBuilder, layer: Layer, x: str) -> str:
    """The nodes of ``layer`` applied to ``x``; returns the output's name.

    Raises:
        ValueError: no converter for the layer's class (the message names the layer and lists
            the supported classes).
    """
    convert = LAYER_CONVERTERS.get(type(layer))
    if convert is None:
        supported = ", ".join(sorted(cls.__name__ for cls in LAYER_CONVERTERS))
        raise ValueError(
            f"Cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: no converter "
            f"for {type(layer).__name__}. Supported layers: {supported}. A converter can be "
            "added with scratchnn.export.register_layer."
        )
    return convert(g, layer, x)


def convert_chain(g: GraphBuilder, layers: list[Layer], x: str) -> str:
    """The layers applied one after the other to ``x``, masks handed along as ``Sequential``
    does: a layer receives the current mask (``g.mask``), then the mask becomes what its
    ``compute_mask`` gives (a registered mask converter for layers that override it; otherwise
    the incoming mask for layers with ``supports_masking``, else none).

    Raises:
        ValueError: a layer that overrides ``compute_mask`` without a mask converter.
    """
    for layer in layers:
        incoming = g.mask
        y = convert_layer(g, layer, x)
        if type(layer).compute_mask is Layer.compute_mask:
            g.mask = incoming if layer.supports_masking else None
        else:
            mask = MASK_CONVERTERS.get(type(layer))
            if mask is None:
                raise ValueError(
                    f"Cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: it "
                    "computes its own mask and has no mask converter. Add one with "
                    "scratchnn.export.converters.register_mask."
                )
            g.mask = mask(g, layer, x, incoming)
        x = y
    return x


def convert_activation(g: GraphBuilder, fn: Any, x: str, where: str) -> str:
    """The nodes of the activation function ``fn`` on ``x`` (``where`` names its layer).

    Raises:
        ValueError: ``fn`` is not a registered activation (e.g. a custom function).
    """
    name = activations.name_of(fn)
    convert = ACTIVATION_CONVERTERS.get(name) if activations.ACTIVATIONS.get(name) is fn else None
    if convert is None:
        raise ValueError(
            f"Cannot export the activation {name!r} of layer {where!r} to ONNX: only the "
            f"registered activations convert ({', '.join(sorted(ACTIVATION_CONVERTERS))}). "
            "Use one of them by name, or add a converter with "
            "scratchnn.export.register_activation."
        )
    return convert(g, x)


def chain_of_layers(model: Any) -> list[Layer]:
    """The layers of a ``Sequential`` whose forward pass is its layers one after the other.

    Raises:
        ValueError: another kind of model (see :func:`exportable`).
    """
    return exportable(model).layers


def exportable(model: Any) -> Sequential:
    """``model``, checked to be a ``Sequential`` whose forward pass is its layers in order.

    Raises:
        ValueError: another kind of model (a functional graph, a subclass with its own ``call``
            or ``predict_step``): its forward pass is not the chain of its layers.
    """
    kind = type(model)
    if (
        not isinstance(model, Sequential)
        or kind.call is not Sequential.call
        or kind.predict_step is not Model.predict_step
    ):
        raise ValueError(
            f"Cannot export {kind.__name__} model {getattr(model, 'name', '?')!r} to ONNX: the "
            "exporter converts Sequential models, whose forward pass is their layers in order "
            f"(a {kind.__name__} computes its own way). Rebuild the network as a Sequential, "
            "or copy its weights into one (set_weights)."
        )
    return model


# --- layers -------------------------------------------------------------------------------------


@register_layer(Sequential)
def _sequential(g: GraphBuilder, layer: Sequential, x: str) -> str:
    """A Sequential used as a layer of another: its layers in order (given the incoming mask
    when one of them makes masks, as ``Sequential.call`` does)."""
    layers = chain_of_layers(layer)
    if not any(type(inner).compute_mask is not Layer.compute_mask for inner in layers):
        g.mask = None  # Sequential.call calls such layers without a mask
    return convert_chain(g, layers, x)


@register_layer(Dense)
def _dense(g: GraphBuilder, layer: Dense, x: str) -> str:
    """``activation(x @ kernel + bias)``: MatMul (any leading axes), Add, the activation."""
    y = g.node("MatMul", [x, g.weight(layer.weights["kernel"].data, f"{layer.name}/kernel")],
               hint=f"{layer.name}/matmul")  # fmt: skip
    if layer.use_bias:
        y = g.node("Add", [y, g.weight(layer.weights["bias"].data, f"{layer.name}/bias")],
                   hint=f"{layer.name}/add")  # fmt: skip
    return convert_activation(g, layer.activation, y, layer.name)


@register_layer(Activation)
def _activation(g: GraphBuilder, layer: Activation, x: str) -> str:
    return convert_activation(g, layer.activation, x, layer.name)


@register_layer(Dropout)
@register_layer(SpatialDropout2D)
@register_layer(GaussianNoise)
def _dropout(g: GraphBuilder, layer: Layer, x: str) -> str:
    """Inference only: dropout and noise are the identity."""
    return g.node("Identity", [x], hint=layer.name)


@register_layer(Flatten)
def _flatten(g: GraphBuilder, layer: Flatten, x: str) -> str:
    """``(N, d1, d2, ...) -> (N, d1*d2*...)``."""
    return g.node("Flatten", [x], hint=layer.name, axis=1)


@register_layer(Input)
def _input(g: GraphBuilder, layer: Input, x: str) -> str:
    return x


# --- activations --------------------------------------------------------------------------------


@register_activation("linear")
def _linear(g: GraphBuilder, x: str) -> str:
    return x


def _unary(op_type: str, **attributes: Any) -> ActivationConverter:
    """A converter that is one ONNX operator."""

    def convert(g: GraphBuilder, x: str) -> str:
        return g.node(op_type, [x], **attributes)

    return convert


register_activation("sigmoid")(_unary("Sigmoid"))
register_activation("tanh")(_unary("Tanh"))
register_activation("relu")(_unary("Relu"))
register_activation("softplus")(_unary("Softplus"))
register_activation("softmax")(_unary("Softmax", axis=-1))
register_activation("log_softmax")(_unary("LogSoftmax", axis=-1))
# The defaults of scratchnn's ops (Keras' leaky slope 0.2, not ONNX's 0.01).
register_activation("leaky_relu")(_unary("LeakyRelu", alpha=0.2))
register_activation("elu")(_unary("Elu", alpha=1.0))
register_activation("selu")(_unary("Selu", alpha=ops.SELU_ALPHA, gamma=ops.SELU_SCALE))


@register_activation("swish", "silu")
def _swish(g: GraphBuilder, x: str) -> str:
    """``x * sigmoid(x)``."""
    return g.node("Mul", [x, g.node("Sigmoid", [x])], hint="swish")


@register_activation("gelu")
def _gelu(g: GraphBuilder, x: str) -> str:
    """Exact GELU, ``x * 0.5 * (1 + erf(x / sqrt(2)))`` (ONNX's Gelu operator needs opset 20)."""
    erf = g.node("Erf", [g.node("Mul", [x, g.constant(1 / math.sqrt(2))])])
    cdf = g.node("Mul", [g.node("Add", [erf, g.constant(1.0)]), g.constant(0.5)])
    return g.node("Mul", [x, cdf], hint="gelu")


@register_activation("gelu_tanh")
def _gelu_tanh(g: GraphBuilder, x: str) -> str:
    """``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    cube = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Add", [x, g.node("Mul", [cube, g.constant(0.044715)])])
    t = g.node("Tanh", [g.node("Mul", [inner, g.constant(math.sqrt(2 / math.pi))])])
    half_x = g.node("Mul", [x, g.constant(0.5)])
    return g.node("Mul", [half_x, g.node("Add", [t, g.constant(1.0)])], hint="gelu_tanh")
