"""Adam and its relatives: Adam (AMSGrad), AdamW, Adamax and Nadam.

Keras names and arguments, ``torch.optim`` formulas; the update rules are the pure functions
:func:`~scratchnn.optimizers.updates.adam_update`, ``adamax_update`` and ``nadam_update``. The
bias-correction step ``t`` is counted per parameter (slot ``"step"``), as in ``torch.optim``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from scratchnn.optimizers import updates
from scratchnn.optimizers._validation import (
    check_bool,
    check_non_negative,
    check_unit_interval,
)
from scratchnn.optimizers.base import LearningRate, Optimizer


class _AdamFamily(Optimizer):
    """Shared arguments of Adam, AdamW, Adamax and Nadam: ``beta_1``, ``beta_2``, ``epsilon``."""

    _scalar_slots: ClassVar[dict[str, int | float]] = {"step": 0}

    def __init__(
        self,
        learning_rate: LearningRate,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        *,
        clipnorm: float | None,
        clipvalue: float | None,
        global_clipnorm: float | None,
        weight_decay: float | None,
    ) -> None:
        super().__init__(
            learning_rate,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )
        self.beta_1 = check_unit_interval("beta_1", beta_1)
        self.beta_2 = check_unit_interval("beta_2", beta_2)
        self.epsilon = check_non_negative("epsilon", epsilon)

    def _hyper_config(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adam(_AdamFamily):
    """Adam, optionally AMSGrad (``torch.optim.Adam``; ``weight_decay`` is decoupled, as AdamW).

    Update (see :func:`~scratchnn.optimizers.updates.adam_update`):
    ``p <- p - lr * m_hat / (sqrt(v_hat) + epsilon)`` with bias-corrected moments.

    Args:
        learning_rate: float > 0 or schedule.
        beta_1: decay of the first moment, in [0, 1).
        beta_2: decay of the second moment, in [0, 1).
        epsilon: >= 0, added to ``sqrt(v_hat)``.
        amsgrad: normalise by the running maximum of the second moment.
        clipnorm, clipvalue, global_clipnorm, weight_decay: see
            :class:`~scratchnn.optimizers.base.Optimizer`.
    """

    name = "adam"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )
        self.amsgrad = check_bool("amsgrad", amsgrad)

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        slot["step"] += 1
        updates.adam_update(
            param,
            grad,
            slot["m"],
            slot["v"],
            lr=lr,
            beta_1=h["beta_1"],
            beta_2=h["beta_2"],
            epsilon=h["epsilon"],
            step=slot["step"],
            v_max=slot.get("v_max"),
        )

    def _hyper_config(self) -> dict[str, Any]:
        return {**super()._hyper_config(), "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay, default ``weight_decay=0.004`` (``torch.optim.AdamW``).

    Before each Adam update: ``p <- p * (1 - lr * weight_decay)``.

    Args:
        learning_rate: float > 0 or schedule.
        weight_decay: >= 0.
        beta_1, beta_2, epsilon, amsgrad: as :class:`Adam`.
        clipnorm, clipvalue, global_clipnorm: see :class:`~scratchnn.optimizers.base.Optimizer`.
    """

    name = "adamw"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        if weight_decay is None:
            raise ValueError(
                "AdamW needs a weight_decay (a number >= 0); received weight_decay=None. "
                "Use Adam for no weight decay."
            )
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )


class Adamax(_AdamFamily):
    """Adamax, Adam with the infinity norm (``torch.optim.Adamax``).

    Update (see :func:`~scratchnn.optimizers.updates.adamax_update`):
    ``u <- max(beta_2 * u, |g| + epsilon)``, ``p <- p - lr / (1 - beta_1**t) * m / u``.

    Args:
        learning_rate: float > 0 or schedule.
        beta_1: decay of the first moment, in [0, 1).
        beta_2: decay of the infinity norm, in [0, 1).
        epsilon: >= 0, added to ``|g|``.
        clipnorm, clipvalue, global_clipnorm, weight_decay: see
            :class:`~scratchnn.optimizers.base.Optimizer`.
    """

    name = "adamax"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "u")

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        slot["step"] += 1
        updates.adamax_update(
            param,
            grad,
            slot["m"],
            slot["u"],
            lr=lr,
            beta_1=h["beta_1"],
            beta_2=h["beta_2"],
            epsilon=h["epsilon"],
            step=slot["step"],
        )


class Nadam(_AdamFamily):
    """Nadam, Adam with Nesterov momentum (``torch.optim.NAdam``, momentum-decay schedule).

    Update: see :func:`~scratchnn.optimizers.updates.nadam_update`. ``weight_decay`` is decoupled
    (``torch.optim.NAdam(decoupled_weight_decay=True)``).

    Args:
        learning_rate: float > 0 or schedule.
        beta_1: decay of the first moment, in [0, 1).
        beta_2: decay of the second moment, in [0, 1).
        epsilon: >= 0, added to the denominator.
        momentum_decay: >= 0, speed of the momentum warm-up ``mu_t`` (torch's default 0.004).
        clipnorm, clipvalue, global_clipnorm, weight_decay: see
            :class:`~scratchnn.optimizers.base.Optimizer`.
    """

    name = "nadam"
    _scalar_slots: ClassVar[dict[str, int | float]] = {"step": 0, "mu_product": 1.0}

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        momentum_decay: float = 0.004,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            weight_decay=weight_decay,
        )
        self.momentum_decay = check_non_negative("momentum_decay", momentum_decay)

    def _slot_names(self) -> tuple[str, ...]:
        return ("m", "v")

    def _update(
        self, param: Any, grad: Any, slot: dict[str, Any], lr: Any, h: dict[str, Any]
    ) -> None:
        slot["step"] += 1
        slot["mu_product"] = updates.nadam_update(
            param,
            grad,
            slot["m"],
            slot["v"],
            lr=lr,
            beta_1=h["beta_1"],
            beta_2=h["beta_2"],
            epsilon=h["epsilon"],
            step=slot["step"],
            mu_product=slot["mu_product"],
            momentum_decay=h["momentum_decay"],
        )

    def _hyper_config(self) -> dict[str, Any]:
        return {**super()._hyper_config(), "momentum_decay": self.momentum_decay}
