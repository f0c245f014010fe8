"""``scratchnn train TEXT --task language-model`` and ``scratchnn generate MODEL``.

Training reads a UTF-8 text (or ``tinyshakespeare``, shipped with the package), builds a
character vocabulary, cuts the first 90 % of the characters (``--val-split``) into windows of
``--seq-length`` characters with next-character targets, trains ``Embedding -> LSTM(s) ->
Dense(softmax)`` and records the run like any other: each epoch in the run store, then
``model.snn``, ``vocab.json`` (the vocabulary ``generate`` needs), ``history.png`` and a sample
in ``sample.txt``. Losses are cross-entropies in nats per character.

Shape legend: N windows, T characters per window, V vocabulary size.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from scratchnn.cli._common import fmt_number, write_json

VOCAB_FILE = "vocab.json"
SAMPLE_FILE = "sample.txt"
PACKAGED = "tinyshakespeare"
"""The name that picks the packaged Tiny Shakespeare instead of a file."""

DEFAULTS = {"layers": (256,), "epochs": 10, "batch_size": 64, "lr": 0.002, "val_split": 0.1}
"""Language-model values of the ``train`` options left at their (table) defaults."""
NOT_APPLICABLE = ("activation", "loss", "n_samples", "noise", "target")
"""``train`` options that mean nothing for a language model (refused when given)."""


@dataclass(frozen=True)
class Windows:
    """Training and validation windows as ``Sequential.fit`` takes them (names as ``Split``)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None


def resolve_options(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """``train``'s options for a language model: its defaults where the user gave none.

    Raises:
        click.UsageError: an option that does not apply to language models was given.
    """
    source = ctx.get_parameter_source
    given = [n for n in NOT_APPLICABLE if source(n) != click.core.ParameterSource.DEFAULT]
    if given:
        names = ", ".join("--" + n.replace("_", "-") for n in given)
        raise click.UsageError(f"{names}: does not apply to --task language-model.")
    resolved = dict(params)
    for name, value in DEFAULTS.items():
        if source(name) == click.core.ParameterSource.DEFAULT:
            resolved[name] = value
    if not resolved["layers"]:
        raise click.UsageError("--task language-model needs at least one LSTM size in --layers.")
    return resolved


def build_model(vocab_size: int, seq_length: int, embedding_dim: int, layers: tuple[int, ...],
                seed: int) -> Any:
    """``Embedding(V, E) -> LSTM(u, return_sequences=True) per size -> Dense(V, softmax)``.

    The embedding starts from N(0, 1) draws (PyTorch's default; on characters it learns much
    faster than Keras' uniform +-0.05); the LSTMs and the Dense use Keras' initialisers.
    """
    from scratchnn import Sequential, initializers
    from scratchnn.layers import LSTM, Dense, Embedding, Input

    return Sequential([
        Input((seq_length,)),
        Embedding(vocab_size, embedding_dim, initializers.RandomNormal(stddev=1.0)),
        *(LSTM(units, return_sequences=True) for units in layers),
        Dense(vocab_size, activation="softmax"),
    ], seed=seed)  # fmt: skip


def train_language_model(
    source: str, options: dict[str, Any], store: Any, out: Path | None, verbose: bool,
    quiet: bool = False,
) -> None:
    """Train, save and record a character-level model (see the module docstring); progress
    as for ``train``: one live bar, a line per epoch (``verbose``) or nothing (``quiet``)."""
    from scratchnn import callbacks, datasets, optimizers, plotting, text
    from scratchnn.cli.train import _fit

    if source == PACKAGED:
        corpus = datasets.load_tinyshakespeare(options["val_split"])
    else:
        corpus = datasets.load_text(source, options["val_split"])
    vocab = text.CharVocabulary.from_text(corpus.text)
    t = options["seq_length"]
    x, y = text.windows(vocab.encode(corpus.train), t)
    val = None
    if options["val_split"] > 0:
        val_ids = vocab.encode(corpus.validation)
        if len(val_ids) <= t:
            raise ValueError(
                f"the validation text has {len(val_ids)} characters, fewer than --seq-length "
                f"{t} + 1; lower --seq-length or raise --val-split."
            )
        val = text.windows(val_ids, t)
    data = Windows(x, y, *(val or (None, None)))
    layers = options["layers"]
    model = build_model(vocab.size, t, options["embedding_dim"], layers, options["seed"])
    model.compile(
        optimizer=optimizers.OPTIMIZERS[options["optimizer"]](learning_rate=options["lr"]),
        loss="sparse_categorical_crossentropy",
    )
    arch = f"embedding {options['embedding_dim']} -> lstm {'-'.join(map(str, layers))} -> " \
           f"{vocab.size}"  # fmt: skip
    config = {
        "dataset": corpus.name, "task": "language-model", "layers": list(layers),
        "embedding_dim": options["embedding_dim"], "seq_length": t,
        "optimizer": options["optimizer"], "lr": options["lr"], "epochs": options["epochs"],
        "batch_size": options["batch_size"], "seed": options["seed"],
        "val_split": options["val_split"], "loss": "sparse_categorical_crossentropy",
        "n_chars": len(corpus.text), "vocab_size": vocab.size, "n_train": len(x),
        "n_val": 0 if val is None else len(val[0]),
    }  # fmt: skip
    with store.run(config, name="train") as run:
        run_dir = (out or store.path.parent / run.id).absolute()
        run_dir.mkdir(parents=True, exist_ok=True)
        click.echo(
            f"Run {run.id}: {corpus.name} (language model, {len(corpus.text):,} characters, "
            f"{vocab.size} distinct; {len(x)} training windows of {t}), {arch}, "
            f"{options['optimizer']} lr {options['lr']:g}, {options['epochs']} epochs, batch "
            f"{options['batch_size']}"
        )
        start = time.perf_counter()
        fit_args = {"batch_size": options["batch_size"], "epochs": options["epochs"],
                    "seed": options["seed"], "verbose": 2 if verbose else 0}  # fmt: skip
        progress = [] if quiet or verbose else [callbacks.FitProgressBar()]
        history = _fit(model, data, fit_args, run, progress)
        timings = {"fit_seconds": time.perf_counter() - start}
        results = {k: v[-1] for k, v in history.history.items()}
        start = time.perf_counter()
        sample = text.generate(model, vocab, corpus.validation[:1] or corpus.text[:1], 300,
                               temperature=0.8, rng=np.random.default_rng(options["seed"]))
        timings["sample_seconds"] = time.perf_counter() - start
        files = [run_dir / "model.snn", run_dir / VOCAB_FILE, run_dir / "history.png",
                 run_dir / SAMPLE_FILE]  # fmt: skip
        write_json(files[1], vocab.get_config())  # before the model: never a model without it
        model.save(files[0])
        plotting.plot_history(history, path=files[2], title=f"{corpus.name} {arch}",
                              figsize=(10.0, 4.0))
        files[3].write_text(sample, encoding="utf-8")
        run.set_result(results, timings=timings, model_path=str(files[0]))
    for label, key in (("train", "loss"), ("validation", "val_loss")):
        if key in results:
            click.echo(f"{label:<11} loss {fmt_number(results[key])} nats/char")
    click.echo(f"fit time    {timings['fit_seconds']:.3g} s")
    click.echo(f"sample (temperature 0.8):\n{sample}")
    click.echo(f"Saved in {run_dir}: {', '.join(p.name for p in files)}")


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prime", default="\n", show_default=repr("\n"),
              help="Text to start from (characters of the model's vocabulary).")
