"""Export a trained model for other runtimes: ONNX, written with the ``onnx`` package.

    >>> import numpy as np, onnxruntime
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(4, activation="relu", input_dim=3),
    ...                     Dense(2, activation="softmax")], seed=0)
    >>> proto = to_onnx(model, "model.onnx")      # or model.export("model.onnx", format="onnx")
    >>> [v.name for v in proto.graph.output], proto.opset_import[0].version
    (['output'], 17)
    >>> session = onnxruntime.InferenceSession("model.onnx")
    >>> x = np.ones((5, 3), dtype=np.float32)    # any number of rows
    >>> bool(np.allclose(session.run(None, {"input": x})[0], model.predict(x), atol=1e-6))
    True

From the command line, with the scaler ``scratchnn train`` recorded:
``scratchnn export runs/<id>/model.snn model.onnx``.

The graph (ONNX opset :data:`OPSET`, IR version :data:`IR_VERSION`) has one input, ``input``, of
shape ``(N, *model.input_shape)`` with a dynamic batch dimension ``N``, and one output,
``output``, the model's ``predict`` (probabilities for sigmoid/softmax outputs). It computes in
the model's dtype (float32 by default). Optionally, a standardisation ``(x - mean) / scale`` (the
``StandardScaler`` that ``scratchnn train`` records in ``preprocess.json``) runs first, so raw
feature rows go straight in, and a second output ``label`` gives the class label of each row
(``classes[argmax]``, or for one sigmoid unit ``classes[p > 0.5]``, as ``scratchnn predict``).

Supported: ``Sequential`` models (also nested as layers) of ``Dense``, ``Activation``,
``Dropout`` (the identity at inference), ``Flatten``, ``Input`` and every activation of
:mod:`scratchnn.activations`; the convolutional family (:mod:`scratchnn.export.spatial`:
``Conv1D``, ``Conv2D``, ``Conv2DTranspose``, the pooling layers, ``BatchNormalization`` with its
moving statistics, ``Reshape``, ``ZeroPadding2D``, ``UpSampling2D``, ``SpatialDropout2D`` and
``GaussianNoise`` as identities); the sequence layers (:mod:`scratchnn.export.recurrent`:
``SimpleRNN``, ``LSTM``, ``GRU``, ``Bidirectional``, ``Embedding``, ``TimeDistributed``, with the
masks of ``Masking`` and ``Embedding(mask_zero=True)``). ``return_state`` is refused with a
``ValueError`` naming the layer and why; so is any other layer, or another kind of model (a
functional graph, a subclass with its own ``call``). Converters live in registries
(:mod:`scratchnn.export.converters`): a new layer family adds its own with
:func:`register_layer`.

``onnx`` is an optional dependency (``pip install 'scratchnn[onnx]'``), imported only here, at
export time; onnxruntime (or any ONNX runtime) runs the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from scratchnn.export import recurrent as _recurrent  # noqa: F401  (registers its converters)
from scratchnn.export import spatial as _spatial  # noqa: F401  (registers its converters)
from scratchnn.export.converters import (
    ACTIVATION_CONVERTERS,
    LAYER_CONVERTERS,
    chain_of_layers,
    convert_chain,
    exportable,
    register_activation,
    register_layer,
    register_mask,
)
from scratchnn.export.graph import ONNX_EXTRA, GraphBuilder, require_onnx
from scratchnn.io import atomic_write, library_version

if TYPE_CHECKING:
    from scratchnn.models import Model

OPSET = 17
"""The ONNX operator set the exported graphs declare (ONNX 1.12, 2022; onnxruntime >= 1.12)."""

IR_VERSION = 8
"""The ONNX IR version written: the one that goes with :data:`OPSET`, so older runtimes load it."""

FORMATS = ("onnx",)
"""The formats :func:`export` writes."""

INPUT_NAME = "input"
OUTPUT_NAME = "output"
LABEL_NAME = "label"

__all__ = [
    "ACTIVATION_CONVERTERS",
    "FORMATS",
    "IR_VERSION",
    "LAYER_CONVERTERS",
    "ONNX_EXTRA",
    "OPSET",
    "GraphBuilder",
    "export",
    "register_activation",
    "register_layer",
    "register_mask",
    "to_onnx",
]


def export(model: Model, path: str | os.PathLike[str], format: Literal["onnx"] = "onnx",
           **options: Any) -> None:  # fmt: skip
    """Write ``model`` to ``path`` in ``format`` (what ``Model.export`` calls).

    Args:
        model: a built model.
        path: the file to write (atomically).
        format: ``"onnx"``.
        **options: passed to the format's writer (:func:`to_onnx`).

    Raises:
        ValueError: an unknown format (the message lists the known ones).
    """
    if format != "onnx":
        raise ValueError(
            f"Unknown export format {format!r}; scratchnn exports to {', '.join(FORMATS)}."
        )
    to_onnx(model, path, **options)


def to_onnx(
    model: Model,
    path: str | os.PathLike[str] | None = None,
    *,
    scaler: Any = None,
    classes: Sequence[Any] | None = None,
    feature_names: Sequence[str] | None = None,
) -> Any:
    """Convert ``model`` to an ONNX model, and write it to ``path`` when given.

    Args:
        model: a built :class:`~scratchnn.Sequential`.
        path: where to write the ``.onnx`` file (atomically: a crash leaves any previous file
            intact); ``None`` only returns the model.
        scaler: standardisation applied to the raw inputs first: a fitted
            ``sklearn.preprocessing.StandardScaler`` (``mean_``, ``scale_``), an object with
            ``mean`` and ``scale`` (the CLI's ``preprocess.json``), or a pair ``(mean, scale)``.
            Its length is the number of raw features ``D``; the graph input is then ``(N, D)``
            (reshaped to the model's input shape after scaling).
        classes: the label of each class: adds the output ``label`` (ints, floats or strings).
        feature_names: names of the input features, stored in the file's metadata.

    Returns:
        The ``onnx.ModelProto`` (checked with ``onnx.checker``).

    Raises:
        ValueError: an unbuilt model, a layer or activation without a converter (named), a
            scaler or classes that do not fit the model.
        ImportError: ``onnx`` is not installed (the message names the extra).

    Example (a churn model with its scaler and labels; the module's docstring runs one):
        >>> to_onnx(model, "churn.onnx", scaler=scaler, classes=["stays", "leaves"])
        ... # doctest: +SKIP
    """
    onnx = require_onnx()
    model = exportable(model)  # a Sequential, or a ValueError before anything else
    if not model.built or model.input_shape is None:
        raise ValueError(
            f"Cannot export model {model.name!r}: it is not built (its input shape is unknown). "
            "Give the first layer input_dim=... (or an Input), call model.build(input_shape), "
            "or fit it first."
        )
    g = GraphBuilder(model.dtype)
    sample_shape = tuple(int(d) for d in model.input_shape)
    x = g.fresh(INPUT_NAME)
    input_shape: tuple[Any, ...] = ("N", *sample_shape)
    h = x
    if scaler is not None:
        mean, scale = _scaler_arrays(scaler, sample_shape)
        input_shape = ("N", len(mean))
        h = g.node("Sub", [h, g.weight(mean, "scaler/mean")], hint="scaler/centered")
        h = g.node("Div", [h, g.weight(scale, "scaler/scale")], hint="scaler/scaled")
        if len(sample_shape) != 1:
            shape = g.constant([-1, *sample_shape], "scaler/shape", dtype=np.int64)
            h = g.node("Reshape", [h, shape], hint="scaler/reshape")
    h = convert_chain(g, chain_of_layers(model), h)
    out = g.node("Identity", [h], output=OUTPUT_NAME)
    assert model.output_shape is not None  # built, with a known input shape
    output_shape = ("N", *(int(d) for d in model.output_shape))
    outputs = [onnx.helper.make_tensor_value_info(out, g.elem_type, output_shape)]
    if classes is not None:
        label, elem = _label_output(g, out, list(classes), output_shape)
        outputs.append(onnx.helper.make_tensor_value_info(label, elem, ["N"]))
    graph = onnx.helper.make_graph(
        g.nodes,
        model.name,
        [onnx.helper.make_tensor_value_info(x, g.elem_type, list(input_shape))],
        outputs,
        initializer=g.initializers,
    )
    proto = onnx.helper.make_model(
        graph,
        producer_name="scratchnn",
        producer_version=library_version(),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        doc_string=f"scratchnn model {model.name!r} exported to ONNX opset {OPSET}.",
    )
    proto.ir_version = IR_VERSION
    metadata = {"scratchnn_model_config": json.dumps(model.get_config())}
    if feature_names is not None:
        metadata["feature_names"] = json.dumps([str(n) for n in feature_names])
    if classes is not None:
        metadata["classes"] = json.dumps([_plain(c) for c in classes])
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        atomic_write(os.fspath(path), proto.SerializeToString())
    return proto


def _scaler_arrays(scaler: Any, sample_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, scale)`` as float64 vectors from any of the accepted scaler forms."""
    if isinstance(scaler, (tuple, list)) and len(scaler) == 2:
        mean, scale = scaler
    elif hasattr(scaler, "mean_") and hasattr(scaler, "scale_"):
        mean, scale = scaler.mean_, scaler.scale_
    elif hasattr(scaler, "mean") and hasattr(scaler, "scale"):
        mean, scale = scaler.mean, scaler.scale
    else:
        raise ValueError(
            "scaler must be a fitted sklearn StandardScaler, an object with mean and scale, or "
            f"a pair (mean, scale); received {type(scaler).__name__}."
        )
    if mean is None or scale is None:  # StandardScaler(with_mean=False) and friends
        raise ValueError(
            "scaler has no mean or no scale (fitted with with_mean=False or with_std=False?); "
            "pass (mean, scale) explicitly, e.g. (zeros, scaler.scale_)."
        )
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1)
    n = int(np.prod(sample_shape))
    if len(mean) != n or len(scale) != n:
        raise ValueError(
            f"The scaler has {len(mean)} means and {len(scale)} scales; the model takes "
            f"{n} input features (input shape {sample_shape}). Pass the scaler fitted on the "
            "model's training features."
        )
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale != 0).all()):
        raise ValueError("The scaler's mean and scale must be finite, and the scale non-zero.")
    return mean, scale


