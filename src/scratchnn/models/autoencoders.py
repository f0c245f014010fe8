"""Autoencoders built with the functional API: an encoder and a decoder, each a model of its own.

An autoencoder encodes its input into a smaller code (dimensionality reduction) and decodes the
code back; trained with ``fit(x, x)`` it learns the code that loses least. Here the encoder
(``input -> code``) and the decoder (``code -> reconstruction``) are separate functional
models, so either can be used alone (``encoder.predict(x)`` gives the codes, ``decoder.predict``
draws from codes), and the autoencoder is the graph ``decoder(encoder(input))`` that trains
both at once. With ``noise_stddev > 0`` a :class:`~scratchnn.layers.GaussianNoise` layer sits
between the input and the encoder, active only in training: a denoising autoencoder, which
learns to give back the clean input from a corrupted one (the encoder and decoder alone stay
noise-free).

    >>> import numpy as np
    >>> parts = dense_autoencoder(16, code_size=2, hidden=(8,), seed=0)
    >>> parts.model.compile(optimizer="adam", loss="mse")
    >>> x = np.random.default_rng(0).random((64, 16)).astype("float32")
    >>> _ = parts.model.fit(x, x, epochs=2, batch_size=16, verbose=0)
    >>> parts.encoder.predict(x).shape, parts.decoder.predict(np.zeros((3, 2))).shape
    ((64, 2), (3, 16))

Shape legend: N rows, D input features, K code size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scratchnn.layers import (
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    GaussianNoise,
    Input,
    Reshape,
)
from scratchnn.models._seeds import derived_seeds
from scratchnn.models.model import Model

if TYPE_CHECKING:
    from scratchnn.activations import ActivationName


@dataclass(frozen=True)
class Autoencoder:
    """The three models of an autoencoder; they share their layers (one set of weights).

    Attributes:
        model: input -> reconstruction (trains encoder and decoder together: ``fit(x, x)``).
        encoder: input -> code.
        decoder: code -> reconstruction.
    """

    model: Model
    encoder: Model
    decoder: Model

    def reconstruct(self, x: Any) -> np.ndarray:
        """``decoder(encoder(x))`` without noise: the reconstructions of ``x``."""
        return self.model.predict(x)


def _assemble(
    encoder: Model, decoder: Model, input_shape: tuple[int, ...], noise_stddev: float,
    name: str, seed: int | None,
) -> Autoencoder:
    inputs = Input(input_shape, name="image")
    x: Any = inputs
    if noise_stddev:
        x = GaussianNoise(noise_stddev, name="noise")(x)
    model = Model(inputs=inputs, outputs=decoder(encoder(x)), name=name, seed=seed)
    return Autoencoder(model, encoder, decoder)


def dense_autoencoder(
    input_dim: int,
    code_size: int = 32,
    hidden: Sequence[int] = (256,),
    *,
    activation: ActivationName = "relu",
    output_activation: ActivationName | None = "sigmoid",
    noise_stddev: float = 0.0,
    seed: int | None = None,
) -> Autoencoder:
    """A Dense autoencoder: ``D -> hidden... -> K`` (linear code) ``-> ...hidden -> D``.

    Args:
        input_dim: input features D (flatten images first).
        code_size: code size K.
        hidden: hidden layer sizes of the encoder (the decoder mirrors them).
        activation: hidden activation.
        output_activation: ``"sigmoid"`` for inputs in [0, 1], ``None`` for real values.
        noise_stddev: > 0 for a denoising autoencoder (Gaussian noise on the input in training).
        seed: seed of the weights (the encoder's, the decoder's and the noise are derived).

    Returns:
        An :class:`Autoencoder` (not compiled).
    """
    seeds = derived_seeds(seed, 3)
    enc_in = Input((input_dim,), name="encoder_input")
    h: Any = enc_in
    for units in hidden:
        h = Dense(units, activation=activation)(h)
    encoder = Model(inputs=enc_in, outputs=Dense(code_size, name="code")(h), name="encoder",
                    seed=seeds[0])
    dec_in = Input((code_size,), name="decoder_input")
    h = dec_in
    for units in reversed(hidden):
        h = Dense(units, activation=activation)(h)
    decoder = Model(inputs=dec_in, outputs=Dense(input_dim, activation=output_activation,
                                                 name="reconstruction")(h),
                    name="decoder", seed=seeds[1])
    return _assemble(encoder, decoder, (input_dim,), noise_stddev, "dense_autoencoder",
                     seeds[2])


def conv_autoencoder(
    input_shape: Sequence[int] = (28, 28, 1),
    code_size: int = 32,
    filters: Sequence[int] = (16, 32),
    *,
    activation: ActivationName = "relu",
    output_activation: ActivationName | None = "sigmoid",
    noise_stddev: float = 0.0,
    seed: int | None = None,
) -> Autoencoder:
    """A convolutional autoencoder for ``(H, W, C)`` images, H and W multiples of 4.

    Encoder: ``Conv2D(filters[0], 3, stride 2) -> Conv2D(filters[1], 3, stride 2) -> Flatten ->
    Dense(K)``; decoder: ``Dense(H/4·W/4·filters[1]) -> Reshape -> Conv2DTranspose(filters[0],
    3, stride 2) -> Conv2DTranspose(C, 3, stride 2)``, all ``"same"`` padding.

    Args: as :func:`dense_autoencoder`, with ``input_shape`` and ``filters`` (two channel
    counts) instead of ``input_dim`` and ``hidden``.
    """
    h, w, c = (int(n) for n in input_shape)
    if h % 4 or w % 4:
        raise ValueError(f"conv_autoencoder() needs a height and width that are multiples of 4; "
                         f"received input_shape={tuple(input_shape)}.")
    f0, f1 = (int(f) for f in filters)
    seeds = derived_seeds(seed, 3)
    enc_in = Input((h, w, c), name="encoder_input")
    x: Any = Conv2D(f0, 3, strides=2, padding="same", activation=activation)(enc_in)
    x = Conv2D(f1, 3, strides=2, padding="same", activation=activation)(x)
    encoder = Model(inputs=enc_in, outputs=Dense(code_size, name="code")(Flatten()(x)),
                    name="encoder", seed=seeds[0])
    dec_in = Input((code_size,), name="decoder_input")
    x = Dense(h // 4 * w // 4 * f1, activation=activation)(dec_in)
    x = Reshape((h // 4, w // 4, f1))(x)
    x = Conv2DTranspose(f0, 3, strides=2, padding="same", activation=activation)(x)
    out = Conv2DTranspose(c, 3, strides=2, padding="same", activation=output_activation,
                          name="reconstruction")(x)
    decoder = Model(inputs=dec_in, outputs=out, name="decoder", seed=seeds[1])
    return _assemble(encoder, decoder, (h, w, c), noise_stddev, "conv_autoencoder", seeds[2])
