"""scratchnn: a neural-network library written from scratch on NumPy.

The public API in one place: tensors with autodiff, ops, layers, losses, optimizers, the gradient
checker. Submodules: ``scratchnn.ops``, ``layers``, ``losses``, ``optimizers``, ``initializers``,
``regularizers``, ``activations``, ``metrics``, ``backend``.
"""

from scratchnn import activations, backend, initializers, layers, losses, ops, regularizers
from scratchnn.gradcheck import GradcheckResult, gradcheck
from scratchnn.tensor import Tensor, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "GradcheckResult",
    "Tensor",
    "__version__",
    "activations",
    "backend",
    "gradcheck",
    "initializers",
    "is_grad_enabled",
    "layers",
    "losses",
    "no_grad",
    "ops",
    "regularizers",
]
