"""Sequence layers (Keras names): Embedding, Masking, TimeDistributed, and what wrappers share.

``Embedding`` turns token ids into vectors (and, with ``mask_zero=True``, marks id 0 as padding);
``Masking`` marks the steps whose features all equal ``mask_value``; the mask reaches the
recurrent layers, which carry their states through those steps. ``TimeDistributed`` applies a
layer to every time step. (``Dense`` acts on the last axis of any input by itself.)

Shape legend: B batch, T time steps, D features, V vocabulary size, E embedding size.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from scratchnn import initializers, ops, regularizers
from scratchnn.backend import FloatDType
from scratchnn.initializers import InitializerLike
from scratchnn.layers.base import Layer
from scratchnn.layers.core import _config_of, _positive_int, _shape_config, _shape_tuple
from scratchnn.regularizers import RegularizerLike
from scratchnn.tensor import Tensor

# ------------------------------------------------------------------------------------ helpers


def describe(layer: Layer) -> str:
    """``"Layer 'lstm' (LSTM)"``: how error messages name a layer."""
    return f"Layer {layer.name!r} ({type(layer).__name__})"


def check_not_ragged(x: Any, layer: Layer) -> None:
    """Raise ValueError when ``x`` is a list of sequences of different lengths.

    Arrays cannot hold ragged sequences; the message says how to pad them and mask the padding.
    """
    if not isinstance(x, (list, tuple)) or not x:
        return
    lengths = [len(row) if hasattr(row, "__len__") else None for row in x]
    if None in lengths or len(set(lengths)) == 1:
        return
    shown = ", ".join(map(str, lengths[:6])) + (", ..." if len(lengths) > 6 else "")
    features = "" if isinstance(layer, Embedding) else ", features"
    raise ValueError(
        f"{describe(layer)} expects sequences of one length, an array of shape (batch, "
        f"timesteps{features}); received {len(lengths)} sequences of lengths {shown}. Pad them "
        "to one length (scratchnn.text.pad_sequences(sequences, padding='post')) and mask the "
        "padding: Embedding(..., mask_zero=True) for token ids, Masking(mask_value=0.0) for "
        "values."
    )


def generator(layer: Layer, rng: np.random.Generator | None) -> np.random.Generator:
    """``rng`` (the model's), else a generator seeded with the layer's ``seed``; never unseeded.

    Raises:
        ValueError: neither is given; the message shows the three ways to give one.
    """
    if rng is not None:
        return rng
    seed = getattr(layer, "seed", None)
    if seed is None:
        raise ValueError(
            f"{describe(layer)} has no random generator to draw from: give it seed=..., put it "
            "in a Sequential(..., seed=...), or call build(input_shape, rng=numpy.random."
            "default_rng(0))."
        )
    return np.random.default_rng(seed)


def layer_from_config(entry: Any) -> Layer:
    """A layer from ``{"class_name": ..., "config": ...}`` (or a Layer, returned as is)."""
    if isinstance(entry, Layer):
        return entry
    from scratchnn.layers import LAYERS  # the registry imports this module

    if not isinstance(entry, dict) or entry.get("class_name") not in LAYERS:
        raise ValueError(
            f"expected a Layer or {{'class_name': ..., 'config': {{...}}}} naming one of "
            f"{', '.join(sorted(LAYERS))}; received {entry!r}."
        )
    return LAYERS[entry["class_name"]](**copy.deepcopy(entry.get("config", {})))


def layer_config(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` of a layer (the inverse of layer_from_config)."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _declared(input_shape: Any) -> tuple[int, ...] | None:
    return None if input_shape is None else _shape_tuple(input_shape, "input_shape")


class SequenceLayer(Layer):
    """A layer fed batches of sequences: a list of sequences of different lengths is refused
    with a message that says how to pad and mask them (see :func:`check_not_ragged`)."""

    def __call__(self, x: Any, training: bool = False, mask: Any = None, **kwargs: Any) -> Any:
        """As :meth:`Layer.__call__`; a list of sequences of different lengths is refused."""
        check_not_ragged(x, self)
        return super().__call__(x, training=training, mask=mask, **kwargs)


class Wrapper(Layer):
    """A layer built from other layers; it lists their weights as its own (the same Tensors).

    Subclasses return their parts from :meth:`parts` as ``{prefix: layer}``; weight ``w`` of a
    part is listed as ``"<prefix>/w"`` (or ``"w"`` for the prefix ``""``). The parts' dropout
    generator is reached through :attr:`rng`, so ``fit`` hands its own to them.
    """

    def parts(self) -> dict[str, Layer]:
        """The wrapped layers, by weight-name prefix."""
        raise NotImplementedError

    def _adopt(self) -> None:
        """List each part's weights and penalties as this layer's."""
        for prefix, part in self.parts().items():
            for wname, weight in part.weights.items():
                self.weights[f"{prefix}/{wname}" if prefix else wname] = weight
                weight.requires_grad = self.trainable
            for wname, reg in part.regularizers.items():
                self.regularizers[f"{prefix}/{wname}" if prefix else wname] = reg

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The parts' weight shapes under their listed names."""
        return {
            f"{prefix}/{k}" if prefix else k: v
            for prefix, part in self.parts().items()
            for k, v in part.weight_shapes(self._part_shape(input_shape)).items()
        }

    def _part_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Build every part (in :meth:`parts` order, drawing from ``rng``) and list its weights."""
        super().build(input_shape, rng, dtype)
        for part in self.parts().values():
            if not part.built:
                part.build(self._part_shape(tuple(input_shape)), rng, self.dtype)
        self._adopt()

    @property
    def rng(self) -> np.random.Generator | None:
        """The parts' dropout generator (setting it sets every part's)."""
        return next((p.rng for p in self.parts().values() if hasattr(p, "rng")), None)

    @rng.setter
    def rng(self, value: np.random.Generator | None) -> None:
        for part in self.parts().values():
            if hasattr(part, "rng"):
                part.rng = value

    @property
    def seed(self) -> int | None:
        """The first part's own seed, if any (``fit`` leaves seeded layers alone)."""
        return next((p.seed for p in self.parts().values() if hasattr(p, "seed")), None)


