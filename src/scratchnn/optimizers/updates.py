"""Pure update rules: one function per optimizer, over arrays, with no hidden state.

Each ``*_update`` function takes the parameter, its gradient and the optimizer's state arrays for
that parameter, and updates the parameter and the state IN PLACE (the gradient is only read). The
formulas follow ``torch.optim`` (the ``_single_tensor_*`` functions), so that trajectories agree
with PyTorch to rounding; each docstring writes its formula out. The functions allocate at most one
or two scratch arrays of the parameter's shape per call and do the rest in place (``out=``).

Notation: ``p`` parameter, ``g`` gradient, ``t`` the step number of this update (1 on the first
update), ``lr`` the learning rate of this step.

Hyper-parameters are numbers, or arrays that broadcast against the parameter: a population's
optimizer (:func:`scratchnn.optimizers.stack`) passes ``(P, 1, ...)`` arrays so that each member
of a stacked parameter follows its own values. Which branch a function takes is decided by the
state it is given (``velocity``, ``momentum_buffer``), never by comparing a hyper-parameter.

    >>> import numpy as np
    >>> p, g, m, v = np.array([1.0]), np.array([0.5]), np.zeros(1), np.zeros(1)
    >>> adam_update(p, g, m, v, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=0.0, step=1)
    >>> p  # the first Adam step moves by lr * sign(g)
    array([0.9])

Gradient clipping helpers (``clip_by_value``, ``clip_by_norm``, ``clip_by_global_norm``) return
new arrays and never modify the gradients given to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from scratchnn import backend

Array = Any  # an array of the backend (numpy.ndarray, or cupy.ndarray)


def sgd_update(
    param: Array,
    grad: Array,
    velocity: Array | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    nesterov: bool = False,
) -> None:
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as ``torch.optim.SGD``.

    Formula::

        no velocity:     p <- p - lr * g
        otherwise:       v <- momentum * v + g        (v starts at 0)
                         p <- p - lr * v                       (classical)
                         p <- p - lr * (g + momentum * v)      (nesterov=True)

    (With ``momentum = 0`` both forms give the same update.)

    Args:
        param: parameter array, updated in place.
        grad: gradient, same shape as ``param``; read only.
        velocity: momentum buffer, same shape, updated in place; needed when ``momentum > 0``.
        lr: learning rate.
        momentum: momentum coefficient in [0, 1).
        nesterov: use Nesterov momentum.

    Example:
        >>> import numpy as np
        >>> p = np.array([1.0, 2.0])
        >>> sgd_update(p, np.array([1.0, -1.0]), lr=0.1)
        >>> p
        array([0.9, 2.1])
    """
    if velocity is None:
        if not _is_zero(momentum):
            raise ValueError(
                f"sgd_update with momentum={momentum} needs a velocity array of the parameter's "
                "shape; received velocity=None. Pass velocity=numpy.zeros_like(param) on the "
                "first step."
            )
        param -= lr * grad
        return
    velocity *= momentum
    velocity += grad
    if nesterov:
        step = velocity * momentum
        step += grad
        step *= lr
    else:
        step = velocity * lr
    param -= step


