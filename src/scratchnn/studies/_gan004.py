"""Study 004's GANs: a dense GAN and a DCGAN on digits, judged by a classifier of our own.

The guide describes a GAN as a generator that turns random numbers into an image and a
discriminator that returns the probability that an image is real, trained in two feedback loops.
This section trains :func:`~scratchnn.models.dense_gan` and :func:`~scratchnn.models.dcgan`
(:class:`~scratchnn.models.GAN`'s alternating ``train_step``) and measures their samples with a
convolutional classifier trained here on the real digits:

* the classifier-based Inception score (:func:`scratchnn.metrics.classifier_score`: 10 at best
  for ten digits, each drawn confidently and equally often); the target is >= 8.5 for the DCGAN;
* the share of each digit among the samples (no mode collapse: every class >= 5 %);
* the Fréchet distance between the classifier's penultimate features of the samples and of the
  real test digits (:func:`scratchnn.metrics.frechet_distance`; the FID's formula).

The real test digits themselves are scored the same way, as the reference. The DCGAN's samples
from fixed noise are drawn after every epoch (:class:`scratchnn.plotting.SampleGrids`) and
animated into a GIF.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scratchnn import metrics, plotting
from scratchnn.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from scratchnn.models import GAN, Model, dcgan, dense_gan
from scratchnn.optimizers import Adam
from scratchnn.studies._common import Figure, Reporter, compared, image_path, pct, shown
from scratchnn.studies._deep004 import DeepData

STUDY = "004"
IS_TARGET = 8.5
"""The DCGAN's classifier score must reach this (of 10)."""
CLASS_FLOOR = 0.05
"""Every digit must make at least this share of the samples."""


@dataclass(frozen=True)
class GanSizes:
    """How much training the classifier and the two GANs get (one instance per mode)."""

    mode: str
    classifier_epochs: int
    latent: int
    dense_hidden: tuple[int, int]
    dense_epochs: int
    dcgan_filters: tuple[int, int]  # the generator's channels at H/4 and H/2
    dcgan_epochs: int
    batch: int
    samples: int  # generated digits scored
    learning_rate: float  # Adam's, both networks (beta_1 0.5)
    grid_every: int  # epochs between two sample grids of the DCGAN
    dcgan_d_filters: tuple[int, int] | None = None  # the discriminator's (None: mirrored)


GAN_SIZES = {
    "quick": GanSizes("quick", 15, 16, (64, 128), 20, (32, 16), 40, 32, 2000, 1e-3, 5),
    "short": GanSizes("short", 1, 64, (256, 512), 1, (64, 32), 1, 64, 2000, 2e-4, 1),
    "default": GanSizes("default", 4, 64, (256, 512), 10, (64, 32), 4, 64, 5000, 2e-4, 1),
    "full": GanSizes("full", 6, 64, (256, 512), 30, (64, 32), 10, 64, 10000, 2e-4, 1),
}
"""The modes of :data:`scratchnn.studies._deep004.SIZES`; ``full`` is what the targets are
judged at."""


def digit_classifier(side: int, seed: int) -> tuple[Model, Model]:
    """A small CNN for digits and the model of its penultimate features (shared weights).

    MNIST (28x28): ``Conv2D(16, 3) -> MaxPool -> Conv2D(32, 3) -> MaxPool -> Dense(128)
    "features" -> Dropout(0.3) -> softmax``; 8x8 digits: one convolution, ``Dense(64)``.
    """
    inputs = Input((side, side, 1), name="digit")
    x: Any = Conv2D(16, 3, activation="relu", padding="same" if side < 16 else "valid")(inputs)
    x = MaxPooling2D(2)(x)
    if side >= 16:
        x = MaxPooling2D(2)(Conv2D(32, 3, activation="relu")(x))
    features = Dense(128 if side >= 16 else 64, activation="relu", name="features")(Flatten()(x))
    outputs = Dense(10, activation="softmax", name="digit_class")(Dropout(0.3)(features))
    classifier = Model(inputs=inputs, outputs=outputs, name="digit_classifier", seed=seed)
    return classifier, Model(inputs=inputs, outputs=features, name="digit_features")


