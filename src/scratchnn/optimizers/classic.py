"""SGD, RMSprop and Adagrad (Keras names and arguments, ``torch.optim`` formulas).

Each class validates its hyper-parameters, names its per-parameter state and calls one pure
function of :mod:`scratchnn.optimizers.updates`; the shared machinery (learning rate, clipping,
decoupled weight decay, state) is in :class:`~scratchnn.optimizers.base.Optimizer`.
"""

from __future__ import annotations

from typing import Any

from scratchnn.optimizers import updates
from scratchnn.optimizers._validation import (
    check_bool,
    check_non_negative,
    check_unit_interval,
)
from scratchnn.optimizers.base import LearningRate, Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum (``torch.optim.SGD``).

    Update (see :func:`~scratchnn.optimizers.updates.sgd_update`): ``v <- momentum * v + g``,
    ``p <- p - lr * v`` (or ``p - lr * (g + momentum * v)`` with ``nesterov=True``).

    Args:
        learning_rate: float > 0 or schedule.
        momentum: in [0, 1); 0 is plain SGD.
        nesterov: use Nesterov momentum.
        clipnorm, clipvalue, global_clipnorm, weight_decay: see
            :class:`~scratchnn.optimizers.base.Optimizer`.

    Example:
        >>> opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    """

    name = "sgd"

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )
        self.momentum = check_unit_interval("momentum", momentum)
        self.nesterov = check_bool("nesterov", nesterov)

    def _slot_names(self) -> tuple[str, ...]:
        return ("velocity",) if self._any_positive("momentum") else ()

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        updates.sgd_update(
            param,
            grad,
            slot.get("velocity"),
            lr=lr,
            momentum=h["momentum"],
            nesterov=h["nesterov"],
        )

    def _hyper_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop, plain, centred or with momentum (``torch.optim.RMSprop`` with ``alpha=rho``).

    Update (see :func:`~scratchnn.optimizers.updates.rmsprop_update`):
    ``s <- rho * s + (1 - rho) * g**2``, ``p <- p - lr * g / (sqrt(s) + epsilon)``; ``centered``
    subtracts the square of the running mean of ``g`` from ``s``; ``momentum`` accumulates the
    steps ``g / (sqrt(s) + epsilon)``.

    Args:
        learning_rate: float > 0 or schedule.
        rho: discounting factor of the running averages, in [0, 1).
        momentum: in [0, 1).
        epsilon: >= 0, added to the denominator.
        centered: normalise by the estimated variance of the gradient instead of its second moment.
        clipnorm, clipvalue, global_clipnorm, weight_decay: see
            :class:`~scratchnn.optimizers.base.Optimizer`.
    """

    name = "rmsprop"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )
        self.rho = check_unit_interval("rho", rho)
        self.momentum = check_unit_interval("momentum", momentum)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.centered = check_bool("centered", centered)

    def _slot_names(self) -> tuple[str, ...]:
        names = ["square_avg"]
        if self.centered:
            names.append("grad_avg")
        if self._any_positive("momentum"):
            names.append("momentum")
        return tuple(names)

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        updates.rmsprop_update(
            param,
            grad,
            slot["square_avg"],
            lr=lr,
            rho=h["rho"],
            epsilon=h["epsilon"],
            momentum=h["momentum"],
            grad_avg=slot.get("grad_avg"),
            momentum_buffer=slot.get("momentum"),
        )

    def _hyper_config(self) -> dict[str, Any]:
        return {
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad (``torch.optim.Adagrad`` with its ``initial_accumulator_value``, no ``lr_decay``).

    Update (see :func:`~scratchnn.optimizers.updates.adagrad_update`): ``h <- h + g**2``,
    ``p <- p - lr * g / (sqrt(h) + epsilon)``, with ``h`` starting at
    ``initial_accumulator_value``.

    Args:
        learning_rate: float > 0 or schedule.
        initial_accumulator_value: >= 0, the starting value of ``h``.
        epsilon: >= 0, added to the denominator.
        clipnorm, clipvalue, global_clipnorm, weight_decay: see
            :class:`~scratchnn.optimizers.base.Optimizer`.
    """

    name = "adagrad"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )
        self.initial_accumulator_value = check_non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = check_non_negative("epsilon", epsilon)

    def _slot_names(self) -> tuple[str, ...]:
        return ("accumulator",)

    def _init_slot(self, data: Any, h: dict[str, Any]) -> dict[str, Any]:
        slot = super()._init_slot(data, h)
        slot["accumulator"] += h["initial_accumulator_value"]
        return slot

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        updates.adagrad_update(param, grad, slot["accumulator"], lr=lr, epsilon=h["epsilon"])

    def _hyper_config(self) -> dict[str, Any]:
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
