"""``GraphBuilder``: the small helper converters use to add ONNX nodes and weights.

A converter never touches the ``onnx`` package itself: it asks the builder for nodes
(:meth:`GraphBuilder.node`), weights (:meth:`GraphBuilder.weight`) and constants
(:meth:`GraphBuilder.constant`), each of which returns the name of the value it makes. Names are
unique in the graph. ``onnx`` is imported when a builder is made (at export time only): without
it :func:`require_onnx` raises an ImportError naming the extra to install.

    >>> g = GraphBuilder("float32")
    >>> kernel = g.weight([[1.0, 2.0]], "dense/kernel")
    >>> y = g.node("MatMul", ["input", kernel], hint="dense/matmul")
    >>> g.node("Relu", [y]), [n.op_type for n in g.nodes], g.initializers[0].dims
    ('relu', ['MatMul', 'Relu'], [1, 2])
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

ONNX_EXTRA = "scratchnn[onnx]"
"""The optional dependency that export needs: ``pip install 'scratchnn[onnx]'``."""


def require_onnx() -> Any:
    """The ``onnx`` module, or an ImportError that says which extra to install."""
    try:
        import onnx
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as exc:
        raise ImportError(
            "ONNX export needs the 'onnx' package, which scratchnn installs only on request: "
            f"pip install '{ONNX_EXTRA}' (or pip install onnx). Reason: {exc}"
        ) from exc
    return onnx


class GraphBuilder:
    """Collects the nodes and weights of one ONNX graph computing in one float dtype.

    Args:
        dtype: the float dtype of the model (``float32`` or ``float64``); weights and
            constants are stored in it.

    Attributes:
        dtype: the NumPy dtype of the graph's tensors.
        elem_type: the matching ONNX ``TensorProto`` element type.
        nodes: ``NodeProto`` list, in execution order.
        initializers: ``TensorProto`` list (weights and constants).
        mask: the name of the ``(N, T)`` boolean mask of the value being converted (padded
            time steps are ``False``), or ``None``; :func:`~scratchnn.export.converters.
            convert_chain` hands it along as a ``Sequential`` does, and the converters of layers
            that take one (recurrent layers) read it.
    """

    def __init__(self, dtype: Any) -> None:
        self.onnx = require_onnx()
        self.dtype = np.dtype(dtype)
        self.elem_type = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()
        self.mask: str | None = None

    def fresh(self, hint: str) -> str:
        """A name not used yet in the graph, from ``hint``: ``dense/kernel``, ``dense/kernel_1``."""
        base = re.sub(r"[^A-Za-z0-9_./:-]", "_", hint) or "value"
        name, n = base, 0
        while name in self._names:
            n += 1
            name = f"{base}_{n}"
        self._names.add(name)
        return name

    def weight(self, array: Any, hint: str) -> str:
        """Store ``array`` (cast to the graph's dtype) as an initializer; returns its name."""
        name = self.fresh(hint)
        data = np.ascontiguousarray(np.asarray(array, dtype=self.dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(data, name))
        return name

    def constant(self, value: Any, hint: str = "const", dtype: Any = None) -> str:
        """Store a constant (a number or an array) of ``dtype`` (default: the graph's dtype)."""
        name = self.fresh(hint)
        data = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(data, name))
        return name

    def node(
        self, op_type: str, inputs: list[str], hint: str | None = None, output: str | None = None,
        **attributes: Any,
    ) -> str:
        """Append a node of ``op_type`` (an ONNX operator of the default domain); returns its
        output's name.

        Args:
            op_type: e.g. ``"MatMul"``, ``"Relu"``.
            inputs: names of the input values, in the operator's order.
            hint: used to name the output (default: the operator's name).
            output: the exact output name (for the graph's outputs).
            **attributes: the operator's attributes, e.g. ``alpha=0.2``.
        """
        out = self.fresh(hint or op_type.lower()) if output is None else output
        if output is not None:
            if output in self._names:
                raise ValueError(f"internal error: the ONNX value name {output!r} is taken")
            self._names.add(output)
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), [out], name=out, **attributes)
        )
        return out

    def node_outputs(
        self, op_type: str, inputs: list[str], wanted: list[bool], hint: str | None = None,
        **attributes: Any,
    ) -> list[str]:
        """Append a node with several outputs; returns their names (``""`` for those not
        ``wanted``, which ONNX leaves uncomputed: e.g. an LSTM's ``Y`` when only ``Y_h`` is read).

            >>> g = GraphBuilder("float32")
            >>> g.node_outputs("LSTM", ["x", "w", "r"], [False, True], hint="lstm", hidden_size=2)
            ['', 'lstm']
        """
        base = hint or op_type.lower()
        outs = [self.fresh(base) if keep else "" for keep in wanted]
        self.nodes.append(self.onnx.helper.make_node(
            op_type, list(inputs), outs, name=self.fresh(f"{base}/node"), **attributes
        ))  # fmt: skip
        return outs
