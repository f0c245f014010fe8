"""Training and inference entry points of a model: ``fit``, ``evaluate``, ``predict``.

``Model`` inherits :class:`Fitting`. Each method checks its arguments, prepares the arrays once
(cast to the model's dtype, checked against its inputs and losses) and hands them to the one
loop, :mod:`scratchnn.models.trainer`, which calls the model's steps. The hooks the loop uses
for divergence and randomness are here too.

    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(1, input_dim=3)], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x = np.ones((10, 3)); y = np.zeros(10)
    >>> len(model.fit(x, y, epochs=2, verbose=0).history["loss"]), model.predict(x).shape
    (2, (10, 1))
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast, overload

import numpy as np
from numpy.typing import ArrayLike

from scratchnn import callbacks as callbacks_module
from scratchnn.layers.sequence import check_not_ragged
from scratchnn.models import data, trainer
from scratchnn.models.compiling import overrides
from scratchnn.models.parts import ModelParts
from scratchnn.tensor import Tensor

if TYPE_CHECKING:
    from scratchnn.models.model import Model

PREDICT_BATCH_SIZE = trainer.PREDICT_BATCH_SIZE

Inputs: TypeAlias = (
    "ArrayLike | Tensor | Sequence[ArrayLike | Tensor] | Mapping[str, ArrayLike | Tensor]"
)
"""A model's inputs: an array ``(N, ...)`` (or anything NumPy makes one of: lists, a DataFrame),
a Tensor, a list of them for several inputs, or a dict by input name."""

Targets: TypeAlias = Inputs
"""A model's targets, shaped as its inputs are: one array, a list, or a dict by output name."""

ValidationData: TypeAlias = "tuple[Inputs, Targets] | tuple[Inputs, Targets, ArrayLike | None]"
"""``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``."""


def check_int(value: Any, label: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or a ValueError naming ``label``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}; received {label}={value!r}.")
    return int(value)