def rmsprop_update(
    param: Array,
    grad: Array,
    square_avg: Array,
    *,
    lr: float,
    rho: float,
    epsilon: float,
    momentum: float = 0.0,
    grad_avg: Array | None = None,
    momentum_buffer: Array | None = None,
) -> None:
    """RMSprop, as ``torch.optim.RMSprop`` (its ``alpha`` is ``rho`` here), centred or not.

    Formula (``s``, ``a``, ``b`` start at 0)::

        s <- rho * s + (1 - rho) * g**2
        centred (grad_avg given):  a <- rho * a + (1 - rho) * g;   d = sqrt(s - a**2) + epsilon
        otherwise:                                                  d = sqrt(s) + epsilon
        momentum > 0:  b <- momentum * b + g / d;   p <- p - lr * b
        otherwise:                                  p <- p - lr * g / d

    ``s - a**2`` is clamped at 0 before the square root (it is >= 0 in exact arithmetic).

    Args:
        param: parameter array, updated in place.
        grad: gradient; read only.
        square_avg: running mean of ``g**2`` (``s``), updated in place.
        lr: learning rate.
        rho: discounting factor in [0, 1).
        epsilon: added to the denominator.
        momentum: momentum coefficient in [0, 1).
        grad_avg: running mean of ``g`` (``a``) for the centred variant, or ``None``.
        momentum_buffer: ``b``, needed when ``momentum > 0``.
    """
    xp = backend.xp
    tmp = xp.multiply(grad, grad)
    tmp *= 1.0 - rho
    square_avg *= rho
    square_avg += tmp
    if grad_avg is not None:
        xp.multiply(grad, 1.0 - rho, out=tmp)
        grad_avg *= rho
        grad_avg += tmp
        xp.multiply(grad_avg, grad_avg, out=tmp)
        xp.subtract(square_avg, tmp, out=tmp)
        xp.maximum(tmp, 0.0, out=tmp)
        xp.sqrt(tmp, out=tmp)
    else:
        xp.sqrt(square_avg, out=tmp)
    tmp += epsilon
    xp.divide(grad, tmp, out=tmp)  # g / d
    if momentum_buffer is None and not _is_zero(momentum):
        raise ValueError(
            f"rmsprop_update with momentum={momentum} needs a momentum_buffer array; received "
            "None. Pass momentum_buffer=numpy.zeros_like(param) on the first step."
        )
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += tmp
        xp.multiply(momentum_buffer, lr, out=tmp)
    else:
        tmp *= lr
    param -= tmp


def adagrad_update(
    param: Array, grad: Array, accumulator: Array, *, lr: float, epsilon: float
) -> None:
    """Adagrad, as ``torch.optim.Adagrad`` (no ``lr_decay``).

    Formula (``h`` starts at ``initial_accumulator_value``)::

        h <- h + g**2
        p <- p - lr * g / (sqrt(h) + epsilon)

    Args:
        param: parameter array, updated in place.
        grad: gradient; read only.
        accumulator: running sum of squared gradients (``h``), updated in place.
        lr: learning rate.
        epsilon: added to the denominator.
    """
    xp = backend.xp
    tmp = xp.multiply(grad, grad)
    accumulator += tmp
    xp.sqrt(accumulator, out=tmp)
    tmp += epsilon
    xp.divide(grad, tmp, out=tmp)
    tmp *= lr
    param -= tmp


def adam_update(
    param: Array,
    grad: Array,
    m: Array,
    v: Array,
    *,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
    v_max: Array | None = None,
) -> None:
    """Adam (and AMSGrad when ``v_max`` is given), as ``torch.optim.Adam``.

    Formula (``m``, ``v``, ``v_max`` start at 0)::

        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g**2
        amsgrad:  v_max <- max(v_max, v),  and v_max replaces v below
        m_hat = m / (1 - beta_1**t),   v_hat = v / (1 - beta_2**t)
        p <- p - lr * m_hat / (sqrt(v_hat) + epsilon)

    Args:
        param: parameter array, updated in place.
        grad: gradient; read only.
        m: first-moment estimate, updated in place.
        v: second-moment estimate, updated in place.
        lr: learning rate.
        beta_1: decay of ``m``, in [0, 1).
        beta_2: decay of ``v``, in [0, 1).
        epsilon: added to ``sqrt(v_hat)``.
        step: ``t``, the number of this update, counting from 1.
        v_max: running maximum of ``v`` (AMSGrad), updated in place, or ``None`` for plain Adam.
    """
    xp = backend.xp
    tmp = xp.multiply(grad, 1.0 - beta_1)
    m *= beta_1
    m += tmp
    xp.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta_2
    v *= beta_2
    v += tmp
    second = v
    if v_max is not None:
        xp.maximum(v_max, v, out=v_max)
        second = v_max
    step_size = lr / (1.0 - beta_1**step)
    xp.sqrt(second, out=tmp)
    tmp /= _sqrt(1.0 - beta_2**step)
    tmp += epsilon  # sqrt(v_hat) + epsilon
    xp.divide(m, tmp, out=tmp)
    tmp *= step_size
    param -= tmp


