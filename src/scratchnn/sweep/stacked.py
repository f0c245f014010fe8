"""One optimizer for a population: the update rules of ``optimizers.updates`` on stacked arrays.

Every parameter of a population has a leading member axis ``P``: a kernel is ``(P, D, H)``, a bias
``(P, H)``. Each member has its own optimizer configuration; a hyper-parameter that differs between
members (the learning rate, most often) is handed to the update function as an array of shape
``(P, 1, ...)`` that broadcasts along axis 0, one that is equal for all as the plain Python number
``Sequential``'s optimizer would pass. The update functions are the ones the ``Optimizer`` classes
call (:mod:`scratchnn.optimizers.updates`), so each member follows the same formula as alone.

Some hyper-parameters must be equal across a population because the update functions branch on
them or take them through ``math``: :func:`fixed_hyper_parameters` names them, and the planner
puts members that differ there into different populations.

Clipping (``clipvalue``, ``clipnorm``, ``global_clipnorm``) is applied per member, with the
formulas of ``updates.clip_by_value`` / ``clip_by_norm`` / ``clip_by_global_norm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnn import optimizers
from scratchnn.optimizers import updates

# Hyper-parameters the update functions branch on (``if momentum == 0``) or pass to ``math``
# functions (Adam's ``math.sqrt(1 - beta_2**t)``): they must be one number per population.
_FIXED: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "nesterov"),
    "rmsprop": ("momentum", "centered"),
    "adagrad": (),
    "adam": ("beta_2", "amsgrad"),
    "adamw": ("beta_2", "amsgrad"),
    "adamax": (),
    "nadam": (),
}
_CLIPS = ("clipvalue", "clipnorm", "global_clipnorm")


def fixed_hyper_parameters(config: dict[str, Any]) -> tuple[Any, ...]:
    """What must be equal for two optimizer configs to share a population.

    The class, the hyper-parameters the update function branches on, which clipping is used and
    whether weight decay is on. ``config`` is a full ``Optimizer.get_config()``.
    """
    name = config["name"]
    return (
        name,
        tuple((key, config.get(key)) for key in _FIXED[name]),
        tuple(config.get(key) is not None for key in _CLIPS),
        config.get("weight_decay") is not None,
    )


def _per_member(values: Sequence[Any], dtype: Any) -> Any:
    """One Python number when all members agree, else a ``(P,)`` array of ``dtype``."""
    first = values[0]
    if all(v == first for v in values[1:]):
        return first
    return np.asarray(values, dtype=dtype)


def _shaped(value: Any, ndim: int) -> Any:
    """A ``(P,)`` hyper-parameter array reshaped to broadcast against a ``ndim``-D parameter."""
    if isinstance(value, np.ndarray):
        return value.reshape((-1,) + (1,) * (ndim - 1))
    return value


class StackedOptimizer:
    """The optimizer of a population: per-member hyper-parameters, shared update functions.

    Args:
        configs: one optimizer config per member (``Optimizer.get_config()`` dicts); all must
            have the same :func:`fixed_hyper_parameters`.
        params: the stacked parameters (arrays or writable views), updated in place, in
            ``Sequential.get_weights`` order.
        dtype: the parameters' dtype (per-member hyper-parameter arrays use it).

    Raises:
        ValueError: when the configs cannot share a population.
    """

    def __init__(self, configs: Sequence[dict[str, Any]], params: Sequence[np.ndarray],
                 dtype: Any) -> None:
        self.members = [optimizers.from_config(dict(c)) for c in configs]
        full = [m.get_config() for m in self.members]
        keys = {fixed_hyper_parameters(c) for c in full}
        if len(keys) != 1:
            raise ValueError(
                f"these optimizer configs cannot share a population: {sorted(map(str, keys))}"
            )
        self.name = full[0]["name"]
        self.dtype = np.dtype(dtype)
        self.params = list(params)
        self.iterations = 0
        self._schedules = any(callable(m.learning_rate) for m in self.members)
        self._hyper = {
            key: _per_member([c.get(key) for c in full], self.dtype)
            for key in full[0]
            if key not in ("name", "learning_rate")
        }
        self._lr_const = None if self._schedules else _per_member(
            [m.learning_rate for m in self.members], self.dtype
        )
        self._slots = [self._init_slot(p) for p in self.params]
        self._clipping = any(self._hyper.get(k) is not None for k in _CLIPS)
        self._reshape_hyper()

    def _reshape_hyper(self) -> None:
        """Per parameter, the hyper-parameters shaped to broadcast against it."""
        self._shaped_hyper = [
            {key: _shaped(value, p.ndim) for key, value in self._hyper.items()}
            for p in self.params
        ]
        self._shaped_lr = [_shaped(self._lr_const, p.ndim) for p in self.params]

    # ------------------------------------------------------------------------------ state
    def _init_slot(self, param: np.ndarray) -> dict[str, Any]:
        """Zero state arrays shaped like ``param``, as the member optimizers would create."""
        names = self.members[0]._slot_names()
        slot: dict[str, Any] = {name: np.zeros(param.shape, self.dtype) for name in names}
        slot.update(type(self.members[0])._scalar_slots)
        if self.name == "adagrad":
            init = _shaped(self._hyper["initial_accumulator_value"], param.ndim)
            slot["accumulator"] += init
        return slot

    def compact(self, keep: np.ndarray, params: Sequence[np.ndarray]) -> None:
        """Keep only the members ``keep`` (indices), with ``params`` the compacted parameters."""
        self.members = [self.members[i] for i in keep]
        for key, value in self._hyper.items():
            if isinstance(value, np.ndarray):
                self._hyper[key] = value[keep]
        if isinstance(self._lr_const, np.ndarray):
            self._lr_const = self._lr_const[keep]
        for slot in self._slots:
            for name, value in slot.items():
                if isinstance(value, np.ndarray):
                    slot[name] = value[keep]
        self.params = list(params)
        self._reshape_hyper()

    # --------------------------------------------------------------------------- stepping
    def learning_rate(self) -> Any:
        """The learning rate of the next step: a number or a ``(P,)`` array."""
        if not self._schedules:
            return self._lr_const
        values = []
        for member in self.members:
            member.iterations = self.iterations
            values.append(member.current_learning_rate)
        return _per_member(values, self.dtype)

    def _clip(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """Per-member clipping with the formulas of ``updates.clip_by_*``."""
        hyper = self._hyper
        if not self._clipping:
            return grads
        if hyper.get("clipvalue") is not None:
            return [np.clip(g, -_shaped(hyper["clipvalue"], g.ndim),
                            _shaped(hyper["clipvalue"], g.ndim)) for g in grads]
        if hyper.get("clipnorm") is not None:
            out = []
            for g in grads:
                norm = np.sqrt((g.astype(np.float64) ** 2).reshape(len(g), -1).sum(axis=1))
                out.append(self._rescale(g, norm, hyper["clipnorm"]))
            return out
        if hyper.get("global_clipnorm") is not None:
            total = np.sqrt(sum(
                (g.astype(np.float64) ** 2).reshape(len(g), -1).sum(axis=1) for g in grads
            ))
            return [self._rescale(g, total, hyper["global_clipnorm"]) for g in grads]
        return grads

    @staticmethod
    def _rescale(grad: np.ndarray, norm: np.ndarray, limit: Any) -> np.ndarray:
        """``grad * limit / norm`` for the members whose norm exceeds ``limit``."""
        scale = np.where(norm > limit, np.asarray(limit) / np.maximum(norm, 1e-300), 1.0)
        if np.all(scale == 1.0):
            return grad
        return grad * _shaped(scale.astype(grad.dtype), grad.ndim)

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """One update of every parameter from its gradient (same order as ``params``)."""
        if self._schedules:
            lr = self.learning_rate()
            rates = [_shaped(lr, p.ndim) for p in self.params]
        else:
            rates = self._shaped_lr
        grads = self._clip(list(grads))
        for param, grad, slot, h, lr_p in zip(
            self.params, grads, self._slots, self._shaped_hyper, rates, strict=True
        ):
            if h.get("weight_decay") is not None:
                updates.apply_weight_decay(param, lr=lr_p, weight_decay=h["weight_decay"])
            self._update(param, grad, slot, lr_p, h)
        self.iterations += 1

    def _update(self, p: np.ndarray, g: np.ndarray, slot: dict[str, Any], lr: Any,
                h: dict[str, Any]) -> None:
        """Call the pure update function of this optimizer on one stacked parameter."""
        name = self.name
        if name == "sgd":
            updates.sgd_update(p, g, slot.get("velocity"), lr=lr, momentum=h["momentum"],
                               nesterov=h["nesterov"])
        elif name == "rmsprop":
            updates.rmsprop_update(p, g, slot["square_avg"], lr=lr, rho=h["rho"],
                                   epsilon=h["epsilon"], momentum=h["momentum"],
                                   grad_avg=slot.get("grad_avg"),
                                   momentum_buffer=slot.get("momentum"))
        elif name == "adagrad":
            updates.adagrad_update(p, g, slot["accumulator"], lr=lr, epsilon=h["epsilon"])
        elif name in ("adam", "adamw"):
            slot["step"] += 1
            updates.adam_update(p, g, slot["m"], slot["v"], lr=lr, beta_1=h["beta_1"],
                                beta_2=h["beta_2"], epsilon=h["epsilon"], step=slot["step"],
                                v_max=slot.get("v_max"))
        elif name == "adamax":
            slot["step"] += 1
            updates.adamax_update(p, g, slot["m"], slot["u"], lr=lr, beta_1=h["beta_1"],
                                  beta_2=h["beta_2"], epsilon=h["epsilon"], step=slot["step"])
        elif name == "nadam":
            slot["step"] += 1
            mu = slot["mu_product"]
            slot["mu_product"] = updates.nadam_update(
                p, g, slot["m"], slot["v"], lr=lr, beta_1=h["beta_1"], beta_2=h["beta_2"],
                epsilon=h["epsilon"], step=slot["step"],
                mu_product=mu,
                momentum_decay=h["momentum_decay"],
            )
        else:  # pragma: no cover - fixed_hyper_parameters rejects unknown names first
            raise ValueError(f"unknown optimizer {name!r}")

    @property
    def zero_gradient_safe(self) -> bool:
        """Whether a zero gradient always gives a zero update (false when an adaptive
        optimizer's epsilon is 0: 0 / 0 is NaN), so padded entries stay exactly 0."""
        eps = self._hyper.get("epsilon")
        if eps is None:
            return True
        return bool(np.all(np.asarray(eps) > 0))
