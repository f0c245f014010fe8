"""scratchnn: a neural-network library written from scratch on NumPy.

The public API in one place: tensors with autodiff, ops, layers, losses, optimizers, models, the
gradient checker, safe model files and the default float type. Submodules are attributes of the
package: ``scratchnn.ops``, ``layers``, ``losses``, ``optimizers``, ``initializers``,
``regularizers``, ``activations``, ``callbacks``, ``metrics``, ``models``, ``backend`` and ``io``
are loaded with it; ``datasets``, ``plotting`` (matplotlib), ``sklearn`` (scikit-learn
estimators), ``export`` (ONNX), ``runs``, ``sweep`` and ``studies`` are loaded on first use, so
``import scratchnn`` stays light:

    >>> import scratchnn
    >>> X, y = scratchnn.datasets.moons(n_samples=10, seed=0)   # imported here, on first use
    >>> X.shape
    (10, 2)
"""

from __future__ import annotations

import importlib
from typing import Any

from scratchnn import (
    activations,
    backend,
    callbacks,
    initializers,
    io,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    regularizers,
)
from scratchnn._version import __version__
from scratchnn.backend import default_dtype, get_default_dtype
from scratchnn.gradcheck import GradcheckResult, gradcheck
from scratchnn.models import Model, Sequential
from scratchnn.models.saving import load_model
from scratchnn.tensor import Tensor, is_grad_enabled, no_grad

LAZY_SUBMODULES = ("datasets", "export", "plotting", "runs", "sklearn", "studies", "sweep")
"""Subpackages imported on first attribute access (PEP 562), not by ``import scratchnn``."""


def __getattr__(name: str) -> Any:
    """Import a subpackage of :data:`LAZY_SUBMODULES` when it is first used as an attribute."""
    if name in LAZY_SUBMODULES:
        # Importing a submodule binds it on the package: later accesses skip this function.
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *LAZY_SUBMODULES})


__all__ = [
    "GradcheckResult",
    "Model",
    "Sequential",
    "Tensor",
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "default_dtype",
    "get_default_dtype",
    "gradcheck",
    "initializers",
    "io",
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
