"""A model's weights and files: ``summary``, ``get_weights`` / ``set_weights``, weight dicts,
``save`` / ``load_weights`` (safe files, :mod:`scratchnn.io`) and ``export`` (ONNX).

``Model`` inherits :class:`WeightsAndFiles`; everything here works through
``Model._weight_entries`` (the weights by ``"<layer>/<weight>"`` name) and the layers.

    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(4, input_dim=3), Dense(1)], seed=0)
    >>> {name: w.shape for name, w in model.weight_dict().items()}  # doctest: +NORMALIZE_WHITESPACE
    {'dense/kernel': (3, 4), 'dense/bias': (4,),
     'dense_1/kernel': (4, 1), 'dense_1/bias': (1,)}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from scratchnn import backend
from scratchnn.io import PathLike
from scratchnn.layers import Layer
from scratchnn.models.parts import ModelParts

if TYPE_CHECKING:
    from scratchnn.models.model import Model


class WeightsAndFiles(ModelParts):
    """Weights, summary and files: part of :class:`~scratchnn.models.Model`."""

    # -------------------------------------------------------------------------------- summary
    def _summary_rows(self) -> list[tuple[Layer, str]]:
        """``(layer, output shape text)`` per layer, in order."""
        return [(layer, "?") for layer in self.layers]

    def summary(self, print_fn: Callable[[str], object] | None = print) -> str:
        """Print and return a table of the layers: name (type), output shape, parameters.

        Frozen layers (``trainable=False``) are marked, and totals split trainable and
        non-trainable parameters.

        Args:
            print_fn: called with the text (``None`` to only return it).
        """
        rows = [("Layer (type)", "Output Shape", "Param #", "Trainable")]
        for layer, shape in self._summary_rows():
            trainable = "yes" if layer.trainable else "no (frozen)"
            rows.append(
                (f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}",
                 trainable)
            )
        widths = [max(len(row[i]) for row in rows) + 3 for i in range(4)]
        rule = "=" * sum(widths)

        def line(row: tuple[str, ...]) -> str:
            return (
                row[0].ljust(widths[0]) + row[1].ljust(widths[1])
                + row[2].rjust(widths[2] - 3) + "   " + row[3]
            ).rstrip()

        total = self.count_params()
        trainable_count = sum(p.size for p in self.params if p.requires_grad)
        text = "\n".join([
            f'Model: "{self.name}"',
            line(rows[0]),
            rule,
            *(line(row) for row in rows[1:]),
            rule,
            f"Total params: {total:,}",
            f"Trainable params: {trainable_count:,}",
            f"Non-trainable params: {total - trainable_count:,}",
        ])
        if print_fn is not None:
            print_fn(text)
        return text

    # -------------------------------------------------------------------------------- weights
    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, in Keras order: layer by layer, kernel then bias."""
        return [np.array(backend.to_numpy(p.data), copy=True) for p in self.params]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set all weights from a list in :meth:`get_weights` order (values are copied).

        Raises:
            ValueError: a wrong number of arrays, or an array of the wrong shape (named).
        """
        if not self.built:
            raise ValueError(
                "set_weights() needs a built model: give the first layer input_dim=... or call "
                "model.build(input_shape) first."
            )
        entries = self._weight_entries()
        weights = list(weights)
        if len(weights) != len(entries):
            raise ValueError(
                f"set_weights() received {len(weights)} arrays but the model has {len(entries)} "
                f"weights ({', '.join(n for n, _ in entries)})."
            )
        arrays = [np.asarray(backend.to_numpy(w)) for w in weights]
        for i, ((name, p), w) in enumerate(zip(entries, arrays, strict=True)):
            if w.shape != p.shape:
                raise ValueError(
                    f"Weight {i} ({name}) has shape {p.shape}; received an array of shape "
                    f"{w.shape}."
                )
        for (_, p), w in zip(entries, arrays, strict=True):
            p.data[...] = backend.xp.asarray(w, dtype=p.dtype)

    def weight_dict(self) -> dict[str, np.ndarray]:
        """All weights as ``{"<layer name>/<weight name>": array}`` (copies), in layer order."""
        return {name: np.array(backend.to_numpy(w.data), copy=True)
                for name, w in self._weight_entries()}

    def load_weight_dict(self, weights: dict[str, Any]) -> None:
        """Set all weights from a dict shaped like :meth:`weight_dict`.

        Raises:
            ValueError: naming the weights missing from ``weights``, unexpected entries, or a
                weight whose shape differs.
        """
        if not self.built:
            raise ValueError(
                "load_weight_dict() needs a built model: give the first layer input_dim=... or "
                "call model.build(input_shape) first."
            )
        names = [n for n, _ in self._weight_entries()]
        missing = [n for n in names if n not in weights]
        unexpected = sorted(set(weights) - set(names))
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing weights {missing}")
            if unexpected:
                parts.append(f"unexpected weights {unexpected}")
            raise ValueError(
                f"The weights do not match the model {self.name!r}: {'; '.join(parts)}. Weights "
                "are stored under the layer names: give the layers the same names "
                "(Dense(..., name=...)) or load the whole model with scratchnn.load_model."
            )
        self.set_weights([weights[n] for n in names])

    def save(self, path: PathLike, include_optimizer: bool = True) -> None:
        """Save architecture, weights and optimizer state (see :func:`~.saving.save_model`)."""
        from scratchnn.models import saving  # here: saving builds models

        saving.save_model(cast("Model", self), path, include_optimizer=include_optimizer)

    def save_weights(self, path: PathLike) -> None:
        """Save the weights only (see :func:`~.saving.save_weights`)."""
        from scratchnn.models import saving  # here: saving builds models

        saving.save_weights(cast("Model", self), path)

    def load_weights(self, path: PathLike) -> None:
        """Load weights saved by :meth:`save_weights` (see :func:`~.saving.load_weights`)."""
        from scratchnn.models import saving  # here: saving builds models

        saving.load_weights(cast("Model", self), path)

    def export(self, path: PathLike, format: Literal["onnx"] = "onnx", **options: Any) -> None:
        """Write the model for another runtime (ONNX): see :func:`scratchnn.export.export`."""
        from scratchnn import export

        export.export(cast("Model", self), path, format=format, **options)

