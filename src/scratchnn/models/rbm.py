"""Restricted Boltzmann machines and deep belief nets, trained by contrastive divergence.

An RBM has a visible layer ``v`` (the data) and a hidden layer ``h``, connected by a weight
matrix ``W`` and nothing else (no connection within a layer). Its energy and free energy are

    E(v, h) = -v·b - h·c - v W h          F(v) = -v·b - Σ_j softplus(c_j + (v W)_j)

(Gaussian visible units of unit variance replace ``-v·b`` by ``½‖v - b‖²``). Both conditionals
factorise: ``p(h_j = 1 | v) = σ(c_j + (v W)_j)`` (the forward pass, which encodes) and
``p(v_i = 1 | h) = σ(b_i + (W h)_i)`` (the backward pass, which reconstructs).

Training follows the gradient of the log-likelihood, estimated by contrastive divergence: the
positive statistics come from the data, the negative ones from a Gibbs chain. :class:`RBM` runs
it in its own :meth:`RBM.train_step`, through the one loop (``fit``), with the compiled optimizer
(SGD with momentum by default). :class:`DBN` stacks RBMs, trains them greedily one on the hidden
probabilities of the one below, and turns the stack into a :class:`~scratchnn.Sequential` for
fine-tuning with labels.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = (rng.random((200, 6)) < 0.3).astype("float32")
    >>> rbm = RBM(4, learning_rate=0.1, seed=0)
    >>> history = rbm.fit(x, batch_size=20, epochs=3, verbose=0)
    >>> rbm.transform(x).shape, sorted(history.history)
    ((200, 4), ['reconstruction_error'])

Shape legend: B rows in a batch, C rows of the negative chain, V visible units, H hidden units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from scratchnn import backend, initializers, ops, optimizers
from scratchnn import callbacks as callbacks_module
from scratchnn.io_checks import (
    CORRUPT,
    ModelPlan,
    made_from_config,
    plan_layers,
)
from scratchnn.layers import Layer
from scratchnn.models.config import register
from scratchnn.models.fitting import check_int
from scratchnn.models.model import Model
from scratchnn.optimizers._validation import check_bool
from scratchnn.tensor import Tensor

if TYPE_CHECKING:
    pass

VISIBLE_UNITS = ("bernoulli", "gaussian")
"""The kinds of visible units an RBM may have."""


def _check_rate(value: Any, label: str, low: float, high: float, high_open: bool = True) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating))
    if ok:
        ok = low <= value < high if high_open else low <= value <= high
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{label} must be a number in [{low}, {high}{bracket}; received "
                         f"{label}={value!r}.")
    return float(value)


def checked_size(value: Any, label: str, what: str, where: str) -> int:
    """A size read from a model file: an integer >= 1, or a ValueError naming the file."""
    try:
        return check_int(value, label, 1)
    except ValueError as exc:
        raise ValueError(f"{where}: {what} cannot be made from its config: {exc} {CORRUPT}"
                         ) from None


def plan_rbm(config: dict[str, Any], index: int, what: str, where: str) -> ModelPlan:
    """The weights of the RBM ``config`` describes (see :meth:`RBM.plan_config`)."""
    rbm = made_from_config(RBM, {**config, "n_visible": None}, what, where)
    n_visible = config.get("n_visible")
    if n_visible is None:
        return ModelPlan(None)
    shape = (checked_size(n_visible, "n_visible", what, where),)
    return ModelPlan(shape, weights=plan_layers([(index, rbm.rbm)], shape, rbm.dtype, where))


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-a)`` in place. Where ``e^-a`` overflows the result is 0, exactly; the
    callers run under ``np.errstate(over="ignore")`` (the loop's, or their own)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


def _mean_square(d: np.ndarray) -> float:
    """Mean of the squared entries of ``d`` (one BLAS dot product)."""
    flat = d.reshape(-1)
    return float(flat @ flat) / max(flat.size, 1)


class RBMLayer(Layer):
    """The weights of an RBM: ``kernel`` (V, H), ``hidden_bias`` (H,), ``visible_bias`` (V,).

    Called on a batch it returns the hidden probabilities ``σ(v @ kernel + hidden_bias)``, as a
    Dense layer with a sigmoid would: a DBN's fine-tuned network starts from exactly these.

    Args:
        units: number of hidden units H.
    """

    def __init__(self, units: int, trainable: bool = True, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.units = check_int(units, "units", 1)

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``kernel`` (V, H), ``hidden_bias`` (H,), ``visible_bias`` (V,)."""
        v = int(input_shape[-1])
        return {"kernel": (v, self.units), "hidden_bias": (self.units,), "visible_bias": (v,)}

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
              dtype: Any = None) -> None:
        """Draw the kernel from N(0, 0.01²) (Hinton's guide, scikit-learn); biases at zero."""
        if len(tuple(input_shape)) != 1:
            raise ValueError(
                f"An RBM takes rows of V features (inputs of shape (N, V)); received samples of "
                f"shape {tuple(input_shape)}. Flatten images first: x.reshape(len(x), -1)."
            )
        super().build(input_shape, rng, dtype)
        shapes = self.weight_shapes(input_shape)
        self.add_weight("kernel", shapes["kernel"], initializers.random_normal(0.0, 0.01), rng)
        self.add_weight("hidden_bias", shapes["hidden_bias"], "zeros", rng)
        self.add_weight("visible_bias", shapes["visible_bias"], "zeros", rng)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Hidden probabilities ``σ(x @ kernel + hidden_bias)``: (B, V) -> (B, H)."""
        return ops.linear(x, self.weights["kernel"], self.weights["hidden_bias"], "sigmoid")

    def compute_output_shape(self, input_shape: Any) -> tuple[int, ...]:
        """``(H,)``."""
        return (self.units,)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {**super().get_config(), "units": self.units}


@register
class RBM(Model):
    """A restricted Boltzmann machine trained by contrastive divergence (CD-k) or persistent CD.

    Each training step (:meth:`train_step`, run by ``fit`` on batches of rows) computes

    * positive statistics from the data ``v₀``: ``p₀ = p(h | v₀)``;
    * a Gibbs chain of ``k`` steps, ``h ~ p(h | v)``, ``v ~ p(v | h)``, ``p = p(h | v)``,
      started from a sample of ``p₀`` (CD-k) or from where the previous step's chain ended
      (persistent CD: ``persistent=True``, scikit-learn's ``BernoulliRBM``), giving ``v_k``,
      ``p_k``;
    * the gradient of the negative log-likelihood, ``∂W = v_kᵀ p_k / C - v₀ᵀ p₀ / B +
      weight_decay · W``, ``∂c = mean(p_k) - mean(p₀)``, ``∂b = mean(v_k) - mean(v₀)``,

    and hands it to the compiled optimizer: with the default ``SGD(learning_rate, momentum)``,
    ``W ← W + lr · (v₀ᵀp₀/B - v_kᵀp_k/C)`` when there is no momentum or decay, as in
    scikit-learn. Random draws come from the model's generator (``seed=``; ``fit(seed=...)``
    for one call), in this order per Gibbs step: ``rng.random(p.shape)`` for the hidden sample
    (``h = u < p``), then ``rng.random(v.shape)`` for a Bernoulli visible sample or
    ``rng.standard_normal(v.shape)`` for a Gaussian one (``v = mean + z``).

    The step logs ``reconstruction_error``: the mean over rows and features of
    ``(v₀ - reconstruct(v₀))²``, computed before the update.

    Args:
        n_hidden: hidden units H.
        n_visible: visible units V; when ``None`` the RBM is built on the first ``fit``.
        visible: ``"bernoulli"`` (data in [0, 1]) or ``"gaussian"`` (real data, best scaled to
            zero mean and unit variance; unit-variance Gaussian visible units).
        k: Gibbs steps per update (CD-k).
        persistent: keep the negative chain from one update to the next (PCD). The chain has
            as many rows as the first batch it served.
        learning_rate: SGD step (the RBM compiles itself with ``SGD(learning_rate, momentum)``;
            ``compile(optimizer=...)`` chooses another).
        momentum: SGD momentum in [0, 1).
        weight_decay: L2 penalty on the kernel (not the biases), added to its gradient.
        name, dtype, seed: as for :class:`~scratchnn.models.Model`.

    Example:
        >>> import numpy as np
        >>> x = (np.random.default_rng(1).random((50, 8)) < 0.5).astype("float32")
        >>> rbm = RBM(3, n_visible=8, k=2, persistent=True, seed=0)
        >>> rbm.gibbs(x[:2], steps=5).shape, rbm.free_energy(x).shape
        ((2, 8), (50,))
    """

    def __init__(
        self,
        n_hidden: int,
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
        if visible not in VISIBLE_UNITS:
            raise ValueError(
                f"visible must be one of {VISIBLE_UNITS}; received visible={visible!r}."
            )
        self.n_hidden = check_int(n_hidden, "n_hidden", 1)
        self.visible = visible
        self.k = check_int(k, "k", 1)
        self.persistent = check_bool("persistent", persistent)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or (
            not learning_rate > 0
        ):
            raise ValueError(
                f"learning_rate must be a number > 0; received learning_rate={learning_rate!r}."
            )
        self.learning_rate = float(learning_rate)
        self.momentum = _check_rate(momentum, "momentum", 0.0, 1.0)
        self.weight_decay = _check_rate(weight_decay, "weight_decay", 0.0, float("inf"))
        self._sampling = self._rng
        self._chain: list[np.ndarray] = []  # [(C, H) hidden samples of the persistent chain]
        self.rbm = RBMLayer(self.n_hidden, name="rbm", dtype=self.dtype)
        self.compile(optimizer=optimizers.SGD(self.learning_rate, momentum=self.momentum))
        if n_visible is not None:
            self.build((check_int(n_visible, "n_visible", 1),))

    # ------------------------------------------------------------------------------ structure
    def call(self, x: Any, training: bool = False) -> Tensor:
        """Hidden probabilities ``p(h = 1 | x)``, (B, V) -> (B, H) (what ``predict`` returns)."""
        return self.rbm(x, training=training)

    @property
    def n_visible(self) -> int | None:
        """Visible units V (``None`` before the RBM is built)."""
        return None if not self.built else int(self.rbm.weights["kernel"].shape[0])

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """``[(V,)]`` once built."""
        return [None if self.n_visible is None else (self.n_visible,)]

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = self.rbm.weights
        return w["kernel"].data, w["hidden_bias"].data, w["visible_bias"].data

    def _rows(self, v: Any, label: str = "v") -> np.ndarray:
        """``v`` as a float (N, V) array of the model's dtype, checked against V."""
        arr = self._prepare_inputs(v, label)[0]
        return np.asarray(backend.to_numpy(arr))

    # ----------------------------------------------------------------- conditionals, sampling
    def _hidden(self, v: np.ndarray) -> np.ndarray:
        weights = self.rbm.weights
        a = v @ weights["kernel"].data  # (B, V) @ (V, H) -> (B, H)
        a += weights["hidden_bias"].data
        return _sigmoid(a)

    def _visible_mean(self, h: np.ndarray) -> np.ndarray:
        weights = self.rbm.weights
        a = h @ weights["kernel"].data.T  # (B, H) @ (H, V) -> (B, V)
        a += weights["visible_bias"].data
        return a if self.visible == "gaussian" else _sigmoid(a)

    def _sample_hidden(self, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(p.shape, dtype=p.dtype)
        return np.less(u, p, out=u)  # 1.0 where u < p

    def _sample_visible(self, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._draw_visible(self._visible_mean(h), rng)

    def _draw_visible(self, mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.visible == "gaussian":
            return mean + rng.standard_normal(mean.shape, dtype=mean.dtype)
        u = rng.random(mean.shape, dtype=mean.dtype)
        return np.less(u, mean, out=u)

    # ------------------------------------------------------------------------------- training
    def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """One contrastive-divergence update on a batch of rows (see the class docstring).

        Returns:
            ``{"reconstruction_error": ...}`` of the batch before the update.
        """
        v0 = batch[0]  # (B, V)
        rng = self._sampling
        w, _, _ = self._arrays()
        p0 = self._hidden(v0)  # (B, H)
        h = self._chain[0] if self.persistent and self._chain else None
        if h is None:
            h = np.zeros_like(p0) if self.persistent else self._sample_hidden(p0, rng)
        # The reconstruction of the data and the chain's first visible means in one product
        n = len(v0)
        means = self._visible_mean(np.concatenate([p0, h]))  # (B + C, H) -> (B + C, V)
        error = _mean_square(v0 - means[:n])
        mean = means[n:]
        for step in range(self.k):
            if step:
                mean = self._visible_mean(h)
            v = self._draw_visible(mean, rng)  # (C, V)
            p = self._hidden(v)  # (C, H)
            if self.persistent or step < self.k - 1:
                h = self._sample_hidden(p, rng)
        if self.persistent:
            self._chain[:] = [h]
        inv_n, c = 1.0 / n, 1.0 / len(v)
        grad_w = v.T @ p  # (V, C) @ (C, H) -> (V, H)
        grad_w *= c
        grad_w -= (v0.T @ p0) * inv_n
        if self.weight_decay:
            grad_w += self.weight_decay * w
        # column means as products with a row of 1/rows: one call each
        neg, pos = np.full(len(v), c, dtype=v.dtype), np.full(len(v0), inv_n, dtype=v0.dtype)
        grads = (neg @ p - pos @ p0, neg @ v - pos @ v0)
        params = self.rbm.params  # kernel, hidden_bias, visible_bias
        params[0].grad = grad_w
        for param, grad in zip(params[1:], grads, strict=True):
            param.grad = grad
        assert self.optimizer is not None  # fit compiles it
        self.optimizer.step(params)
        for param in params:
            param.grad = None
        return {"reconstruction_error": error}

    def test_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """The reconstruction error of a batch (what ``evaluate`` reports)."""
        v0 = batch[0]
        return {"reconstruction_error": _mean_square(v0 - self._visible_mean(self._hidden(v0)))}

    def reset_chain(self) -> None:
        """Forget the persistent chain (the next update starts a new one from zeros)."""
        self._chain.clear()

    # ----------------------------------------------------------------------------- inference
    def transform(self, v: Any) -> np.ndarray:
        """Hidden probabilities ``p(h = 1 | v)``: (N, V) -> (N, H) (the learned features)."""
        return self.predict(v)

    def reconstruct(self, v: Any) -> np.ndarray:
        """The mean-field reconstruction ``E[v | h = p(h | v)]``: encode, then decode.

        (N, V) -> (N, V); probabilities for Bernoulli units, means for Gaussian ones.
        """
        return self._visible_mean(self._hidden(self._rows(v)))

    def gibbs(self, v: Any, steps: int = 1) -> np.ndarray:
        """Run ``steps`` Gibbs steps from ``v`` (``h ~ p(h|v)``, then ``v ~ p(v|h)``).

        Draws from the model's generator. Returns the visible samples (N, V) after the last
        step (0/1 for Bernoulli units).
        """
        steps = check_int(steps, "steps", 1)
        v = self._rows(v)
        for _ in range(steps):
            v = self._sample_visible(self._sample_hidden(self._hidden(v), self._rng), self._rng)
        return v

    def free_energy(self, v: Any) -> np.ndarray:
        """``F(v) = -v·b - Σ_j softplus(c_j + (v W)_j)`` per row ((N,); ``½‖v - b‖²`` replaces
        ``-v·b`` for Gaussian units), so that ``p(v) ∝ exp(-F(v))``."""
        v = self._rows(v)
        w, c, b = self._arrays()
        hidden_term = np.logaddexp(0, v @ w + c).sum(axis=1)
        if self.visible == "gaussian":
            return 0.5 * np.square(v - b).sum(axis=1) - hidden_term
        return -(v @ b) - hidden_term

    def score_samples(self, v: Any, index: Any = None) -> np.ndarray:
        """Pseudo-likelihood of each row, as scikit-learn's ``BernoulliRBM`` defines it.

        One feature of each row is flipped (``index[i]``; drawn uniformly from the model's
        generator when ``None``), and ``V · log σ(F(ṽ) - F(v))`` is returned, a stochastic
        estimate of ``Σ_i log p(v_i | v_rest)``. (N,) values; their mean is what scikit-learn
        prints per iteration.

        Raises:
            ValueError: for Gaussian visible units (flipping a real value means nothing), or an
                ``index`` of the wrong shape or range.
        """
        if self.visible != "bernoulli":
            raise ValueError("score_samples (pseudo-likelihood) needs Bernoulli visible units; "
                             "this RBM has Gaussian ones. Compare free_energy instead.")
        v = self._rows(v)
        n, features = v.shape
        if index is None:
            index = self._rng.integers(0, features, n)
        index = np.asarray(index)
        if index.shape != (n,) or not np.issubdtype(index.dtype, np.integer) or (
            n and (index.min() < 0 or index.max() >= features)
        ):
            raise ValueError(
                f"index must hold one feature index in [0, {features}) per row, shape ({n},); "
                f"received an array of shape {index.shape} and dtype {index.dtype}."
            )
        flipped = v.copy()
        rows = np.arange(n)
        flipped[rows, index] = 1 - flipped[rows, index]
        gap = self.free_energy(flipped) - self.free_energy(v)
        return -features * np.logaddexp(0, -gap)

    # ----------------------------------------------------------------------------- config
    @classmethod
    def plan_config(cls, config: dict[str, Any], where: str, depth: int = 0) -> ModelPlan:
        """``kernel`` (V, H), ``hidden_bias`` (H,), ``visible_bias`` (V,) of ``config``'s RBM.

        Every field is checked by making the RBM unbuilt (which allocates nothing); V and H
        are then read, not allocated. See :meth:`Model.plan_config`.

        Raises:
            ValueError: naming ``where`` and the field that cannot be.
        """
        return plan_rbm(config, 0, "the RBM", where)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (``n_visible`` once built)."""
        return {
            **super().get_config(),
            "n_hidden": self.n_hidden,
            "n_visible": self.n_visible,
            "visible": self.visible,
            "k": self.k,
            "persistent": self.persistent,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
        }


class PseudoLikelihood(callbacks_module.Callback):
    """Log the mean pseudo-likelihood of ``x`` after every epoch of an RBM's ``fit``.

    Adds ``logs["pseudo_likelihood"]`` (what scikit-learn's ``BernoulliRBM`` prints per
    iteration with ``verbose=True``), so it lands in the History. The flipped features are drawn
    from a generator of the callback's own, so scoring never changes how the RBM trains.

    Args:
        x: rows to score (usually the training rows).
        seed: seed of the callback's generator.

    Example:
        >>> import numpy as np
        >>> x = (np.random.default_rng(0).random((40, 5)) < 0.5).astype("float32")
        >>> rbm = RBM(3, seed=0)
        >>> h = rbm.fit(x, batch_size=10, epochs=2, verbose=0, callbacks=[PseudoLikelihood(x)])
        >>> len(h.history["pseudo_likelihood"])
        2
    """

    def __init__(self, x: Any, seed: int = 0) -> None:
        super().__init__()
        self.x = x
        self.rng = np.random.default_rng(seed)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Score ``x`` with the RBM being trained."""
        if logs is not None:
            n, features = np.shape(self.x)
            index = self.rng.integers(0, features, n)
            rbm = cast(RBM, self.model)  # an RBM is what this callback is given to
            logs["pseudo_likelihood"] = float(np.mean(rbm.score_samples(self.x, index)))
