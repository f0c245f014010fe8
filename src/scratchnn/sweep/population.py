"""Population training: many small networks of one structure trained together, as one stacked net.

Members that share a data set, the depth of a stack of ``Dense`` layers (biases, output units and
output activation), a loss, an optimizer class and a batch size are trained in one loop. Every
parameter gets a leading member axis: a kernel ``(D, H)`` becomes ``(P, D, H)``. Hidden layers of
different widths are padded to the widest member with units whose incoming and outgoing weights
are zero and whose gradients are masked, so a padding unit never changes its member's result.
Hidden activations may differ: members are sorted by them and each run of equal activations is a
slice of the member axis. Learning rates and the other hyper-parameters that may differ are per
member (:mod:`scratchnn.sweep.stacked`).

Each member starts from exactly the weights ``Sequential(layers, seed=...)`` draws (the model is
built with the library's own layers and only its weights are taken), shuffles with the same
generator ``Sequential.fit`` would use, and follows the same formulas, so its result equals
training it alone with ``Sequential.fit`` up to floating-point rounding (tested).

The forward and backward passes are written here directly in NumPy, without a Tensor graph: in a
population of 2-3-1 networks the graph's bookkeeping, not the arithmetic, dominates a step.
Activations are stored units-first, ``(P, H, B)``, as in tutorial 000's own ``W1 @ X`` code, and a
layer's weights as ``(P, H, D + 1)``, the transposed kernel with the bias as its last column; the
inputs carry a row of ones, so the first layer of the whole population is one matrix product. A
network of one hidden layer and few outputs (tutorial 000's 2-n_h-1) takes a fused backward pass
that never forms the ``(P, H, B)`` gradient: with ``F`` the activation's derivative,

    dW1[p, h, d] = sum_k W2[p, k, h] * sum_n F[p, h, n] * X[d, n] * G[p, k, n]

is a few matrix-vector products of ``F`` with the small ``(P, D*K, B)`` array ``X * G``. In that
pass sigmoid members keep ``t = tanh(z / 2)`` instead of ``sigmoid(z) = (1 + t) / 2`` (one
transcendental pass, and the tanh derivative), with the affine map folded into the output
layer's weights.

Shape legend: P members, N samples (B in a batch), D input features, H units of a layer (padded),
K output units.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchnn import activations, backend, losses, metrics
from scratchnn.models import data as model_data
from scratchnn.sweep.engine import (
    Emit,
    Member,
    StopTraining,
    TrialResult,
    build_model,
    canonical_json,
    history_epochs,
    load_split,
    metric_column,
)
from scratchnn.sweep.stacked import StackedOptimizer, fixed_hyper_parameters

HIDDEN_ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu")
"""Activations the population engine computes (others train one at a time with Sequential)."""

FUSED_MAX_WIDTH = 16
"""The fused backward pass is used when ``(D + 1) * K`` is at most this."""

SMALL_WIDTH = 6
"""Up to this many hidden units, the fused pass forms ``S * g`` and multiplies it by the inputs
for all members in one product per input (fewer, larger calls than one per member)."""

EVAL_ROWS = 8192
"""Rows per forward pass when evaluating (``Sequential``'s ``PREDICT_BATCH_SIZE``)."""

CHUNK_BYTES = 3_000_000
"""A batch whose hidden activations exceed this is processed in chunks of rows, each at most
``CHUNK_BYTES * 0.8`` bytes per activation array, so that a chunk's passes stay in cache (tutorial
000's widest population, 4.8 MB per array, runs 10-30 % faster in two chunks; smaller chunks
cost more in calls than they save); the gradients of the chunks are summed."""


# ------------------------------------------------------------------------- what can be stacked
def _activation_name(value: Any) -> str:
    return activations.name_of(activations.get(value))


def _head(config: dict[str, Any]) -> tuple[str, str] | None:
    """``(loss kind, output activation)`` when the population engine supports the loss."""
    loss = losses.get(copy.deepcopy(config["compile"]["loss"]))
    if loss.reduction not in ("sum_over_batch_size", "mean"):
        return None
    last = _activation_name(config["model"]["layers"][-1].get("activation"))
    logits = getattr(loss, "from_logits", False)
    kinds = (
        (losses.SparseCategoricalCrossentropy, "sparse", "softmax"),
        (losses.CategoricalCrossentropy, "ce", "softmax"),
        (losses.BinaryCrossentropy, "bce", "sigmoid"),
    )
    for cls, kind, squash in kinds:
        if type(loss) is cls:
            wanted = "linear" if logits else squash
            return (kind, last) if last == wanted else None
    if type(loss) is losses.MeanSquaredError and last in HIDDEN_ACTIVATIONS:
        return ("mse", last)
    return None


def unsupported_reason(config: dict[str, Any]) -> str | None:
    """Why a trial configuration cannot be trained in a population (``None`` when it can)."""
    layers = config["model"]["layers"]
    for i, layer in enumerate(layers):
        if layer.get("class_name") != "Dense":
            return f"layer {i} is {layer.get('class_name')} (only Dense layers are stacked)"
        for key in ("kernel_regularizer", "bias_regularizer"):
            if layer.get(key) is not None:
                return f"layer {i} has a {key}"
        if layer.get("trainable", True) is not True:
            return f"layer {i} is frozen"
        if i < len(layers) - 1 and _activation_name(layer.get("activation")) not in (
            HIDDEN_ACTIVATIONS
        ):
            return f"layer {i}'s activation is not one of {HIDDEN_ACTIVATIONS}"
    if _head(config) is None:
        return "the loss and output activation are not a supported pair"
    return None


def population_key(config: dict[str, Any]) -> str | None:
    """Members with equal keys can train in one population; ``None``: train it alone.

    The key holds what must be shared (data, dtype, layer stack without hidden widths, loss,
    metrics, the optimizer's fixed hyper-parameters, batch size, shuffling); it leaves out what
    may differ per member (hidden widths, initializers, seeds, learning rates, epochs).
    """
    if unsupported_reason(config) is not None:
        return None
    from scratchnn import optimizers

    layers = config["model"]["layers"]
    opt = optimizers.get(copy.deepcopy(config["compile"]["optimizer"])).get_config()
    fit = config["fit"]
    # Hidden activations may differ between members (each member's slice of a layer gets its
    # own); depth, biases and the output activation (part of the loss head) may not.
    shape = [bool(layer.get("use_bias", True)) for layer in layers]
    key = {
        "data": config["data"],
        "dtype": str(backend.resolve_dtype(config["model"].get("dtype"))),
        "layers": shape,
        "outputs": layers[-1]["units"],
        "output_activation": _activation_name(layers[-1].get("activation")),
        "loss": config["compile"]["loss"],
        "metrics": config["compile"].get("metrics", []),
        "optimizer": repr(fixed_hyper_parameters(opt)),
        "batch_size": fit.get("batch_size"),
        "shuffle": bool(fit.get("shuffle", True)),
    }
    return canonical_json(key)


def _hidden_activations(member: Member) -> tuple[str, ...]:
    """The activations of a member's hidden layers."""
    layers = member.config["model"]["layers"][:-1]
    return tuple(_activation_name(layer.get("activation")) for layer in layers)


def _optimizer_config(config: dict[str, Any]) -> dict[str, Any]:
    """The trial's optimizer as a config dict (a bare name means the defaults)."""
    opt = config["compile"]["optimizer"]
    return dict(opt) if isinstance(opt, dict) else {"name": opt}


def _metric_functions(names: Sequence[str], loss: Any) -> list[tuple[str, Callable]]:
    """``(name, fn)`` per compiled metric, accuracy resolved by the loss as ``Sequential`` does."""
    kind = {
        losses.SparseCategoricalCrossentropy: metrics.sparse_categorical_accuracy,
        losses.CategoricalCrossentropy: metrics.categorical_accuracy,
        losses.BinaryCrossentropy: metrics.binary_accuracy,
    }
    out = []
    for ident in names:
        name, fn = metrics.get(ident)
        if name in ("accuracy", "acc"):
            for cls, accuracy in kind.items():
                if isinstance(loss, cls):
                    fn = accuracy
                    break
        out.append((name, fn))
    return out


# ------------------------------------------------------------------------------- activations
def _activate(name: str, z: np.ndarray, out: np.ndarray, aux: np.ndarray) -> None:
    """``out = activation(z)``; relu leaves its 0/1 derivative in ``aux``."""
    if name == "tanh":
        np.tanh(z, out=out)
    elif name == "sigmoid":  # 1 / (1 + e^-z) = (1 + tanh(z / 2)) / 2, one transcendental pass
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out *= 0.5
        out += 0.5
    elif name == "relu":
        np.greater(z, 0, out=aux)
        np.multiply(z, aux, out=out)
    elif out is not z:  # linear
        np.copyto(out, z)


def _derivative_term(name: str, a: np.ndarray, aux: np.ndarray, scratch: np.ndarray
                     ) -> tuple[float, float, np.ndarray | None]:
    """The activation's derivative written as ``c0 + c1 * S`` with ``S`` in one array.

    tanh: ``1 - a**2``; sigmoid: ``a - a**2``; relu: the mask in ``aux``; linear: 1.
    """
    if name == "tanh":
        np.square(a, out=scratch)
        return 1.0, -1.0, scratch
    if name == "sigmoid":
        np.square(a, out=scratch)
        np.subtract(a, scratch, out=scratch)
        return 0.0, 1.0, scratch
    if name == "relu":
        return 0.0, 1.0, aux
    return 1.0, 0.0, None


def _times_derivative(name: str, grad: np.ndarray, a: np.ndarray, aux: np.ndarray,
                      scratch: np.ndarray) -> None:
    """``grad *= activation'(.)`` in place (the generic backward pass)."""
    c0, c1, s = _derivative_term(name, a, aux, scratch)
    if s is None:
        return
    if c0 == 0.0 and c1 == 1.0:
        grad *= s
    else:  # tanh: grad * (1 - a**2) = grad - grad * a**2
        s *= grad
        grad -= s


# ---------------------------------------------------------------------------------- the heads
def _sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-z)`` as ``(1 + tanh(z / 2)) / 2``: no overflow, one transcendental pass."""
    out = np.multiply(z, 0.5)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))  # (P, K, B), softmax over K
    return e / e.sum(axis=1, keepdims=True)


class _Head:
    """The output activation and the loss: outputs, per-member losses and the logit gradient."""

    def __init__(self, kind: str, act: str) -> None:
        self.kind, self.act = kind, act

    def outputs(self, z: np.ndarray) -> np.ndarray:
        """The model's outputs ``(P, K, B)`` from the last layer's pre-activations ``z``."""
        if self.kind in ("ce", "sparse"):
            return _softmax(z) if self.act == "softmax" else z.copy()
        if self.kind == "bce":
            return _sigmoid(z) if self.act == "sigmoid" else z.copy()
        out = np.empty_like(z)
        _activate(self.act, z, out, np.empty_like(z))
        return out

    def loss(self, z: np.ndarray, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mean loss per member, ``(P,)``: per-sample means over K, then over the batch."""
        if self.kind == "bce":  # max(z, 0) - z*y + log(1 + e^-|z|), finite for any finite z
            values = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
            return values.mean(axis=(1, 2))
        if self.kind in ("ce", "sparse"):
            shifted = z - z.max(axis=1, keepdims=True)
            log_total = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return -(y * (shifted - log_total)).sum(axis=1).mean(axis=1)
        diff = out - y
        return (diff * diff).mean(axis=(1, 2))

    def gradient(self, z: np.ndarray, out: np.ndarray, y: np.ndarray,
                 rows: int | None = None) -> np.ndarray:
        """The gradient of the mean loss over ``rows`` rows (default: this batch's) with
        respect to ``z``, ``(P, K, B)``."""
        k, b = z.shape[1], z.shape[2] if rows is None else rows
        if self.kind == "bce":
            probs = out if self.act == "sigmoid" else _sigmoid(z)
            grad = np.subtract(probs, y)
            grad *= 1.0 / (k * b)
            return grad
        if self.kind in ("ce", "sparse"):
            probs = out if self.act == "softmax" else _softmax(z)
            total = y.sum(axis=1, keepdims=True)
            return (probs * total - y) * (1.0 / b)
        grad = (out - y) * (2.0 / (k * b))
        if self.act != "linear":
            aux = np.greater(z, 0).astype(z.dtype) if self.act == "relu" else out
            _times_derivative(self.act, grad, out, aux, np.empty_like(out))
        return grad


