"""Optimizers: pure update functions over arrays plus small classes holding their state.

* :mod:`~scratchnn.optimizers.updates`: one pure, in-place function per update rule.
* :class:`Optimizer` and its subclasses :class:`SGD`, :class:`RMSprop`, :class:`Adagrad`,
  :class:`Adam`, :class:`AdamW`, :class:`Adamax`, :class:`Nadam` (Keras names and arguments,
  ``torch.optim`` formulas).
* :func:`get` / :func:`from_config`: build an optimizer from a name, an instance or a config.
* :func:`stack`: one optimizer for a population, per-member hyper-parameters along axis 0.
* :mod:`~scratchnn.optimizers.schedules`: learning-rate schedules.

Example:
    >>> import numpy as np
    >>> from scratchnn.tensor import Tensor
    >>> from scratchnn import optimizers
    >>> w = Tensor([2.0], dtype="float64", requires_grad=True)
    >>> opt = optimizers.get("sgd")
    >>> opt.learning_rate = 0.25
    >>> w.grad = 2 * w.data  # gradient of w**2
    >>> opt.step([w])
    >>> w.data.tolist()
    [1.0]
"""

from scratchnn.optimizers import schedules, updates
from scratchnn.optimizers.adam import Adam, Adamax, AdamW, Nadam
from scratchnn.optimizers.base import Optimizer, stack
from scratchnn.optimizers.classic import SGD, Adagrad, RMSprop
from scratchnn.optimizers.registry import OPTIMIZERS, from_config, get

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "from_config",
    "get",
    "schedules",
    "stack",
    "updates",
]