@click.option("--length", type=click.IntRange(min=0), default=500, show_default=True,
              help="Characters to generate.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Below 1: safer choices; above 1: wilder ones; 0: always the likeliest.")
@click.option("--top-k", type=click.IntRange(min=1), default=None,
              help="Draw only among the k likeliest characters.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the draws (the same seed prints the same text).")
@click.option("--vocab", "vocab_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=f"Vocabulary file (default: {VOCAB_FILE} beside MODEL).")
def generate(model: Path, prime: str, length: int, temperature: float, top_k: int | None,
             seed: int, vocab_path: Path | None) -> None:
    """Print text sampled from a character-level MODEL after --prime.

    MODEL is a model.snn written by 'scratchnn train TEXT --task language-model'; its
    vocab.json is read from the same folder.
    """
    from scratchnn import text
    from scratchnn.models import saving

    vocab_path = vocab_path or model.parent / VOCAB_FILE
    if not vocab_path.exists():
        raise ValueError(
            f"no vocabulary at {vocab_path}: generate needs the {VOCAB_FILE} that 'scratchnn "
            "train --task language-model' writes beside the model (or pass --vocab FILE)."
        )
    try:
        vocab = text.vocabulary_from_config(json.loads(vocab_path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{vocab_path} is not a vocabulary file (bad JSON: {exc.msg}).") from exc
    except (ValueError, TypeError, RecursionError) as exc:  # not UTF-8, too deep, bad tokens
        raise ValueError(f"{vocab_path} is not a vocabulary file ({exc}).") from exc
    network = saving.load_model(model)
    try:
        out = text.generate(network, vocab, prime, length, temperature, top_k,
                            np.random.default_rng(seed))
    except ValueError as exc:
        raise ValueError(f"--prime: {exc}" if "vocabulary" in str(exc) else str(exc)) from exc
    click.echo(prime + out)
