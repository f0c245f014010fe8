"""Text corpora for language models: Tiny Shakespeare (shipped inside the package) and text files.

``data/tinyshakespeare.txt`` is Karpathy's char-rnn corpus, about 40,000 lines of Shakespeare's
plays (public domain; origin and sha256 in ``data/ORIGIN.md``): 1,115,394 ASCII characters, 65
distinct. It is split by the common convention: the first 90 % of the characters train, the last
10 % validate (the validation text is a contiguous end piece, so no window straddles the two).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from scratchnn._memory import available_memory

TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
"""sha256 of the packaged ``data/tinyshakespeare.txt`` (bytes as published)."""

VALIDATION_FRACTION = 0.1
"""Share of the characters, taken from the end, that validate."""


@dataclass(frozen=True)
class TextCorpus:
    """A text and its split: ``train`` is ``text[:cut]``, ``validation`` is ``text[cut:]``."""

    name: str
    text: str
    cut: int

    @property
    def train(self) -> str:
        """The first part of the text (training)."""
        return self.text[: self.cut]

    @property
    def validation(self) -> str:
        """The last part of the text (validation)."""
        return self.text[self.cut :]


def split_text(name: str, text: str, validation_fraction: float = VALIDATION_FRACTION
               ) -> TextCorpus:
    """``text`` cut at ``round((1 - validation_fraction) * len(text))`` characters.

    Args:
        name: a label for the corpus (a file name).
        text: the whole text.
        validation_fraction: share of the characters, taken from the end, that validate.

    Returns:
        A :class:`TextCorpus`.

    Raises:
        ValueError: an empty text or a fraction outside [0, 1).

    Example:
        >>> corpus = split_text("abc", "abcdefghij", 0.2)
        >>> corpus.train, corpus.validation
        ('abcdefgh', 'ij')
    """
    if isinstance(validation_fraction, bool) or not 0 <= validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be in [0, 1); received {validation_fraction!r}."
        )
    if not text:
        raise ValueError(f"the text {name!r} is empty; a language model needs characters.")
    return TextCorpus(name, text, round((1 - validation_fraction) * len(text)))


def load_tinyshakespeare(validation_fraction: float = VALIDATION_FRACTION) -> TextCorpus:
    """Tiny Shakespeare from the package: 1,115,394 characters, the first 90 % to train.

    Args:
        validation_fraction: share of the characters, taken from the end, that validate.

    Returns:
        A :class:`TextCorpus` named ``"tinyshakespeare"``.

    Example:
        >>> corpus = load_tinyshakespeare()
        >>> len(corpus.train), len(corpus.validation)
        (1003855, 111539)
        >>> corpus.text[:14]
        'First Citizen:'
    """
    source = resources.files("scratchnn.datasets") / "data" / "tinyshakespeare.txt"
    text = source.read_bytes().decode("ascii")
    return split_text("tinyshakespeare", text, validation_fraction)


def load_text(path: str | os.PathLike[str], validation_fraction: float = VALIDATION_FRACTION
              ) -> TextCorpus:
    """A UTF-8 text file, split like :func:`load_tinyshakespeare`.

    Args:
        path: the file (read whole; line endings kept as they are).
        validation_fraction: share of the characters, taken from the end, that validate.

    Returns:
        A :class:`TextCorpus` named after the file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that is not UTF-8 text (the byte is named), holds binary data (a NUL
            byte), is empty, or is larger than an eighth of the memory this process may use.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "poem.txt"
        >>> _ = path.write_text("Shall I compare thee", encoding="utf-8")
        >>> load_text(path).validation
        'ee'
    """
    limit = available_memory()
    limit = limit // 8 if limit is not None else None  # a character takes up to 4 bytes, twice
    size = os.stat(path).st_size
    if limit is not None and size > limit:
        raise ValueError(
            f"{os.fspath(path)} is {size:,} bytes; a text corpus is read whole, and this process "
            f"can give it at most {limit:,} (an eighth of its memory). Use a part of the file."
        )
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{os.fspath(path)} is not UTF-8 text ({exc.reason} at byte {exc.start}); a language "
            "model reads a plain-text file."
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise ValueError(
            f"{os.fspath(path)} holds a NUL byte at byte {len(text[:nul].encode())} (line "
            f"{text.count(chr(10), 0, nul) + 1}): this is binary data, not text; a language "
            "model reads a plain-text file."
        )
    return split_text(os.path.basename(os.fspath(path)), text, validation_fraction)