def adamax_update(
    param: Array,
    grad: Array,
    m: Array,
    u: Array,
    *,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
) -> None:
    """Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``.

    Formula (``m``, ``u`` start at 0)::

        m <- beta_1 * m + (1 - beta_1) * g
        u <- max(beta_2 * u, |g| + epsilon)
        p <- p - lr / (1 - beta_1**t) * m / u

    Args:
        param: parameter array, updated in place.
        grad: gradient; read only.
        m: first-moment estimate, updated in place.
        u: exponentially weighted infinity norm, updated in place.
        lr: learning rate.
        beta_1: decay of ``m``, in [0, 1).
        beta_2: decay of ``u``, in [0, 1).
        epsilon: added to ``|g|``; keeps ``u`` away from 0.
        step: ``t``, counting from 1.
    """
    xp = backend.xp
    tmp = xp.multiply(grad, 1.0 - beta_1)
    m *= beta_1
    m += tmp
    xp.abs(grad, out=tmp)
    tmp += epsilon
    u *= beta_2
    xp.maximum(u, tmp, out=u)
    xp.divide(m, u, out=tmp)
    tmp *= lr / (1.0 - beta_1**step)
    param -= tmp


def nadam_update(
    param: Array,
    grad: Array,
    m: Array,
    v: Array,
    *,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    step: int,
    mu_product: float,
    momentum_decay: float = 0.004,
) -> float:
    """Nadam (Adam with Nesterov momentum), as ``torch.optim.NAdam``.

    Formula (``m``, ``v`` start at 0, ``mu_product`` at 1)::

        mu_t      = beta_1 * (1 - 0.5 * 0.96**(t * momentum_decay))
        mu_next   = beta_1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))
        mu_product <- mu_product * mu_t                       (= mu_1 * ... * mu_t)
        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g**2
        d = sqrt(v / (1 - beta_2**t)) + epsilon
        p <- p - lr * (1 - mu_t) / (1 - mu_product) * g / d
               - lr * mu_next / (1 - mu_product * mu_next) * m / d

    Args:
        param: parameter array, updated in place.
        grad: gradient; read only.
        m: first-moment estimate, updated in place.
        v: second-moment estimate, updated in place.
        lr: learning rate.
        beta_1: decay of ``m``, in [0, 1).
        beta_2: decay of ``v``, in [0, 1).
        epsilon: added to the denominator.
        step: ``t``, counting from 1.
        mu_product: product of the momentum coefficients of the previous steps (1.0 at first).
        momentum_decay: speed of the momentum warm-up (torch's ``momentum_decay``).

    Returns:
        The new ``mu_product``; pass it back on the next step (a float is immutable, so it cannot
        be updated in place).
    """
    xp = backend.xp
    mu = beta_1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta_1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = mu_product * mu
    mu_product_next = mu_product * mu_next

    tmp = xp.multiply(grad, 1.0 - beta_1)
    m *= beta_1
    m += tmp
    xp.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta_2
    v *= beta_2
    v += tmp

    xp.multiply(m, lr * mu_next / (1.0 - mu_product_next), out=tmp)
    numerator = xp.multiply(grad, lr * (1.0 - mu) / (1.0 - mu_product))
    numerator += tmp
    xp.divide(v, 1.0 - beta_2**step, out=tmp)
    xp.sqrt(tmp, out=tmp)
    tmp += epsilon
    numerator /= tmp
    param -= numerator
    return mu_product


