"""``Population``: many small networks of one structure, trained as one model by the one loop.

Every parameter of a population carries a leading member axis: member ``i``'s Dense kernel
``(D, H)`` is ``kernel[i]`` of a ``(P, D, H)`` array, and the population computes all members in
one graph (:class:`~scratchnn.layers.stacked.StackedDense`, one node per layer). Its loss is the
sum of the members' own losses, so each member's gradient is exactly the one it would get alone;
its optimizer is the members' optimizers stacked (:func:`scratchnn.optimizers.stack`), each
numeric hyper-parameter an array along the member axis. It trains through ``fit`` like any model:
callbacks, history and divergence handling come from the loop, with logs that hold one value per
member.

A population is made from the members' own compiled ``Sequential`` models, so each member starts
from exactly the weights it would have alone and shuffles with the generator its ``fit`` would
use: a member's result equals its solo ``fit`` up to floating-point rounding (tested for every
optimizer, activation and loss of the registries).

Members may differ in hidden widths (narrower members are padded with units whose weights stay
exactly 0 and whose outputs are masked out), in hidden activations (relu, tanh, sigmoid, linear:
the members are sorted so that each activation is one slice of the member axis) and in every
numeric optimizer hyper-parameter. They must share the data, the depth, biases, the output layer,
the loss, the metrics, and their optimizer's structure. :func:`unsupported_reason` says why a set
of models cannot be a population.

    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> def member(units, lr, seed):
    ...     m = Sequential([Dense(units, activation="tanh", input_dim=2),
    ...                     Dense(1, activation="sigmoid")], seed=seed)
    ...     m.compile(optimizer={"name": "sgd", "learning_rate": lr}, loss="binary_crossentropy")
    ...     return m
    >>> x = np.random.default_rng(0).normal(size=(32, 2)); y = (x[:, 0] > 0).astype(int)
    >>> population = Population([member(3, 0.5, 0), member(8, 0.05, 1)])
    >>> history = population.fit(x, y, batch_size=None, epochs=2, verbose=0)
    >>> history.history["loss"][-1].shape   # one loss per member
    (2,)
    >>> [w.shape for w in population.member_weights(1)]
    [(2, 8), (8,), (8, 1), (1,)]

Shape legend: P members, N samples (B in a batch), D inputs, H units, K outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from scratchnn import activations, ops, optimizers
from scratchnn.layers import Dense
from scratchnn.layers.stacked import FUSED_NAMES, StackedDense
from scratchnn.models import compiled
from scratchnn.models.model import Model
from scratchnn.tensor import Tensor, no_grad


def _activation_name(layer: Dense) -> str:
    return activations.name_of(layer.activation)


def unsupported_reason(models: Sequence[Any]) -> str | None:
    """Why these compiled models cannot train as one population (``None`` when they can)."""
    from scratchnn.models.sequential import Sequential

    if not models:
        return "no members"
    first = models[0]
    for m, model in enumerate(models):
        if not isinstance(model, Sequential) or not model.built:
            return f"member {m} is not a built Sequential model"
        if model.compiled_loss is None or model.optimizer is None:
            return f"member {m} is not compiled"
        for i, layer in enumerate(model.layers):
            if type(layer) is not Dense:
                return f"layer {i} is {type(layer).__name__} (only Dense layers are stacked)"
            if layer.regularizers:
                return f"layer {i} has a weight regularizer"
            if not layer.trainable:
                return f"layer {i} is frozen"
        if len(model.layers) != len(first.layers):
            return "the members differ in depth"
        if model.input_shape != first.input_shape or model.dtype != first.dtype:
            return "the members differ in input shape or dtype"
        dense = cast("list[Dense]", model.layers)  # checked above
        for a, b in zip(dense, first.layers, strict=True):
            if a.use_bias != b.use_bias:
                return "the members differ in which layers have biases"
        last, first_last = dense[-1], first.layers[-1]
        if last.units != first_last.units or last.activation is not first_last.activation:
            return "the members differ in their output layer"
        if model.compiled_loss.config() != first.compiled_loss.config():
            return "the members differ in their loss"
        config, first_config = model.compile_config(), first.compile_config()
        assert config is not None  # compiled: checked above
        if config["metrics"] != first_config["metrics"]:
            return "the members differ in their metrics"
        if model.optimizer.structure() != first.optimizer.structure():
            return "the members' optimizers differ in more than numbers"
        if model.compiled_loss.losses[0].reduction not in ("sum_over_batch_size", "mean", "sum"):
            return "the loss has reduction 'none'"
    for li in range(len(first.layers) - 1):
        names = {_activation_name(model.layers[li]) for model in models}
        if len(names) > 1 and not names <= set(FUSED_NAMES):
            return (
                f"the hidden activations of layer {li} differ ({sorted(names)}); only "
                f"{list(FUSED_NAMES)} may differ between members"
            )
    return None


class Population(Model):
    """P compiled ``Sequential`` networks of one structure trained together as one model.

    Args:
        members: the members' compiled, built models (their weights, optimizers, generators
            and ``fit`` seeds are taken as they are; the models themselves are not changed).
        fit_seeds: per member, the ``fit(seed=...)`` its solo training would use (``None``:
            the model's own generator, as ``fit`` without a seed).
        name: the population's name.

    Attributes:
        members: the number of live members.
        ids: the index, in ``members`` as given, of each live member (in stacking order).

    Raises:
        ValueError: members that cannot share a population (:func:`unsupported_reason`).
    """

    optimizer: optimizers.Optimizer  # the members' optimizers, stacked (never None here)

    def __init__(
        self,
        members: Sequence[Any],
        fit_seeds: Sequence[int | None] | None = None,
        name: str | None = None,
    ) -> None:
        reason = unsupported_reason(members)
        if reason is not None:
            raise ValueError(f"These models cannot train as one population: {reason}.")
        first = members[0]
        super().__init__(name=name, dtype=first.dtype.name, seed=None)
        seeds = list(fit_seeds) if fit_seeds is not None else [None] * len(members)
        depth = len(first.layers)
        signature = [
            tuple(_activation_name(m.layers[li]) for li in range(depth - 1)) for m in members
        ]
        order = sorted(range(len(members)), key=lambda i: signature[i])
        self.ids = np.asarray(order, dtype=np.int64)
        self._signatures = [signature[i] for i in order]
        self._rngs = [
            members[i]._rng if seeds[i] is None else np.random.default_rng(seeds[i])
            for i in order
        ]
        self._sizes = [[layer.units for layer in members[i].layers] for i in order]
        self._widths = [max(s[li] for s in self._sizes) for li in range(depth)]
        self.padded = any(s != self._widths for s in self._sizes)
        self._stack_layers([members[i] for i in order])
        first_hidden = self.stacked[0]
        self._perceptron = depth == 2 and (
            first_hidden.runs is not None
            or first_hidden.activation_name in FUSED_NAMES
        )
        self._template = first
        self._sample_rank = len(first.input_shape)  # axes of one sample
        self.optimizer = optimizers.stack([members[i].optimizer for i in order])
        self._compile_args = dict(first._compile_args or {})
        self._link_compiled()
        self._remask = self.padded and self._zero_gradients_may_move()
        self.track_metrics = True
        self._batches: list[tuple[np.ndarray, np.ndarray]] = []
        """Whether steps record outputs for the compiled metrics (a sweep switches it on only
        for the epochs whose history it keeps)."""
        self.dead: dict[int, list[np.ndarray]] = {}
        """Members whose loss diverged (by id): their last finite weights."""
        self._pinned: dict[int, list[np.ndarray]] = {}

    # ------------------------------------------------------------------------------ structure
    def _stack_layers(self, models: list[Any]) -> None:
        ins = [models[0].input_shape[-1], *self._widths[:-1]]
        layers = []
        for li, width in enumerate(self._widths):
            template = models[0].layers[li]
            kernel = np.zeros((len(models), width, ins[li]), dtype=self.dtype)  # units-first
            bias = np.zeros((len(models), width), dtype=self.dtype) if template.use_bias else None
            for m, model in enumerate(models):
                layer = model.layers[li]
                k = layer.kernel.data  # (D, H)
                kernel[m, : k.shape[1], : k.shape[0]] = k.T
                if bias is not None:
                    bias[m, : layer.units] = layer.bias.data
            mask = None
            if li > 0 and any(s[li - 1] != ins[li] for s in self._sizes):
                mask = np.zeros((len(models), 1, ins[li]), dtype=bool)
                for m, sizes in enumerate(self._sizes):
                    mask[m, :, : sizes[li - 1]] = True
            activation: Any = template.activation
            if li < len(self._widths) - 1:
                activation = self._runs(li) or activation
            layers.append(StackedDense(kernel, bias, activation, mask, name=template.name))
        self.stacked = layers

    def _runs(self, li: int) -> list[tuple[str, int, int]] | None:
        """Runs ``(activation, start, stop)`` of hidden layer ``li`` when its activations differ."""
        names = [sig[li] for sig in self._signatures]
        if len(set(names)) == 1:
            return None
        runs: list[tuple[str, int, int]] = []
        for i, name in enumerate(names):
            if runs and runs[-1][0] == name:
                runs[-1] = (name, runs[-1][1], i + 1)
            else:
                runs.append((name, i, i + 1))
        return runs

    def _zero_gradients_may_move(self) -> bool:
        """Whether a zero gradient can move a weight (0 / 0 with ``epsilon = 0``): padding
        entries must then be zeroed again after each step."""
        eps = self.optimizer._hyper_values().get("epsilon")
        return eps is not None and bool(np.any(np.asarray(eps) == 0))

    def _child_layers(self) -> list[Any]:
        return list(self.stacked)

    @property
    def members(self) -> int:
        """The number of live members."""
        return len(self.ids)

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """The members' input shape."""
        return [self._template.input_shape]

    @property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """The members' output shape."""
        return [self._template.output_shape]

    @property
    def output_names(self) -> list[str]:
        """The members' output name."""
        return self._template.output_names

    def _output_layers(self) -> list[Any]:
        return [self._template.layers[-1]]

    def member_weights(self, i: int) -> list[np.ndarray]:
        """Live member ``i``'s weights without padding, in ``Sequential.get_weights`` order."""
        sizes = self._sizes[i]
        ins = [self._template.input_shape[-1], *sizes[:-1]]
        out = []
        for li, layer in enumerate(self.stacked):
            out.append(np.array(layer.kernel.data[i, : sizes[li], : ins[li]].T, order="C"))
            if layer.bias is not None:
                out.append(layer.bias.data[i, : sizes[li]].copy())
        return out

    def keep(self, live: Sequence[int]) -> None:
        """Keep only the live members at positions ``live`` (retired members cost nothing)."""
        idx = np.asarray(live, dtype=np.int64)
        self.ids = self.ids[idx]
        self._signatures = [self._signatures[i] for i in idx]
        self._rngs = [self._rngs[i] for i in idx]
        self._sizes = [self._sizes[i] for i in idx]
        for li, layer in enumerate(self.stacked):
            layer.keep(idx)
            if li < len(self.stacked) - 1 and layer.runs is not None:
                layer.runs = tuple(self._runs(li) or [])
                if not layer.runs:  # one activation left: it applies to every member
                    name = self._signatures[0][li] if self._signatures else "linear"
                    layer.runs = ((name, 0, len(idx)),) if len(idx) else None
        self.optimizer.select_members(idx)
        if self._snapshot is not None:
            self._snapshot = [s[idx] for s in self._snapshot]
        alive = set(self.ids.tolist())
        self.dead = {m: w for m, w in self.dead.items() if m in alive}
        self._pinned = {m: w for m, w in self._pinned.items() if m in alive}

    # ---------------------------------------------------------------------------- forward
    @staticmethod
    def _units_first(x: Any) -> Any:
        """A batch of rows, ``(B, D)`` or per member ``(P, B, D)``, as ``(D, B)``/``(P, D, B)``
        (a contiguous copy: the products of wide populations read a strided view slowly)."""
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        return np.ascontiguousarray(data.swapaxes(-1, -2))

    def call(self, x: Any, training: bool = False) -> Tensor:
        """Every member's outputs: rows ``(B, D)`` or ``(P, B, D)`` -> ``(P, B, K)``."""
        return self._forward(x, logits=False)

    def _forward_for_loss(self, xs: list[Any], training: bool) -> list[Tensor]:
        fused = self.compiled_loss is not None and self.compiled_loss.fused[0] is not None
        return [self._forward(xs[0], logits=fused)]

    def _forward(self, x: Any, logits: bool) -> Tensor:
        """The outputs (or the output layer's logits), back in rows: ``(P, B, K)``.

        A network of one hidden layer with a fusable activation is one node
        (:func:`scratchnn.ops.stacked_perceptron`); deeper ones a node per layer.
        """
        h = Tensor(self._units_first(x), dtype=self.dtype)
        last = self.stacked[-1]
        if self._perceptron:
            hidden = self.stacked[0]
            activation = hidden.runs if hidden.runs is not None else hidden.activation_name
            out = ops.stacked_perceptron(h, hidden.kernel, hidden.bias, activation,
                                         last.kernel, last.bias, last.kernel_mask)
            if not logits:
                out = last.activate(out)
        else:
            for layer in self.stacked[:-1]:
                h = layer(h)
            out = last.pre_activation(h) if logits else last(h)  # (P, K, B)
        if out.shape[1] == 1:  # one output unit: (P, 1, B) and (P, B, 1) are the same memory
            return ops.reshape(out, (out.shape[0], out.shape[2], 1))
        return ops.transpose(out, (0, 2, 1))

    def _targets_like(self, x: Any, y: Any, pred: Tensor, loss: Any) -> np.ndarray:
        """The targets shaped for ``pred`` ``(P, B, K)`` (labels ``(P, B)``), as views (kept
        from step to step while the batch's target array is the same: a view follows it)."""
        key = (pred.shape, np.ndim(x), loss.name)
        cached = self.__dict__.get("_targets_cache")
        if cached is not None and cached[0] is y and cached[1] == key:
            return cached[2]
        targets = self._shaped_targets(x, y, pred, loss)
        if isinstance(y, np.ndarray):
            self._targets_cache = (y, key, targets)
        return targets

    def _shaped_targets(self, x: Any, y: Any, pred: Tensor, loss: Any) -> np.ndarray:
        y = self._per_member_targets(x, y)
        if loss.name.startswith("sparse"):
            return y
        if y.ndim == pred.ndim - 1:
            y = y[..., None]  # (P, B) targets of one output unit: (P, B, 1)
        return np.broadcast_to(y, pred.shape) if y.shape != pred.shape else y

    def _loss(self) -> Any:
        assert self.compiled_loss is not None
        fused = self.compiled_loss.fused[0]
        return fused or self.compiled_loss.losses[0], fused is not None

    def _objective(self, x: Any, y: Any, training: bool) -> tuple[Tensor, Tensor, np.ndarray]:
        """``(loss, predictions (P, B, K), targets)`` of a batch.

        The loss is that of all members' rows together (one fused node where the loss has
        one, as ``Sequential`` computes it); the objective is P times it, the sum of the
        members' losses, so that each member's gradient is its own loss's: ``train_step``
        seeds the backward pass with P instead of recording that product.
        """
        pred = self._forward_for_loss([x], training)[0]
        loss, from_logits = self._loss()
        targets = self._targets_like(x, y, pred, loss)
        value = compiled.loss_value(loss, targets, pred, None, from_logits)
        return value, pred, targets

    def _member_values(self, pred: Tensor, targets: np.ndarray) -> np.ndarray:
        """Each member's loss ``(P,)`` on a batch (no graph)."""
        loss, _ = self._loss()
        with no_grad():
            values = loss.per_sample(targets, pred).data  # (P, B): members as a batch axis
        reduce = np.sum if loss.reduction == "sum" else np.mean
        return np.asarray(reduce(values.reshape(len(values), -1), axis=1), dtype=np.float64)

    def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """One step of every member.

        Logs hold each member's loss (a ``(P,)`` array, before the update) when
        :attr:`track_metrics` is on, else nothing: the sum of the losses is enough to step and
        to see a divergence, which is then traced to the members it came from.
        """
        x, y, sw = batch
        if sw is not None:
            raise ValueError("A population trains without sample weights.")
        params = self.params
        for p in params:
            p.grad = None
        loss, pred, targets = self._objective(x, y, training=True)
        logs: dict[str, Any] = {}
        # A loss of logits is finite where the logits are: one sum of them, and the loss value
        # (computed when read, see Tensor._from_deferred_op) is never computed in this step.
        watched = pred.data if self._loss()[1] else loss.data
        finite = math.isfinite(float(watched.sum()))
        if self.track_metrics or not finite:
            values = self._member_values(pred, targets)
            logs["loss"] = values
            if not finite:
                self._diverged(logs)
        scale = 1 if self._loss()[0].reduction == "sum" else pred.shape[0]
        loss.backward(np.asarray(scale, dtype=loss.dtype))  # the objective: P x the mean
        self.optimizer.step(params)
        if self._remask:
            self._zero_padding()
        if self.dead:
            self._pin_dead()
        if self.track_metrics and any(t.active for t in self._trackers):
            self._collect(x, y, pred)
        return logs if self.track_metrics else {}

    def test_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """Each member's loss on a batch, without updating."""
        x, y, _ = batch
        with no_grad():
            pred = self._forward_for_loss([x], False)[0]
            loss, _ = self._loss()
            values = self._member_values(pred, self._targets_like(x, y, pred, loss))
        if any(t.active for t in self._trackers):
            self._collect(x, y, pred)
        return {"loss": values}

    def _per_member_targets(self, x: Any, y: Any) -> np.ndarray:
        """The targets as ``(P, B, ...)``: a batch shared by the members (``x`` is ``(B, D)``)
        is broadcast (no copy); per-member batches (``x`` is ``(P, B, D)``) already are."""
        y = np.asarray(y)
        if np.ndim(x) == self._sample_rank + 1:  # shared rows
            return np.broadcast_to(y, (self.members, *y.shape))
        return y

    def _collect(self, x: Any, y: Any, pred: Tensor) -> None:
        """Record a batch's outputs (activations applied) for the per-member metrics."""
        fused = self.compiled_loss.fused[0] if self.compiled_loss is not None else None
        with no_grad():
            out = self._template.layers[-1].activation(pred) if fused else pred
        targets = np.array(y)  # a copy: batches may be gathered into a reused buffer
        self._batches.append((self._per_member_targets(x, targets), out.data))

    # -------------------------------------------------------------------- per-member metrics
    def _reset_metrics(self) -> None:
        self._batches = []

    def _metric_results(self) -> dict[str, Any]:
        """Each compiled metric per member, on all the batches since the last reset."""
        if not self._batches or not self._trackers or not self._trackers[0].active:
            return {}
        p = self.members
        outs = np.concatenate([o for _, o in self._batches], axis=1)  # (P, N, K)
        targets = np.concatenate([y for y, _ in self._batches], axis=1)  # (P, N, ...)
        tracker = self._trackers[0]
        logs: dict[str, list[float]] = {}
        for i in range(p):
            for key, value in tracker.compute(targets[i], outs[i]).items():
                logs.setdefault(key, []).append(value)
        return {key: np.asarray(values) for key, values in logs.items()}

    # ---------------------------------------------------------------------- divergence
    def _epoch_order(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """One permutation per member from its own generator (``(P, N)``; ``(N,)`` when equal)."""
        orders = np.stack([r.permutation(n) for r in self._rngs])
        return orders[0] if (orders == orders[0]).all() else orders

    def _member_finite(self) -> np.ndarray:
        finite = np.ones(self.members, dtype=bool)
        for p in self.params:
            if len(p.data):
                finite &= np.isfinite(p.data.reshape(len(p.data), -1)).all(axis=1)
        return finite

    def _weights_finite(self) -> bool:
        finite = self._member_finite()
        dead = np.isin(self.ids, list(self.dead))
        return bool((finite | dead).all())

    def _take_snapshot(self) -> None:
        """Copy the weights of every member whose weights are finite (per member, as alone)."""
        params = self.params
        if self._snapshot is None or len(self._snapshot) != len(params) or any(
            s.shape != p.shape for s, p in zip(self._snapshot, params, strict=True)
        ):
            self._snapshot = [np.array(p.data, copy=True) for p in params]
            return
        finite = self._member_finite()
        for saved, p in zip(self._snapshot, params, strict=True):
            saved[finite] = p.data[finite]

    def _restore_snapshot(self) -> None:
        """Members whose weights are not finite go back to their snapshot and are retired."""
        bad = np.flatnonzero(~self._member_finite())
        for i in bad:
            self._retire(int(i))

    def _retire(self, i: int) -> None:
        member = int(self.ids[i])
        if member in self.dead:
            return
        if self._snapshot is not None and not self._member_finite()[i]:
            for saved, p in zip(self._snapshot, self.params, strict=True):
                p.data[i] = saved[i]
        self.dead[member] = self.member_weights(i)
        self._pinned[member] = [p.data[i].copy() for p in self.params]

    def _pin_dead(self) -> None:
        """Keep the weights of retired members at their last finite values."""
        for i, member in enumerate(self.ids.tolist()):
            pinned = self._pinned.get(member)
            if pinned is not None:
                for value, p in zip(pinned, self.params, strict=True):
                    p.data[i] = value

    def _diverged(self, logs: dict[str, Any]) -> bool:
        """Members whose loss is not finite are retired; the others train on."""
        losses = logs.get("loss")
        if losses is None:
            return False
        for i in np.flatnonzero(~np.isfinite(losses)):
            self._retire(int(i))
        return False

    def _zero_padding(self) -> None:
        """Set padding entries to exactly 0 again (needed when 0 / 0 updates can occur)."""
        ins = [self._template.input_shape[-1], *self._widths[:-1]]
        for li, layer in enumerate(self.stacked):
            for i, sizes in enumerate(self._sizes):
                layer.kernel.data[i, sizes[li]:, :] = 0
                if li > 0:
                    layer.kernel.data[i, :, sizes[li - 1]: ins[li]] = 0
                if layer.bias is not None:
                    layer.bias.data[i, sizes[li]:] = 0

    def get_config(self) -> dict[str, Any]:
        """Populations are not saved: save each member's weights in a model of its own."""
        raise NotImplementedError(
            "A Population is not saved as a model file; take each member's weights with "
            "member_weights(i) and save them in a Sequential of that member's structure."
        )


__all__ = ["Population", "unsupported_reason"]
