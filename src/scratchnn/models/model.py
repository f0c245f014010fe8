"""``Model``: the base of every model — compile, fit, evaluate, predict, and the steps they take.

A model is a layer made of layers. :class:`Sequential` stacks them, a functional graph
(``Model(inputs=..., outputs=...)``) wires them, and a subclass creates them in ``__init__`` and
writes ``call``. Whatever the structure, training goes through the one loop
(:mod:`scratchnn.models.trainer`), which hands each batch to :meth:`Model.train_step`. A new
training algorithm (a GAN's two updates, contrastive divergence, a custom loss) overrides that
step and keeps the loop's callbacks, progress, history, divergence handling and run recording::

    >>> import numpy as np
    >>> from scratchnn import Model, ops
    >>> from scratchnn.layers import Dense
    >>> class MeanAbsolute(Model):
    ...     '''Regression trained on the mean absolute error, written by hand.'''
    ...     def __init__(self, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.dense = Dense(1)
    ...     def call(self, x, training=False):
    ...         return self.dense(x)
    ...     def train_step(self, batch):
    ...         x, y, _ = batch
    ...         loss = ops.mean(ops.abs(self(x, training=True) - y.reshape(-1, 1)))
    ...         self.minimize(loss)
    ...         return {"loss": loss.item()}
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(64, 3)); y = x @ np.array([1.0, -2.0, 0.5])
    >>> model = MeanAbsolute(seed=0)
    >>> model.compile(optimizer="adam")
    >>> history = model.fit(x, y, epochs=3, verbose=0)
    >>> len(history.history["loss"])
    3

Shape legend: N samples (B in a batch), K output units.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from scratchnn import backend, ops, optimizers
from scratchnn import callbacks as callbacks_module
from scratchnn.backend import FloatDType
from scratchnn.io_checks import ModelPlan
from scratchnn.layers import Layer
from scratchnn.layers.base import snake_name
from scratchnn.layers.core import GraphTensors
from scratchnn.models import data
from scratchnn.models.compiled import CompiledLoss, MetricTracker
from scratchnn.models.compiling import Compiling
from scratchnn.models.fitting import Fitting, check_int
from scratchnn.models.weights import WeightsAndFiles
from scratchnn.tensor import Tensor, no_grad


def claim_names(layers: Sequence[Layer]) -> None:
    """Give automatically named layers names unique within this list (``dense``, ``dense_1``,
    ... in order), so that weight names never depend on what else the process built."""
    taken = {layer.name for layer in layers if not layer._auto_named}
    counts: dict[str, int] = {}
    for layer in layers:
        if not layer._auto_named:
            continue
        base = snake_name(type(layer))
        n = counts.get(base, 0)
        name = base if n == 0 else f"{base}_{n}"
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        counts[base] = n + 1
        taken.add(name)
        layer.name = name
        layer._auto_named = False


class Model(Compiling, Fitting, WeightsAndFiles, Layer):
    """Base class of models: compile / fit / evaluate / predict around overridable steps.

    ``Model(inputs=..., outputs=...)`` builds a functional graph (see
    :mod:`scratchnn.models.functional`); a subclass that creates layers as attributes in
    ``__init__`` and implements :meth:`call` is a model too.

    Args:
        inputs: with ``outputs``, the symbolic tensors of a functional graph
            (``Model(inputs=..., outputs=...)`` is then a :class:`~.functional.Functional`);
            a subclass passes neither.
        outputs: the graph's outputs (see ``inputs``).
        name: the model's name (default: its class name in snake case).
        dtype: ``"float32"`` (default) or ``"float64"``: weights and computations.
        seed: seed of the model's ``numpy.random.Generator``, which draws the initial weights
            and, unless ``fit(seed=...)`` is given, shuffles batches and draws dropout masks.

    Attributes:
        optimizer: the compiled optimizer, or ``None``.
        stop_training: set by a callback to end ``fit`` after the current batch.
        history: the :class:`~scratchnn.callbacks.History` of the last ``fit``.
    """

    registry_name: ClassVar[str | None] = None
    """The name a registered subclass is saved under (see :func:`scratchnn.models.register`)."""

    dtype: np.dtype[Any]  # a model always has one (a layer may wait for its model's)
    _tracked: dict[str, Layer | list[Layer]]  # layers assigned as attributes, by name
    _params_cache: list[Tensor] | None
    _leaf_cache: list[Layer] | None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Model and ("inputs" in kwargs or "outputs" in kwargs or args):
            from scratchnn.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(
        self,
        inputs: GraphTensors | None = None,
        outputs: GraphTensors | None = None,
        *,
        name: str | None = None,
        dtype: FloatDType = None,
        seed: int | None = None,
    ) -> None:
        # Model(inputs=..., outputs=...) is made a Functional by __new__, whose __init__ takes
        # them; they are in this signature so that type checkers accept that call.
        if inputs is not None or outputs is not None:
            raise TypeError(
                f"{type(self).__name__}.__init__ takes no inputs or outputs: only "
                "Model(inputs=..., outputs=...) itself builds a functional graph."
            )
        object.__setattr__(self, "_tracked", {})
        super().__init__(trainable=True, name=name or snake_name(type(self)), dtype=dtype)
        self._auto_named = name is None
        self.dtype = backend.resolve_dtype(dtype)
        self.seed = None if seed is None else check_int(seed, "seed", 0)
        self._rng = np.random.default_rng(self.seed)
        self.optimizer: optimizers.Optimizer | None = None
        self.compiled_loss: CompiledLoss | None = None
        self._compile_args: dict[str, Any] | None = None
        self._trackers: list[MetricTracker] = []
        self._snapshot: list[np.ndarray] | None = None
        self.stop_training = False
        self.history: callbacks_module.History | None = None

    # ------------------------------------------------------------------------------ structure
    def __setattr__(self, name: str, value: Any) -> None:
        # Layers assigned as attributes (the subclassing API) become part of the model.
        super().__setattr__(name, value)
        tracked = self.__dict__.get("_tracked")
        if tracked is None or name.startswith("_"):
            return
        if isinstance(value, Layer) and value is not self:
            tracked[name] = value
            self._adopt([value])
            self._structure_changed()
        elif isinstance(value, (list, tuple)) and value and all(
            isinstance(v, Layer) for v in value
        ):
            tracked[name] = list(value)
            self._adopt(list(value))
            self._structure_changed()

    def _adopt(self, layers: Sequence[Layer]) -> None:
        """Hand this model's generator to unbuilt layers (for their lazy build) and give
        automatically named ones names unique within the model (in the order they came)."""
        if self.__dict__.get("_tracked"):
            claim_names(self._child_layers())
        for layer in layers:
            if not layer.built and layer._build_rng is None:
                layer._build_rng = self._rng

    def _child_layers(self) -> list[Layer]:
        """The layers this model is made of, in order (models among them count as one)."""
        out: list[Layer] = []
        for value in self._tracked.values():
            out.extend(value if isinstance(value, list) else [value])
        return out

    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (an ``Input`` is not listed)."""
        return [layer for layer in self._child_layers() if type(layer).__name__ != "Input"]

    def _weight_entries(self) -> list[tuple[str, Tensor]]:
        """``(name, weight)`` of every weight, ``"<layer>/<weight>"`` (nested models prefix
        their own name), each weight once."""
        out: list[tuple[str, Tensor]] = []
        seen: set[int] = set()
        for layer in self._child_layers():
            if isinstance(layer, Model):
                entries = [(f"{layer.name}/{n}", w) for n, w in layer._weight_entries()]
            else:
                entries = [(f"{layer.name}/{n}", w) for n, w in layer.weights.items()]
            for name, w in entries:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((name, w))
        return out

    @property
    def params(self) -> list[Tensor]:
        """All weights (trainable and frozen), in :meth:`weight_dict` order."""
        cached = self.__dict__.get("_params_cache")
        if cached is None:
            cached = [w for _, w in self._weight_entries()]
            if self.built:  # the list is fixed until the structure changes (_structure_changed)
                self._params_cache = cached
        return list(cached)

    def _structure_changed(self) -> None:
        """Forget what depends on the layers (the parameter list, the divergence snapshot)."""
        self._params_cache = None
        self._leaf_cache = None
        self._snapshot = None
        self.__dict__["_built_known"] = False

    @property
    def trainable_params(self) -> list[Tensor]:
        """The weights that receive gradients."""
        return [w for w in self.params if w.requires_grad]

    def parameters(self) -> list[Tensor]:
        """All weights, for a hand-written loop's ``optimizer.step(model.parameters())``.

        Frozen weights are included but have ``requires_grad=False``, so optimizers skip them and
        their state stays aligned when a layer is frozen or unfrozen.
        """
        return self.params

    @property
    def trainable(self) -> bool:
        """Whether the model's weights are trained (setting it freezes or unfreezes every layer)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._child_layers():
            layer.trainable = value

    @property
    def weights(self) -> dict[str, Tensor]:
        """All weights by name (see :meth:`weight_dict` for copies)."""
        return dict(self._weight_entries())

    @weights.setter
    def weights(self, value: dict[str, Tensor]) -> None:
        if value:
            raise AttributeError("a model's weights belong to its layers")

    @property
    def built(self) -> bool:
        """Whether every layer has its weights."""
        if self.__dict__.get("_built_known"):  # layers are never unbuilt; reset on a change
            return True
        layers = self._child_layers()
        built = bool(layers) and all(layer.built for layer in layers)
        if built:
            self.__dict__["_built_known"] = True
        return built

    @built.setter
    def built(self, value: bool) -> None:
        pass  # derived from the layers

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        return int(sum(w.size for w in self.params))

    @property
    def input_names(self) -> list[str]:
        """Names of the model's inputs (keys of ``x`` given as a dict)."""
        return ["input"]

    @property
    def output_names(self) -> list[str]:
        """Names of the model's outputs (keys of ``y``, ``loss`` and ``metrics`` dicts)."""
        return ["output"]

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """Shape of one sample of each input (``None`` where not known yet)."""
        return [None]

    @property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """Shape of one sample of each output (``None`` where not known yet)."""
        return [None]

    def _output_layers(self) -> list[Any]:
        """The layer producing each output (for the logits form of a loss), or ``None``."""
        return [None] * len(self.output_names)

    # ---------------------------------------------------------------------------- the forward
    def call(self, x: Any, training: bool = False) -> Any:
        """The forward pass on a batch (Tensors in, Tensors out); subclasses implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(self, x, training=False), or be built "
            "with Model(inputs=..., outputs=...) or Sequential([...])."
        )

    def __call__(self, x: Any, training: bool = False, mask: Any = None, **kwargs: Any) -> Any:
        """The forward pass on a batch, recording the graph (or a node on symbolic inputs).

        Arrays are cast to the model's dtype (``x`` is one array, or a list for several inputs).
        Other keyword arguments go to :meth:`call`.
        """
        if type(x) is Tensor:  # the usual case, first
            return super().__call__(x, training=training, mask=mask, **kwargs)
        if isinstance(x, (list, tuple)):
            x = [self._as_tensor(t) for t in x]
        elif not _is_symbolic(x):
            x = self._as_tensor(x)
        return super().__call__(x, training=training, mask=mask, **kwargs)

    def _as_tensor(self, x: Any) -> Any:
        if isinstance(x, Tensor) or _is_symbolic(x):
            return x
        return Tensor(data.as_features(x, self.dtype), dtype=self.dtype)

    def build(self, input_shape: Any, rng: Any = None, dtype: Any = None) -> None:
        """Create the weights for inputs of ``input_shape`` (subclasses: by calling the model on
        a zero batch)."""
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
        zeros = [np.zeros((1, *data.sample_shape(s)), dtype=self.dtype) for s in shapes]
        with no_grad():
            self.call(zeros[0] if len(zeros) == 1 else zeros)

    def _forward_for_loss(self, xs: list[Tensor], training: bool) -> list[Tensor]:
        """The outputs the losses compare with the targets: logits where a loss takes them."""
        out = self(xs[0] if len(xs) == 1 else xs, training=training)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def regularization_loss(self) -> Tensor | None:
        """The sum of the layers' weight penalties (``None`` when there are none)."""
        total = None
        for layer in self._leaf_layers():
            if layer.regularizers:
                penalty = layer.regularization_loss()
                if penalty is not None:
                    total = penalty if total is None else ops.add(total, penalty)
        return total

    @property
    def losses(self) -> list[Tensor]:
        """The weight penalties of the layers (kernel/bias regularizers), one Tensor each.

        A hand-written loop adds them to its loss: ``loss = data_loss + sum(model.losses)``.
        """
        return [
            reg(layer.weights[name])
            for layer in self._leaf_layers()
            for name, reg in layer.regularizers.items()
        ]

    def _leaf_layers(self) -> list[Layer]:
        """Every non-model layer, nested models opened, each once."""
        cached = self.__dict__.get("_leaf_cache")
        if cached is not None:
            return cached
        out: list[Layer] = []
        seen: set[int] = set()
        for layer in self._child_layers():
            inner = layer._leaf_layers() if isinstance(layer, Model) else [layer]
            for leaf in inner:
                if id(leaf) not in seen:
                    seen.add(id(leaf))
                    out.append(leaf)
        if self.built:  # fixed until the structure changes (_structure_changed)
            self._leaf_cache = out
        return out

    # ------------------------------------------------------------------------------ the steps
    def compute_loss(
        self, x: Any, y: Any, sample_weight: Any = None, training: bool = True
    ) -> tuple[Tensor, list[np.ndarray] | None]:
        """The compiled objective of a batch and the model's outputs (arrays, for metrics).

        The outputs are computed only when a metric needs them (``None`` otherwise); where a
        loss takes logits, the output activation is applied to them without recording a graph.
        """
        assert self.compiled_loss is not None
        xs = x if isinstance(x, tuple) else (x,)
        tensors = [t if isinstance(t, Tensor) else Tensor(t, dtype=self.dtype) for t in xs]
        preds = self._forward_for_loss(tensors, training)
        ys = y if isinstance(y, tuple) else (y,)
        sws = sample_weight if isinstance(sample_weight, tuple) else (sample_weight,) * len(ys)
        loss = self.compiled_loss(ys, preds, sws, self.regularization_loss())
        outputs: list[np.ndarray] | None = None
        if any(t.active for t in self._trackers):
            outputs = []
            with no_grad():
                for pred, fused, layer in zip(
                    preds, self.compiled_loss.fused, self._output_layers(), strict=True
                ):
                    outputs.append((layer.activation(pred) if fused else pred).data)
        return loss, outputs

    def minimize(self, loss: Tensor, params: Sequence[Tensor] | None = None) -> None:
        """One optimizer step down ``loss``: clear the gradients, back-propagate, update.

        Args:
            loss: a scalar Tensor computed from the model's weights.
            params: the weights to update (default: all of this model's; frozen ones are
                skipped). A GAN passes the generator's or the discriminator's.
        """
        optimizer = self._require_optimizer("minimize")
        params = self.params if params is None else list(params)
        for p in params:
            p.grad = None
        loss.backward()
        optimizer.step(params)

    def _require_optimizer(self, method: str) -> optimizers.Optimizer:
        """The compiled optimizer, or a RuntimeError saying ``method`` needs one."""
        if self.optimizer is None:
            raise RuntimeError(f"{method}() needs an optimizer: call model.compile(...) first.")
        return self.optimizer

    def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """One gradient step on a batch; the step ``fit`` and ``train_on_batch`` take.

        Args:
            batch: ``(x, y, sample_weight)`` prepared arrays (tuples for several inputs or
                outputs; ``y`` and ``sample_weight`` may be ``None``).

        Returns:
            This batch's logs, ``{"loss": value}`` (computed before the update); the loop
            averages them over the epoch. A non-finite loss skips the update.
        """
        x, y, sw = batch
        params = self.params
        for p in params:
            p.grad = None
        loss, outputs = self.compute_loss(x, y, sw, training=True)
        value = float(loss.data)
        if math.isfinite(value):
            loss.backward()
            self._require_optimizer("train_step").step(params)
        if outputs is not None:
            self._update_metrics(y, outputs)
        return {"loss": value}

    def test_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """Loss (penalties included) of a batch without updating; the step of ``evaluate``."""
        x, y, sw = batch
        with no_grad():
            loss, outputs = self.compute_loss(x, y, sw, training=False)
        if outputs is not None:
            self._update_metrics(y, outputs)
        return {"loss": float(loss.data)}

    def predict_step(self, x: Any) -> Any:
        """Outputs of a batch (arrays; a list for several outputs), dropout inactive."""
        if isinstance(x, tuple):
            x = [Tensor(t, dtype=self.dtype) for t in x]
        else:
            x = Tensor(x, dtype=self.dtype)
        with no_grad():
            out = self(x, training=False)
        if isinstance(out, (list, tuple)):
            return [backend.to_numpy(o.data) for o in out]
        return backend.to_numpy(out.data)

    # ------------------------------------------------------------------- configuration, files
    def get_config(self) -> dict[str, Any]:
        """The model's constructor arguments as JSON data (a registered subclass adds its own)."""
        return {"name": self.name, "dtype": self.dtype.name, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """Build a model from :meth:`get_config` data."""
        return cls(**copy.deepcopy(config))

    @classmethod
    def plan_config(cls, config: dict[str, Any], where: str, depth: int = 0) -> ModelPlan | None:
        """The weights :meth:`from_config` would give the model, computed without allocating.

        ``scratchnn.load_model`` compares the plan with the file's tensors before it builds
        anything, so a crafted config cannot ask for more memory than the file holds. This
        default plans nothing (``None``): a registered class that builds itself by its own code
        is compared once built. A subclass whose weights follow from its config alone overrides
        it (``RBM``, ``DBN``, ``GAN`` do), refusing a bad config with a ValueError that starts
        with ``where``.

        Args:
            config: :meth:`get_config` data read from a file.
            where: the file, for messages.
            depth: how deep this model is nested in others (for
                :func:`~scratchnn.models.config.plan_from_config` on nested models).
        """
        del config, where, depth
        return None

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} layers={len(self.layers)} "
            f"built={self.built} dtype={self.dtype.name}>"
        )


def _is_symbolic(x: Any) -> bool:
    from scratchnn.layers.base import symbolic_inputs

    try:
        return symbolic_inputs(x) is not None
    except TypeError:
        return True


def _is_shape_list(shape: Any) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(
        shape[0], (list, tuple)
    )
