"""Layers (Keras names): thin holders of parameters that call functional ops."""

from scratchnn.layers.base import Layer
from scratchnn.layers.core import Activation, Dense, Dropout, Flatten, Input

LAYERS = {cls.__name__: cls for cls in (Activation, Dense, Dropout, Flatten, Input)}

__all__ = ["LAYERS", "Activation", "Dense", "Dropout", "Flatten", "Input", "Layer"]
