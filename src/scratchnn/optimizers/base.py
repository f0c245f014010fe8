"""The optimizer base class: learning rate, clipping, weight decay and per-parameter state.

The arithmetic of each optimizer is a pure function in :mod:`scratchnn.optimizers.updates`; a
subclass of :class:`Optimizer` only names the state ("slots") each parameter needs and calls its
update function. :meth:`Optimizer.step` does the rest, identically for every optimizer:

1. the learning rate of this step: the float ``learning_rate``, or ``learning_rate(iterations)``
   when it is a schedule (``iterations`` is 0 on the first step);
2. gradient clipping into new arrays (``param.grad`` is never modified): ``clipvalue`` clips each
   element, ``clipnorm`` rescales each gradient to an L2 norm of at most ``clipnorm`` (per
   variable, as Keras), ``global_clipnorm`` rescales all gradients together;
3. decoupled weight decay, ``p <- p * (1 - lr * weight_decay)`` before the update, as Keras 3 and
   ``torch.optim.AdamW`` do (not an L2 term added to the gradient);
4. the update, in place on ``param.data``.

State is keyed by the parameter's position in the list given to :meth:`~Optimizer.step`. The first
step records the number of parameters and their shapes, which later steps must repeat; a
parameter's state arrays are created when it is first updated (frozen parameters never get any).
Counters such as Adam's bias-correction step are kept per parameter (as in ``torch.optim``), so a
parameter that starts receiving gradients late still gets a correct bias correction.

Populations: :func:`stack` makes one optimizer for P networks trained as one, whose parameters
carry a leading member axis. Each numeric hyper-parameter (the learning rate most often) may differ
between members: it becomes a ``(P,)`` array that is reshaped to broadcast along axis 0 of every
parameter, and the same update functions run on it, so each member follows exactly its own
optimizer's formula. Clipping norms are then taken per member. Hyper-parameters that are not
numbers (``nesterov``, ``amsgrad``, which clipping is used) must be equal:
:meth:`Optimizer.structure` names what must match.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy

from scratchnn import backend
from scratchnn.optimizers import schedules, updates
from scratchnn.optimizers._validation import check_non_negative, check_optional_positive
from scratchnn.tensor import Tensor

LearningRate = float | schedules.LearningRateSchedule | Callable[[int], float]


def check_learning_rate(value: Any) -> float | Callable[[int], float]:
    """Return a valid learning rate: a finite number > 0 (as a float) or a callable schedule."""
    if callable(value):
        return value
    message = (
        "learning_rate must be a positive number or a schedule; received "
        f"learning_rate={value!r}. Pass e.g. learning_rate=0.001, or a schedule from "
        "scratchnn.optimizers.schedules."
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(message)
    rate = float(value)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(message)
    return rate


class Optimizer:
    """Base class of optimizers; subclasses define the update of one parameter.

    Args:
        learning_rate: a float > 0 or a schedule (a callable ``step -> lr``, e.g. from
            :mod:`scratchnn.optimizers.schedules`). Settable later (``opt.learning_rate = 0.01``).
        clipnorm: if set, each gradient is rescaled to an L2 norm of at most this value.
        clipvalue: if set, each gradient element is clipped to ``[-clipvalue, clipvalue]``.
        global_clipnorm: if set, all gradients are rescaled together so that their joint L2 norm
            is at most this value (``torch.nn.utils.clip_grad_norm_``).
        weight_decay: if set, decoupled weight decay: ``p <- p * (1 - lr * weight_decay)`` before
            each update.

    At most one of ``clipnorm``, ``clipvalue`` and ``global_clipnorm`` may be set.

    Attributes:
        iterations: number of steps taken.

    Subclasses set ``name``, ``_scalar_slots`` (per-parameter counters with their initial values)
    and implement ``_slot_names``, ``_update`` and ``_hyper_config``.
    """

    name: ClassVar[str] = "optimizer"
    _scalar_slots: ClassVar[dict[str, int | float]] = {}

    def __init__(
        self,
        learning_rate: LearningRate,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.clipnorm = check_optional_positive("clipnorm", clipnorm)
        self.clipvalue = check_optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = check_optional_positive("global_clipnorm", global_clipnorm)
        chosen = [
            f"{k}={v!r}"
            for k, v in (
                ("clipnorm", clipnorm),
                ("clipvalue", clipvalue),
                ("global_clipnorm", global_clipnorm),
            )
            if v is not None
        ]
        if len(chosen) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set; received "
                f"{', '.join(chosen)}. Keep the one you need."
            )
        self.weight_decay = (
            None if weight_decay is None else check_non_negative("weight_decay", weight_decay)
        )
        self.iterations = 0
        # per-parameter state, None until that parameter is first updated
        self._slots: list[dict[str, Any] | None] = []
        # shapes of the parameters of the first step; None before it (and after set_state)
        self._shapes: list[tuple[int, ...]] | None = None
        # a population's optimizer (see stack()): P members, (P,) arrays of the hyper-parameters
        # that differ, and each member's learning rate (a number or a schedule)
        self.members: int | None = None
        self._per_member: dict[str, numpy.ndarray] = {}
        self._member_lrs: list[Any] | None = None
        self._member_lr_array: numpy.ndarray | None = None
        self._shaped_cache: dict[tuple[int, Any], tuple[Any, tuple[Any, ...], dict]] = {}

    # ---------------------------------------------------------------------------- learning rate
    @property
    def learning_rate(self) -> LearningRate:
        """The learning rate: a float or a schedule. Assigning validates the new value."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        self._learning_rate = check_learning_rate(value)

    @property
    def current_learning_rate(self) -> float | numpy.ndarray:
        """The learning rate the next step will use (a schedule evaluated at ``iterations``);
        a ``(P,)`` array for a population whose members' rates differ."""
        if self._member_lr_array is not None:  # constant rates: made once
            return self._member_lr_array
        if self._member_lrs is not None:
            if not any(callable(lr) for lr in self._member_lrs):
                self._member_lr_array = numpy.array(self._member_lrs, dtype=numpy.float64)
                return self._member_lr_array
            return numpy.array([self._rate(lr) for lr in self._member_lrs])
        return self._rate(self._learning_rate)

    def _rate(self, lr: Any) -> float:
        if not callable(lr):
            return lr
        value = float(lr(self.iterations))
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"The learning-rate schedule {lr!r} returned {value!r} at step {self.iterations}; "
                "a learning rate must be a finite number >= 0."
            )
        return value

    # ------------------------------------------------------------------------ to be overridden
    def _slot_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays (each shaped like the parameter)."""
        return ()

    def _init_slot(self, data: Any, h: dict[str, Any]) -> dict[str, Any]:
        """Initial state of one parameter: zero arrays for the slots, plus the scalar counters.

        ``h``: the hyper-parameters as :meth:`_update` receives them.
        """
        slot: dict[str, Any] = {name: backend.xp.zeros_like(data) for name in self._slot_names()}
        slot.update(self._scalar_slots)
        return slot

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        """Update ``param`` (an array) in place from ``grad``, and its state ``slot``.

        ``lr`` is this step's learning rate and ``h`` the hyper-parameters by name (those of
        :meth:`_hyper_config`), each a number, or for a population an array shaped to broadcast
        along the parameter's member axis.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement _update.")

    def _any_positive(self, name: str) -> bool:
        """Whether hyper-parameter ``name`` is > 0 (for any member of a population)."""
        value = self._per_member.get(name, getattr(self, name))
        return bool(numpy.any(numpy.asarray(value) > 0))

    def _hyper_config(self) -> dict[str, Any]:
        """The optimizer's own hyper-parameters (constructor arguments) for :meth:`get_config`."""
        return {}

    # ------------------------------------------------------------------------------- stepping
    def step(self, params: Iterable[Any]) -> None:
        """Take one optimisation step on ``params`` (a list of Tensors), in place on ``.data``.

        Parameters whose ``.grad`` is ``None`` or whose ``requires_grad`` is False are skipped
        (their state is kept). ``iterations`` grows by one.

        Raises:
            ValueError: when ``params`` differs in number or shapes from the first step's, or a
                gradient's shape differs from its parameter's.

        Example:
            >>> import numpy as np
            >>> from scratchnn.tensor import Tensor
            >>> from scratchnn.optimizers import SGD
            >>> w = Tensor([1.0, 2.0], requires_grad=True)
            >>> w.grad = np.array([1.0, 1.0], dtype="float32")
            >>> SGD(learning_rate=0.5).step([w])
            >>> w.data.tolist()
            [0.5, 1.5]
        """
        params = list(params)
        lr = self.current_learning_rate
        self._check_or_build_state(params)
        active = [(i, p) for i, p in enumerate(params) if p.requires_grad and p.grad is not None]
        grads = [self._checked_grad(i, p) for i, p in active]
        hyper = self._hyper_values()
        if self.members is None:
            grads = self._clip(grads, hyper)
            decay = hyper["weight_decay"]
            for (i, p), grad in zip(active, grads, strict=True):
                if decay:
                    updates.apply_weight_decay(p.data, lr=lr, weight_decay=decay)
                slot = self._slots[i]
                if slot is None:
                    slot = self._slots[i] = self._init_slot(p.data, hyper)
                self._update(p.data, grad, slot, lr, hyper)
        else:
            grads = self._clip_members(grads, hyper)
            numbers = tuple(v for v in hyper.values() if not isinstance(v, numpy.ndarray))
            for (i, p), grad in zip(active, grads, strict=True):
                h = self._shaped(hyper, lr, p.data, numbers)
                if h["weight_decay"] is not None:
                    updates.apply_weight_decay(p.data, lr=h["lr"], weight_decay=h["weight_decay"])
                slot = self._slots[i]
                if slot is None:
                    slot = self._slots[i] = self._init_slot(p.data, h)
                self._update(p.data, grad, slot, h["lr"], h)
        self.iterations += 1

    def _hyper_values(self) -> dict[str, Any]:
        """Every hyper-parameter but the learning rate, by name (members' arrays included)."""
        values = {
            **self._hyper_config(),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }
        if self._per_member:
            values.update(self._per_member)
        return values

    def _shaped(self, hyper: dict[str, Any], lr: Any, data: Any, numbers: tuple[Any, ...]
                ) -> dict[str, Any]:
        """``hyper`` and ``lr`` with each ``(P,)`` array reshaped to ``(P, 1, ...)`` for a
        parameter like ``data`` (and cast to its dtype, so nothing is computed in another).

        Kept from step to step while the values are the same (a constant learning rate and the
        same plain ``numbers`` of ``hyper``)."""
        key = (data.ndim, data.dtype)
        cached = self._shaped_cache.get(key)
        if cached is not None and cached[0] is lr and cached[1] == numbers:
            return cached[2]
        shape = (-1,) + (1,) * (data.ndim - 1)
        shaped = {
            name: backend.xp.asarray(value, dtype=data.dtype).reshape(shape)
            if isinstance(value, numpy.ndarray) else value
            for name, value in {**hyper, "lr": lr}.items()
        }
        self._shaped_cache[key] = (lr, numbers, shaped)
        return shaped

    @staticmethod
    def _checked_grad(index: int, param: Any) -> Any:
        grad = param.grad
        if grad.shape != param.data.shape:
            raise ValueError(
                f"Parameter {index} has shape {param.data.shape} but its gradient has shape "
                f"{grad.shape}; a gradient must have its parameter's shape."
            )
        return grad

    @staticmethod
    def _clip(grads: list[Any], hyper: dict[str, Any]) -> list[Any]:
        if hyper["clipvalue"] is not None:
            return [updates.clip_by_value(g, hyper["clipvalue"]) for g in grads]
        if hyper["clipnorm"] is not None:
            return [updates.clip_by_norm(g, hyper["clipnorm"]) for g in grads]
        if hyper["global_clipnorm"] is not None and grads:
            return updates.clip_by_global_norm(grads, hyper["global_clipnorm"])
        return grads

    @staticmethod
    def _clip_members(grads: list[Any], hyper: dict[str, Any]) -> list[Any]:
        """Clipping with the member axis first: norms per member, limits per member."""
        def limit(name: str, g: Any) -> Any:
            value = hyper[name]
            if isinstance(value, numpy.ndarray):
                return backend.xp.asarray(value, dtype=g.dtype).reshape((-1,) + (1,) * (g.ndim - 1))
            return value

        if hyper["clipvalue"] is not None:
            return [updates.clip_by_value(g, limit("clipvalue", g)) for g in grads]
        if hyper["clipnorm"] is not None:
            return [updates.clip_by_norm(g, limit("clipnorm", g), members=True) for g in grads]
        if hyper["global_clipnorm"] is not None and grads:
            return updates.clip_by_global_norm(grads, hyper["global_clipnorm"], members=True)
        return grads

    def _check_or_build_state(self, params: list[Any]) -> None:
        known = self._shapes
        if (
            known is not None
            and len(params) == len(known)
            and all(
                type(p) is Tensor and p.data.shape == k
                for p, k in zip(params, known, strict=True)
            )
        ):
            return  # the usual step: the same Tensors as before (checked in full below otherwise)
        for i, p in enumerate(params):
            if not all(hasattr(p, a) for a in ("data", "grad", "requires_grad")):
                raise TypeError(
                    f"Optimizer.step expects a list of Tensors; item {i} is {type(p).__name__}. "
                    "Pass model parameters, e.g. opt.step(model.parameters())."
                )
        shapes = [tuple(p.data.shape) for p in params]
        if self._shapes is None:  # first step, or first step after set_state
            if len(self._slots) > len(params):
                raise ValueError(
                    f"The restored optimizer state holds parameters up to index "
                    f"{len(self._slots) - 1}; received {len(params)} parameters. Pass the "
                    "parameters of the model the state was saved from, in the same order."
                )
            for i, slot in enumerate(self._slots):
                for name in self._slot_names():
                    if slot is not None and tuple(slot[name].shape) != shapes[i]:
                        raise ValueError(
                            f"The restored optimizer state of parameter {i} has shape "
                            f"{tuple(slot[name].shape)}; received a parameter of shape "
                            f"{shapes[i]}. Pass the parameters of the model the state was saved "
                            "from, in the same order."
                        )
            self._slots += [None] * (len(params) - len(self._slots))
            self._shapes = shapes
            return
        if len(params) != len(self._shapes):
            raise ValueError(
                f"This optimizer's state was built for {len(self._shapes)} parameters; received "
                f"{len(params)}. Pass the same parameter list on every step, or create a new "
                "optimizer for a different model."
            )
        for i, (before, shape) in enumerate(zip(self._shapes, shapes, strict=True)):
            if before != shape:
                raise ValueError(
                    f"Parameter {i} had shape {before} when this optimizer's state was built; "
                    f"received shape {shape}. Pass the same parameters in the same order on "
                    "every step, or create a new optimizer for a different model."
                )

    # ------------------------------------------------------------------------- populations
    def structure(self) -> tuple[Any, ...]:
        """What must be equal for optimizers to share a population (see :func:`stack`): the
        class and every hyper-parameter that is not a number (``nesterov``, ``amsgrad``,
        which clipping is used, whether weight decay is on, a schedule's class)."""
        parts: list[Any] = [self.name]
        for key, value in sorted(self.get_config().items()):
            if key == "name":
                continue
            if key == "weight_decay" and value is None:
                value = 0.0  # no decay is a decay of 0: members may differ in it
            if isinstance(value, dict):  # a schedule: its class must match, its numbers may not
                parts.append((key, value.get("class_name")))
            elif isinstance(value, bool) or value is None or not isinstance(value, numbers.Real):
                parts.append((key, value))
            else:
                parts.append((key, "number"))
        return tuple(parts)

    def select_members(self, keep: Sequence[int] | numpy.ndarray) -> None:
        """Keep only the members ``keep`` (indices) of a population's optimizer: its
        hyper-parameter arrays and every state array are cut along the member axis."""
        if self.members is None:
            raise ValueError("select_members() is for a population's optimizer (see stack()).")
        keep = numpy.asarray(keep, dtype=numpy.int64)
        self._per_member = {k: v[keep] for k, v in self._per_member.items()}
        if self._member_lrs is not None:
            self._member_lrs = [self._member_lrs[i] for i in keep]
        for slot in self._slots:
            if slot is None:
                continue
            for name, value in slot.items():
                if hasattr(value, "ndim") and value.ndim and value.shape[0] == self.members:
                    slot[name] = value[keep]
        self.members = len(keep)
        self._shapes = None
        self._shaped_cache = {}
        self._member_lr_array = None

    # ------------------------------------------------------------------------- serialization
    def get_config(self) -> dict[str, Any]:
        """Return the hyper-parameters as a JSON-serialisable dict, with ``"name"``.

        A schedule is stored as ``{"class_name": ..., "config": ...}``. Plain functions used as
        a learning rate cannot be serialised (TypeError).

        Example:
            >>> from scratchnn.optimizers import SGD
            >>> SGD(learning_rate=0.1).get_config()["learning_rate"]
            0.1
        """
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": lr if not callable(lr) else schedules.serialize(lr),
            **self._hyper_config(),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Build an optimizer of this class from a dict returned by :meth:`get_config`."""
        config = dict(config)
        name = config.pop("name", cls.name)
        if str(name).lower() != cls.name:
            raise ValueError(
                f"{cls.__name__}.from_config received a config for {name!r}; expected "
                f"name={cls.name!r}. Use scratchnn.optimizers.get(config) for any optimizer."
            )
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.get(config["learning_rate"])
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        unknown = sorted(set(config) - set(accepted))
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} config keys {unknown}; accepted keys are {accepted}."
            )
        return cls(**config)

    def __repr__(self) -> str:
        config = {
            "learning_rate": self._learning_rate,
            **self._hyper_config(),
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }
        args = ", ".join(f"{k}={v!r}" for k, v in config.items() if v is not None)
        return f"{type(self).__name__}({args})"

    # ---------------------------------------------------------------------------------- state
    def get_state(self) -> dict[str, numpy.ndarray]:
        """Return the state as a flat dict of NumPy arrays (copies), ready for safetensors.

        Keys: ``"iterations"`` and ``"<slot>.<index>"`` per parameter updated so far, e.g.
        ``"m.0"``, ``"v.0"``, ``"step.0"`` for Adam. Restore with :meth:`set_state` on an
        optimizer built with the same config.
        """
        state = {"iterations": numpy.array(self.iterations, dtype=numpy.int64)}
        for i, slot in enumerate(self._slots):
            if slot is None:
                continue
            for key, value in slot.items():
                if key in self._scalar_slots:
                    dtype = numpy.int64 if isinstance(self._scalar_slots[key], int) else "float64"
                    state[f"{key}.{i}"] = numpy.array(backend.to_numpy(value), dtype=dtype)
                else:
                    state[f"{key}.{i}"] = numpy.array(backend.to_numpy(value), copy=True)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`, so that the next steps continue identically.

        Raises:
            ValueError: when keys are missing or unknown for this optimizer's configuration.
        """
        if "iterations" not in state:
            raise ValueError(
                f"The state has no 'iterations' entry; received keys {sorted(state)}. Pass a dict "
                "returned by Optimizer.get_state()."
            )
        names = (*self._slot_names(), *self._scalar_slots)
        per_index: dict[int, dict[str, Any]] = {}
        for key, value in state.items():
            if key == "iterations":
                continue
            name, _, index = key.rpartition(".")
            if name not in names or not index.isdigit():
                raise ValueError(
                    f"Unknown state entry {key!r} for {self!r}; expected 'iterations' and "
                    f"'<slot>.<index>' with slot in {list(names)}. Was the state saved from an "
                    "optimizer with another configuration?"
                )
            per_index.setdefault(int(index), {})[name] = value
        slots: list[dict[str, Any] | None] = [None] * (max(per_index, default=-1) + 1)
        for i, entries in per_index.items():
            missing = [n for n in names if n not in entries]
            if missing:
                raise ValueError(f"State for parameter {i} lacks entries {missing}.")
            slot: dict[str, Any] = {}
            for name in names:
                if name in self._scalar_slots:
                    kind = type(self._scalar_slots[name])
                    value = numpy.asarray(backend.to_numpy(entries[name]))
                    slot[name] = kind(value.item()) if value.size == 1 else value.copy()
                else:
                    slot[name] = backend.xp.array(entries[name], copy=True)
            slots[i] = slot
        self.iterations = int(numpy.asarray(state["iterations"]).item())
        self._slots = slots
        self._shapes = None  # checked against the parameters at the next step