# ------------------------------------------------------------------------------ the population
class Population:
    """A population of members trained together; :meth:`train` emits each trial's result.

    Args:
        members: members with equal :func:`population_key` (checked).
        emit: called as ``emit("result", TrialResult)`` at every checkpoint and
            ``emit("progress", fraction)`` about twice a second.
        should_stop: polled with the progress; returning true stops training
            (:class:`~scratchnn.sweep.engine.StopTraining`).
        fused: allow the fused backward pass (``False`` forces the generic one; for tests).

    Raises:
        ValueError: members that cannot share a population.
    """

    def __init__(self, members: Sequence[Member], emit: Emit,
                 should_stop: Callable[[], bool] | None = None, fused: bool = True) -> None:
        keys = {population_key(m.config) for m in members}
        if None in keys or len(keys) != 1:
            raise ValueError("these members cannot share a population (their keys differ)")
        # members with equal hidden activations side by side: each run of them is one slice
        self.members = sorted(members, key=_hidden_activations)
        self.emit = emit
        self.should_stop = should_stop
        cfg = self.members[0].config
        self.dtype = np.dtype(backend.resolve_dtype(cfg["model"].get("dtype")))
        self.data = load_split(cfg["data"])
        self.loss = losses.get(copy.deepcopy(cfg["compile"]["loss"]))
        kind, act = _head(cfg)
        self.head = _Head(kind, act)
        self.metric_fns = _metric_functions(cfg["compile"].get("metrics", []), self.loss)
        layer_cfgs = cfg["model"]["layers"]
        self.n_layers = len(layer_cfgs)
        self.bias = [bool(layer.get("use_bias", True)) for layer in layer_cfgs]
        fit = cfg["fit"]
        self.shuffle = bool(fit.get("shuffle", True))
        self._prepare_data(layer_cfgs[-1]["units"])
        n = self.x_train.shape[0]
        batch_size = fit.get("batch_size")
        self.batch = n if batch_size is None else min(int(batch_size), n)
        self.steps = math.ceil(n / self.batch)
        self._init_members()
        self.runs = self._activation_runs(range(len(self.members)))
        width = (self.x_train.shape[1] + self.bias[0]) * self.widths[-1]
        self.fused = fused and self.n_layers == 2 and width <= FUSED_MAX_WIDTH
        self._set_halved()
        self._buffers: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    # --------------------------------------------------------------------------- set-up
    def _prepare_data(self, units: int) -> None:
        """Cast the data as ``Sequential`` does; keep inputs units-first with a row of ones."""
        x_train, y_train, x_dev, y_dev = self.data
        out_shape = (int(units),)
        self.x_train = model_data.as_features(x_train, self.dtype)
        self.x_dev = model_data.as_features(x_dev, self.dtype)
        self.y_train = model_data.as_targets(y_train, self.loss, out_shape, "output",
                                             self.dtype, len(self.x_train))
        self.y_dev = model_data.as_targets(y_dev, self.loss, out_shape, "output", self.dtype,
                                           len(self.x_dev))
        self.xt_train = self._inputs_t(self.x_train)  # (D(+1), N)
        self.xt_dev = self._inputs_t(self.x_dev)
        self.yt_train = self._targets_t(self.y_train, units)  # (K, N)
        self.yt_dev = self._targets_t(self.y_dev, units)

    def _inputs_t(self, x: np.ndarray) -> np.ndarray:
        if not self.bias[0]:
            return np.ascontiguousarray(x.T)
        out = np.ones((x.shape[1] + 1, x.shape[0]), self.dtype)
        out[:-1] = x.T
        return out

    def _targets_t(self, y: np.ndarray, units: int) -> np.ndarray:
        if self.head.kind == "sparse":  # one-hot of the labels, for the gradient
            onehot = np.zeros((units, len(y)), self.dtype)
            onehot[y.astype(np.int64), np.arange(len(y))] = 1
            return onehot
        return np.ascontiguousarray(y.reshape(len(y), -1).T)

    def _init_members(self) -> None:
        """Build each member's ``Sequential`` to take its initial weights and its generator.

        Layer ``li`` is stored units-first as ``w[li]``: ``(P, H, D + 1)``, the transposed kernel
        with the bias as its last column (tutorial 000's ``W1`` and ``b1`` side by side).
        """
        d = self.x_train.shape[1]
        weights, rngs = [], []
        for member in self.members:
            model = build_model(member.config, d)
            weights.append(model.get_weights())
            fit_seed = member.config["fit"].get("seed")
            # fit(seed=None) shuffles with the model's own generator, after the weight draws.
            rngs.append(model._rng if fit_seed is None else np.random.default_rng(fit_seed))
        self.rngs = rngs
        n_layers = self.n_layers
        # sizes[m][li]: units of layer li of member m; widths[li]: the padded width.
        self.sizes = [self._layer_units(w) for w in weights]
        self.widths = [max(s[li] for s in self.sizes) for li in range(n_layers)]
        self.padded = any(s != self.widths for s in self.sizes)
        p = len(self.members)
        self.ins = [d, *self.widths[:-1]]
        self.w = [np.zeros((p, self.widths[li], self.ins[li] + self.bias[li]), self.dtype)
                  for li in range(n_layers)]
        self.gw = [np.zeros_like(w) for w in self.w]
        self._gw_chunk = [np.zeros_like(w) for w in self.w]
        for m, member_weights in enumerate(weights):
            it = iter(member_weights)
            for li in range(n_layers):
                kernel = next(it)  # (D, H)
                self.w[li][m, : kernel.shape[1], : kernel.shape[0]] = kernel.T
                if self.bias[li]:
                    bias = next(it)
                    self.w[li][m, : bias.shape[0], -1] = bias
        self.n_params = np.array([sum(a.size for a in w) for w in weights], np.float64)
        # masks[li]: (P, 1, H_{li-1}), 1 for the real inputs of layer li (units of layer li - 1)
        self.masks = [None] + [
            np.array([[1.0] * s[li - 1] + [0.0] * (self.widths[li - 1] - s[li - 1])
                      for s in self.sizes], self.dtype)[:, None, :]
            for li in range(1, n_layers)
        ]
        self.backup = [np.empty_like(w) for w in self.w]
        configs = [_optimizer_config(m.config) for m in self.members]
        # Every update rule is element-wise, so a layer's kernel and bias can be updated as one
        # array; only per-variable clipnorm needs them apart.
        self._whole_layers = all(c.get("clipnorm") is None for c in configs)
        self._grad_views = self._optimizer_arrays(self.gw)
        self.optimizer = StackedOptimizer(configs, self._optimizer_arrays(self.w), self.dtype)
        self.remask = self.padded and not self.optimizer.zero_gradient_safe

    def _set_halved(self) -> None:
        """Runs of sigmoid members computed as ``tanh(z / 2)`` (see ``_effective_weights``):
        in the fused pass, when the output layer has a bias to fold the shift into."""
        self._halved: list[tuple[int, int]] = []
        if self.fused and self.bias[1]:
            self._halved = [(lo, hi) for name, lo, hi in self.runs[0] if name == "sigmoid"]
        self._w_effective = [np.empty_like(w) for w in self.w] if self._halved else []

    def _chunk_rows(self, rows: int) -> int:
        """Rows per chunk of a batch of ``rows`` (all of them when the batch is small)."""
        units = sum(self.widths[:-1]) or self.widths[-1]
        size = len(self.w[0]) * units * rows * self.dtype.itemsize
        if size <= CHUNK_BYTES:
            return rows
        chunks = math.ceil(size / (0.8 * CHUNK_BYTES))
        return math.ceil(rows / chunks)

    def _optimizer_arrays(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """What the optimizer updates: whole layer arrays, or kernel and bias views."""
        return list(arrays) if self._whole_layers else self._param_views(arrays)

    def _activation_runs(self, members: Any) -> list[list[tuple[str, int, int]]]:
        """Per hidden layer, ``(activation, start, stop)`` runs of the live members (slices of
        the member axis that share an activation)."""
        names = [_hidden_activations(self.members[m]) for m in members]
        runs: list[list[tuple[str, int, int]]] = []
        for li in range(self.n_layers - 1):
            layer_runs: list[tuple[str, int, int]] = []
            for i, signature in enumerate(names):
                if layer_runs and layer_runs[-1][0] == signature[li]:
                    layer_runs[-1] = (signature[li], layer_runs[-1][1], i + 1)
                else:
                    layer_runs.append((signature[li], i, i + 1))
            runs.append(layer_runs)
        return runs

    def _layer_units(self, weights: list[np.ndarray]) -> list[int]:
        units, it = [], iter(weights)
        for li in range(self.n_layers):
            units.append(next(it).shape[1])
            if self.bias[li]:
                next(it)
        return units

    def _param_views(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Kernel ``(P, D, H)`` and bias ``(P, H)`` views, in ``get_weights`` order."""
        views = []
        for li, a in enumerate(arrays):
            views.append(a[:, :, : self.ins[li]].transpose(0, 2, 1))
            if self.bias[li]:
                views.append(a[:, :, -1])
        return views

    def member_weights(self, i: int) -> list[np.ndarray]:
        """The weights of live member ``i`` without padding, in ``get_weights`` order."""
        sizes = self.sizes[int(self.ids[i])] if hasattr(self, "ids") else self.sizes[i]
        out = []
        ins = [self.x_train.shape[1], *sizes[:-1]]
        for li, w in enumerate(self.w):
            h = sizes[li]
            out.append(np.array(w[i, :h, : ins[li]].T, order="C"))  # a copy, never a view
            if self.bias[li]:
                out.append(w[i, :h, -1].copy())
        return out

    # --------------------------------------------------------------------------- passes
    def _buffers_for(self, b: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per layer: the activations ``(P, H, B)`` (the layer's ``z``, then its activation in
        place) and an auxiliary array (relu's mask, or scratch); once per batch size."""
        if b not in self._buffers:
            p = len(self.w[0])
            self._buffers[b] = [
                (np.empty((p, width, b), self.dtype), np.empty((p, width, b), self.dtype))
                for width in self.widths
            ]
        return self._buffers[b]

    def _forward(self, xt: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Hidden activations ``(P, H, B)`` and the last layer's ``z`` ``(P, K, B)``.

        ``xt`` is the batch units-first, ``(D (+1), B)`` shared by all members or
        ``(P, D (+1), B)``; its row of ones carries the first layer's bias.
        """
        bufs = self._buffers_for(xt.shape[-1])
        hidden: list[np.ndarray] = []
        last = len(self.w) - 1
        weights = self._effective_weights() if self._halved else self.w
        for li, w in enumerate(weights):
            act, aux = bufs[li]
            p, units = w.shape[0], w.shape[1]
            if li == 0 and xt.ndim == 2:  # one GEMM: (P H, D+1) @ (D+1, B) -> (P H, B)
                np.matmul(w.reshape(p * units, -1), xt, out=act.reshape(p * units, -1))
            elif li == 0:  # (P, H, D+1) @ (P, D+1, B) -> (P, H, B)
                np.matmul(w, xt, out=act)
            else:  # (P, H, H_in) @ (P, H_in, B) -> (P, H, B), then the bias
                h_in = self.widths[li - 1]
                np.matmul(w[:, :, :h_in], hidden[-1], out=act)
                if self.bias[li]:
                    act += w[:, :, h_in, None]
            if li == last:
                return hidden, act
            for name, lo, hi in self.runs[li]:
                if self._halved and name == "sigmoid":
                    name = "tanh"  # the layer computes z / 2: this is 2 * sigmoid(z) - 1
                _activate(name, act[lo:hi], act[lo:hi], aux[lo:hi])
            hidden.append(act)
        raise AssertionError("unreachable")  # pragma: no cover

    def _effective_weights(self) -> list[np.ndarray]:
        """The weights the forward pass uses when sigmoid members keep ``t = tanh(z / 2)``.

        ``sigmoid(z) = (1 + tanh(z / 2)) / 2``: a sigmoid member's first layer is halved, its
        hidden units hold ``t`` (one transcendental pass, and ``1 - t**2`` is the derivative up
        to 1/4, as for tanh), and the affine map back to ``sigmoid(z)`` is folded into the output
        layer: ``W2 a + b2 = (W2 / 2) t + (b2 + sum(W2) / 2)``.
        """
        first, second = self._w_effective
        np.copyto(first, self.w[0])
        np.copyto(second, self.w[1])
        h = self.widths[0]
        for lo, hi in self._halved:
            first[lo:hi] *= 0.5
            kernel = self.w[1][lo:hi, :, :h]  # (P, K, H)
            np.multiply(kernel, 0.5, out=second[lo:hi, :, :h])
            second[lo:hi, :, h] += 0.5 * kernel.sum(axis=2)
        return [first, second]

    def _input_gradient(self, g: np.ndarray, xt: np.ndarray, out: np.ndarray) -> None:
        """``out = g @ xt^T``: the first layer's gradient, ``(P, H, B) @ (B, D+1)``."""
        if xt.ndim == 2:
            p, units, b = g.shape
            np.matmul(g.reshape(p * units, b), xt.T, out=out.reshape(p * units, -1))
        else:
            np.matmul(g, xt.transpose(0, 2, 1), out=out)

    def _backward(self, xt: np.ndarray, hidden: list[np.ndarray], grad: np.ndarray,
                  gw: list[np.ndarray]) -> None:
        """Fill ``gw`` with the gradients, given ``grad`` = dLoss/dz of the last layer."""
        bufs = self._buffers_for(xt.shape[-1])
        if self.fused:
            self._backward_fused(xt, hidden[0], grad, bufs[0][1], gw)
            return
        g = grad
        for li in range(len(self.w) - 1, -1, -1):
            if li == 0:
                self._input_gradient(g, xt, gw[0])
                break
            below = hidden[li - 1]  # (P, H_in, B)
            h_in = self.widths[li - 1]
            self._output_gradient(li, g, below, gw[li])
            kernel_t = self.w[li][:, :, :h_in].transpose(0, 2, 1)  # (P, H_in, H)
            below_grad = np.matmul(kernel_t, g)  # (P, H_in, H) @ (P, H, B) -> (P, H_in, B)
            aux = bufs[li - 1][1]
            for name, lo, hi in self.runs[li - 1]:  # aux: relu's mask, or scratch
                _times_derivative(name, below_grad[lo:hi], below[lo:hi], aux[lo:hi],
                                  aux[lo:hi])
            g = below_grad

    def _output_gradient(self, li: int, g: np.ndarray, below: np.ndarray,
                         out: np.ndarray) -> None:
        """Kernel and bias gradients of layer ``li >= 1`` into ``out`` ``(P, H, H_in (+1))``:
        ``g @ below^T`` and the sum of ``g`` over the rows; padding inputs masked."""
        h_in = self.widths[li - 1]
        out[:, :, :h_in] = np.matmul(g, below.transpose(0, 2, 1))  # (P, H, B) @ (P, B, H_in)
        if self.bias[li]:
            out[:, :, h_in] = g.sum(axis=2)
        if li == 1:
            for lo, hi in self._halved:  # a = (1 + t) / 2: dW2 = (G t^T + sum(G)) / 2
                out[lo:hi, :, :h_in] += out[lo:hi, :, h_in:]
                out[lo:hi, :, :h_in] *= 0.5
        if self.padded:
            out[:, :, :h_in] *= self.masks[li]

    def _backward_fused(self, xt: np.ndarray, a: np.ndarray, grad: np.ndarray,
                        aux: np.ndarray, gw: list[np.ndarray]) -> None:
        """Gradients of a one-hidden-layer network without forming dLoss/dz of the hidden
        layer: ``dW1[p, h, d] = sum_k W2[p, k, h] * (F @ (X * G))[p, h, (d, k)]``.

        ``a`` holds the hidden activations, ``aux`` relu's mask (other runs use their slice of
        it as scratch)."""
        self._output_gradient(1, grad, a, gw[1])
        h = self.widths[0]
        p, k, b = grad.shape
        small = k == 1 and xt.ndim == 2 and h <= SMALL_WIDTH
        qt = None
        if not small:
            # qt[p, (d, k), n] = x[n, d] * grad[p, k, n]: (P, W, B), W = (D + 1) K
            if k == 1:
                qt = xt * grad
            else:
                qt = (xt[..., :, None, :] * grad[:, None, :, :]).reshape(p, -1, b)
        width = xt.shape[-2] * k
        m = np.empty((p, h, width), self.dtype)
        total = None
        for name, lo, hi in self.runs[0]:  # members of one hidden activation at a time
            if self._halved and name == "sigmoid":  # sigmoid' = (1 - t**2) / 4
                c0, c1, s = _derivative_term("tanh", a[lo:hi], aux[lo:hi], aux[lo:hi])
                c0, c1 = 0.25 * c0, 0.25 * c1
            else:
                c0, c1, s = _derivative_term(name, a[lo:hi], aux[lo:hi], aux[lo:hi])
            part = m[lo:hi]
            if s is None:
                part[...] = 0
            elif small:
                # few units: (S * g) @ x^T as D + 1 products over all members' rows at once
                r = np.multiply(s, grad[lo:hi])  # (P, H, B)
                flat = r.reshape(-1, b)
                for col in range(width):
                    np.matmul(flat, xt[col], out=part[:, :, col].reshape(-1))
            else:
                # one matrix-vector product per column: BLAS is slow on (H, B) @ (B, 3)
                for col in range(width):
                    np.matmul(s, qt[lo:hi, col, :, None], out=part[:, :, col : col + 1])
            if s is not None and c1 != 1.0:
                part *= c1
            if c0 != 0.0:
                if total is None:  # (P, W): sum_n x[n, d] g[p, k, n]
                    total = grad[:, 0, :] @ xt.T if small else qt.sum(axis=2)
                part += total[lo:hi, None, :] * c0
        kernel2 = self.w[1][:, :, :h]  # (P, K, H)
        if k == 1:
            np.multiply(m, kernel2.transpose(0, 2, 1), out=gw[0])  # (P, H, D+1)
        else:
            gw[0][...] = np.einsum("phdk,pkh->phd", m.reshape(p, h, -1, k), kernel2)

    # ----------------------------------------------------------------------------- training
    def _batch(self, order: np.ndarray | None, lo: int, hi: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Inputs ``(D+1, B)`` / ``(P, D+1, B)``, targets ``(P|1, K, B)`` and the rows used."""
        if order is None:
            return self.xt_train[:, lo:hi], self.yt_train[None, :, lo:hi], None
        if order.ndim == 1:
            idx = order[lo:hi]
            return (np.ascontiguousarray(self.xt_train[:, idx]),
                    self.yt_train[None][:, :, idx], idx)
        idx = order[:, lo:hi]  # (P, B)
        xt = np.ascontiguousarray(self.xt_train[:, idx].transpose(1, 0, 2))
        yt = self.yt_train[:, idx].transpose(1, 0, 2)
        return xt, yt, idx

    def _orders(self) -> np.ndarray | None:
        """This epoch's row order: none, one shared ``(N,)`` or one per member ``(P, N)``."""
        if not self.shuffle or self.steps == 1:
            return None  # one full batch: the order changes only the summation order
        n = self.x_train.shape[0]
        orders = np.stack([rng.permutation(n) for rng in self.rngs])
        if (orders == orders[0]).all():
            return orders[0]
        return orders

    def train(self) -> None:
        """Train every member to its last checkpoint, emitting results on the way."""
        p0 = len(self.members)
        self.ids = np.arange(p0)  # original index of each live member
        self.epochs_done = np.zeros(p0, np.int64)
        self.fit_seconds = np.zeros(p0)
        self.diverged_at: dict[int, int] = {}
        self._newly_diverged = False  # a live member diverged this epoch
        self.final_weights: dict[int, list[np.ndarray]] = {}
        self.history: list[dict[int, dict[str, float]]] = [{} for _ in range(p0)]
        self.wanted: list[dict[int, set[int]]] = []
        self.logged: list[set[int]] = []
        for member in self.members:
            per_trial = {c.epochs: set(history_epochs(c.epochs, member.history_points).tolist())
                         for c in member.checkpoints}
            self.wanted.append(per_trial)
            self.logged.append(set().union(*per_trial.values()))
        self.population_seconds = 0.0
        self._total_work = float((self.n_params * [m.max_epochs for m in self.members]).sum())
        max_epochs = max(m.max_epochs for m in self.members)
        last_progress = time.perf_counter()
        segment = time.perf_counter()
        any_logged = set().union(*self.logged)
        any_due = {c.epochs for m in self.members for c in m.checkpoints}
        for epoch in range(max_epochs):
            logging = ([i for i, m in enumerate(self.ids) if epoch in self.logged[m]]
                       if epoch in any_logged else [])
            self._run_epoch(epoch, logging)
            count = epoch + 1
            if count in any_due or self._newly_diverged:
                self.epochs_done[self.ids] = count
                due = [i for i, m in enumerate(self.ids)
                       if count in self.wanted[m] or m in self.diverged_at]
                if due:
                    self._attribute(time.perf_counter() - segment)
                    self._checkpoint(count, due)
                    segment = time.perf_counter()
                if len(self.ids) == 0:
                    break
            now = time.perf_counter()
            if now - last_progress > 0.5:
                last_progress = now
                self.epochs_done[self.ids] = count
                self.emit("progress", self._fraction_done())
                if self.should_stop is not None and self.should_stop():
                    raise StopTraining

    def _fraction_done(self) -> float:
        done = np.minimum(self.epochs_done, [m.max_epochs for m in self.members])
        return float((self.n_params * done).sum() / self._total_work)

    def _attribute(self, seconds: float) -> None:
        """Share ``seconds`` of training among the live members by their parameter counts."""
        weights = self.n_params[self.ids]
        self.fit_seconds[self.ids] += seconds * weights / weights.sum()
        self.population_seconds += seconds

    def _run_epoch(self, epoch: int, logging: list[int]) -> None:
        order = self._orders()
        n = self.x_train.shape[0]
        loss_sum = np.zeros(len(self.ids)) if logging else None
        outputs: list[np.ndarray] = []
        rows: list[Any] = []
        for lo in range(0, n, self.batch):
            hi = min(lo + self.batch, n)
            xt_batch, yt_batch, idx = self._batch(order, lo, hi)
            rows_per_chunk = self._chunk_rows(hi - lo)
            for start in range(0, hi - lo, rows_per_chunk):
                stop = min(start + rows_per_chunk, hi - lo)
                whole = stop - start == hi - lo
                xt = xt_batch if whole else xt_batch[..., start:stop]
                yt = yt_batch if whole else yt_batch[..., start:stop]
                hidden, z = self._forward(xt)
                out = self.head.outputs(z)
                bad = None
                if not math.isfinite(z.sum()):  # one reduction; per member only when needed
                    bad = ~np.isfinite(z).all(axis=(1, 2))
                if self.head.kind == "mse" or logging:
                    values = self.head.loss(z, out, yt)
                    if not np.isfinite(values).all():
                        bad = ~np.isfinite(values) | (False if bad is None else bad)
                    if loss_sum is not None:
                        loss_sum += values * (stop - start)
                if bad is not None and bad.any():
                    self._diverge(np.flatnonzero(bad), epoch)
                grad = self.head.gradient(z, out, yt, rows=hi - lo)
                if logging:
                    outputs.append(out)
                    rows.append(slice(lo + start, lo + stop) if idx is None
                                else idx[..., start:stop])
                if start == 0:
                    self._backward(xt, hidden, grad, self.gw)
                else:  # later chunks: their gradients are added to the first's
                    self._backward(xt, hidden, grad, self._gw_chunk)
                    for total, part in zip(self.gw, self._gw_chunk, strict=True):
                        total += part
            for w, saved in zip(self.w, self.backup, strict=True):
                np.copyto(saved, w)
            self.optimizer.step(self._grad_views)
            if self.remask:
                self._apply_masks()
        if not all(math.isfinite(w.sum()) for w in self.w):
            finite = np.ones(len(self.ids), bool)
            for w in self.w:
                finite &= np.isfinite(w).all(axis=(1, 2))
            if not finite.all():
                self._diverge(np.flatnonzero(~finite), epoch)
        if logging:
            self._log_history(epoch, logging, loss_sum / n, outputs, rows)

    def _apply_masks(self) -> None:
        """Zero the padding entries again (needed only when 0/0 updates can occur)."""
        for li in range(1, len(self.w)):
            self.w[li][:, :, : self.widths[li - 1]] *= self.masks[li]
        for li in range(len(self.w)):
            for i, m in enumerate(self.ids):
                self.w[li][i, self.sizes[m][li]:, :] = 0

    def _diverge(self, where: np.ndarray, epoch: int) -> None:
        """Members ``where`` diverged: keep their last finite weights, as ``Sequential.fit``
        does (the weights from before the last update when the current ones are not finite);
        they are stopped at the end of the epoch."""
        for i in where:
            m = int(self.ids[i])
            if m in self.diverged_at:
                continue
            self.diverged_at[m] = epoch
            self._newly_diverged = True
            self.final_weights[m] = [
                (w[i] if np.isfinite(w[i]).all() else saved[i]).copy()
                for w, saved in zip(self.w, self.backup, strict=True)
            ]

    def _log_history(self, epoch: int, logging: list[int], losses_: np.ndarray,
                     outputs: list[np.ndarray], rows: list[Any]) -> None:
        """Record the epoch's mean loss and the metrics on its training outputs."""
        for i in logging:
            m = int(self.ids[i])
            if m in self.diverged_at:
                continue
            entry = {"loss": float(losses_[i])}
            if self.metric_fns:
                out = np.concatenate([o[i].T for o in outputs])  # (N, K)
                idx = [r if isinstance(r, slice) else (r if r.ndim == 1 else r[i]) for r in rows]
                y = np.concatenate([self.y_train[r] for r in idx])
                for name, fn in self.metric_fns:
                    entry[name] = float(fn(y, out)) if np.isfinite(out).all() else math.nan
            self.history[m][epoch] = entry

    # -------------------------------------------------------------------------- checkpoints
    def _evaluate(self, xt: np.ndarray, y: np.ndarray, yt: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Mean loss ``(P,)`` and outputs ``(P, K, N)`` of every live member on a data set."""
        n = xt.shape[-1]
        total = np.zeros(len(self.ids))
        outs = []
        step = min(EVAL_ROWS, self._chunk_rows(n))
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            _, z = self._forward(xt[:, lo:hi])
            out = self.head.outputs(z)
            total += self.head.loss(z, out, yt[None, :, lo:hi]) * (hi - lo)
            outs.append(out)
        return total / n, np.concatenate(outs, axis=2)

    def _checkpoint(self, count: int, due: list[int]) -> None:
        """Evaluate and emit the trials due at ``count`` epochs; retire finished members."""
        for i in due:
            final = self.final_weights.get(int(self.ids[i]))
            if final is not None:
                for w, saved in zip(self.w, final, strict=True):
                    w[i] = saved
        results = {}
        for split, xt, y, yt in (("train", self.xt_train, self.y_train, self.yt_train),
                                 ("dev", self.xt_dev, self.y_dev, self.yt_dev)):
            loss_values, outs = self._evaluate(xt, y, yt)
            for i in due:
                entry = results.setdefault(i, {})
                entry[metric_column(split, "loss")] = float(loss_values[i])
                out = outs[i].T
                for name, fn in self.metric_fns:
                    value = float(fn(y, out)) if np.isfinite(out).all() else math.nan
                    entry[metric_column(split, name)] = value
        retire = []
        for i in due:
            m = int(self.ids[i])
            member = self.members[m]
            diverged = m in self.diverged_at
            weights = self.member_weights(i)
            for checkpoint in member.checkpoints:
                if checkpoint.epochs != count and not (diverged and checkpoint.epochs > count):
                    continue
                epochs_run = min(checkpoint.epochs, self.diverged_at.get(m, checkpoint.epochs))
                keep = self.wanted[m][checkpoint.epochs]
                history = {e: dict(v) for e, v in self.history[m].items()
                           if e in keep and e < epochs_run}
                if diverged and epochs_run in keep:
                    history[epochs_run] = {"loss": math.nan,
                                           **{name: math.nan for name, _ in self.metric_fns}}
                self.emit("result", TrialResult(
                    trial_key=checkpoint.trial_key,
                    metrics=dict(results[i]),
                    history=history,
                    fit_seconds=float(self.fit_seconds[m]),
                    timings={
                        "engine": "population",
                        "population_seconds": self.population_seconds,
                        "population_size": len(self.members),
                        "padded_units": list(self.widths[:-1]),
                    },
                    weights=weights,
                    epochs_run=int(epochs_run),
                    diverged=diverged,
                    engine="population",
                ))
            if diverged or count >= member.max_epochs:
                retire.append(i)
        self._newly_diverged = False  # every diverged member is retired below
        if retire:
            keep = np.array([i for i in range(len(self.ids)) if i not in set(retire)], np.int64)
            self._compact(keep)

    def _compact(self, keep: np.ndarray) -> None:
        """Drop retired members from every per-member array (they no longer cost anything)."""
        self.ids = self.ids[keep]
        self.w = [w[keep] for w in self.w]
        self.gw = [np.zeros_like(w) for w in self.w]
        self._gw_chunk = [np.zeros_like(w) for w in self.w]
        self._grad_views = self._optimizer_arrays(self.gw)
        self.backup = [np.empty_like(w) for w in self.w]
        self.masks = [None if m is None else m[keep] for m in self.masks]
        self.rngs = [self.rngs[i] for i in keep]
        self.runs = self._activation_runs(self.ids)
        self._set_halved()
        self.optimizer.compact(keep, self._optimizer_arrays(self.w))
        self._buffers = {}
        if len(self.ids):
            live = [self.sizes[m] for m in self.ids]
            self.padded = any(s != self.widths for s in live)
            self.remask = self.padded and not self.optimizer.zero_gradient_safe