def apply_weight_decay(
    param: Array, *, lr: float | Array, weight_decay: float | Array
) -> None:
    """Decoupled weight decay, in place: ``p <- p * (1 - lr * weight_decay)``.

    This is the decay of Keras 3 optimizers and ``torch.optim.AdamW``: it shrinks the parameter
    directly, before the optimizer's update, instead of adding ``weight_decay * p`` to the gradient
    (an L2 penalty, which adaptive optimizers would rescale).
    """
    param *= 1.0 - lr * weight_decay


def _is_zero(value: Any) -> bool:
    """Whether a hyper-parameter (a number or a per-member array) is 0 everywhere."""
    if isinstance(value, (int, float)):
        return value == 0
    return bool(backend.xp.all(backend.xp.asarray(value) == 0))


def _sqrt(value: Any) -> Any:
    """``math.sqrt`` for a number (exactly as before), the element-wise root for an array."""
    return math.sqrt(value) if isinstance(value, float) else backend.xp.sqrt(value)


# ------------------------------------------------------------------------------ gradient clipping
def clip_by_value(grad: Array, clipvalue: float | Array) -> Array:
    """Return a new array with every element of ``grad`` clipped to ``[-clipvalue, clipvalue]``."""
    return backend.xp.clip(grad, -clipvalue, clipvalue)


def _l2_norm(array: Array) -> float:
    return float(backend.xp.linalg.norm(array.reshape(-1)))


def _member_sq_norms(array: Array) -> Array:
    """Squared L2 norm of each member's slice (all axes but the first), in float64: ``(P,)``."""
    flat = array.reshape(array.shape[0], -1).astype("float64")
    return (flat * flat).sum(axis=1)


def _rescale_members(grad: Array, norms: Array, clipnorm: float | Array) -> Array:
    """``grad * clipnorm / norm`` for the members whose norm exceeds ``clipnorm``."""
    xp = backend.xp
    limit = xp.asarray(clipnorm, dtype="float64").reshape(-1)
    scale = xp.where(norms > limit, limit / xp.maximum(norms, 1e-300), 1.0)
    if bool(xp.all(scale == 1.0)):
        return grad
    return grad * scale.astype(grad.dtype).reshape((-1,) + (1,) * (grad.ndim - 1))


def clip_by_norm(grad: Array, clipnorm: float | Array, members: bool = False) -> Array:
    """Rescale ``grad`` so that its L2 norm is at most ``clipnorm`` (Keras' per-variable clipnorm).

    ``g * clipnorm / max(||g||, clipnorm)``. Returns ``grad`` itself when no rescaling is needed,
    otherwise a new array; ``grad`` is never modified. With ``members``, axis 0 is a population's
    member axis: each member's slice is rescaled by its own norm (``clipnorm`` may then be a
    per-member array).
    """
    if members:
        return _rescale_members(grad, backend.xp.sqrt(_member_sq_norms(grad)), clipnorm)
    norm = _l2_norm(grad)
    if norm <= clipnorm:
        return grad
    return grad * (clipnorm / norm)


def clip_by_global_norm(grads: Sequence[Array], clipnorm: float | Array, members: bool = False
                        ) -> list[Array]:
    """Rescale all ``grads`` together so that their joint L2 norm is at most ``clipnorm``.

    With ``N = sqrt(sum_i ||g_i||**2)``, every ``g_i`` becomes ``g_i * clipnorm / max(N, clipnorm)``
    (Keras' ``global_clipnorm``; ``torch.nn.utils.clip_grad_norm_`` is the same up to the ``1e-6``
    it adds to ``N``). Arrays that need no change are returned as they are; none is modified.
    With ``members``, the joint norm is taken per member (axis 0 of every gradient).
    """
    if members:
        total = backend.xp.sqrt(sum(_member_sq_norms(g) for g in grads))
        return [_rescale_members(g, total, clipnorm) for g in grads]
    total = math.sqrt(sum(_l2_norm(g) ** 2 for g in grads))
    if total <= clipnorm:
        return list(grads)
    scale = clipnorm / total
    return [g * scale for g in grads]
