"""Layers (Keras names): thin holders of parameters that call functional ops.

:data:`LAYERS` is the registry model files name layers by: a class is found there by its name,
never imported from a name read from a file.
"""

from scratchnn.layers.base import Layer, SymbolicTensor
from scratchnn.layers.core import Activation, Dense, Dropout, Flatten, Input
from scratchnn.layers.merge import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from scratchnn.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from scratchnn.layers.sequence import Embedding, Masking, TimeDistributed

LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Activation,
        Add,
        Average,
        Concatenate,
        Dense,
        Dropout,
        Flatten,
        Input,
        Maximum,
        Minimum,
        Multiply,
        Subtract,
    )
}
LAYERS.update({cls.__name__: cls for cls in (
    Bidirectional, Embedding, GRU, LSTM, Masking, SimpleRNN, TimeDistributed,
)})  # fmt: skip
"""Layer class name -> class: every layer a model file may name."""

__all__ = [
    "LAYERS",
    "Activation",
    "Add",
    "Average",
    "Concatenate",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "Layer",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "SymbolicTensor",
]
__all__ += ["GRU", "LSTM", "Bidirectional", "Embedding", "Masking", "SimpleRNN", "TimeDistributed"]
