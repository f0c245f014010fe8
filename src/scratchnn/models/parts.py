"""What the parts of ``Model`` use of the model they make up, declared for type checkers.

:class:`~scratchnn.models.Model` is assembled from parts, one concern each
(:class:`~scratchnn.models.compiling.Compiling`, :class:`~scratchnn.models.fitting.Fitting`,
:class:`~scratchnn.models.weights.WeightsAndFiles`), over :class:`~scratchnn.layers.Layer`. A
part calls what another part or ``Model`` itself defines (``fit`` calls ``train_step``,
``summary`` reads ``layers``). To a type checker each part derives from :class:`ModelParts`,
which declares those members (its abstract methods are implemented by ``Model`` and the other
parts, and a missing one makes ``Model`` abstract); at run time ``ModelParts`` is ``object``, so
``Model``'s method resolution order is the one its class statement shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abc import abstractmethod
    from typing import Any

    import numpy as np

    from scratchnn.callbacks import History
    from scratchnn.layers import Layer
    from scratchnn.models.compiled import CompiledLoss, MetricTracker
    from scratchnn.optimizers import Optimizer
    from scratchnn.tensor import Tensor

    class ModelParts(Layer):
        """The members of ``Model`` its parts rely on (see the module docstring)."""

        # set by Model.__init__ and compile()
        optimizer: Optimizer | None
        compiled_loss: CompiledLoss | None
        _compile_args: dict[str, Any] | None
        _trackers: list[MetricTracker]
        _rng: np.random.Generator
        _snapshot: list[np.ndarray] | None
        stop_training: bool
        history: History | None

        # ------------------------------------------------------------ structure (Model)
        @property
        @abstractmethod
        def layers(self) -> list[Layer]: ...

        @property
        @abstractmethod
        def input_names(self) -> list[str]: ...

        @property
        @abstractmethod
        def output_names(self) -> list[str]: ...

        @property
        @abstractmethod
        def input_shapes(self) -> list[tuple[int, ...] | None]: ...

        @property
        @abstractmethod
        def output_shapes(self) -> list[tuple[int, ...] | None]: ...

        @abstractmethod
        def _weight_entries(self) -> list[tuple[str, Tensor]]: ...

        @abstractmethod
        def _leaf_layers(self) -> list[Layer]: ...

        @abstractmethod
        def _output_layers(self) -> list[Any]: ...

        # ---------------------------------------------------------------- steps (Model)
        @abstractmethod
        def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]: ...

        @abstractmethod
        def test_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]: ...

        # ------------------------------------------------------------ compiling (Compiling)
        @abstractmethod
        def _check_compiled(self, method: str) -> None: ...

        @abstractmethod
        def _reset_metrics(self) -> None: ...

        @abstractmethod
        def _metric_results(self) -> dict[str, Any]: ...

else:
    ModelParts = object
