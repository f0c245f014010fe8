"""scratchnn: a neural-network library written from scratch on NumPy.

The public API in one place: tensors with autodiff, ops, layers, losses, optimizers, the gradient
checker. Submodules: ``scratchnn.ops``, ``layers``, ``losses``, ``optimizers``, ``initializers``,
``regularizers``, ``activations``, ``metrics``, ``backend``.
"""

from scratchnn import (
    activations,
    backend,
    callbacks,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    regularizers,
)
from scratchnn.gradcheck import GradcheckResult, gradcheck
from scratchnn.io import load_model
from scratchnn.models import Model, Sequential
from scratchnn.tensor import Tensor, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "GradcheckResult",
    "Model",
    "Sequential",
    "Tensor",
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "gradcheck",
    "initializers",
    "is_grad_enabled",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "no_grad",
    "ops",
    "optimizers",
    "regularizers",
]