def train_classifier(data: DeepData, sizes: GanSizes, seed: int, say: Reporter
                     ) -> tuple[Model, Model, float]:
    """The judge of the GANs, trained on every real training digit; its test accuracy."""
    classifier, embedder = digit_classifier(data.side, seed)
    classifier.compile(optimizer=Adam(1e-3), loss="sparse_categorical_crossentropy")
    with say.step(f"digit classifier (CNN) on {data.name}, {sizes.classifier_epochs} epochs"):
        classifier.fit(data.x_train[..., None], data.y_train, batch_size=64,
                       epochs=sizes.classifier_epochs, verbose=0, seed=seed)
    accuracy = float(np.mean(classifier.predict(data.x_test[..., None]).argmax(axis=1)
                             == data.y_test))
    say(f"digit classifier test accuracy {pct(accuracy, 2)}")
    return classifier, embedder, accuracy


@dataclass(frozen=True)
class Quality:
    """Scores of a set of digits (generated, or real for reference)."""

    score: float  # classifier_score, of 10
    fractions: np.ndarray  # (10,) share of each predicted digit
    frechet: float  # against the real test digits' features


def judge(images: np.ndarray, classifier: Model, embedder: Model,
          reference: np.ndarray) -> Quality:
    """Classifier score, class shares and Fréchet distance of ``images`` (N, H, W, 1)."""
    probabilities = classifier.predict(images)
    fractions = np.bincount(probabilities.argmax(axis=1), minlength=10) / len(images)
    return Quality(metrics.classifier_score(probabilities), fractions,
                   metrics.frechet_distance(embedder.predict(images), reference))


def train_gan(gan: GAN, data: DeepData, epochs: int, sizes: GanSizes, seed: int,
              callbacks: list[Any] | None = None) -> GAN:
    """The DCGAN recipe's optimizers, ``Adam(2e-4, beta_1=0.5)`` for both (1e-3 in quick
    mode: few images, few steps), then ``fit``."""
    gan.compile(d_optimizer=Adam(sizes.learning_rate, beta_1=0.5),
                g_optimizer=Adam(sizes.learning_rate, beta_1=0.5))
    gan.fit(data.x_train[..., None], batch_size=sizes.batch, epochs=epochs, verbose=0,
            seed=seed, callbacks=callbacks or [])
    return gan


