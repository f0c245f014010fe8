"""Functional models: layers wired into a graph with ``Input`` and ``Model(inputs, outputs)``.

Calling a layer on the symbolic tensor of an :class:`~scratchnn.layers.Input` (or on the output
of such a call) records a node instead of computing; ``Model(inputs=..., outputs=...)`` collects
the nodes between them into a model with several inputs and outputs, shared layers (one layer
called twice: one set of weights) and nested models::

    >>> import numpy as np
    >>> from scratchnn import Model
    >>> from scratchnn.layers import Concatenate, Dense, Input
    >>> left, right = Input((3,), name="left"), Input((3,), name="right")
    >>> shared = Dense(4, activation="tanh")              # the same weights for both inputs
    >>> merged = Concatenate()([shared(left), shared(right)])
    >>> model = Model(inputs=[left, right], outputs=Dense(1, activation="sigmoid")(merged), seed=0)
    >>> model.predict([np.ones((2, 3)), np.zeros((2, 3))]).shape
    (2, 1)

The weights are drawn when the model is made, from the model's own generator (``seed=``), in the
order the graph runs. The configuration lists the layers with the calls that feed each of them
(``inbound_nodes``), so a model file holds the graph as data; it is rebuilt from the layer
registry, never from code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from scratchnn.backend import FloatDType
from scratchnn.layers import Dense, Input, Layer
from scratchnn.layers.base import Layer as BaseLayer
from scratchnn.layers.base import Node, SymbolicTensor
from scratchnn.layers.core import GraphTensors
from scratchnn.models.model import Model, claim_names
from scratchnn.tensor import Tensor

MAX_NODES = 100_000
"""The largest graph a configuration may describe (a file cannot make the loader loop forever)."""


def _symbolic(value: Any, label: str) -> tuple[list[SymbolicTensor], bool]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    found = [getattr(item, "output", item) for item in items]
    for item in found:
        if not isinstance(item, SymbolicTensor):
            raise TypeError(
                f"Model({label}=...) takes symbolic tensors: Input(...) objects and the results "
                f"of calling layers on them; received {type(item).__name__}."
            )
    return found, not isinstance(value, (list, tuple))


class Functional(Model):
    """A model whose layers form a graph from ``inputs`` to ``outputs``.

    Made by ``scratchnn.Model(inputs=..., outputs=...)``.

    Args:
        inputs: an ``Input`` (or its symbolic tensor), or a list of them.
        outputs: a symbolic tensor reached from the inputs, or a list of them.
        name, dtype, seed: as for :class:`~scratchnn.models.Model`.

    Raises:
        ValueError: an output that does not depend only on the given inputs, an input given
            twice, layer names that clash.
    """

    def __init__(
        self,
        inputs: GraphTensors | None = None,
        outputs: GraphTensors | None = None,
        name: str | None = None,
        dtype: FloatDType = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        if inputs is None or outputs is None:
            raise ValueError("Model(inputs=..., outputs=...) needs both inputs and outputs.")
        self._inputs, self._single_input = _symbolic(inputs, "inputs")
        self._outputs, self._single_output = _symbolic(outputs, "outputs")
        for t in self._inputs:
            if not isinstance(t.node.layer, Input):
                raise ValueError(
                    f"Model inputs must be Input(...) objects; {t!r} is made by a layer."
                )
        if len({id(t) for t in self._inputs}) != len(self._inputs):
            raise ValueError("An Input appears twice in Model(inputs=...).")
        self._nodes = self._collect_nodes()
        self._graph_layers = self._collect_layers()
        claim_names([t.node.layer for t in self._inputs] + self._graph_layers)
        names = [t.node.layer.name for t in self._inputs] + [la.name for la in self._graph_layers]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(
                f"Layer names must be unique within a model (weights are stored under them); "
                f"repeated: {clashes}. Pass name=... to the layers."
            )
        self._consumed = {id(t) for node in self._nodes for t in node.inputs}
        base = BaseLayer.compute_mask
        self._masking = any(
            type(layer).compute_mask is not base for layer in self._graph_layers
        )
        self._build_graph()

    # ------------------------------------------------------------------------------- graph
    def _collect_nodes(self) -> list[Node]:
        """The nodes between the inputs and the outputs, in an order they can run in."""
        sources = {id(t) for t in self._inputs}
        order: list[Node] = []
        state: dict[int, int] = {}  # node id -> 1 visiting, 2 done
        stack: list[tuple[Node, bool]] = [(t.node, False) for t in reversed(self._outputs)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                state[id(node)] = 2
                order.append(node)
                continue
            if state.get(id(node)) == 2:
                continue
            if isinstance(node.layer, Input):
                if id(node.outputs[0]) not in sources:
                    raise ValueError(
                        f"An output depends on Input {node.layer.name!r}, which is not in "
                        "Model(inputs=...); add it to the inputs."
                    )
                state[id(node)] = 2
                continue
            if state.get(id(node)) == 1:
                continue
            state[id(node)] = 1
            stack.append((node, True))
            for t in reversed(node.inputs):
                if state.get(id(t.node)) != 2:
                    stack.append((t.node, False))
        return order

    def _collect_layers(self) -> list[Layer]:
        layers: list[Layer] = []
        seen: set[int] = set()
        for node in self._nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        return layers

    def _build_graph(self) -> None:
        """Create the weights of every layer, in graph order, from the model's generator."""
        for node in self._nodes:
            layer = node.layer
            shapes: Any = (
                node.inputs[0].shape if node.single_input else [t.shape for t in node.inputs]
            )
            if not layer.built:
                layer.build(shapes, rng=self._rng, dtype=self.dtype)

    def _child_layers(self) -> list[Layer]:
        return list(self._graph_layers)

    @property
    def layers(self) -> list[Layer]:
        """The layers of the graph in the order they first run (the ``Input`` layers first)."""
        return [t.node.layer for t in self._inputs] + list(self._graph_layers)

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The symbolic input tensors."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The symbolic output tensors."""
        return list(self._outputs)

    @property
    def input_names(self) -> list[str]:
        """The names of the ``Input`` layers (keys of ``x`` given as a dict)."""
        return [t.node.layer.name for t in self._inputs]

    @property
    def output_names(self) -> list[str]:
        """The names of the layers making the outputs (``_1``, ... where one repeats)."""
        names: list[str] = []
        for t in self._outputs:
            base = t.node.layer.name
            name, n = base, 0
            while name in names:
                n += 1
                name = f"{base}_{n}"
            names.append(name)
        return names

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """Shape of one sample of each input."""
        return [t.shape for t in self._inputs]

    @property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """Shape of one sample of each output."""
        return [t.shape for t in self._outputs]

    @property
    def input_shape(self) -> Any:
        """The input shape (a list of shapes for several inputs)."""
        shapes = self.input_shapes
        return shapes[0] if self._single_input else shapes

    @input_shape.setter
    def input_shape(self, value: Any) -> None:
        pass  # fixed by the graph

    @property
    def output_shape(self) -> Any:
        """The output shape (a list of shapes for several outputs)."""
        shapes = self.output_shapes
        return shapes[0] if self._single_output else shapes

    def build(self, input_shape: Any, rng: Any = None, dtype: Any = None) -> None:
        """A functional model is built when it is made; this only checks ``input_shape``."""
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape(s), after checking that ``input_shape`` is the graph's."""
        shapes = [tuple(input_shape)] if self._single_input else [tuple(s) for s in input_shape]
        if shapes != [tuple(s) for s in self.input_shapes if s is not None]:
            raise ValueError(
                f"Model {self.name!r} takes inputs of shape {self.input_shape}; received "
                f"{input_shape}."
            )
        return self.output_shape

    def _output_layers(self) -> list[Any]:
        """The layer whose logits a loss may take: a Dense output that nothing else reads."""
        counts: dict[int, int] = {}
        for node in self._nodes:
            counts[id(node.layer)] = counts.get(id(node.layer), 0) + 1
        out = []
        for t in self._outputs:
            layer = t.node.layer
            fusable = (
                isinstance(layer, Dense) and id(t) not in self._consumed
                and counts.get(id(layer)) == 1
            )
            out.append(layer if fusable else None)
        return out

    # ---------------------------------------------------------------------------- forward
    def _run(self, xs: Sequence[Tensor], training: bool, logits: Sequence[bool] = ()) -> list:
        values: dict[int, Any] = {id(t): x for t, x in zip(self._inputs, xs, strict=True)}
        masks: dict[int, Any] = {}
        wanted = {id(t.node) for t, flag in zip(self._outputs, logits, strict=False) if flag}
        for node in self._nodes:
            args = [values[id(t)] for t in node.inputs]
            arg: Any = args[0] if node.single_input else args
            layer = node.layer
            if id(node) in wanted:
                # a Dense whose activation the output's loss takes as logits (compiled.fused)
                values[id(node.outputs[0])] = cast(Dense, layer).pre_activation(arg)
                continue
            mask = None
            if self._masking:
                in_masks = [masks.get(id(t)) for t in node.inputs]
                mask = in_masks[0] if node.single_input else (
                    in_masks if any(m is not None for m in in_masks) else None
                )
            out = layer(arg, training=training, mask=mask)
            outs = out if isinstance(out, list) else [out]
            for t, value in zip(node.outputs, outs, strict=True):
                values[id(t)] = value
            if self._masking:
                produced = layer.compute_mask(arg, mask)
                for t in node.outputs:
                    masks[id(t)] = produced
        return [values[id(t)] for t in self._outputs]

    def call(self, x: Any, training: bool = False) -> Any:
        """Run the graph on a batch (one Tensor, or a list for several inputs)."""
        xs = [x] if self._single_input else list(x)
        if len(xs) != len(self._inputs):
            raise ValueError(
                f"Model {self.name!r} has {len(self._inputs)} inputs {self.input_names}; "
                f"received {len(xs)}."
            )
        outs = self._run(xs, training)
        return outs[0] if self._single_output else outs

    def _forward_for_loss(self, xs: list[Tensor], training: bool) -> list[Tensor]:
        fused = self.compiled_loss.fused if self.compiled_loss is not None else ()
        return self._run(xs, training, [f is not None for f in fused])

    def _summary_rows(self) -> list[tuple[Layer, str]]:
        rows = [(t.node.layer, str((None, *t.shape))) for t in self._inputs]
        for layer in self._graph_layers:
            shapes = [
                str((None, *t.shape)) for node in self._nodes if node.layer is layer
                for t in node.outputs
            ]
            rows.append((layer, ", ".join(dict.fromkeys(shapes))))
        return rows

    # ---------------------------------------------------------------------- configuration
    def _node_keys(self) -> dict[int, tuple[str, int]]:
        """``id(node) -> (layer name, index of the node among that layer's nodes here)``."""
        keys: dict[int, tuple[str, int]] = {}
        counts: dict[str, int] = {}
        for t in self._inputs:
            keys[id(t.node)] = (t.node.layer.name, 0)
        for node in self._nodes:
            name = node.layer.name
            keys[id(node)] = (name, counts.get(name, 0))
            counts[name] = counts.get(name, 0) + 1
        return keys

    def get_config(self) -> dict[str, Any]:
        """The graph as JSON data: layers with the calls feeding them, inputs, outputs."""
        keys = self._node_keys()

        def ref(t: SymbolicTensor) -> list[Any]:
            name, index = keys[id(t.node)]
            return [name, index, t.index]

        layers: list[dict[str, Any]] = []
        for t in self._inputs:
            layer = t.node.layer
            layers.append({
                "class_name": "Input", "name": layer.name, "config": layer.get_config(),
                "inbound_nodes": [],
            })
        from scratchnn.models.config import model_class_name

        for layer in self._graph_layers:
            calls = [
                {"inputs": [ref(t) for t in node.inputs], "single": node.single_input}
                for node in self._nodes if node.layer is layer
            ]
            class_name = (
                model_class_name(layer) if isinstance(layer, Model) else type(layer).__name__
            )
            layers.append({
                "class_name": class_name, "name": layer.name, "config": layer.get_config(),
                "inbound_nodes": calls,
            })
        return {
            "name": self.name,
            "dtype": self.dtype.name,
            "seed": self.seed,
            "layers": layers,
            "input_layers": [ref(t) for t in self._inputs],
            "output_layers": [ref(t) for t in self._outputs],
            "single_input": self._single_input,
            "single_output": self._single_output,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        """Rebuild the graph from :meth:`get_config` data.

        Raises:
            ValueError: unknown classes, references to layers or calls that do not exist, a
                cycle, or a graph larger than :data:`MAX_NODES`.
        """
        from scratchnn.models.config import layer_from_config, model_from_config

        entries = config.get("layers")
        if not isinstance(entries, list):
            raise ValueError("A functional model config needs a 'layers' list.")
        layers: dict[str, Any] = {}
        pending: list[tuple[str, int, dict[str, Any]]] = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ValueError(f"A graph layer entry needs a 'name'; received {entry!r}.")
            name = entry["name"]
            if name in layers:
                raise ValueError(f"The graph names layer {name!r} twice.")
            class_name = entry.get("class_name")
            if class_name in ("Sequential", "Functional") or (
                isinstance(class_name, str) and class_name not in _layer_names()
            ):
                # not a dict: model_from_config raises the ValueError naming it
                nested = cast("dict[str, Any]", entry.get("config"))
                layers[name] = model_from_config(nested, class_name)
            else:
                layers[name] = layer_from_config(
                    {"class_name": class_name, "config": entry.get("config")}
                )
            calls = entry.get("inbound_nodes", [])
            if not isinstance(calls, list):
                raise ValueError(f"Layer {name!r}: 'inbound_nodes' must be a list.")
            pending.extend((name, i, call) for i, call in enumerate(calls))
        if len(pending) > MAX_NODES:
            raise ValueError(
                f"The graph has {len(pending)} calls; more than {MAX_NODES} is refused."
            )
        made: dict[tuple[str, int], list[Any]] = {}
        for name, layer in layers.items():
            if isinstance(layer, Input):
                made[(name, 0)] = [layer.output]

        def resolve(ref: Any) -> SymbolicTensor:
            if not (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str)
                    and all(isinstance(v, int) and not isinstance(v, bool) for v in ref[1:])):
                raise ValueError(f"A graph reference must be [layer, call, output]; got {ref!r}.")
            found = made.get((ref[0], ref[1]))
            if found is None or not 0 <= ref[2] < len(found):
                raise KeyError(tuple(ref))
            return found[ref[2]]

        while pending:
            progress = []
            for item in pending:
                name, index, call = item
                if not isinstance(call, dict) or not isinstance(call.get("inputs"), list):
                    raise ValueError(f"Layer {name!r}: a call must be {{'inputs': [...]}}.")
                try:
                    args = [resolve(ref) for ref in call["inputs"]]
                except KeyError:
                    continue
                if not args:
                    raise ValueError(f"Layer {name!r}: a call without inputs.")
                out = layers[name](args[0] if call.get("single", True) else args)
                made[(name, index)] = out if isinstance(out, list) else [out]
                progress.append(item)
            if not progress:
                missing = sorted({tuple(r) for _, _, c in pending for r in c["inputs"]
                                  if not _resolvable(r, made)}, key=str)
                raise ValueError(
                    f"The graph cannot be rebuilt: calls refer to {missing[:5]}, which no layer "
                    "makes (a reference to a missing layer or call, or a cycle)."
                )
            done = {id(p) for p in progress}
            pending = [p for p in pending if id(p) not in done]

        def refs(key: str) -> list[SymbolicTensor]:
            value = config.get(key)
            if not isinstance(value, list) or not value:
                raise ValueError(f"A functional model config needs a non-empty {key!r} list.")
            try:
                return [resolve(ref) for ref in value]
            except KeyError as exc:
                raise ValueError(f"{key} refers to {exc.args[0]}, which the graph lacks.") from None

        inputs, outputs = refs("input_layers"), refs("output_layers")
        return cls(
            inputs=inputs[0] if config.get("single_input", True) and len(inputs) == 1 else inputs,
            outputs=(
                outputs[0] if config.get("single_output", True) and len(outputs) == 1
                else outputs
            ),
            name=config.get("name"),
            dtype=config.get("dtype"),
            seed=config.get("seed"),
        )


def _layer_names() -> set[str]:
    from scratchnn.layers import LAYERS

    return set(LAYERS)


def _resolvable(ref: Any, made: dict[tuple[str, int], list[Any]]) -> bool:
    try:
        return (ref[0], ref[1]) in made
    except (TypeError, IndexError, KeyError):
        return False
