"""``Sequential``: a linear stack of layers, the Keras way of writing most networks.

Its structure is the only thing it adds to :class:`~scratchnn.models.Model`: ``add``, ``pop``,
``build`` from an input shape, the forward pass layer after layer, and its configuration (the list
of layer configs a model file stores). Training is the model's, through the one loop.

    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)); y = (x[:, 0] + x[:, 1] > 0).astype(int)
    >>> model = Sequential([Dense(8, activation="tanh", input_dim=2),
    ...                     Dense(1, activation="sigmoid")], seed=0)
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    >>> history.history["accuracy"][-1] > 0.9
    True

Shape legend: N samples (B in a batch), D input features, K output units.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from scratchnn.backend import FloatDType
from scratchnn.layers import Dense, Input, Layer
from scratchnn.models import data
from scratchnn.models.model import Model, claim_names
from scratchnn.tensor import Tensor

if TYPE_CHECKING:
    import numpy as np

    from scratchnn.callbacks import Callback
    from scratchnn.models.fitting import Inputs


class Sequential(Model):
    """A linear stack of layers, trained with ``compile`` then ``fit``.

    Args:
        layers: layers to add in order; an :class:`~scratchnn.layers.Input` first (or a first
            layer with ``input_dim``/``input_shape``) builds the model at once.
        name: the model's name (default ``"sequential"``).
        dtype: ``"float32"`` (default) or ``"float64"``: the dtype of weights and of the arrays
            the model computes on. Inputs are cast once per call to ``fit``/``predict``.
        seed: seed of the model's ``numpy.random.Generator``, which draws the initial weights and,
            unless ``fit(seed=...)`` is given, shuffles batches and draws dropout masks.

    Attributes:
        layers: the layers (an ``Input`` is not listed, as in Keras).

    Example:
        >>> from scratchnn.layers import Dense
        >>> model = Sequential(seed=0)
        >>> model.add(Dense(6, activation="relu", input_dim=11))
        >>> model.add(Dense(1, activation="sigmoid"))
        >>> model.count_params()
        79
    """

    def __init__(
        self,
        layers: Iterable[Layer] | None = None,
        name: str | None = None,
        dtype: FloatDType = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        self._layers: list[Layer] = []
        self._input_layer: Input | None = None
        self._input_shape: tuple[int, ...] | None = None
        self._masking = False
        for layer in layers or ():
            self.add(layer)

    # ---------------------------------------------------------------------------- structure
    def _child_layers(self) -> list[Layer]:
        return list(self._layers)

    if TYPE_CHECKING:
        # A stack has one output: predict returns one array (Model.predict, unchanged at run
        # time; declared here for type checkers only).
        def predict(
            self, x: Inputs, batch_size: int | None = None, verbose: Literal[0, 1, 2] = 0,
            callbacks: Sequence[Callback] | None = None,
        ) -> np.ndarray: ...

    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (without the ``Input``)."""
        return list(self._layers)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Shape of one input sample (batch axis excluded), or ``None`` before it is known."""
        return self._input_shape

    @input_shape.setter
    def input_shape(self, value: Any) -> None:
        pass  # derived from the first layer

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """Shape of one output sample, or ``None`` before the input shape is known."""
        if self._input_shape is None:
            return None
        shape: Any = self._input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return tuple(shape)

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """``[input_shape]``."""
        return [self._input_shape]

    @property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """``[output_shape]``."""
        return [self.output_shape]

    @property
    def output_names(self) -> list[str]:
        """The last layer's name."""
        return [self._layers[-1].name] if self._layers else ["output"]

    def _output_layers(self) -> list[Any]:
        return [self._layers[-1] if self._layers else None]

    def add(self, layer: Layer) -> None:
        """Append a layer; build it at once when the input shape is known.

        Raises:
            TypeError: for anything that is not a Layer.
            ValueError: a second ``Input``, an ``Input`` after other layers, or a duplicate name.
        """
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a Layer (e.g. scratchnn.layers.Dense); received "
                f"{type(layer).__name__}."
            )
        if isinstance(layer, Input):
            if self._layers or self._input_layer is not None:
                raise ValueError(
                    "An Input layer must come first and only once; this model already has "
                    f"{'an Input' if self._input_layer is not None else 'layers'}."
                )
            self._input_layer = layer
            self._input_shape = layer.shape
            return
        claim_names([*self._layers, layer])
        if layer.name in {other.name for other in self._layers}:
            raise ValueError(
                f"The model already has a layer named {layer.name!r}; layer names must be unique "
                "(weights are stored under them). Pass another name=..."
            )
        self._layers.append(layer)
        self._adopt([layer])
        if self._input_shape is None and len(self._layers) == 1:
            declared = getattr(layer, "declared_input_shape", None)
            if declared is not None:
                self._input_shape = tuple(declared)
            elif layer.built and layer.input_shape is not None:
                self._input_shape = tuple(layer.input_shape)
        if self._input_shape is not None:
            self.build(self._input_shape)
        else:
            self._refresh()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("pop() on a model without layers.")
        layer = self._layers.pop()
        self._refresh()
        return layer

    def build(self, input_shape: Any, rng: Any = None, dtype: Any = None) -> None:
        """Create the weights of every layer for inputs of ``input_shape``.

        Args:
            input_shape: shape of one sample, e.g. ``(11,)``; Keras' ``(None, 11)`` (with the
                batch axis as ``None``) is accepted too.

        Raises:
            ValueError: for a model without layers, or a bad shape.
        """
        shape: Any = data.sample_shape(input_shape)
        if not self._layers:
            raise ValueError("The model has no layers to build; add layers first (model.add).")
        if self._input_shape is not None and self.built and shape != self._input_shape:
            raise ValueError(
                f"The model is built for inputs of shape {(None, *self._input_shape)}; received "
                f"input_shape {(None, *shape)}. Build a new model for other inputs."
            )
        self._input_shape = shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape, rng=self._rng, dtype=self.dtype)
            elif layer.input_shape is not None and tuple(layer.input_shape) != shape:
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs of shape "
                    f"{(None, *layer.input_shape)} but receives {(None, *shape)} here."
                )
            shape = tuple(layer.compute_output_shape(shape))
        self._refresh()

    def _refresh(self) -> None:
        """Recompute what depends on the layers: masking and the compiled loss's logits form."""
        base = Layer.compute_mask
        self._masking = any(type(layer).compute_mask is not base for layer in self._layers)
        self._structure_changed()
        self._link_compiled()

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for one sample of ``input_shape``."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    # ---------------------------------------------------------------------------- forward
    def call(self, x: Tensor, training: bool = False, mask: Any = None) -> Tensor:
        """The layers one after the other (masks handed along when a layer makes one)."""
        if not self._masking:
            for layer in self._layers:
                x = layer(x, training=training)
            return x
        for layer in self._layers:
            out = layer(x, training=training, mask=mask)
            mask = layer.compute_mask(x, mask)
            x = out
        return x

    def _forward_for_loss(self, xs: list[Tensor], training: bool) -> list[Tensor]:
        """The outputs, or the last Dense's logits when the compiled loss takes them."""
        fused = self.compiled_loss is not None and self.compiled_loss.fused[0] is not None
        if not fused:
            return [self.call(xs[0], training=training)]
        h = xs[0]
        mask = None
        for layer in self._layers[:-1]:
            out = layer(h, training=training, mask=mask)
            if self._masking:
                mask = layer.compute_mask(h, mask)
            h = out
        # the last layer is a Dense whose activation the loss takes as logits (compiled.fused)
        return [cast(Dense, self._layers[-1]).pre_activation(h)]

    def _input_shape_error(
        self, name: str, shape: tuple[int, ...], expected: tuple[int, ...], was_1d: bool
    ) -> str:
        first = self._layers[0]
        hint = " For a single sample pass x.reshape(1, -1)." if was_1d else ""
        fix = (
            f"Pass {expected[-1]} features per sample (the model was built for that)."
            if len(expected) == 1 else
            f"Reshape the samples, e.g. x.reshape(-1, {', '.join(map(str, expected))}) (the "
            "model was built for that)."
        )
        return (
            f"Layer {first.name!r} ({type(first).__name__}) expects input of shape "
            f"{(None, *expected)}; received {name} of shape {shape}. {fix}" + hint
        )

    def _summary_rows(self) -> list[tuple[Layer, str]]:
        rows = []
        shape: Any = self._input_shape
        for layer in self._layers:
            if shape is not None:
                shape = tuple(layer.compute_output_shape(shape))
            rows.append((layer, str((None, *shape)) if shape is not None else "? (unbuilt)"))
        return rows

    # ------------------------------------------------------------------------- configuration
    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-serialisable data (no weights).

        Returns:
            ``{"name", "dtype", "seed", "layers": [{"class_name", "config"}, ...]}``; when the
            input shape is known the first entry is an ``Input`` that carries it.
        """
        layers = []
        if self._input_shape is not None:
            first = self._input_layer or Input(
                self._input_shape, name=f"{self.name}_input", dtype=self.dtype
            )
            config = first.get_config()
            config["shape"] = list(self._input_shape)
            layers.append({"class_name": "Input", "config": config})
        for layer in self._layers:
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return {"name": self.name, "dtype": self.dtype.name, "seed": self.seed, "layers": layers}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Build a model from :meth:`get_config` data (built when the config has input shapes).

        Raises:
            ValueError: for an unknown layer class (the message lists the known ones).
        """
        from scratchnn.models.config import layer_from_config

        layers = [layer_from_config(entry) for entry in config.get("layers", [])]
        return cls(
            layers, name=config.get("name"), dtype=config.get("dtype"), seed=config.get("seed")
        )
