"""Compiling a model: its optimizer, the losses of its outputs and the metrics they log.

``Model`` inherits :class:`Compiling`; the steps (``Model.train_step``) use what it sets up:
``optimizer``, ``compiled_loss`` (:class:`~scratchnn.models.compiled.CompiledLoss`) and one
:class:`~scratchnn.models.compiled.MetricTracker` per output.

    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    >>> model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    >>> model.compile_config()["metrics"], model.compiled_loss.fused[0] is not None
    (['accuracy'], True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scratchnn import optimizers
from scratchnn.losses import LossLike
from scratchnn.metrics import MetricLike
from scratchnn.models.compiled import CompiledLoss, MetricTracker, per_output, resolve_metric
from scratchnn.models.parts import ModelParts
from scratchnn.optimizers.registry import OptimizerLike


def overrides(model: Any, method: str) -> bool:
    """Whether ``model``'s class overrides ``Model.<method>`` (a custom ``train_step``, ...)."""
    from scratchnn.models.model import Model  # the class this module is a part of

    return getattr(type(model), method) is not getattr(Model, method)


class Compiling(ModelParts):
    """``compile`` and what it makes: part of :class:`~scratchnn.models.Model`."""

    def compile(
        self,
        optimizer: OptimizerLike = "rmsprop",
        loss: LossLike | Sequence[LossLike] | Mapping[str, LossLike] | None = None,
        metrics: MetricLike | Sequence[MetricLike]
        | Mapping[str, MetricLike | Sequence[MetricLike]] | None = None,
        loss_weights: float | Sequence[float] | Mapping[str, float] | None = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics for training.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ...), an Optimizer or a config dict (see
                :func:`scratchnn.optimizers.get`).
            loss: a name (``"binary_crossentropy"``, ``"sparse_categorical_crossentropy"``,
                ``"mse"``, ...), a Loss or a config dict; for several outputs one per output (a
                list in output order, or a dict by output name). A model whose own
                :meth:`train_step` computes its loss may leave it out.
            metrics: names or functions ``(y_true, y_pred) -> float`` (see
                :func:`scratchnn.metrics.get`), for every output; or a dict by output name.
                ``"accuracy"``/``"acc"`` picks binary, categorical or sparse-categorical
                accuracy from the loss, as Keras does.
            loss_weights: multipliers of the outputs' losses (a number, a list or a dict).
                Regularization penalties are not scaled.

        Raises:
            ValueError: no loss, an unknown name (the message lists the known ones), bad
                ``loss_weights``.
        """
        custom_step = overrides(self, "train_step")
        if loss is None and not custom_step:
            raise ValueError(
                "compile() needs a loss, e.g. loss='binary_crossentropy' (sigmoid output), "
                "'sparse_categorical_crossentropy' (softmax output, integer labels) or 'mse'."
            )
        self.optimizer = optimizers.get(optimizer)
        self._compile_args = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        self._link_compiled()

    def _link_compiled(self) -> None:
        """(Re)make the compiled loss and metric trackers for the current structure."""
        args = self._compile_args
        if args is None:
            return
        names = self.output_names
        if args["loss"] is None:
            self.compiled_loss = None
            self._trackers = []
            return
        self.compiled_loss = CompiledLoss(
            args["loss"], args["loss_weights"], names, self._output_layers()
        )
        metrics = args["metrics"]
        if isinstance(metrics, (str, bytes)) or callable(metrics):
            metrics = [metrics]
        per = per_output(metrics, names, "metrics") if isinstance(metrics, dict) else (
            [metrics] * len(names)
        )
        self._trackers = []
        for i, entries in enumerate(per):
            if isinstance(entries, (str, bytes)) or callable(entries):
                entries = [entries]
            resolved = [resolve_metric(m, self.compiled_loss.losses[i]) for m in entries or []]
            prefix = f"{names[i]}_" if len(names) > 1 else ""
            self._trackers.append(MetricTracker(resolved, prefix))
        labels = self._metric_names()
        repeated = sorted({n for n in labels if labels.count(n) > 1} | ({"loss"} & set(labels)))
        if repeated:
            raise ValueError(f"Metric names must be unique and not 'loss'; repeated: {repeated}.")

    @property
    def loss(self) -> Any:
        """The compiled loss (one Loss, or a list for several outputs), or ``None``."""
        if self.compiled_loss is None:
            return None
        found = self.compiled_loss.losses
        return found[0] if len(found) == 1 else found

    @property
    def loss_weights(self) -> Any:
        """The compiled loss weights (``None`` when none were given)."""
        return None if self.compiled_loss is None else self.compiled_loss.weights_config()

    def compile_config(self) -> dict[str, Any] | None:
        """What :meth:`compile` was given, as JSON-serialisable data (``None`` before compile)."""
        if self.optimizer is None or self._compile_args is None:
            return None
        metrics = {}
        for name, tracker in zip(self.output_names, self._trackers, strict=False):
            metrics[name] = [label for label, _ in tracker.metrics]
        return {
            "optimizer": self.optimizer.get_config(),
            "loss": None if self.compiled_loss is None else self.compiled_loss.config(),
            "metrics": next(iter(metrics.values()), []) if len(metrics) <= 1 else metrics,
            "loss_weights": self.loss_weights,
        }

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from a dict returned by :meth:`compile_config`."""
        self.compile(
            optimizer=config["optimizer"],
            loss=config.get("loss"),
            metrics=config.get("metrics") or None,
            loss_weights=config.get("loss_weights"),
        )

    def _check_compiled(self, method: str) -> None:
        if self.optimizer is None and method in ("fit", "train_on_batch"):
            raise RuntimeError(
                f"{method}() needs a compiled model: call model.compile(optimizer=..., loss=...) "
                "first, e.g. model.compile(optimizer='adam', loss='binary_crossentropy')."
            )
        if self.compiled_loss is None and not overrides(self, "test_step") and method in (
            "evaluate", "test_on_batch"
        ):
            raise RuntimeError(
                f"{method}() needs a compiled model with a loss: call model.compile(optimizer="
                "..., loss=...) first, e.g. model.compile(optimizer='adam', "
                "loss='binary_crossentropy')."
            )

    # ------------------------------------------------------------------------ metrics hooks
    def _update_metrics(self, y: Any, outputs: Sequence[np.ndarray]) -> None:
        ys = y if isinstance(y, tuple) else (y,)
        for tracker, yi, out in zip(self._trackers, ys, outputs, strict=True):
            tracker.update(yi, out)

    def _reset_metrics(self) -> None:
        for tracker in self._trackers:
            tracker.reset()

    def _metric_results(self) -> dict[str, Any]:
        logs: dict[str, Any] = {}
        for tracker in self._trackers:
            logs.update(tracker.result())
        return logs

    def _metric_names(self) -> list[str]:
        return [f"{t.prefix}{name}" for t in self._trackers for name, _ in t.metrics]