# ---------------------------------------------------------------------------------- Embedding


class Embedding(SequenceLayer):
    """Token ids to vectors: row ``i`` of an ``(input_dim, output_dim)`` table for id ``i``.

    Args:
        input_dim: vocabulary size V (ids run ``0..V-1``).
        output_dim: size E of each vector.
        embeddings_initializer: default ``"uniform"`` (uniform in [-0.05, 0.05], Keras').
        embeddings_regularizer: a weight penalty.
        mask_zero: id 0 is padding: the layer passes on the mask ``ids != 0`` (the recurrent
            layers then skip those steps); ``input_dim`` must count the 0.
        input_length: length of the sequences, for a first layer (Keras 2's shorthand for
            ``input_shape=(input_length,)``).
        seed: seed of the weights when no model generator is given.

    Shape:
        input ``(B, T)`` integer ids (floats holding whole numbers are accepted: models cast
        inputs to their dtype); output ``(B, T, output_dim)``.

    Example:
        >>> import numpy as np
        >>> Embedding(10, 4, seed=0)(np.array([[1, 2, 0]])).shape
        (1, 3, 4)
    """

    supports_masking: ClassVar[bool] = False

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: InitializerLike = "uniform",
        embeddings_regularizer: RegularizerLike = None,
        mask_zero: bool = False,
        input_length: int | None = None,
        seed: int | None = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.seed = seed
        if input_length is not None:
            input_shape = (input_length,)
        self.declared_input_shape = _declared(input_shape)
        self.embeddings: Tensor | None = None

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``embeddings`` ``(input_dim, output_dim)``."""
        return {"embeddings": (self.input_dim, self.output_dim)}

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Create the table, drawn from ``rng`` (the model's) or from ``seed``."""
        super().build(input_shape, rng, dtype)
        self.embeddings = self.add_weight(
            "embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
            generator(self, rng), self.embeddings_regularizer,
        )  # fmt: skip

    def ids(self, x: Any) -> np.ndarray:
        """``x`` as int64 ids, checked: whole numbers in ``[0, input_dim)``.

        Raises:
            ValueError: naming the layer, the first bad id and where it is, and the fix.
        """
        raw = np.asarray(x.data if isinstance(x, Tensor) else x)
        ids: NDArray[np.int64] | None
        if raw.dtype.kind in "iu":
            ids = raw.astype(np.int64, copy=False)
        else:
            ids = raw.astype(np.int64) if raw.dtype.kind in "fb" else None
            if ids is None or not np.array_equal(ids, raw):
                raise ValueError(
                    f"{describe(self)} expects integer token ids; received {raw.dtype} values"
                    f"{' that are not whole numbers' if ids is not None else ''}. Encode the "
                    "tokens first (scratchnn.text.CharVocabulary(text).encode(...))."
                )
        bad = (ids < 0) | (ids >= self.input_dim)
        if bad.any():
            where = np.unravel_index(int(np.argmax(bad)), ids.shape)
            value = int(ids[where])
            raise ValueError(
                f"{describe(self)} received the id {value} at position "
                f"{tuple(int(i) for i in where)}, but input_dim={self.input_dim} allows ids "
                f"0..{self.input_dim - 1}. "
                + ("Ids must not be negative: re-encode the tokens." if value < 0 else
                   f"Give the Embedding input_dim >= {int(ids.max()) + 1} (the vocabulary size, "
                   "padding id 0 included) or re-encode the tokens.")
            )
        return ids

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Look the ids ``x`` ``(B, T)`` up: ``(B, T, output_dim)``."""
        assert self.embeddings is not None  # __call__ builds first
        return ops.embedding(self.ids(x), self.embeddings)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """``ids != 0`` with ``mask_zero``, else no mask."""
        if not self.mask_zero:
            return None
        return np.asarray(x.data if isinstance(x, Tensor) else x) != 0

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(*input_shape, output_dim)``."""
        return (*tuple(input_shape), self.output_dim)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict."""
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": _config_of(self.embeddings_initializer),
            "embeddings_regularizer": _config_of(self.embeddings_regularizer),
            "mask_zero": self.mask_zero,
            "seed": self.seed,
            "input_shape": _shape_config(self),
        }


# ------------------------------------------------------------------------------------ Masking


class Masking(Layer):
    """Marks as padding the time steps whose features all equal ``mask_value``.

    The output is the input with those steps set to zero; the mask goes on to the next layers
    (recurrent layers carry their states through masked steps).

    Args:
        mask_value: the padding value (default 0.0).

    Shape:
        input and output ``(B, T, D)``; mask ``(B, T)``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [0.0]]])
        >>> Masking().compute_mask(x).tolist()
        [[True, False]]
    """

    supports_masking: ClassVar[bool] = True

    def __init__(
        self,
        mask_value: float = 0.0,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.mask_value = float(mask_value)
        self.declared_input_shape = _declared(input_shape)

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """``True`` at steps with at least one feature other than ``mask_value``."""
        data = np.asarray(x.data if isinstance(x, Tensor) else x)
        return np.any(data != self.mask_value, axis=-1)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``x`` with the masked steps zeroed."""
        keep = np.any(x.data != self.mask_value, axis=-1, keepdims=True)
        return ops.mul(x, keep.astype(x.dtype))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "mask_value": self.mask_value,
                "input_shape": _shape_config(self)}  # fmt: skip


