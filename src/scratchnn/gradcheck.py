"""Check autodiff gradients against central differences, for users and for our own tests.

    >>> import numpy as np
    >>> from scratchnn import gradcheck, ops
    >>> result = gradcheck(lambda a, b: ops.tanh(a @ b), np.ones((2, 3)) * 0.1, np.ones((3, 2)))
    >>> result.passed
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scratchnn import backend
from scratchnn.tensor import Tensor


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes:
        max_error: worst error ``|a - n| / max(|a|, |n|, 1)`` over all checked entries, i.e. the
            relative error, measured absolutely where both gradients are below 1 in magnitude.
        input_index: which input holds the worst entry.
        position: index of the worst entry within that input.
        analytic: autodiff gradient at that entry.
        numeric: central-difference gradient at that entry.
        tolerance: the threshold ``passed`` was judged against.
    """

    max_error: float
    input_index: int
    position: tuple[int, ...]
    analytic: float
    numeric: float
    tolerance: float

    @property
    def passed(self) -> bool:
        """Whether ``max_error <= tolerance``."""
        return self.max_error <= self.tolerance

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"gradcheck {verdict}: worst relative error {self.max_error:.3e} (tolerance "
            f"{self.tolerance:.1e}) at input {self.input_index}, index {self.position}: "
            f"autodiff {self.analytic:.10g} vs central difference {self.numeric:.10g}"
        )


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    seed: int = 0,
) -> GradcheckResult:
    """Compare the autodiff gradient of ``fn`` with central differences, in float64.

    A non-scalar output is reduced to ``sum(output * R)`` with a fixed random ``R``, so every
    output entry's gradient is exercised.

    Args:
        fn: function of tensors returning a Tensor.
        *inputs: arrays (or Tensors, whose data is used) at which to check; all are
            differentiated.
        eps: step of the central difference.
        tolerance: largest acceptable error (see :class:`GradcheckResult`).
        seed: seed of the random output weighting.

    Returns:
        A :class:`GradcheckResult`; ``bool(result)`` tells whether it passed and ``str(result)``
        says where the worst entry is.

    Raises:
        ValueError: when there are no inputs or ``fn`` does not return a Tensor.
    """
    if not inputs:
        raise ValueError("gradcheck needs at least one input array.")
    xp = backend.xp
    arrays = [
        xp.array(x.data if isinstance(x, Tensor) else x, dtype="float64", copy=True)
        for x in inputs
    ]
    weights: list[Any] = []

    def objective(*values: Any, grad: bool) -> tuple[float, list[Any]]:
        tensors = [Tensor(v, dtype="float64", requires_grad=grad) for v in values]
        out = fn(*tensors)
        if not isinstance(out, Tensor):
            raise ValueError(
                f"gradcheck: fn must return a Tensor; it returned {type(out).__name__}."
            )
        if not weights:
            rng = np.random.default_rng(seed)
            weights.append(xp.asarray(rng.standard_normal(out.shape)))
        scalar = (out * weights[0]).sum()
        if grad:
            scalar.backward()
        grads = [t.grad if t.grad is not None else xp.zeros_like(t.data) for t in tensors]
        return float(scalar.item()), grads

    _, analytic = objective(*arrays, grad=True)
    worst: tuple[float, int, tuple[int, ...], float, float] = (-1.0, 0, (), 0.0, 0.0)
    for i, array in enumerate(arrays):
        for position in np.ndindex(*array.shape):
            original = float(array[position])
            array[position] = original + eps
            plus, _ = objective(*arrays, grad=False)
            array[position] = original - eps
            minus, _ = objective(*arrays, grad=False)
            array[position] = original
            numeric = (plus - minus) / (2 * eps)
            a = float(analytic[i][position])
            error = abs(a - numeric) / max(abs(a), abs(numeric), 1.0)
            if error > worst[0]:
                worst = (error, i, tuple(int(p) for p in position), a, numeric)
    return GradcheckResult(
        max_error=max(worst[0], 0.0),
        input_index=worst[1],
        position=worst[2],
        analytic=worst[3],
        numeric=worst[4],
        tolerance=tolerance,
    )
