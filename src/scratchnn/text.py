"""Text for language models, on plain NumPy: vocabularies, training windows, padding, sampling.

A :class:`CharVocabulary` maps each character of a text to an id and back; a
:class:`WordVocabulary` does the same for words (with ids for padding and unknown words). Both
turn into JSON-ready dicts (``get_config``) so that a vocabulary is saved beside its model.
:func:`windows` cuts a long encoded text into ``(inputs, next-token targets)`` pairs as views of
the text (no copy per window); :func:`pad_sequences` pads ragged sequences to one length;
:func:`generate` samples text from a trained model with a temperature and top-k, feeding the
recurrent state forward one step at a time.

Nothing here imports the autodiff engine: :func:`generate` only calls the model's layers'
``call_stateful`` on arrays.

    >>> import numpy as np
    >>> vocab = CharVocabulary.from_text("hello world")
    >>> ids = vocab.encode("hello")
    >>> vocab.decode(ids)
    'hello'
    >>> x, y = windows(vocab.encode("hello world"), length=4)
    >>> vocab.decode(x[0]), vocab.decode(y[0])
    ('hell', 'ello')

Shape legend: N windows, T steps, V vocabulary size.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

if TYPE_CHECKING:
    from scratchnn.models import Model  # generate() runs one; nothing here imports it

# ----------------------------------------------------------------------------- vocabularies


class _Vocabulary:
    """What both vocabularies share: ``tokens`` in id order."""

    tokens: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def size(self) -> int:
        """Number of ids V, padding and unknown included (the units of a model's output)."""
        return len(self.tokens)


class CharVocabulary(_Vocabulary):
    """Characters <-> integer ids ``0..V-1`` (the order of ``tokens``).

    Args:
        tokens: the distinct characters, in id order.

    Example:
        >>> vocab = CharVocabulary.from_text("abca")
        >>> vocab.tokens, vocab.encode("cab").tolist()
        (('a', 'b', 'c'), [2, 0, 1])
    """

    kind = "char"

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = tuple(tokens)
        bad = [t for t in self.tokens if not isinstance(t, str) or len(t) != 1]
        if bad or not self.tokens:
            raise ValueError(
                "CharVocabulary needs one or more single characters; received "
                f"{bad[:5] if bad else 'none'}."
            )
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("CharVocabulary: the characters must be distinct.")
        codes = np.array([ord(c) for c in self.tokens])
        self._lookup = np.full(int(codes.max()) + 1, -1, dtype=np.int64)  # code point -> id
        self._lookup[codes] = np.arange(len(codes))

    @classmethod
    def from_text(cls, text: str) -> CharVocabulary:
        """The sorted distinct characters of ``text``."""
        if not isinstance(text, str) or not text:
            raise ValueError("CharVocabulary.from_text needs a non-empty string.")
        return cls(sorted(set(text)))

    def encode(self, text: str) -> np.ndarray:
        """``text`` as int64 ids ``(len(text),)``.

        Raises:
            ValueError: characters outside the vocabulary (listed), with the fix.
        """
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        known = codes < len(self._lookup)
        ids[known] = self._lookup[codes[known]]
        if (ids < 0).any():
            unknown = sorted({text[i] for i in np.flatnonzero(ids < 0)})
            raise ValueError(
                f"the text holds {len(unknown)} character(s) outside the vocabulary of "
                f"{self.size}: {''.join(unknown[:20])!r}"
                f"{' ...' if len(unknown) > 20 else ''}. Use only characters the model was "
                "trained on (vocab.tokens), or build the vocabulary from a text containing them."
            )
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of ``ids``."""
        tokens = self.tokens
        return "".join(tokens[int(i)] for i in np.asarray(ids).reshape(-1))

    def get_config(self) -> dict[str, Any]:
        """JSON-ready description: ``{"kind": "char", "tokens": [...]}``."""
        return {"kind": self.kind, "tokens": list(self.tokens)}

    def __repr__(self) -> str:
        return f"CharVocabulary(size={self.size})"


WORD_PATTERN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")
"""Words (with an inner apostrophe: ``don't``) and single punctuation marks."""


class WordVocabulary(_Vocabulary):
    """Words <-> ids, Keras' ``TextVectorization`` convention: 0 padding, 1 unknown, then words.

    Words are the matches of :data:`WORD_PATTERN` (lower-cased unless ``lower=False``); ids from 2
    go to the words by decreasing count (ties: first seen first).

    Args:
        tokens: the words, in id order from id 2.
        lower: lower-case text before splitting it.

    Example:
        >>> vocab = WordVocabulary.from_texts(["the cat", "the dog!"])
        >>> vocab.encode("The bird.").tolist()
        [2, 1, 1]
        >>> vocab.decode([2, 3, 0])
        'the cat'
    """

    kind = "word"
    PADDING = ""
    UNKNOWN = "[UNK]"

    def __init__(self, tokens: Iterable[str], lower: bool = True) -> None:
        words = tuple(tokens)
        if len(set(words)) != len(words) or {self.PADDING, self.UNKNOWN} & set(words):
            raise ValueError(
                "WordVocabulary: the words must be distinct and not '' or '[UNK]' (ids 0 and 1)."
            )
        self.tokens = (self.PADDING, self.UNKNOWN, *words)
        self.lower = bool(lower)
        self._ids = {w: i for i, w in enumerate(self.tokens)}

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], max_tokens: int | None = None, lower: bool = True
    ) -> WordVocabulary:
        """The words of ``texts``, most frequent first, at most ``max_tokens`` ids in all."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(cls.split(text, lower))
        words = [w for w, _ in counts.most_common()]  # ties keep first-seen order
        if max_tokens is not None:
            if max_tokens < 3:
                raise ValueError(
                    f"max_tokens must be >= 3 (padding, unknown and one word); received "
                    f"max_tokens={max_tokens!r}."
                )
            words = words[: max_tokens - 2]
        return cls(words, lower=lower)

    @staticmethod
    def split(text: str, lower: bool = True) -> list[str]:
        """The words and punctuation marks of ``text``."""
        return WORD_PATTERN.findall(text.lower() if lower else text)

    def encode(self, text: str) -> np.ndarray:
        """Ids of the words of ``text``; unknown words get id 1."""
        ids = self._ids
        return np.array([ids.get(w, 1) for w in self.split(text, self.lower)], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """The words of ``ids`` joined by spaces (padding left out)."""
        return " ".join(self.tokens[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != 0)

    def get_config(self) -> dict[str, Any]:
        """JSON-ready description: ``{"kind": "word", "tokens": [...], "lower": ...}``."""
        return {"kind": self.kind, "tokens": list(self.tokens[2:]), "lower": self.lower}

    def __repr__(self) -> str:
        return f"WordVocabulary(size={self.size})"


def vocabulary_from_config(config: dict[str, Any]) -> CharVocabulary | WordVocabulary:
    """Rebuild a vocabulary from ``get_config()`` data (e.g. a ``vocab.json`` file).

    Raises:
        ValueError: an unknown ``kind`` or malformed tokens.
    """
    if not isinstance(config, dict) or config.get("kind") not in ("char", "word"):
        raise ValueError(
            "a vocabulary config is {'kind': 'char' or 'word', 'tokens': [...]}; received "
            f"{str(config)[:80]!r}."
        )
    tokens = config.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError("the vocabulary config's 'tokens' must be a list of strings.")
    if config["kind"] == "char":
        return CharVocabulary(tokens)
    return WordVocabulary(tokens, lower=bool(config.get("lower", True)))


# -------------------------------------------------------------------------------- sequences


def windows(
    ids: ArrayLike, length: int, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs of a long encoded text: each window and the window one step later.

    ``inputs[n] = ids[n*stride : n*stride + length]`` and ``targets[n]`` is the same window
    shifted by one (the next token at every step). Both are read-only views of ``ids``: no
    window is copied, however many overlap.

    Args:
        ids: ``(L,)`` integer ids.
        length: steps per window T.
        stride: steps between window starts (default ``length``: windows that do not overlap).

    Returns:
        ``(inputs, targets)``, each ``(N, T)`` with ``N = (L - 1 - T) // stride + 1``.

    Raises:
        ValueError: a text shorter than ``length + 1`` tokens, or a bad length or stride.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"windows needs a 1-D array of ids; received shape {ids.shape}.")
    for label, value in (("length", length), ("stride", stride)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1
        ):
            raise ValueError(f"{label} must be a positive integer; received {label}={value!r}.")
    stride = length if stride is None else int(stride)
    if len(ids) < length + 1:
        raise ValueError(
            f"a text of {len(ids)} tokens has no window of {length} steps plus a next token; "
            f"use length <= {len(ids) - 1}."
        )
    view = np.lib.stride_tricks.sliding_window_view
    return view(ids[:-1], length)[::stride], view(ids[1:], length)[::stride]


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    maxlen: int | None = None,
    padding: Literal["pre", "post"] = "pre",
    truncating: Literal["pre", "post"] = "pre",
    value: int | float = 0,
    dtype: DTypeLike = np.int64,
) -> np.ndarray:
    """Ragged sequences as one ``(N, maxlen)`` array (Keras' ``pad_sequences``).

    Args:
        sequences: N sequences of ids (or numbers).
        maxlen: length of the result (default: the longest sequence).
        padding: ``"pre"`` (default, Keras') or ``"post"``: where the ``value`` entries go.
        truncating: ``"pre"`` or ``"post"``: which end of a longer sequence is cut.
        value: the padding value (0, the id ``Embedding(mask_zero=True)`` masks).
        dtype: of the result.

    Example:
        >>> pad_sequences([[1, 2, 3], [4]], padding="post").tolist()
        [[1, 2, 3], [4, 0, 0]]
    """
    for label, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise ValueError(f"{label} must be 'pre' or 'post'; received {choice!r}.")
    rows = [list(s) for s in sequences]
    width = max((len(r) for r in rows), default=0) if maxlen is None else int(maxlen)
    out = np.full((len(rows), width), value, dtype=dtype)
    for i, row in enumerate(rows):
        if width == 0 or not row:
            continue
        row = row[-width:] if truncating == "pre" else row[:width]
        if padding == "post":
            out[i, : len(row)] = row
        else:
            out[i, width - len(row):] = row
    return out


# --------------------------------------------------------------------------------- sampling


def sample_index(
    probabilities: ArrayLike, temperature: float = 1.0, top_k: int | None = None,
    rng: np.random.Generator | None = None,
) -> int:
    """Draw one id from a probability vector, sharpened or flattened by ``temperature``.

    The probabilities are raised to the power ``1 / temperature`` and renormalised (below 1:
    likelier ids gain; above 1: the draw flattens); ``top_k`` keeps only the k likeliest ids.
    ``temperature=0`` returns the likeliest id (no draw).

    Args:
        probabilities: ``(V,)`` non-negative values (a softmax output).
        temperature: >= 0.
        top_k: keep the k likeliest ids (``None``: all).
        rng: ``numpy.random.Generator`` of the draw (needed unless ``temperature == 0``).

    Example:
        >>> sample_index([0.1, 0.7, 0.2], temperature=0)
        1
    """
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if isinstance(temperature, bool) or not temperature >= 0:
        raise ValueError(f"temperature must be >= 0; received temperature={temperature!r}.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))
                              or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None; received top_k={top_k!r}.")
    if temperature == 0:
        return int(np.argmax(p))
    if rng is None:
        raise ValueError(
            "sampling needs rng=numpy.random.default_rng(seed) (randomness is explicit), or "
            "temperature=0 for the likeliest token."
        )
    with np.errstate(divide="ignore"):
        logits = np.log(p) / temperature
    if top_k is not None and top_k < len(p):
        cut = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits >= cut, logits, -np.inf)
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(p), p=weights / weights.sum()))


def _probabilities(output: np.ndarray) -> np.ndarray:
    """The last step's output as probabilities (a softmax of it when it holds logits)."""
    last = np.asarray(output, dtype=np.float64).reshape(-1, output.shape[-1])[-1]
    if last.min() >= 0 and abs(last.sum() - 1) < 1e-3:
        return last
    e = np.exp(last - last.max())
    return e / e.sum()


def _feed(layers: Sequence[Any], ids: np.ndarray, states: list[Any]) -> np.ndarray:
    """Run ``ids`` ``(1, T)`` through the layers, updating each layer's state in place."""
    h = ids
    for k, layer in enumerate(layers):
        h, states[k] = layer.call_stateful(h, states[k])
    return h


def generate(
    model: Model,
    vocabulary: CharVocabulary | WordVocabulary,
    prime: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: np.random.Generator | None = None,
) -> str:
    """Sample ``length`` tokens from a language model after the text ``prime``.

    The prime runs through the model once; then each sampled token is fed back alone, the
    recurrent layers starting from the states the previous call left (nothing is recomputed),
    so the cost grows with ``length``, not with ``length`` squared.

    Args:
        model: a model whose layers map ids ``(1, T)`` to next-token probabilities (or logits)
            ``(1, T, V)``, e.g. ``Embedding -> LSTM(return_sequences=True) -> Dense(V,
            "softmax")``; unidirectional.
        vocabulary: the vocabulary the model was trained with.
        prime: the text to start from (at least one token).
        length: number of tokens to sample.
        temperature / top_k: see :func:`sample_index`.
        rng: ``numpy.random.Generator`` (or an int seed) of the draws; one seed, one text.

    Returns:
        The sampled continuation (without the prime).

    Raises:
        ValueError: an empty prime, characters outside the vocabulary, a bad temperature.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be an integer >= 0; received length={length!r}.")
    ids = vocabulary.encode(prime)
    if ids.size == 0:
        raise ValueError("the prime text is empty; give at least one token to start from.")
    if isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    layers = list(model.layers)
    states: list[Any] = [None] * len(layers)
    probs = _probabilities(_feed(layers, ids[None, :], states))
    out = np.empty(length, dtype=np.int64)
    step = np.empty((1, 1), dtype=np.int64)
    for n in range(length):
        out[n] = sample_index(probs, temperature, top_k, rng)
        step[0, 0] = out[n]
        if n + 1 < length:
            probs = _probabilities(_feed(layers, step, states))
    return vocabulary.decode(out)
