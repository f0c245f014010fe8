"""Recurrent layers (Keras names and defaults): SimpleRNN, LSTM, GRU and Bidirectional.

Each layer holds its three weights and calls one op of :mod:`scratchnn.ops.recurrent`, which runs
the whole time loop in one graph node (gate layouts and the mapping to PyTorch's are documented
there). Inputs are ``(batch, timesteps, features)``; the output is the last step's ``(batch,
units)``, or every step's ``(batch, timesteps, units)`` with ``return_sequences=True``.

Calling a layer directly takes Keras' extra arguments: ``layer(x, initial_state=[h, c])``, and
with ``return_state=True`` it returns ``[output, h]`` (``[output, h, c]`` for LSTM). In a
``Sequential`` a layer must return one tensor, as in Keras.

Masks (from ``Embedding(mask_zero=True)`` or ``Masking``) skip padded steps: the states are
carried through them (see :mod:`scratchnn.ops.recurrent`). Losses do not weight steps by the mask.

Shape legend: B batch, T time steps, D input features, H units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict

import numpy as np

from scratchnn import activations, initializers, ops, regularizers
from scratchnn.activations import ActivationLike
from scratchnn.backend import FloatDType
from scratchnn.initializers import InitializerLike
from scratchnn.layers.base import Layer
from scratchnn.layers.core import _config_of, _positive_int, _shape_config, _shape_tuple
from scratchnn.layers.sequence import (
    SequenceLayer,
    Wrapper,
    describe,
    generator,
    layer_config,
    layer_from_config,
)
from scratchnn.regularizers import RegularizerLike
from scratchnn.tensor import Tensor, no_grad

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

MERGE_MODES = ("concat", "sum", "mul", "ave", None)
"""How :class:`Bidirectional` combines its two directions (``None``: a list of both)."""


def _rate(value: Any, label: str, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"{layer}: {label} must be a number in [0, 1) (the fraction of units dropped); "
            f"received {label}={value!r}."
        )
    return float(value)


def _activation_name(value: Any, label: str, layer: str) -> str:
    name = activations.name_of(activations.get(value))
    if name not in ops.RECURRENT_ACTIVATIONS:
        raise ValueError(
            f"{layer}: {label} must be one of {', '.join(ops.RECURRENT_ACTIVATIONS)} (or None for "
            f"linear); received {value!r}. The time loop takes each derivative from its output."
        )
    return name


class SharedOptions(TypedDict, total=False):
    """Keyword arguments of :class:`SimpleRNN`, :class:`LSTM` and :class:`GRU` (what their
    common base takes besides ``units``; see :class:`LSTM` for each one's meaning)."""

    use_bias: bool
    kernel_initializer: InitializerLike
    recurrent_initializer: InitializerLike
    bias_initializer: InitializerLike
    kernel_regularizer: RegularizerLike
    recurrent_regularizer: RegularizerLike
    bias_regularizer: RegularizerLike
    dropout: float
    recurrent_dropout: float
    seed: int | None
    return_sequences: bool
    return_state: bool
    go_backwards: bool
    zero_output_for_mask: bool
    input_shape: Sequence[int] | None
    trainable: bool
    name: str | None
    dtype: FloatDType


class GatedOptions(SharedOptions, total=False):
    """:class:`SharedOptions` and the two activations of the gated layers (LSTM, GRU)."""

    activation: ActivationLike
    recurrent_activation: ActivationLike


class _Recurrent(SequenceLayer):
    """What SimpleRNN, LSTM and GRU share: arguments, weights, dropout masks, calls, config."""

    supports_masking: ClassVar[bool] = True
    _gates: ClassVar[int] = 1
    _states: ClassVar[tuple[str, ...]] = ("h",)
    _has_recurrent_activation: ClassVar[bool] = True

    def __init__(
        self,
        units: int,
        activation: ActivationLike = "tanh",
        recurrent_activation: ActivationLike = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: InitializerLike = "glorot_uniform",
        recurrent_initializer: InitializerLike = "orthogonal",
        bias_initializer: InitializerLike = "zeros",
        kernel_regularizer: RegularizerLike = None,
        recurrent_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        label = f"{type(self).__name__} {self.name!r}"
        self.units = _positive_int(units, "units")
        self.activation = _activation_name(activation, "activation", label)
        self.recurrent_activation = (
            _activation_name(recurrent_activation, "recurrent_activation", label)
            if self._has_recurrent_activation else None
        )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = _rate(dropout, "dropout", label)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", label)
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.declared_input_shape = (
            None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        )
        self.rng: np.random.Generator | None = None
        self.kernel: Tensor | None = None
        self.recurrent_kernel: Tensor | None = None
        self.bias: Tensor | None = None

    # ------------------------------------------------------------------------------ weights
    def _check_input_shape(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) != 2:
            received = (None, *input_shape)
            hint = (
                " For one value per step reshape x to (batch, timesteps, 1) (x[..., None]); for "
                "token ids put an Embedding layer first."
                if len(input_shape) == 1 else ""
            )
            raise ValueError(
                f"{describe(self)} expects input of shape (batch, timesteps, features), 3-D; "
                f"received shape {received}.{hint}"
            )

    def _bias_shape(self) -> tuple[int, ...]:
        return (self._gates * self.units,)

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``kernel`` ``(D, G*units)``, ``recurrent_kernel`` ``(units, G*units)``, ``bias``."""
        g, h = self._gates, self.units
        shapes: dict[str, tuple[int, ...]] = {
            "kernel": (int(input_shape[-1]), g * h), "recurrent_kernel": (h, g * h)
        }
        if self.use_bias:
            shapes["bias"] = self._bias_shape()
        return shapes

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Create the weights, drawn from ``rng`` (the model's generator) or from ``seed``.

        Raises:
            ValueError: input that is not ``(timesteps, features)`` per sample, or no generator
                (neither ``rng`` nor the layer's ``seed``).
        """
        self._check_input_shape(tuple(input_shape))
        super().build(input_shape, rng, dtype)
        rng = self._generator(rng)
        shapes = self.weight_shapes(tuple(input_shape))
        self.kernel = self.add_weight(
            "kernel", shapes["kernel"], self.kernel_initializer, rng, self.kernel_regularizer
        )
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", shapes["recurrent_kernel"], self.recurrent_initializer, rng,
            self.recurrent_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", shapes["bias"], self._bias_initializer(), rng, self.bias_regularizer
            )

    def _generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        self.rng = generator(self, rng)
        return self.rng

    # --------------------------------------------------------------------------------- call
    def call(
        self, x: Tensor, training: bool = False, mask: Any = None, initial_state: Any = None
    ) -> Any:
        """Run the sequences ``x`` ``(B, T, D)``; see the class docstring for what comes back.

        Args:
            x: input sequences.
            training: apply ``dropout`` / ``recurrent_dropout``.
            mask: ``(B, T)`` booleans, ``True`` at real steps (usually passed by the model).
            initial_state: list of initial states (``[h]``, or ``[h, c]`` for LSTM), each
                ``(B, units)``; zeros when ``None``. Gradients flow into them.
        """
        return self._run(x, training, mask, initial_state, self.return_state)

    def _run(self, x: Tensor, training: bool, mask: Any, initial_state: Any,
             return_state: bool) -> Any:
        if x.ndim != 3:
            self._check_input_shape(tuple(x.shape[1:]))
        kernel = self.kernel
        assert kernel is not None  # __call__ builds first
        if x.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"{describe(self)} was built for {kernel.shape[0]} features per step; "
                f"received input of shape {x.shape}."
            )
        if x.dtype != kernel.dtype:
            x = ops.cast(x, kernel.dtype)
        b = x.shape[0]
        states = self._initial_states(initial_state, b, kernel.dtype)
        rmask = None
        if training and (self.dropout or self.recurrent_dropout):
            rng = self._dropout_rng()
            if self.dropout:
                # One mask per sample for all steps and gates (variational dropout, Keras').
                keep = rng.random((b, 1, x.shape[2])) >= self.dropout
                x = ops.mul(x, (keep / (1 - self.dropout)).astype(x.dtype))
            if self.recurrent_dropout:
                keep = rng.random((b, self.units)) >= self.recurrent_dropout
                rmask = (keep / (1 - self.recurrent_dropout)).astype(x.dtype)
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        result = self._op(
            x, states, mask,
            go_backwards=self.go_backwards, return_sequences=self.return_sequences,
            return_state=return_state, zero_output_for_mask=self.zero_output_for_mask,
            recurrent_dropout_mask=rmask,
        )  # fmt: skip
        return list(result) if return_state else result

    def _op(self, x: Tensor, states: list[Any] | None, mask: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _dropout_rng(self) -> np.random.Generator:
        if self.rng is None:
            self.rng = self._generator(None)
        return self.rng

    def _initial_states(self, initial_state: Any, batch: int, dtype: Any) -> list[Any] | None:
        if initial_state is None:
            return None
        if isinstance(initial_state, (Tensor, np.ndarray)):
            initial_state = [initial_state]
        states = list(initial_state)
        names = ", ".join(self._states)
        if len(states) != len(self._states):
            raise ValueError(
                f"{describe(self)} takes initial_state=[{names}] ({len(self._states)} "
                f"state{'s' if len(self._states) > 1 else ''}); received {len(states)}."
            )
        out = []
        for state in states:
            t = state if isinstance(state, Tensor) else Tensor(state, dtype=dtype)
            if t.shape != (batch, self.units):
                raise ValueError(
                    f"{describe(self)}: each initial state must have shape (batch, units) = "
                    f"({batch}, {self.units}); received {t.shape}."
                )
            out.append(t)
        return out

    def call_stateful(self, x: Any, state: Any = None) -> tuple[Any, Any]:
        """Inference from ``state`` (``None``: zeros): ``(output array, [final state arrays])``.

        The output follows ``return_sequences``; the states are returned whatever
        ``return_state`` says, ready for the next call (text generation feeds one step at a
        time this way).
        """
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.dtype)
        if not self.built:
            self.build(x.shape[1:], dtype=x.dtype)
        with no_grad():
            output, *states = self._run(x, False, None, state, return_state=True)
        return output.data, [s.data for s in states]

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The input's mask when every step is returned, else none."""
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> Any:
        """``(timesteps, units)`` with ``return_sequences``, else ``(units,)``; with
        ``return_state`` a list: that shape, then ``(units,)`` per state."""
        out = (input_shape[0], self.units) if self.return_sequences else (self.units,)
        if self.return_state:
            return [out, *((self.units,) for _ in self._states)]
        return out

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict."""
        config = {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": _config_of(self.kernel_initializer),
            "recurrent_initializer": _config_of(self.recurrent_initializer),
            "bias_initializer": _config_of(self.bias_initializer),
            "kernel_regularizer": _config_of(self.kernel_regularizer),
            "recurrent_regularizer": _config_of(self.recurrent_regularizer),
            "bias_regularizer": _config_of(self.bias_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "zero_output_for_mask": self.zero_output_for_mask,
            "input_shape": _shape_config(self),
        }
        if self._has_recurrent_activation:
            config["recurrent_activation"] = self.recurrent_activation
        return config


class SimpleRNN(_Recurrent):
    """Fully-connected recurrent layer: ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Args:
        units: size of the state and output (> 0).
        activation: ``"tanh"`` (default), ``"relu"``, ``"sigmoid"`` or ``"linear"``/``None``.
        use_bias: add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: ``"glorot_uniform"``,
            ``"orthogonal"`` and ``"zeros"`` by default (Keras').
        kernel_regularizer / recurrent_regularizer / bias_regularizer: weight penalties.
        dropout: fraction of input features dropped in training (one mask per sample for all
            steps); recurrent_dropout: the same for the state entering the recurrent product.
        seed: seed of this layer's own generator (weights, dropout) when no model gives one.
        return_sequences: return every step's output ``(B, T, units)``, else the last.
        return_state: return ``[output, h]`` (when called directly).
        go_backwards: read the sequence backwards; the outputs come in that order.
        zero_output_for_mask: masked steps output zeros (default: the previous output).
        input_shape: ``(timesteps, features)`` for a first layer.

    Shape:
        input ``(B, T, D)``; output ``(B, units)`` or ``(B, T, units)``.

    Example:
        >>> import numpy as np
        >>> layer = SimpleRNN(4, return_sequences=True, seed=0)
        >>> layer(np.ones((2, 5, 3))).shape
        (2, 5, 4)
    """

    _has_recurrent_activation = False

    def __init__(
        self, units: int, activation: ActivationLike = "tanh", **kwargs: Unpack[SharedOptions]
    ) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def _op(self, x: Tensor, states: list[Any] | None, mask: Any, **kwargs: Any) -> Any:
        return ops.simple_rnn(
            x, self.kernel, self.recurrent_kernel, self.bias, states, mask,
            activation=self.activation, **kwargs,
        )  # fmt: skip


class LSTM(_Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), Keras' gate order i, f, c, o.

    Args:
        units: size of the states and output (> 0).
        activation: of the cell candidate and the cell state (``"tanh"``).
        recurrent_activation: of the input, forget and output gates (``"sigmoid"``).
        unit_forget_bias: initialise the forget gate's bias to 1 (Keras' default, Jozefowicz et
            al. 2015); the other biases come from ``bias_initializer``.
        Others: as :class:`SimpleRNN` (``return_state`` returns ``[output, h, c]``).

    Shape:
        input ``(B, T, D)``; output ``(B, units)`` or ``(B, T, units)``.

    Example:
        >>> import numpy as np
        >>> out, h, c = LSTM(4, return_state=True, seed=0)(np.ones((2, 5, 3)))
        >>> out.shape, h.shape, c.shape
        ((2, 4), (2, 4), (2, 4))
    """

    _gates = 4
    _states = ("h", "c")

    def __init__(
        self, units: int, unit_forget_bias: bool = True, **kwargs: Unpack[GatedOptions]
    ) -> None:
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        inner, units = self.bias_initializer, self.units

        def with_forget_ones(shape: Any, rng: Any, dtype: Any = "float32") -> np.ndarray:
            return np.concatenate([
                inner((units,), rng, dtype), np.ones(units, dtype=dtype),
                inner((2 * units,), rng, dtype),
            ])  # fmt: skip

        return with_forget_ones

    def _op(self, x: Tensor, states: list[Any] | None, mask: Any, **kwargs: Any) -> Any:
        return ops.lstm(
            x, self.kernel, self.recurrent_kernel, self.bias, states, mask,
            activation=self.activation, recurrent_activation=self.recurrent_activation, **kwargs,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_Recurrent):
    """Gated recurrent unit (Cho et al., 2014), Keras' gate order z, r, h.

    Args:
        units: size of the state and output (> 0).
        reset_after: apply the reset gate after the recurrent product (``True``, Keras' default
            and PyTorch's formula; the bias is ``(2, 3*units)``) or before it (``False``, the
            original GRU; the bias is ``(3*units,)``).
        Others: as :class:`LSTM` (``return_state`` returns ``[output, h]``).

    Shape:
        input ``(B, T, D)``; output ``(B, units)`` or ``(B, T, units)``.

    Example:
        >>> import numpy as np
        >>> GRU(4, seed=0)(np.ones((2, 5, 3))).shape
        (2, 4)
    """

    _gates = 3

    def __init__(
        self, units: int, reset_after: bool = True, **kwargs: Unpack[GatedOptions]
    ) -> None:
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _op(self, x: Tensor, states: list[Any] | None, mask: Any, **kwargs: Any) -> Any:
        return ops.gru(
            x, self.kernel, self.recurrent_kernel, self.bias, states, mask,
            activation=self.activation, recurrent_activation=self.recurrent_activation,
            reset_after=self.reset_after, **kwargs,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "reset_after": self.reset_after}


class Bidirectional(SequenceLayer, Wrapper):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges both outputs.

    Args:
        layer: a SimpleRNN, LSTM or GRU (or its config dict); a fresh copy named
            ``forward_<name>`` runs forwards.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"``, or ``None`` (a list
            ``[forward, backward]``, for direct calls).
        backward_layer: the layer for the backward direction (default: a copy of ``layer`` with
            ``go_backwards=True``, named ``backward_<name>``).

    With ``return_sequences`` the backward outputs are put back in input order before merging,
    and masked steps output zeros in both directions (as Keras). ``initial_state`` takes the
    forward states then the backward ones; ``return_state`` appends the forward then the backward
    final states. Weights are listed as ``forward/kernel``, ..., ``backward/bias``.

    Shape:
        input ``(B, T, D)``; output ``(B, [T,] 2*units)`` with concat, ``(B, [T,] units)`` else.

    Example:
        >>> import numpy as np
        >>> from scratchnn.layers import LSTM
        >>> Bidirectional(LSTM(3, return_sequences=True, seed=0))(np.ones((2, 4, 5))).shape
        (2, 4, 6)
    """

    supports_masking: ClassVar[bool] = True

    def __init__(
        self,
        layer: Layer | dict[str, Any],
        merge_mode: Literal["concat", "sum", "mul", "ave"] | None = "concat",
        backward_layer: Layer | dict[str, Any] | None = None,
        input_shape: Sequence[int] | None = None,
        trainable: bool = True,
        name: str | None = None,
        dtype: FloatDType = None,
    ) -> None:
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Bidirectional: merge_mode must be one of {MERGE_MODES}; received "
                f"{merge_mode!r}."
            )
        template = layer_from_config(layer)
        if not isinstance(template, _Recurrent):
            raise ValueError(
                "Bidirectional wraps a recurrent layer (SimpleRNN, LSTM or GRU); received "
                f"{type(template).__name__}."
            )
        base = template.name.removeprefix("forward_").removeprefix("backward_")
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.merge_mode = merge_mode
        self.forward_layer = self._copy(template, f"forward_{base}", go_backwards=False)
        self.backward_layer = self._checked_pair(
            self._copy(template, f"backward_{base}", go_backwards=True)
            if backward_layer is None else layer_from_config(backward_layer)
        )
        for part in (self.forward_layer, self.backward_layer):
            part.zero_output_for_mask = part.return_sequences  # masked steps: zeros, as Keras
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.declared_input_shape = (
            None if input_shape is None else _shape_tuple(input_shape, "input_shape")
        )

    @staticmethod
    def _copy(layer: _Recurrent, name: str, **changes: Any) -> _Recurrent:
        config = {**layer.get_config(), "name": name, **changes}
        return type(layer)(**config)

    def _checked_pair(self, b: Layer) -> _Recurrent:
        """``b``, once checked to be a recurrent layer matching the forward one."""
        f = self.forward_layer
        if not isinstance(b, _Recurrent) or f.go_backwards == b.go_backwards:
            raise ValueError(
                "Bidirectional: backward_layer must be a recurrent layer whose go_backwards "
                f"differs from the forward layer's ({f.go_backwards})."
            )
        for attr in ("return_sequences", "return_state", "units"):
            if getattr(f, attr) != getattr(b, attr) and not (
                attr == "units" and self.merge_mode in ("concat", None)
            ):
                raise ValueError(
                    f"Bidirectional: the forward and backward layers must agree on {attr}; "
                    f"received {getattr(f, attr)!r} and {getattr(b, attr)!r}."
                )
        return b

    def parts(self) -> dict[str, Layer]:
        """The forward and the backward layer."""
        return {"forward": self.forward_layer, "backward": self.backward_layer}

    def call(
        self, x: Tensor, training: bool = False, mask: Any = None, initial_state: Any = None
    ) -> Any:
        """Both directions on ``x``, merged; ``initial_state``: forward states, then backward."""
        fwd_state = bwd_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(x, training=training, mask=mask, initial_state=fwd_state)
        y_rev = self.backward_layer(x, training=training, mask=mask, initial_state=bwd_state)
        states: list[Tensor] = []
        if self.return_state:
            states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.getitem(y_rev, (slice(None), slice(None, None, -1)))  # input order
        if self.merge_mode == "concat":
            out: Any = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = ops.add(y, y_rev)
        elif self.merge_mode == "ave":
            out = ops.mul(ops.add(y, y_rev), 0.5)
        elif self.merge_mode == "mul":
            out = ops.mul(y, y_rev)
        else:
            out = [y, y_rev]
        if self.return_state:
            return [*(out if isinstance(out, list) else [out]), *states]
        return out

    def call_stateful(self, x: Any, state: Any = None) -> tuple[Any, Any]:
        """Not possible: the backward direction needs the whole sequence (raises ValueError)."""
        raise ValueError(
            f"{describe(self)} cannot run step by step: its backward direction reads the "
            "sequence from the end. Generate text with a unidirectional model."
        )

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The input's mask when every step is returned, else none."""
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> Any:
        """The forward layer's output shape, with both directions' units for ``concat``; a list
        with ``merge_mode=None`` or ``return_state`` (then the states follow, forward first)."""
        f, b = self.forward_layer, self.backward_layer
        first = f.compute_output_shape(input_shape)
        shape = list(first[0] if f.return_state else first)
        states = [(f.units,)] * len(f._states) + [(b.units,)] * len(b._states)
        if self.merge_mode is None:
            outputs = [tuple(shape), (*shape[:-1], b.units)]
        else:
            if self.merge_mode == "concat":
                shape[-1] += b.units
            outputs = [tuple(shape)]
        if self.return_state or self.merge_mode is None:
            return [*outputs, *(states if self.return_state else [])]
        return outputs[0]

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (the layers as configs)."""
        return {
            **super().get_config(),
            "layer": layer_config(self.forward_layer),
            "merge_mode": self.merge_mode,
            "backward_layer": layer_config(self.backward_layer),
            "input_shape": _shape_config(self),
        }
