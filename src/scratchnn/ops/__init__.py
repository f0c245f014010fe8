"""Differentiable operations: each forward written beside its local backward.

The ops live in submodules by family and are all re-exported here, so ``scratchnn.ops.linear``,
``scratchnn.ops.conv2d`` and ``scratchnn.ops.lstm`` are one namespace:

* :mod:`scratchnn.ops.core`: arithmetic, reductions, element-wise functions, shapes and indexing,
  activations, the fused dense ``linear``, dropout and the fused stable losses;
* :mod:`scratchnn.ops.stacked`: ``stacked_linear``, the Dense layer of a population (many
  networks with a leading member axis), and ``stacked_perceptron``, a population's
  one-hidden-layer network as one node;
* :mod:`scratchnn.ops.recurrent`: ``simple_rnn``, ``lstm``, ``gru`` (a whole time loop per node,
  backpropagation through time in its backward) and the ``embedding`` lookup.

Every op takes tensors (or array-likes / Python numbers, which become constants of the other
operand's dtype), computes its output with ``backend.xp`` and returns a :class:`Tensor` whose local
``backward(g)`` maps the upstream gradient to one gradient per input.
"""

from scratchnn.ops.core import (
    FUSED_ACTIVATIONS,
    SELU_ALPHA,
    SELU_SCALE,
    abs,
    add,
    cast,
    clip,
    concatenate,
    div,
    dropout,
    elu,
    exp,
    gelu,
    getitem,
    leaky_relu,
    linear,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    power,
    relu,
    reshape,
    selu,
    sigmoid,
    sigmoid_binary_crossentropy,
    softmax,
    softmax_crossentropy,
    softplus,
    sparse_softmax_crossentropy,
    sqrt,
    stack,
    sub,
    sum,
    swish,
    tanh,
    transpose,
    unbroadcast,
    where,
)
from scratchnn.ops.recurrent import RECURRENT_ACTIVATIONS, embedding, gru, lstm, simple_rnn
from scratchnn.ops.stacked import stacked_linear, stacked_perceptron

__all__ = [
    "FUSED_ACTIVATIONS",
    "SELU_ALPHA",
    "SELU_SCALE",
    "abs",
    "add",
    "cast",
    "clip",
    "concatenate",
    "div",
    "dropout",
    "elu",
    "exp",
    "gelu",
    "getitem",
    "leaky_relu",
    "linear",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "neg",
    "power",
    "relu",
    "reshape",
    "selu",
    "sigmoid",
    "sigmoid_binary_crossentropy",
    "softmax",
    "softmax_crossentropy",
    "softplus",
    "sparse_softmax_crossentropy",
    "sqrt",
    "stack",
    "stacked_linear",
    "stacked_perceptron",
    "sub",
    "sum",
    "swish",
    "tanh",
    "transpose",
    "unbroadcast",
    "where",
]
__all__ += ["RECURRENT_ACTIVATIONS", "embedding", "gru", "lstm", "simple_rnn"]
