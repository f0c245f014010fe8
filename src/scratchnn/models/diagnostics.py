"""Looking inside training: the gradient that reaches each layer.

Deep networks were hard to train because the gradient of the loss shrinks (or grows) as it is
carried back through layer after layer: with sigmoid units each layer multiplies it by at most
0.25. :func:`gradient_norms` measures it, layer by layer, for a compiled model on a batch;
:func:`scratchnn.plotting.plot_gradient_norms` draws it.

    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> model = Sequential([Dense(8, activation="sigmoid", input_dim=4)]
    ...                    + [Dense(8, activation="sigmoid") for _ in range(4)]
    ...                    + [Dense(2, activation="softmax")], seed=0)
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> rng = np.random.default_rng(0)
    >>> norms = gradient_norms(model, rng.normal(size=(64, 4)), rng.integers(0, 2, 64))
    >>> list(norms)[:2], norms["dense"] < norms["dense_5"]  # smaller near the input
    (['dense', 'dense_1'], True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn import backend


def gradient_norms(
    model: Any, x: Any, y: Any, *, weight: str = "kernel", training: bool = False
) -> dict[str, float]:
    """The L2 norm of the gradient of the compiled loss with respect to each layer's ``weight``.

    The loss is the model's compiled one (mean over the rows of ``x``, penalties included),
    computed in one batch; the weights are not changed and no gradient is left behind.

    Args:
        model: a compiled model.
        x, y: the batch (as ``fit`` takes them).
        weight: which weight of each layer (``"kernel"``; layers without it are skipped).
        training: run the forward pass in training mode (dropout on); off by default, so that
            the measurement is deterministic.

    Returns:
        ``{layer name: norm}`` in layer order (input side first).

    Raises:
        RuntimeError: an uncompiled model.
    """
    if getattr(model, "compiled_loss", None) is None:
        raise RuntimeError("gradient_norms() needs a model compiled with a loss.")
    arrays = model._prepare(x, y)
    xb, yb, sw = arrays.batch()
    params = model.params
    for p in params:
        p.grad = None
    loss, _ = model.compute_loss(xb, yb, sw, training=training)
    loss.backward()
    norms: dict[str, float] = {}
    for layer in model._leaf_layers():
        w = layer.weights.get(weight)
        if w is not None and w.grad is not None:
            g = np.asarray(backend.to_numpy(w.grad), dtype=np.float64).ravel()
            norms[layer.name] = float(np.sqrt(g @ g))
    for p in params:
        p.grad = None
    return norms