def _plain(value: Any) -> Any:
    """A class label as a plain JSON value (NumPy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _label_output(
    g: GraphBuilder, out: str, classes: list[Any], output_shape: tuple[Any, ...]
) -> tuple[str, int]:
    """Add the ``label`` output: the class of each row, as ``scratchnn predict`` picks it."""
    units = int(np.prod(output_shape[1:]))
    if len(output_shape) != 2 or (units == 1 and len(classes) != 2) or (
        units > 1 and len(classes) != units
    ):
        raise ValueError(
            f"classes has {len(classes)} labels but the model's output has shape "
            f"{output_shape[1:]}: pass one label per output unit, or two labels for one sigmoid "
            "unit."
        )
    values = [_plain(c) for c in classes]
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        table, elem = np.asarray(values, dtype=np.int64), g.onnx.TensorProto.INT64
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        table, elem = np.asarray(values, dtype=np.float64), g.onnx.TensorProto.DOUBLE
    else:
        table, elem = np.asarray([str(v) for v in values], dtype=object), g.onnx.TensorProto.STRING
    labels = g.constant(table, "classes", dtype=table.dtype)
    if units == 1:
        # (N, 1) probability of class 1 -> index 1 where p > 0.5 (ties go to class 0).
        positive = g.node("Greater", [out, g.constant(0.5, "threshold")])
        index = g.node("Cast", [positive], to=g.onnx.TensorProto.INT64)
        index = g.node("Squeeze", [index, g.constant([1], "axis", dtype=np.int64)], hint="index")
    else:
        index = g.node("ArgMax", [out], hint="index", axis=1, keepdims=0)  # first maximum
    return g.node("Gather", [labels, index], output=LABEL_NAME), elem
