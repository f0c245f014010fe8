"""Generative adversarial networks: a generator and a discriminator trained against each other.

The generator turns random numbers ``z`` into samples (an image); the discriminator returns how
likely a sample is to be real. :meth:`GAN.train_step` alternates the two feedback loops on each
batch of real samples:

1. the generator makes a batch of fakes from fresh noise (one forward pass, its graph kept);
2. **discriminator step** (:meth:`GAN.discriminator_step`): the discriminator learns to say
   "real" to the real batch and "fake" to the generated one (the fakes as plain arrays, so no
   gradient reaches the generator), updated by its own optimizer;
3. **generator step** (:meth:`GAN.generator_step`): the updated discriminator judges the same
   fakes, and the generator is updated, by its own optimizer, to make it say "real" (the
   non-saturating loss of Goodfellow et al.); the discriminator's weights are frozen for that
   step (no gradient, no update).

Both losses are binary cross-entropies; the discriminator gives logits by default
(``from_logits=True``: a last ``Dense(1)`` without activation), or probabilities.

    >>> import numpy as np
    >>> from scratchnn import Sequential
    >>> from scratchnn.layers import Dense
    >>> g = Sequential([Dense(8, activation="relu", input_dim=2), Dense(1)], name="generator")
    >>> d = Sequential([Dense(8, activation="relu", input_dim=1), Dense(1)], name="discriminator")
    >>> gan = GAN(g, d, seed=0)
    >>> gan.compile(d_optimizer="adam", g_optimizer="adam")
    >>> real = np.random.default_rng(0).normal(3.0, 0.5, size=(256, 1))
    >>> history = gan.fit(real, batch_size=64, epochs=2, verbose=0)
    >>> sorted(history.history), gan.generate(5).shape
    (['d_fake', 'd_loss', 'd_real', 'g_loss'], (5, 1))

:func:`dense_gan` and :func:`dcgan` build the two MNIST-sized GANs of study 004; the
:class:`~scratchnn.plotting.SampleGrids` callback draws a grid of samples after every epoch and
an animated GIF of them.

Shape legend: B rows in a batch, Z latent dimensions.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnn import losses, optimizers
from scratchnn.io_checks import CORRUPT, ModelPlan, nested_weights
from scratchnn.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Flatten,
    Input,
    Reshape,
)
from scratchnn.models._seeds import derived_seeds
from scratchnn.models.config import (
    model_class_name,
    model_from_config,
    plan_from_config,
    register,
)
from scratchnn.models.fitting import check_int
from scratchnn.models.model import Model
from scratchnn.models.sequential import Sequential
from scratchnn.optimizers._validation import check_bool
from scratchnn.tensor import Tensor


@register
class GAN(Model):
    """A generator and a discriminator, trained by alternating updates in :meth:`train_step`.

    ``fit(x)`` takes only real samples (no labels); each batch gives one discriminator update
    and one generator update (see the module docstring). ``predict(z)`` and :meth:`generate`
    run the generator.

    Args:
        generator: a built model from ``(B, Z)`` noise to samples shaped like the real ones.
        discriminator: a built model from samples to one logit (or probability) per row.
        from_logits: the discriminator outputs logits (``True``, default) or probabilities.
        label_smoothing: the discriminator's target for real samples is ``1 - label_smoothing``
            (one-sided label smoothing, e.g. 0.1); 0 by default.
        name, dtype, seed: as for :class:`~scratchnn.models.Model`; the noise ``z ~ N(0, 1)``
            is drawn from the model's generator (or ``fit(seed=...)``'s).

    Raises:
        ValueError: unbuilt networks, or shapes that do not fit together.
        TypeError: ``from_logits`` that is not a bool.
    """

    def __init__(
        self,
        generator: Model,
        discriminator: Model,
        *,
        from_logits: bool = True,
        label_smoothing: float = 0.0,
        name: str | None = None,
        dtype: Any = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype, seed=seed)
        for label, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, Model) or not net.built:
                raise ValueError(
                    f"{label} must be a built scratchnn Model (give its first layer an input "
                    f"shape, e.g. Dense(..., input_dim=...)); received {net!r}."
                )
            if net._auto_named:
                net.name, net._auto_named = label, False
        latent = generator.input_shapes[0]
        sample = generator.output_shapes[0]
        judged = discriminator.input_shapes[0]
        if latent is None or len(latent) != 1:
            raise ValueError(f"The generator must take (B, Z) noise; its input shape is {latent}.")
        if sample is not None and judged is not None and tuple(sample) != tuple(judged):
            raise ValueError(
                f"The generator makes samples of shape {tuple(sample)} but the discriminator "
                f"takes {tuple(judged)}; they must match."
            )
        out = discriminator.output_shapes[0]
        if out is not None and tuple(out) != (1,):
            raise ValueError(
                f"The discriminator must give one value per sample, shape (B, 1); it gives "
                f"{(None, *out)}."
            )
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or (
            not 0 <= label_smoothing < 1
        ):
            raise ValueError(f"label_smoothing must be a number in [0, 1); received "
                             f"label_smoothing={label_smoothing!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent[0])
        self.from_logits = check_bool("from_logits", from_logits)
        self.label_smoothing = float(label_smoothing)
        self._loss = losses.BinaryCrossentropy(from_logits=self.from_logits)
        self.d_optimizer: optimizers.Optimizer | None = None
        self.g_optimizer: optimizers.Optimizer | None = None
        self._sampling = self._rng

    # ------------------------------------------------------------------------------ structure
    def call(self, z: Any, training: bool = False) -> Tensor:
        """Generated samples for noise ``z`` (B, Z)."""
        return self.generator(z, training=training)

    @property
    def input_shapes(self) -> list[tuple[int, ...] | None]:
        """``[(Z,)]``: what ``predict`` takes."""
        return [(self.latent_dim,)]

    @property
    def output_shapes(self) -> list[tuple[int, ...] | None]:
        """The generator's sample shape."""
        return self.generator.output_shapes

    def _prepare(self, x: Any, y: Any, sample_weight: Any = None, class_weight: Any = None,
                 prefix: str = "") -> Any:
        """Real samples for ``fit`` (shaped as the discriminator takes them); ``y`` is unused."""
        from scratchnn.models import data, trainer

        arrays = [data.as_features(x, self.dtype, f"{prefix}x")]
        expected = self.discriminator.input_shapes[0]
        if expected is not None and arrays[0].shape[1:] != tuple(expected):
            raise ValueError(
                f"GAN {self.name!r} trains on real samples of shape {(None, *expected)} (what "
                f"the discriminator takes); received {prefix}x of shape {arrays[0].shape}."
            )
        return trainer.Arrays(arrays, [], [])

    # -------------------------------------------------------------------------------- compile
    def compile(  # type: ignore[override]
        self,
        d_optimizer: Any = "adam",
        g_optimizer: Any = "adam",
        **_: Any,
    ) -> None:
        """Give each network its own optimizer (names, objects or config dicts).

        The DCGAN recipe: ``Adam(2e-4, beta_1=0.5)`` for both.
        """
        self.d_optimizer = optimizers.get(copy.deepcopy(d_optimizer))
        self.g_optimizer = optimizers.get(copy.deepcopy(g_optimizer))
        self._compile_args = {"loss": None, "metrics": None, "loss_weights": None}
        self.compiled_loss = None
        self._trackers = []

    def compile_config(self) -> dict[str, Any] | None:
        """The two optimizers' settings (their moments are not saved: training on after
        loading starts them afresh)."""
        if self.d_optimizer is None or self.g_optimizer is None:
            return None
        return {"d_optimizer": self.d_optimizer.get_config(),
                "g_optimizer": self.g_optimizer.get_config()}

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from :meth:`compile_config` data.

        Raises:
            ValueError: settings without ``d_optimizer`` and ``g_optimizer``.
        """
        missing = [key for key in ("d_optimizer", "g_optimizer") if key not in config]
        if missing:
            raise ValueError(f"a GAN's compile settings name its two optimizers, 'd_optimizer' "
                             f"and 'g_optimizer'; {missing} missing.")
        self.compile(d_optimizer=config["d_optimizer"], g_optimizer=config["g_optimizer"])

    def _check_compiled(self, method: str) -> None:
        if method in ("fit", "train_on_batch") and (
            self.d_optimizer is None or self.g_optimizer is None
        ):
            raise RuntimeError(
                f"{method}() needs a compiled GAN: call gan.compile(d_optimizer=..., "
                "g_optimizer=...) first."
            )
        if method in ("evaluate", "test_on_batch"):
            raise RuntimeError("A GAN has no loss to evaluate; judge its samples instead "
                               "(generate(), or a classifier's score).")

    # ------------------------------------------------------------------------------- training
    def _noise(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = self._sampling if rng is None else rng
        return rng.standard_normal((n, self.latent_dim)).astype(self.dtype, copy=False)

    def _bce(self, judged: Tensor, target: float) -> Tensor:
        """Mean binary cross-entropy of the discriminator's outputs against one target."""
        return self._loss(np.full(judged.shape, target, dtype=judged.dtype), judged)

    def _probability(self, judged: Tensor) -> float:
        values = judged.data
        if self.from_logits:
            values = 1.0 / (1.0 + np.exp(-np.clip(values, -60, 60)))
        return float(np.mean(values))

    def discriminator_step(self, real: Any, fake: Any) -> dict[str, float]:
        """One update of the discriminator alone: real samples -> "real", fakes -> "fake".

        Args:
            real: a batch of real samples (array or Tensor).
            fake: a batch of generated samples as an array (no gradient flows back through it).

        Returns:
            ``{"d_loss", "d_real", "d_fake"}``: the loss (mean of the two cross-entropies) and
            the mean probability of "real" given to each batch, before the update.
        """
        assert self.d_optimizer is not None
        real_t = real if isinstance(real, Tensor) else Tensor(real, dtype=self.dtype)
        fake_t = Tensor(fake.data if isinstance(fake, Tensor) else fake, dtype=self.dtype)
        params = self.discriminator.params
        for p in params:
            p.grad = None
        on_real = self.discriminator(real_t, training=True)
        on_fake = self.discriminator(fake_t, training=True)
        loss = (self._bce(on_real, 1.0 - self.label_smoothing) + self._bce(on_fake, 0.0)) * 0.5
        value = float(loss.data)
        if math.isfinite(value):
            loss.backward()
            self.d_optimizer.step(params)
        for p in params:
            p.grad = None
        return {"d_loss": value, "d_real": self._probability(on_real),
                "d_fake": self._probability(on_fake)}

    def generator_step(self, fake: Tensor) -> dict[str, float]:
        """One update of the generator alone, through the frozen discriminator.

        Args:
            fake: the generator's output as a Tensor whose graph reaches the generator's
                weights (``gan.generator(z, training=True)``).

        Returns:
            ``{"g_loss"}``: the cross-entropy of the discriminator's judgement against "real".
        """
        assert self.g_optimizer is not None
        d_params = self.discriminator.params
        g_params = self.generator.params
        flags = [p.requires_grad for p in d_params]
        for p in d_params:
            p.requires_grad = False  # frozen: the gradient only passes through
        try:
            for p in g_params:
                p.grad = None
            loss = self._bce(self.discriminator(fake, training=True), 1.0)
            value = float(loss.data)
            if math.isfinite(value):
                loss.backward()
                self.g_optimizer.step(g_params)
        finally:
            for p, flag in zip(d_params, flags, strict=True):
                p.requires_grad = flag
                p.grad = None
            for p in g_params:
                p.grad = None
        return {"g_loss": value}

    def train_step(self, batch: tuple[Any, Any, Any]) -> dict[str, Any]:
        """One discriminator update, then one generator update, on a batch of real samples.

        Returns:
            ``{"d_loss", "g_loss", "d_real", "d_fake"}`` of the batch (see the two steps).
        """
        real = batch[0]
        fake = self.generator(Tensor(self._noise(len(real)), dtype=self.dtype), training=True)
        logs = self.discriminator_step(real, fake.data)
        logs.update(self.generator_step(fake))
        return logs

    # ----------------------------------------------------------------------------- sampling
    def generate(self, n: int | None = None, *, z: Any = None,
                 seed: int | None = None) -> np.ndarray:
        """Generated samples: ``n`` of them from fresh noise, or one per row of ``z``.

        Args:
            n: how many (noise from the model's generator, or from ``seed``).
            z: the noise itself, (N, Z).
            seed: seed of a generator for the noise (the same samples every call).
        """
        if (n is None) == (z is None):
            raise ValueError("generate() takes either n (how many samples) or z (the noise).")
        if z is None:
            rng = None if seed is None else np.random.default_rng(seed)
            z = self._noise(check_int(n, "n", 1), rng if rng is not None else self._rng)
        return self.predict(z)

    def discriminate(self, x: Any) -> np.ndarray:
        """The discriminator's probability that each sample is real, (N,)."""
        out = self.discriminator.predict(x)[:, 0]
        return 1.0 / (1.0 + np.exp(-np.clip(out, -60, 60))) if self.from_logits else out

    # ----------------------------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        """Both networks' configurations (by class name), and the GAN's own settings."""
        return {
            **super().get_config(),
            "generator": {"class_name": model_class_name(self.generator),
                          "config": self.generator.get_config()},
            "discriminator": {"class_name": model_class_name(self.discriminator),
                              "config": self.discriminator.get_config()},
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def plan_config(cls, config: dict[str, Any], where: str, depth: int = 0) -> ModelPlan | None:
        """Both networks' weights, each under its name (``generator/...``, then
        ``discriminator/...``), planned from their configs as ``load_model`` plans any model.

        ``None`` when a network is a registered class that builds itself by its own code (the
        GAN is then compared once built, like that class). See :meth:`Model.plan_config`.

        Raises:
            ValueError: naming ``where``: a missing or malformed network entry, two networks of
                one name, or what planning a network refuses.
        """
        plan = ModelPlan(None)
        names = []
        for key in ("generator", "discriminator"):
            entry = config.get(key)
            if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
                raise ValueError(
                    f"{where}: the GAN's {key!r} entry must be {{'class_name': ..., 'config': "
                    f"{{...}}}}; received {_clipped(entry)}. {CORRUPT}"
                )
            net = plan_from_config(entry["config"], entry.get("class_name"), where, depth + 1)
            if net is None:
                return None
            names.append(entry["config"].get("name") or key)  # an unnamed net takes its role's
            plan.weights += nested_weights(net.weights, names[-1])
        if names[0] == names[1]:
            raise ValueError(f"{where}: the GAN's generator and discriminator are both named "
                             f"{names[0]!r}; their weights are stored under their names, which "
                             f"must differ. {CORRUPT}")
        return plan

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GAN:
        """Rebuild both networks from their configurations, then the GAN."""
        config = copy.deepcopy(config)
        nets = {}
        for key in ("generator", "discriminator"):
            entry = config.pop(key)
            if not isinstance(entry, dict) or "config" not in entry:
                raise ValueError(f"A GAN config needs a {key!r} entry with its class_name and "
                                 f"config; received {entry!r}.")
            nets[key] = model_from_config(entry["config"], entry.get("class_name"))
        return cls(nets["generator"], nets["discriminator"], **config)


def _clipped(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------- two MNIST GANs
def _image_size(image_shape: Sequence[int]) -> int:
    return int(np.prod(image_shape))


def dense_gan(
    image_shape: Sequence[int] = (28, 28, 1),
    latent_dim: int = 64,
    hidden: Sequence[int] = (256, 512),
    *,
    dropout: float = 0.3,
    seed: int | None = None,
) -> GAN:
    """A GAN of Dense layers for images in [0, 1]: the tutorial's generator and discriminator.

    Generator: ``Z -> hidden[0] -> hidden[1] -> H·W·C`` (leaky ReLU, sigmoid output, reshaped
    to ``image_shape``); discriminator: the mirror image, ``H·W·C -> hidden[1] -> hidden[0] ->
    1`` logit, with dropout. Not compiled.
    """
    seeds = derived_seeds(seed, 3)
    size = _image_size(image_shape)
    g_layers: list[Any] = [Input((latent_dim,))]
    g_layers += [Dense(h, activation="leaky_relu") for h in hidden]
    g_layers += [Dense(size, activation="sigmoid"), Reshape(tuple(image_shape))]
    d_layers: list[Any] = [Input(tuple(image_shape)), Flatten()]
    for h in reversed(hidden):
        d_layers += [Dense(h, activation="leaky_relu"), Dropout(dropout)]
    d_layers.append(Dense(1))
    generator = Sequential(g_layers, name="generator", seed=seeds[0])
    discriminator = Sequential(d_layers, name="discriminator", seed=seeds[1])
    return GAN(generator, discriminator, name="dense_gan", seed=seeds[2])


def dcgan(
    image_shape: Sequence[int] = (28, 28, 1),
    latent_dim: int = 64,
    filters: Sequence[int] = (64, 32),
    *,
    d_filters: Sequence[int] | None = None,
    dropout: float = 0.3,
    label_smoothing: float = 0.0,
    seed: int | None = None,
) -> GAN:
    """A deep convolutional GAN (Radford et al., 2016) sized for MNIST, images in [0, 1].

    Generator: ``Z -> Dense(H/4·W/4·filters[0]) -> BatchNorm -> ReLU -> (H/4, W/4, f0) ->
    Conv2DTranspose(filters[1], 4, stride 2) -> BatchNorm -> ReLU -> Conv2DTranspose(C, 4,
    stride 2, sigmoid)``; discriminator: ``Conv2D(filters[1], 4, stride 2) -> leaky ReLU ->
    Conv2D(filters[0], 4, stride 2) -> leaky ReLU -> Flatten -> Dropout -> Dense(1)`` logit
    (``d_filters`` gives the discriminator's two channel counts instead, to weaken or strengthen
    it). Height and width must be multiples of 4. Not compiled.
    """
    h, w, c = (int(n) for n in image_shape)
    if h % 4 or w % 4:
        raise ValueError(f"dcgan() needs a height and width that are multiples of 4; received "
                         f"image_shape={tuple(image_shape)}.")
    f0, f1 = (int(f) for f in filters)
    d0, d1 = (f1, f0) if d_filters is None else (int(f) for f in d_filters)
    seeds = derived_seeds(seed, 3)
    generator = Sequential([
        Input((latent_dim,)),
        Dense(h // 4 * w // 4 * f0, use_bias=False),
        BatchNormalization(),
        Activation("relu"),
        Reshape((h // 4, w // 4, f0)),
        Conv2DTranspose(f1, 4, strides=2, padding="same", use_bias=False),
        BatchNormalization(),
        Activation("relu"),
        Conv2DTranspose(c, 4, strides=2, padding="same", activation="sigmoid"),
    ], name="generator", seed=seeds[0])  # fmt: skip
    discriminator = Sequential([
        Input((h, w, c)),
        Conv2D(d0, 4, strides=2, padding="same", activation="leaky_relu"),
        Conv2D(d1, 4, strides=2, padding="same", activation="leaky_relu"),
        Flatten(),
        Dropout(dropout),
        Dense(1),
    ], name="discriminator", seed=seeds[1])  # fmt: skip
    return GAN(generator, discriminator, label_smoothing=label_smoothing, name="dcgan",
               seed=seeds[2])
