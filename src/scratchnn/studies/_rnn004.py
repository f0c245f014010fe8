"""Study 004's recurrent-network section: a character-level LSTM on Tiny Shakespeare.

The guide describes recurrent networks as the same task repeated for every element of a sequence
with a "memory" of what came before, used to predict the next word of a sentence, and names the
LSTM as the recurrent network used most. It shows no code or number for them; this section trains
one: ``Embedding -> LSTM(return_sequences=True) -> Dense(softmax)`` predicting the next
character of Shakespeare's plays (the first 90 % of the characters train, the last 10 %
validate), reports the validation cross-entropy after every epoch, and samples text from it at
temperatures 0.5 and 1.0, feeding the LSTM's state forward one character at a time.

Sizes: quick, a tiny model on the first 120,000 characters (seconds); by default the recipe of
``benchmarks/shakespeare_lstm.py`` (embedding 64, LSTM 256, windows of 100) for 3 epochs (about
470 steps); ``full`` the same for 15 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnn import datasets, initializers, text
from scratchnn.layers import LSTM, Dense, Embedding, Input
from scratchnn.models import Sequential
from scratchnn.optimizers import Adam
from scratchnn.studies._common import Figure, Reporter, image_path, plot_curves, shown

PRIME = "ROMEO:"
SAMPLE_CHARS = 300
TEMPERATURES = (0.5, 1.0)


@dataclass(frozen=True)
class Recipe:
    """How much text and which network: one per mode."""

    label: str
    chars: int | None  # characters of the corpus used (None: all 1,115,394)
    embedding: int
    units: int
    seq: int
    epochs: int
    batch: int = 64
    learning_rate: float = 0.002


RECIPES = {
    "quick": Recipe("quick", 120_000, 16, 64, 50, 5),
    "default": Recipe("default", None, 64, 256, 100, 3),
    "full": Recipe("full", None, 64, 256, 100, 15),
}


def one_line(sample: str) -> str:
    """A sample on one line for the report: line breaks shown as ``⏎``."""
    return sample.replace("`", "'").replace("\n", " ⏎ ")


def language_model(quick: bool, full: bool, seed: int, out_dir: Path, say: Reporter
                   ) -> tuple[list[Figure], Path, str]:
    """Train the character LSTM of the chosen size; its figures, its loss plot and a note."""
    recipe = RECIPES["quick" if quick else "full" if full else "default"]
    corpus = datasets.load_tinyshakespeare()
    if recipe.chars is not None:
        corpus = datasets.split_text(corpus.name, corpus.text[: recipe.chars])
    vocab = text.CharVocabulary.from_text(corpus.text)
    x, y = text.windows(vocab.encode(corpus.train), recipe.seq)
    x_val, y_val = text.windows(vocab.encode(corpus.validation), recipe.seq)
    model = Sequential([
        Input((recipe.seq,)),
        Embedding(vocab.size, recipe.embedding, initializers.RandomNormal(stddev=1.0)),
        LSTM(recipe.units, return_sequences=True),
        Dense(vocab.size, activation="softmax"),
    ], seed=seed)  # fmt: skip
    model.compile(optimizer=Adam(recipe.learning_rate), loss="sparse_categorical_crossentropy")
    steps = recipe.epochs * -(-len(x) // recipe.batch)
    with say.step(f"character LSTM {recipe.embedding}-{recipe.units}, {recipe.epochs} epochs "
                  f"({steps} steps)"):
        history = model.fit(x, y, batch_size=recipe.batch, epochs=recipe.epochs, verbose=0,
                            seed=seed, validation_data=(x_val, y_val)).history
    val = history["val_loss"]
    say(f"character LSTM validation loss per epoch: {', '.join(f'{v:.3f}' for v in val)}")
    samples = {
        t: text.generate(model, vocab, PRIME, SAMPLE_CHARS, temperature=t,
                         rng=np.random.default_rng(seed))
        for t in TEMPERATURES
    }
    path = image_path(out_dir, "004", "char_lstm_loss")
    plot_curves({"training": history["loss"], "validation": val}, path,
                f"Character LSTM on Tiny Shakespeare ({recipe.label})",
                ylabel="cross-entropy (nats per character)")
    figures = [
        shown("004 recurrent network: character LSTM validation loss",
              "LSTM, the recurrent network used most (no number given)",
              f"{val[-1]:.3f} nats/char after {recipe.epochs} epochs (best {min(val):.3f}; "
              f"a uniform guess is {np.log(vocab.size):.3f})", value=val[-1]),
        shown("004 recurrent network: generated text",
              "predicts the next element from what came before",
              f"T=0.5: {one_line(samples[0.5][:60])!r} ...", value=None),
    ]
    corpus_text = (f"the first {recipe.chars:,} characters of Tiny Shakespeare"
                   if recipe.chars else "Tiny Shakespeare (1,115,394 characters)")
    note = (
        f"Recurrent network: {corpus_text}, {vocab.size} distinct characters as ids, windows of "
        f"{recipe.seq} with the "
        f"next character as target at every step ({len(x)} training and {len(x_val)} validation "
        f"windows; the first 90 % of the characters train, the last 10 % validate); Embedding "
        f"{recipe.embedding} -> LSTM {recipe.units} (return_sequences) -> Dense "
        f"{vocab.size} softmax, Adam {recipe.learning_rate:g}, batches of {recipe.batch}, "
        f"{recipe.epochs} epochs. Validation cross-entropy per epoch (nats/char): "
        f"{', '.join(f'{v:.3f}' for v in val)}. The LSTM runs its whole time loop in one graph "
        "node (backpropagation through time in its backward). Samples after "
        f"`{PRIME}`, {SAMPLE_CHARS} characters, the state fed forward step by step (`⏎` is a "
        "line break):\n\n"
        + "\n".join(f"- temperature {t}: `{one_line(s)}`" for t, s in samples.items())
        + ("\n\nThe 30-minute run of this recipe with PyTorch beside it (validation loss "
           "against steps) is `benchmarks/shakespeare_lstm.py`; `scratchnn reproduce 004 --full` "
           "trains it here for 15 epochs." if not full else "")
    )
    return figures, path, note