def stack(optimizers: Sequence[Optimizer]) -> Optimizer:
    """One optimizer for a population: member ``i`` of every parameter's leading axis is updated
    with ``optimizers[i]``'s hyper-parameters.

    Numeric hyper-parameters that differ become ``(P,)`` arrays (learning-rate schedules are
    evaluated per member); everything :meth:`Optimizer.structure` names must be equal.

    Args:
        optimizers: one optimizer (or name, or config) per member, all of one class.

    Returns:
        A fresh optimizer of that class with ``members = P`` and no state.

    Raises:
        ValueError: no optimizers, or members whose structure differs (named).

    Example:
        >>> import numpy as np
        >>> from scratchnn.optimizers import SGD
        >>> from scratchnn.tensor import Tensor
        >>> opt = stack([SGD(learning_rate=0.1), SGD(learning_rate=1.0)])
        >>> w = Tensor(np.ones((2, 3)), dtype="float64", requires_grad=True)
        >>> w.grad = np.ones((2, 3))
        >>> opt.step([w])
        >>> w.data[:, 0].tolist()
        [0.9, 0.0]
    """
    from scratchnn.optimizers.registry import get

    members = [get(o) for o in optimizers]
    if not members:
        raise ValueError("stack() needs at least one optimizer.")
    first = members[0]
    for i, other in enumerate(members[1:], start=1):
        if other.structure() != first.structure():
            diff = sorted(set(other.structure()) ^ set(first.structure()), key=str)
            raise ValueError(
                f"Optimizers 0 and {i} cannot share a population: they differ in {diff[:4]} "
                "(only numbers may differ between members)."
            )
    configs = [m.get_config() for m in members]
    out = type(first).from_config(configs[0])
    out.members = len(members)
    for key in configs[0]:
        if key in ("name", "learning_rate"):
            continue
        values = [c[key] for c in configs]
        if key == "weight_decay" and any(v is not None for v in values):
            values = [0.0 if v is None else v for v in values]
        if any(v != values[0] for v in values[1:]):
            out._per_member[key] = numpy.asarray(values, dtype=numpy.float64)
    rates = [m.learning_rate for m in members]
    if any(callable(r) for r in rates) or any(r != rates[0] for r in rates[1:]):
        out._member_lrs = rates
    return out
