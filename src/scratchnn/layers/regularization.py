"""SpatialDropout2D and GaussianNoise: regularisation layers active in training only (Keras
names).

Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels hardly
regularises a convolution; dropping whole channels does (Tompson et al., 2015). Adding noise to
the input of an autoencoder trained to give back the clean input makes a denoising autoencoder
(Vincent et al., 2008).

Shape legend: N batch, H/W height/width, C channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnn import ops
from scratchnn.backend import FloatDType
from scratchnn.layers import _spatial as sp
from scratchnn.layers.base import Layer, require_rng
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


class GaussianNoise(Layer):
    """In training, add zero-mean Gaussian noise of standard deviation ``stddev``; identity
    otherwise.

    Put after the ``Input`` of an autoencoder trained with ``fit(x, x)``, it makes a denoising
    autoencoder: fresh noise on every batch, the clean input as target. The noise is drawn from
    the model's generator (``Model(..., seed=...)``, or ``fit(seed=...)``), or from one seeded
    with ``seed``.

    Args:
        stddev: standard deviation of the noise, >= 0.
        seed: seed of this layer's own generator; ``None`` uses the model's.

    Shape:
        any, unchanged.

    Example:
        >>> import numpy as np
        >>> layer = GaussianNoise(0.1, seed=0)
        >>> noisy = layer(np.zeros((1000, 4)), training=True).numpy()
        >>> round(float(noisy.std()), 1), layer(np.ones((1, 2))).numpy().tolist()
        (0.1, [[1.0, 1.0]])
    """

    def __init__(
        self, stddev: float, seed: int | None = None, trainable: bool = True,
        name: str | None = None, dtype: Any = None,
    ) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or not (
            0 <= stddev < float("inf")
        ):
            raise ValueError(
                f"GaussianNoise stddev must be a finite number >= 0; received stddev={stddev!r}."
            )
        self.stddev = float(stddev)
        self.seed = seed
        self.rng: np.random.Generator | None = None

    def build(
        self, input_shape: tuple[int, ...], rng: np.random.Generator | None = None,
        dtype: Any = None,
    ) -> None:
        """Take the noise generator: one seeded with ``seed``, else the model's ``rng``."""
        super().build(input_shape, rng, dtype)
        self.rng = np.random.default_rng(self.seed) if self.seed is not None else rng

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        """``x + stddev * z`` with ``z ~ N(0, 1)`` in training; ``x`` otherwise."""
        if not training or self.stddev == 0:
            return x
        rng = require_rng(self.rng, self)
        noise = rng.standard_normal(x.shape) * self.stddev
        return ops.add(x, Tensor(noise.astype(x.dtype, copy=False), dtype=x.dtype))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as a dict (Keras' keys)."""
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
