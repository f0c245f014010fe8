"""Layers (Keras names): thin holders of parameters that call functional ops.

* :mod:`~scratchnn.layers.core`: Input, Dense, Activation, Dropout, Flatten;
* :mod:`~scratchnn.layers.merge`: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate;
* :mod:`~scratchnn.layers.recurrent` and :mod:`~scratchnn.layers.sequence`: SimpleRNN, LSTM, GRU,
  Bidirectional, Embedding, Masking, TimeDistributed;
* :mod:`~scratchnn.layers.conv`: Conv1D, Conv2D, Conv2DTranspose;
* :mod:`~scratchnn.layers.pooling`: MaxPooling1D/2D, AveragePooling1D/2D and their global forms;
* :mod:`~scratchnn.layers.normalization`: BatchNormalization;
* :mod:`~scratchnn.layers.reshaping`: Reshape, UpSampling2D, ZeroPadding2D;
* :mod:`~scratchnn.layers.regularization`: SpatialDropout2D, GaussianNoise.

:data:`LAYERS` is the registry model files name layers by: a class is found there by its name,
never imported from a name read from a file.
"""

from scratchnn.layers.base import Layer, SymbolicTensor
from scratchnn.layers.conv import Conv1D, Conv2D, Conv2DTranspose
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
from scratchnn.layers.normalization import BatchNormalization
from scratchnn.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from scratchnn.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from scratchnn.layers.regularization import GaussianNoise, SpatialDropout2D
from scratchnn.layers.reshaping import Reshape, UpSampling2D, ZeroPadding2D
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
LAYERS.update({cls.__name__: cls for cls in (
    Conv1D, Conv2D, Conv2DTranspose,
    MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    BatchNormalization, Reshape, UpSampling2D, ZeroPadding2D, SpatialDropout2D, GaussianNoise,
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
__all__ += [
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Reshape",
    "SpatialDropout2D",
    "UpSampling2D",
    "ZeroPadding2D",
]