def gan_section(data: DeepData, sizes: GanSizes, seed: int, out_dir: Path, say: Reporter
                ) -> tuple[list[Figure], list[Path], str]:
    """Train the classifier, the dense GAN and the DCGAN; score and draw their samples."""
    classifier, embedder, clf_accuracy = train_classifier(data, sizes, seed, say)
    shape = (data.side, data.side, 1)
    test_images = data.x_test[..., None]
    reference = embedder.predict(test_images)
    real = judge(test_images, classifier, embedder, reference)
    real_train = judge(data.x_train[: len(test_images), ..., None], classifier, embedder,
                       reference)
    z = np.random.default_rng(seed).standard_normal((64, sizes.latent)).astype(np.float32)
    grids = plotting.SampleGrids(out_dir / f"{STUDY}_dcgan_epochs", z, prefix="dcgan", cols=8,
                                 title="DCGAN samples after epoch {epoch}",
                                 every=sizes.grid_every)
    gans = {
        "dense GAN": (dense_gan(shape, sizes.latent, sizes.dense_hidden, seed=seed),
                      sizes.dense_epochs, []),
        "DCGAN": (dcgan(shape, sizes.latent, sizes.dcgan_filters, d_filters=sizes.dcgan_d_filters,
                        seed=seed),
                  sizes.dcgan_epochs, [grids]),
    }
    quality: dict[str, Quality] = {}
    paths = []
    for label, (gan, epochs, callbacks) in gans.items():
        with say.step(f"{label} on {data.name}, {epochs} epochs"):
            train_gan(gan, data, epochs, sizes, seed, callbacks)
        samples = gan.generate(sizes.samples, seed=seed + 1)
        quality[label] = judge(samples, classifier, embedder, reference)
        q = quality[label]
        say(f"{label}: classifier score {q.score:.2f}, smallest class "
            f"{pct(q.fractions.min())}, Fréchet distance {q.frechet:.2f}")
        path = image_path(out_dir, STUDY, label.lower().replace(" ", "_") + "_samples")
        plotting.plot_image_grid(gan.generate(z=z), path, cols=8,
                                 title=f"{label} samples after {epochs} epochs ({data.name})")
        paths.append(path)
    gif = grids.gif_path
    dc, dense = quality["DCGAN"], quality["dense GAN"]
    text = (f"DCGAN classifier score {dc.score:.2f} (smallest class {pct(dc.fractions.min())}), "
            f"Fréchet {dc.frechet:.2f}; dense GAN {dense.score:.2f}, Fréchet "
            f"{dense.frechet:.2f}; real digits {real.score:.2f}")
    tutorial = (f"generator vs discriminator (no figure given); target: DCGAN score >= "
                f"{IS_TARGET}, every digit >= {CLASS_FLOOR:.0%}")
    if sizes.mode == "quick":
        quality_figure = shown("004 GAN sample quality (classifier score, Fréchet distance)",
                               tutorial, text, value=dc.score)
    else:
        quality_figure = compared("004 GAN sample quality (classifier score, Fréchet distance)",
                                  tutorial, text, dc.score, IS_TARGET, 0.0)
        if quality_figure.verdict == "not matched":
            quality_figure = dataclasses.replace(
                quality_figure, note=f"below the {IS_TARGET} target after {sizes.dcgan_epochs} "
                                     "epochs (see the notes)")
    figures = [
        quality_figure,
        shown("004 GAN samples over training (grids and GIF)",
              "the generator learns to make digits the discriminator takes for real",
              f"DCGAN grids over {sizes.dcgan_epochs} epochs, animated; final samples "
              "of both GANs drawn"),
    ]
    shares = ", ".join(f"{d}: {pct(f)}" for d, f in enumerate(dc.fractions))
    d_filters = sizes.dcgan_d_filters or sizes.dcgan_filters[::-1]
    collapse = ("no digit below 5 %" if dc.fractions.min() >= CLASS_FLOOR
                else f"**digit {int(dc.fractions.argmin())} below 5 %: partial mode collapse**")
    gif_link = f" ([the animation]({gif.relative_to(out_dir).as_posix()}))" if gif else ""
    note = (
        f"GANs on {data.name} images in [0, 1] ({len(data.x_train)} real training digits): a "
        f"dense GAN (`scratchnn.models.dense_gan`: {sizes.latent}-{sizes.dense_hidden[0]}-"
        f"{sizes.dense_hidden[1]}-{int(np.prod(shape))} generator, mirrored discriminator with "
        f"dropout; {sizes.dense_epochs} epochs) and a DCGAN (`dcgan`: Dense, BatchNorm, two "
        f"stride-2 Conv2DTranspose with {sizes.dcgan_filters[1]} and 1 channels; a "
        f"discriminator of two stride-2 convolutions of {d_filters[0]} and {d_filters[1]} "
        f"channels; {sizes.dcgan_epochs} epochs), both with "
        f"Adam {sizes.learning_rate:g}, beta_1 0.5, batches of {sizes.batch}: each batch one "
        "discriminator update on real vs generated digits, then one generator update through "
        f"the frozen discriminator. The judge is a CNN trained here on the real digits: "
        f"{pct(clf_accuracy, 2)} test accuracy"
        + (" (the target for the judge is 99 %)" if sizes.mode != "quick" else "")
        + f". On {sizes.samples} generated digits: the DCGAN's classifier score (Inception "
        f"score with this classifier, of 10) is {dc.score:.2f} (target >= {IS_TARGET}; the "
        f"real test digits score {real.score:.2f}), its digit shares {shares} ({collapse}), "
        f"its Fréchet distance on the classifier's 128 (64 on 8x8 digits) penultimate "
        f"features {dc.frechet:.2f}; the dense GAN scores {dense.score:.2f} with smallest "
        f"share {pct(dense.fractions.min())} and Fréchet distance {dense.frechet:.2f}. For "
        f"scale, real training digits are at Fréchet distance {real_train.frechet:.2f} from "
        f"the real test digits. The DCGAN's samples from 64 fixed noise vectors, drawn every "
        f"{sizes.grid_every} epoch(s), are in `{STUDY}_dcgan_epochs/`{gif_link}."
    )
    return figures, paths, note