# ---------------------------------------------------------------------------- TimeDistributed


class TimeDistributed(Wrapper):
    """Applies a layer to every time step: ``(B, T, ...)`` -> ``(B, T, ...)``, one weight set.

    The steps are folded into the batch (one call of the inner layer on ``(B*T, ...)``), so the
    cost is that of one big batch. Its weights are listed under the inner layer's names.

    Args:
        layer: the layer (or its config dict) applied at each step.

    Example:
        >>> import numpy as np
        >>> from scratchnn.layers import Dense
        >>> layer = TimeDistributed(Dense(2))
        >>> layer.build((5, 3), rng=np.random.default_rng(0))
        >>> layer(np.ones((4, 5, 3))).shape
        (4, 5, 2)
    """

    supports_masking: ClassVar[bool] = True

    def __init__(
        self,
        layer: Layer | dict[str, Any],
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.layer = layer_from_config(layer)
        self.declared_input_shape = _declared(input_shape)

    def parts(self) -> dict[str, Layer]:
        """The inner layer, whose weights keep their names."""
        return {"": self.layer}

    def _part_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) < 2:
            raise ValueError(
                f"{describe(self)} expects input of shape (batch, timesteps, ...), at least "
                f"3-D; received shape {(None, *input_shape)}."
            )
        return tuple(input_shape[1:])

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """The inner layer on ``(B*T, ...)``, reshaped back to ``(B, T, ...)``."""
        self._part_shape(x.shape[1:])
        b, t = x.shape[0], x.shape[1]
        y = self.layer(ops.reshape(x, (b * t, *x.shape[2:])), training=training)
        return ops.reshape(y, (b, t, *y.shape[1:]))

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``(timesteps, *inner output shape)``."""
        inner = self.layer.compute_output_shape(self._part_shape(tuple(input_shape)))
        return (input_shape[0], *inner)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (the inner layer as a config)."""
        return {**super().get_config(), "layer": layer_config(self.layer),
                "input_shape": _shape_config(self)}  # fmt: skip
