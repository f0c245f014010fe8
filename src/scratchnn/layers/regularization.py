"""SpatialDropout2D: dropout of whole feature maps (Keras name).

Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels hardly
regularises a convolution; dropping whole channels does (Tompson et al., 2015).

Shape legend: N batch, H/W height/width, C channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn import ops
from scratchnn.backend import FloatDType
from scratchnn.layers import _spatial as sp
from scratchnn.layers.base import Layer
from scratchnn.tensor import Tensor


class SpatialDropout2D(Layer):
    """In training, zero each (sample, channel) feature map with probability ``rate``.

    The kept maps are scaled by ``1 / (1 - rate)`` (inverted dropout); prediction passes the
    input through. The mask is drawn from the model's generator (``Sequential(seed=...)``, or
    ``fit(seed=...)``), or from one seeded with ``seed``.

    Args:
        rate: fraction of feature maps dropped, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: seed of this layer's own generator; ``None`` uses the model's.

    Shape:
        ``(N, H, W, C)``, unchanged; the mask is ``(N, 1, 1, C)``.

    Example:
        >>> import numpy as np
        >>> layer = SpatialDropout2D(0.5, seed=0)
        >>> out = layer(np.ones((1, 2, 2, 4)), training=True).numpy()
        >>> out[0, :, :, 0].tolist(), out[0, 0, 0].tolist()  # whole maps kept (x2) or dropped
        ([[2.0, 2.0], [2.0, 2.0]], [2.0, 2.0, 2.0, 0.0])
    """

    def __init__(
        self, rate: float, data_format: str | None = None, seed: int | None = None,
        trainable: bool = True, name: str | None = None, dtype: FloatDType = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"{sp.label(self)}: rate must be a number in [0, 1) (the fraction of feature "
                f"maps dropped); received rate={rate!r}."
            )
        self.rate = float(rate)
        self.data_format = sp.data_format(self, data_format)
        self.seed = seed
        self.rng: np.random.Generator | None = None

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: FloatDType = None,
    ) -> None:
        """Check the rank; take the model's generator (or one seeded with ``seed``)."""
        sp.check_sample_rank(self, tuple(input_shape), 2, self.data_format)
        super().build(input_shape, rng, dtype)
        self.rng = rng if self.seed is None else np.random.default_rng(self.seed)

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """Drop whole feature maps in training; identity otherwise."""
        sp.check_batch(self, x, 2, self.data_format)
        if not training or self.rate == 0:
            return x
        if self.rng is None:
            raise ValueError(
                f"{sp.label(self)} has no random generator to draw its mask: use it in a model "
                "(Sequential([...], seed=0)), give it seed=..., or build it with "
                "layer.build(input_shape, rng=numpy.random.default_rng(seed))."
            )
        n = x.shape[0]
        if self.data_format == "channels_first":
            noise = (n, x.shape[1], 1, 1)
        else:
            noise = (n, 1, 1, x.shape[3])
        return ops.dropout(x, self.rate, self.rng, noise_shape=noise)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {
            **super().get_config(),
            "rate": self.rate,
            "data_format": self.data_format,
            "seed": self.seed,
        }