class Fitting(ModelParts):
    """``fit`` / ``evaluate`` / ``predict`` and the loop's hooks: part of
    :class:`~scratchnn.models.Model`."""

    # ------------------------------------------------------------------------- preparing data
    def _input_list(self, x: Any, label: str) -> list[Any]:
        names = self.input_names
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(
                    f"{label} is missing inputs {missing}; the model's inputs are {names}."
                )
            return [x[n] for n in names]
        if len(names) > 1:
            if not isinstance(x, (list, tuple)) or len(x) != len(names):
                raise ValueError(
                    f"This model has {len(names)} inputs {names}; pass {label} as a list of "
                    f"{len(names)} arrays (or a dict by input name)."
                )
            return list(x)
        return [x]

    def _prepare_inputs(self, x: Any, label: str = "x") -> list[np.ndarray]:
        """Each input cast once to the model dtype and checked against the model's inputs."""
        items = self._input_list(x, label)
        arrays = []
        for i, item in enumerate(items):
            name = label if len(items) == 1 else f"{label}[{self.input_names[i]!r}]"
            # sequences of different lengths: say which layer wanted one length, and the fix
            if isinstance(item, (list, tuple)):
                check_not_ragged(item, self.layers[0] if len(items) == 1 and self.layers else self)
            was_1d = np.ndim(item.data if isinstance(item, Tensor) else item) == 1
            arrays.append((data.as_features(item, self.dtype, name), name, was_1d))
        if not self.built:
            shapes = [a.shape[1:] for a, _, _ in arrays]
            self.build(shapes[0] if len(shapes) == 1 else shapes)
        rows = {len(a) for a, _, _ in arrays}
        if len(rows) > 1:
            raise ValueError(
                f"The inputs of {label} have different numbers of samples: "
                f"{[len(a) for a, _, _ in arrays]}; every input needs one row per sample."
            )
        for (arr, name, was_1d), expected in zip(arrays, self.input_shapes, strict=True):
            if expected is not None and arr.shape[1:] != tuple(expected):
                raise ValueError(self._input_shape_error(name, arr.shape, expected, was_1d))
        return [a for a, _, _ in arrays]

    def _input_shape_error(
        self, name: str, shape: tuple[int, ...], expected: tuple[int, ...], was_1d: bool
    ) -> str:
        hint = " For a single sample pass x.reshape(1, -1)." if was_1d else ""
        return (
            f"Model {self.name!r} expects {name} of shape {(None, *expected)}; received shape "
            f"{shape}.{hint}"
        )

    def _prepare_targets(self, y: Any, n: int, label: str = "y") -> list[np.ndarray]:
        """Each output's targets checked against its loss and converted once."""
        assert self.compiled_loss is not None
        names = self.output_names
        if isinstance(y, dict):
            items = [y.get(name) for name in names]
        elif len(names) > 1:
            if not isinstance(y, (list, tuple)) or len(y) != len(names):
                raise ValueError(
                    f"This model has {len(names)} outputs {names}; pass {label} as a list of "
                    f"{len(names)} arrays (or a dict by output name)."
                )
            items = list(y)
        else:
            items = [y]
        out = []
        for i, item in enumerate(items):
            name = label if len(items) == 1 else f"{label}[{names[i]!r}]"
            if item is None:
                raise ValueError(f"{name} is missing: every output needs its targets.")
            out.append(data.as_targets(
                item, self.compiled_loss.losses[i], self.output_shapes[i], names[i], self.dtype,
                n, name,
            ))
        return out

    def _prepare(
        self, x: Any, y: Any, sample_weight: Any = None, class_weight: Any = None,
        prefix: str = "",
    ) -> trainer.Arrays:
        xs = self._prepare_inputs(x, f"{prefix}x")
        n = len(xs[0])
        if y is None:
            if self.compiled_loss is not None and not overrides(self, "train_step"):
                raise ValueError(f"{prefix}y is missing: pass the targets, fit(x, y).")
            return trainer.Arrays(xs, [], [])
        ys = self._prepare_targets(y, n, f"{prefix}y") if self.compiled_loss is not None else [
            data.as_features(y, self.dtype, f"{prefix}y")
        ]
        sws = []
        for i, ya in enumerate(ys):
            loss = None if self.compiled_loss is None else self.compiled_loss.losses[i]
            sws.append(data.sample_weights(
                sample_weight, class_weight,
                lambda ya=ya, loss=loss: data.class_labels(ya, loss), n, self.dtype,
            ))
        return trainer.Arrays(xs, ys, sws)

    # --------------------------------------------------------------- divergence, randomness
    def _weights_finite(self) -> bool:
        for p in self.params:
            # NaN and inf reach the sum (one pass, no temporary); a finite sum means finite
            # weights, an overflowing one is settled element by element.
            if not math.isfinite(np.add.reduce(p.data, axis=None)) and not np.isfinite(
                p.data
            ).all():
                return False
        return True

    def _take_snapshot(self) -> None:
        """Copy the weights (the loop keeps a recent finite copy to undo a divergence)."""
        params = self.params
        snap = self._snapshot
        if snap is None or len(snap) != len(params) or any(
            s.shape != p.shape for s, p in zip(snap, params, strict=True)
        ):
            self._snapshot = [np.array(p.data, copy=True) for p in params]
            return
        for saved, p in zip(snap, params, strict=True):
            np.copyto(saved, p.data)

    def _restore_snapshot(self) -> None:
        """Put the snapshot back if the current weights are not finite."""
        if self._snapshot is None or self._weights_finite():
            return
        for saved, p in zip(self._snapshot, self.params, strict=True):
            np.copyto(p.data, saved)

    def _diverged(self, logs: dict[str, Any]) -> bool:
        """Whether a step's logs say training diverged (a NaN or infinite value)."""
        for value in logs.values():
            if not math.isfinite(value):
                return True
        return False

    def _epoch_order(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """The order of the rows in a shuffled epoch."""
        return rng.permutation(n)

    @contextlib.contextmanager
    def _use_rng(self, rng: np.random.Generator) -> Iterator[None]:
        """Hand ``rng`` to the layers that draw masks (those without a seed of their own), and
        to the model's own draws where it keeps a generator in ``_sampling`` (an RBM's Gibbs
        chains, a GAN's noise: the loop's generator, ``fit(seed=...)``, during ``fit``)."""
        swapped: list[tuple[Any, np.random.Generator | None]] = []  # (layer with an rng, its own)
        for layer in self._leaf_layers():
            if hasattr(layer, "rng") and getattr(layer, "seed", None) is None:
                swapped.append((layer, layer.rng))
                layer.rng = rng
        keeps = "_sampling" in self.__dict__
        own = self.__dict__.get("_sampling")
        if keeps:
            self.__dict__["_sampling"] = rng
        try:
            yield
        finally:
            for layer, previous in swapped:
                layer.rng = previous
            if keeps:
                self.__dict__["_sampling"] = own

    # ------------------------------------------------------------------- fit / evaluate / ...
    def fit(
        self,
        x: Inputs,
        y: Targets | None = None,
        batch_size: int | None = 32,
        epochs: int = 1,
        validation_split: float = 0.0,
        validation_data: ValidationData | None = None,
        shuffle: bool = True,
        class_weight: Mapping[int, float] | None = None,
        sample_weight: ArrayLike | None = None,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
        verbose: Literal[0, 1, 2] = 1,
        initial_epoch: int = 0,
        seed: int | None = None,
    ) -> callbacks_module.History:
        """Train the model by mini-batch gradient descent (the loop of
        :mod:`scratchnn.models.trainer`, one :meth:`train_step` per batch).

        Args:
            x: inputs ``(N, ...)`` (a 1-D array is N samples of one feature); a list or a dict
                by input name for several inputs.
            y: targets: 0/1 ``(N,)`` or ``(N, 1)`` (sigmoid + binary CE); integer labels
                ``(N,)`` (softmax + sparse CE); one-hot or multi-hot ``(N, K)``; real values
                (regression); a list or dict for several outputs. May be ``None`` for a model
                whose own ``train_step`` needs none.
            batch_size: rows per step; ``None`` or ``>= N`` is full-batch gradient descent.
            epochs: index of the last epoch (training runs epochs ``initial_epoch..epochs-1``).
            validation_split: fraction in [0, 1) of the rows, taken from the end before
                shuffling, held out to compute ``val_`` logs each epoch.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``; takes
                precedence over ``validation_split``.
            shuffle: reshuffle the rows each epoch (not when one batch holds all the rows).
            class_weight: ``{class: weight}`` multiplying each sample's loss by its class's
                weight.
            sample_weight: ``(N,)`` weights of each sample's loss.
            callbacks: :class:`~scratchnn.callbacks.Callback` instances.
            verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
            initial_epoch: epoch to start from (to resume training).
            seed: seed of a generator for this call's shuffling and dropout; ``None`` uses the
                model's generator.

        Returns:
            A :class:`~scratchnn.callbacks.History`: ``history.history["loss"]`` and each metric
            and ``val_`` twin, one value per epoch.

        Logs: ``loss`` is the mean of the batch losses of the epoch (weighted by batch size,
        penalties included, each computed before its step). Metrics are computed once per epoch
        on all the predictions made for the training batches of that epoch, unweighted. ``val_``
        values are computed after the epoch on the whole validation set.

        If the loss becomes NaN or infinite, training stops with a ``RuntimeWarning``, and the
        weights are put back to a finite copy from at most
        :data:`~scratchnn.models.trainer.SNAPSHOT_EVERY` steps before (the optimizer's state
        is not: compile again before training on).

        Raises:
            RuntimeError: before :meth:`compile`.
            ValueError: bad arguments or data (each message names the problem and the fix).
        """
        self._check_compiled("fit")
        epochs = check_int(epochs, "epochs", 0)
        initial_epoch = check_int(initial_epoch, "initial_epoch", 0)
        if batch_size is not None:
            batch_size = check_int(batch_size, "batch_size", 1)
        if isinstance(validation_split, bool) or not (
            isinstance(validation_split, (int, float)) and 0 <= validation_split < 1
        ):
            raise ValueError(
                f"validation_split must be a fraction in [0, 1); received "
                f"validation_split={validation_split!r}."
            )
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2; received verbose={verbose!r}.")
        train = self._prepare(x, y, sample_weight, class_weight)
        validation = None
        if validation_data is not None:
            validation = self._validation_arrays(validation_data)
        elif validation_split:
            n = len(train)
            n_val = int(n * validation_split)
            if n_val == 0 or n_val == n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} samples leaves {n_val} for "
                    f"validation and {n - n_val} for training; both need at least one."
                )
            validation, train = train.slice(n - n_val, n), train.slice(0, n - n_val)
        rng = self._rng if seed is None else np.random.default_rng(check_int(seed, "seed", 0))
        return trainer.fit(
            self, train, batch_size=batch_size, epochs=epochs, initial_epoch=initial_epoch,
            shuffle=shuffle, rng=rng, callbacks=list(callbacks or []), verbose=verbose,
            validation=validation,
        )

    def _validation_arrays(self, validation_data: Any) -> trainer.Arrays:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            length = (
                f" of length {len(validation_data)}"
                if isinstance(validation_data, (tuple, list)) else ""
            )
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight_val); received {type(validation_data).__name__}{length}."
            )
        x_val, y_val, *rest = validation_data
        return self._prepare(x_val, y_val, rest[0] if rest else None, prefix="validation ")

    @overload
    def evaluate(
        self, x: Inputs, y: Targets | None = None, batch_size: int | None = None,
        sample_weight: ArrayLike | None = None, verbose: Literal[0, 1, 2] = 0, *,
        return_dict: Literal[True], callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> dict[str, float]: ...
    @overload
    def evaluate(
        self, x: Inputs, y: Targets | None = None, batch_size: int | None = None,
        sample_weight: ArrayLike | None = None, verbose: Literal[0, 1, 2] = 0,
        return_dict: bool = False, callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> Any: ...

    def evaluate(
        self,
        x: Inputs,
        y: Targets | None = None,
        batch_size: int | None = None,
        sample_weight: ArrayLike | None = None,
        verbose: Literal[0, 1, 2] = 0,
        return_dict: bool = False,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> Any:
        """Loss (penalties included) and metrics of the model on ``(x, y)``.

        Computed in batches of ``batch_size`` rows (default :data:`PREDICT_BATCH_SIZE`) without
        recording a graph; the loss is the mean over all samples and metrics are computed on all
        predictions at once.

        Returns:
            The loss when no metrics were compiled, else ``[loss, *metrics]``; with
            ``return_dict=True`` a dict ``{"loss": ..., "accuracy": ...}``.
        """
        self._check_compiled("evaluate")
        bs = PREDICT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)
        arrays = self._prepare(x, y, sample_weight)
        cbs = self._callback_list(callbacks)
        logs = trainer.evaluate(self, arrays, bs, cbs, verbose)
        return self._result(logs, return_dict)

    def _callback_list(
        self, callbacks: Sequence[callbacks_module.Callback] | None
    ) -> callbacks_module.CallbackList | None:
        """The callbacks of ``evaluate`` / ``predict`` attached to this model (``None``: none)."""
        if not callbacks:
            return None
        return callbacks_module.CallbackList(callbacks, model=cast("Model", self))

    def _result(self, logs: dict[str, Any], return_dict: bool) -> Any:
        if return_dict:
            return logs
        if len(logs) == 1 and "loss" in logs:
            return logs["loss"]
        return list(logs.values())

    def train_on_batch(
        self,
        x: Inputs,
        y: Targets | None = None,
        sample_weight: ArrayLike | None = None,
        class_weight: Mapping[int, float] | None = None,
        return_dict: bool = False,
    ) -> Any:
        """One :meth:`train_step` on one batch (the step ``fit`` takes).

        Returns:
            The batch's loss (computed before the step), or ``[loss, *metrics]`` / a dict, as
            :meth:`evaluate`. A non-finite loss skips the update with a ``RuntimeWarning``.
        """
        self._check_compiled("train_on_batch")
        arrays = self._prepare(x, y, sample_weight, class_weight)
        self._reset_metrics()
        with np.errstate(over="ignore", invalid="ignore"):
            logs = self.train_step(arrays.batch())
        if self._diverged(logs):
            import warnings

            warnings.warn(
                f"train_on_batch: the loss became {logs.get('loss')}; the update was skipped "
                "where it could be. Lower the learning rate or scale the inputs.",
                RuntimeWarning,
                stacklevel=2,
            )
        return self._result({**logs, **self._metric_results()}, return_dict)

    def test_on_batch(
        self, x: Inputs, y: Targets | None = None, sample_weight: ArrayLike | None = None,
        return_dict: bool = False,
    ) -> Any:
        """Loss and metrics of one batch, without updating (the step ``evaluate`` takes)."""
        self._check_compiled("test_on_batch")
        arrays = self._prepare(x, y, sample_weight)
        self._reset_metrics()
        logs = self.test_step(arrays.batch())
        return self._result({**logs, **self._metric_results()}, return_dict)

    def predict(
        self,
        x: Inputs,
        batch_size: int | None = None,
        verbose: Literal[0, 1, 2] = 0,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> Any:
        """Outputs of the model for ``x``, as NumPy arrays (a list for several outputs).

        Runs in batches of ``batch_size`` rows (default :data:`PREDICT_BATCH_SIZE`) under
        ``no_grad()``: no graph is recorded and memory stays at the output plus one batch of
        activations, for 1 row or millions. Dropout is inactive. Callbacks get the
        ``on_predict_*`` hooks.

        Returns:
            ``(N, K)`` outputs (probabilities for sigmoid/softmax outputs).
        """
        bs = PREDICT_BATCH_SIZE if batch_size is None else check_int(batch_size, "batch_size", 1)
        arrays = trainer.Arrays(self._prepare_inputs(x))
        cbs = self._callback_list(callbacks)
        outs = trainer.predict(self, arrays, bs, cbs, verbose)
        return outs[0] if len(outs) == 1 else outs

