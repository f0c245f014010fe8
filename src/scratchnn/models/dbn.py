"""Deep belief nets: RBMs stacked, pretrained greedily one on the hidden units of the one below,
then fine-tuned as a :class:`~scratchnn.models.Sequential` (tutorial 004).

The RBM itself (contrastive divergence, planning from a config) is :mod:`scratchnn.models.rbm`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from scratchnn import backend
from scratchnn import callbacks as callbacks_module
from scratchnn.io_checks import CORRUPT, MAX_LAYERS, ModelPlan, nested_weights
from scratchnn.layers import Dense, Layer
from scratchnn.models._seeds import derived_seeds
from scratchnn.models.config import register
from scratchnn.models.fitting import check_int
from scratchnn.models.model import Model
from scratchnn.models.rbm import RBM, checked_size, plan_rbm
from scratchnn.models.sequential import Sequential
from scratchnn.tensor import Tensor

if TYPE_CHECKING:
    from scratchnn.activations import ActivationName


@register
class DBN(Model):
    """A deep belief net: RBMs stacked, pretrained greedily, then fine-tuned as a network.

    ``fit(x)`` trains the first RBM on ``x``, the second on the first's hidden probabilities,
    and so on (each through its own ``fit``: the one loop). :meth:`to_model` then returns a
    :class:`~scratchnn.Sequential` of sigmoid ``Dense`` layers whose kernels and biases are
    exactly the RBMs' ``kernel`` and ``hidden_bias``, with a new output layer on top, ready to
    ``compile`` and ``fit`` on labels.

    Args:
        hidden: hidden units of each RBM, bottom first, e.g. ``(500, 500)``.
        n_visible: input features (``None``: known at the first ``fit``).
        visible: visible units of the first RBM (``"bernoulli"`` or ``"gaussian"``); the
            others see probabilities, so they are Bernoulli.
        k, persistent, learning_rate, momentum, weight_decay: as for :class:`RBM`, for every
            RBM.
        name, dtype, seed: as for :class:`~scratchnn.models.Model`; each RBM gets its own seed
            derived from ``seed``.

    Example:
        >>> import numpy as np
        >>> x = (np.random.default_rng(0).random((100, 12)) < 0.4).astype("float32")
        >>> dbn = DBN((8, 4), seed=0)
        >>> histories = dbn.fit(x, batch_size=10, epochs=2, verbose=0)
        >>> net = dbn.to_model(3)
        >>> [layer.units for layer in net.layers]
        [8, 4, 3]
    """

    def __init__(
        self,
        hidden: Sequence[int],
        n_visible: int | None = None,
        *,
        visible: str = "bernoulli",
        k: int = 1,
        persistent: bool = False,
        learning_rate: float = 0.1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        name: str | None = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        if isinstance(hidden, (int, np.integer)):
            hidden = (int(hidden),)
        if not isinstance(hidden, Sequence) or not hidden:
            raise ValueError(f"hidden must be a non-empty list of layer sizes; received "
                             f"hidden={hidden!r}.")
        self.hidden = tuple(check_int(h, "each hidden size", 1) for h in hidden)
        self._rbm_args: dict[str, Any] = {
            "k": k, "persistent": persistent, "learning_rate": learning_rate,
            "momentum": momentum, "weight_decay": weight_decay,
        }
        sizes = (n_visible, *self.hidden[:-1])
        seeds = derived_seeds(seed, len(self.hidden))
        self.rbms = [
            RBM(h, v, visible=visible if i == 0 else "bernoulli", name=f"rbm_{i}", dtype=dtype,
                seed=s, **self._rbm_args)
            for i, (h, v, s) in enumerate(zip(self.hidden, sizes, seeds, strict=True))
        ]
        self.visible = visible

    def call(self, x: Any, training: bool = False) -> Tensor:
        """The top RBM's hidden probabilities, each RBM feeding the next: (B, V) -> (B, H_top)."""
        for rbm in self.rbms:
            x = rbm(x, training=training)
        return x

    def build(self, input_shape: Any, rng: Any = None, dtype: Any = None) -> None:
        """Build each RBM on the hidden size of the one below."""
        shape = tuple(input_shape)
        for rbm in self.rbms:
            if not rbm.built:
                rbm.build(shape)
            shape = (rbm.n_hidden,)

    @property
    def n_visible(self) -> int | None:
        """Input features V (``None`` before the DBN is built)."""
        return self.rbms[0].n_visible

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """``[(V,)]`` once built."""
        return self.rbms[0].input_shapes

    def fit(  # type: ignore[override]
        self,
        x: Any,
        y: Any = None,
        batch_size: int | None = 32,
        epochs: int | Sequence[int] = 1,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
        verbose: Literal[0, 1, 2] = 1,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> list[callbacks_module.History]:
        """Greedy layer-wise pretraining: each RBM's ``fit`` on the features of the one below.

        Args:
            x: inputs (N, V); ``y`` is ignored (pretraining uses no labels).
            batch_size, shuffle, callbacks, verbose, seed: handed to each RBM's ``fit``.
            epochs: epochs per RBM (one number, or one per RBM).

        Returns:
            One :class:`~scratchnn.callbacks.History` per RBM, bottom first.
        """
        del y
        per_layer = [epochs] * len(self.rbms) if isinstance(epochs, (int, np.integer)) else list(
            epochs)
        if len(per_layer) != len(self.rbms):
            raise ValueError(f"epochs must be one number or one per RBM ({len(self.rbms)}); "
                             f"received epochs={epochs!r}.")
        features = self._rows(x, "x")
        histories = []
        for rbm, n in zip(self.rbms, per_layer, strict=True):
            histories.append(rbm.fit(features, batch_size=batch_size, epochs=n,
                                     callbacks=callbacks, verbose=verbose, shuffle=shuffle,
                                     seed=seed))
            features = rbm.transform(features)
        self.history = histories[-1]
        return histories

    def _rows(self, x: Any, label: str) -> np.ndarray:
        return np.asarray(backend.to_numpy(self._prepare_inputs(x, label)[0]))

    def transform(self, x: Any) -> np.ndarray:
        """The top RBM's hidden probabilities: (N, V) -> (N, H_top)."""
        return self.predict(x)

    def to_model(
        self,
        output_units: int | None = None,
        output_activation: ActivationName | None = "softmax",
        *,
        name: str | None = None,
        seed: int | None = None,
    ) -> Sequential:
        """A ``Sequential`` for fine-tuning: the RBMs as sigmoid Dense layers, a new output.

        The hidden Dense layers hold copies of the RBMs' ``kernel`` and ``hidden_bias``
        (bit for bit); the output layer (``output_units`` units, Glorot-uniform from ``seed``)
        is new. The model is not compiled.

        Args:
            output_units: units of the new output layer; ``None`` for no output layer.
            output_activation: its activation (``"softmax"`` for classes).
            name: the model's name.
            seed: the model's seed (the output layer's weights).

        Raises:
            ValueError: before the DBN is built (fit it, or give ``n_visible``).
        """
        if not self.built:
            raise ValueError("to_model() needs a built DBN: fit it first (or give n_visible).")
        layers: list[Layer] = [
            Dense(rbm.n_hidden, activation="sigmoid", input_dim=self.n_visible if i == 0 else None,
                  name=f"dense_{i}")
            for i, rbm in enumerate(self.rbms)
        ]
        if output_units is not None:
            layers.append(Dense(output_units, activation=output_activation, name="output"))
        model = Sequential(layers, name=name, dtype=self.dtype, seed=seed)
        for layer, rbm in zip(layers, self.rbms, strict=False):
            layer.weights["kernel"].data[...] = rbm.rbm.weights["kernel"].data
            layer.weights["bias"].data[...] = rbm.rbm.weights["hidden_bias"].data
        return model

    @classmethod
    def plan_config(cls, config: dict[str, Any], where: str, depth: int = 0) -> ModelPlan:
        """Each RBM's weights, under ``rbm_<i>/``, bottom first (see :meth:`RBM.plan_config`).

        The RBMs above the first are built as soon as the DBN is made (their visible units are
        the hidden units below), so their weights are planned even when ``n_visible`` is not
        known.

        Raises:
            ValueError: naming ``where`` and the field: no list of sizes, more than
                :data:`~scratchnn.io_checks.MAX_LAYERS` RBMs, or a field an RBM refuses.
        """
        hidden = config.get("hidden")
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = [hidden]
        if not isinstance(hidden, list) or not 1 <= len(hidden) <= MAX_LAYERS:
            count = f"{len(hidden):,} sizes" if isinstance(hidden, list) else repr(hidden)[:80]
            raise ValueError(f"{where}: the DBN's 'hidden' must list 1 to {MAX_LAYERS:,} layer "
                             f"sizes; received {count}. {CORRUPT}")
        keys = ("k", "persistent", "learning_rate", "momentum", "weight_decay", "dtype")
        shared: dict[str, Any] = {key: config[key] for key in keys if key in config}
        n_visible = config.get("n_visible")
        plan = ModelPlan(None if n_visible is None else (
            checked_size(n_visible, "n_visible", "the DBN", where),))
        for i, (h, v) in enumerate(zip(hidden, [n_visible, *hidden[:-1]], strict=True)):
            visible = config.get("visible", "bernoulli") if i == 0 else "bernoulli"
            rbm: dict[str, Any] = {**shared, "n_hidden": h, "n_visible": v, "visible": visible}
            plan.weights += nested_weights(
                plan_rbm(rbm, i, f"RBM {i} of the DBN", where).weights, f"rbm_{i}")
        return plan

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (``n_visible`` once built)."""
        return {**super().get_config(), "hidden": list(self.hidden), "n_visible": self.n_visible,
                "visible": self.visible, **copy.deepcopy(self._rbm_args)}
