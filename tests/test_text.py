"""Text utilities: vocabularies, windows without copies, padding, sampling, and the text corpora."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnn import Sequential, datasets, text
from scratchnn.layers import LSTM, Dense, Embedding
from scratchnn.text import CharVocabulary, WordVocabulary

ALPHABET = "abcXYZ \n.,;:!?'é€😀"


# --- vocabularies -------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=60))
def test_char_encode_decode_round_trip(sample):
    vocab = CharVocabulary.from_text(sample)
    ids = vocab.encode(sample)
    assert ids.dtype == np.int64 and ids.shape == (len(sample),)
    assert ids.min() >= 0 and ids.max() < vocab.size == len(set(sample))
    assert vocab.decode(ids) == sample
    assert list(vocab.tokens) == sorted(set(sample))


def test_char_vocabulary_config_is_json_and_rebuilds_the_same_mapping():
    vocab = CharVocabulary.from_text("to be, or not to be")
    config = json.loads(json.dumps(vocab.get_config()))
    again = text.vocabulary_from_config(config)
    assert isinstance(again, CharVocabulary) and again.tokens == vocab.tokens
    np.testing.assert_array_equal(again.encode("not be"), vocab.encode("not be"))


def test_characters_outside_the_vocabulary_are_named():
    vocab = CharVocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\) outside the vocabulary of 3: 'XZ'"):
        vocab.encode("aXbZ")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.encode("😀")  # beyond the lookup table's code points


def test_word_vocabulary_orders_by_count_and_maps_unknown_words_to_one():
    vocab = WordVocabulary.from_texts(["the cat and the dog", "The end."], max_tokens=5)
    assert vocab.tokens == ("", "[UNK]", "the", "cat", "and")
    np.testing.assert_array_equal(vocab.encode("The dog and the cat!"), [2, 1, 4, 2, 3, 1])
    assert vocab.decode([2, 3, 0, 0]) == "the cat"
    again = text.vocabulary_from_config(json.loads(json.dumps(vocab.get_config())))
    assert again.tokens == vocab.tokens and again.lower
    with pytest.raises(ValueError, match="max_tokens must be >= 3"):
        WordVocabulary.from_texts(["a"], max_tokens=2)
    with pytest.raises(ValueError, match="kind"):
        text.vocabulary_from_config({"kind": "bytes", "tokens": []})


# --- windows and padding -------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), length=st.integers(1, 10), stride=st.none() | st.integers(1, 7))
def test_windows_are_views_of_the_text_with_next_token_targets(n, length, stride):
    ids = np.arange(n) * 3
    if n < length + 1:
        with pytest.raises(ValueError, match="has no window"):
            text.windows(ids, length, stride)
        return
    x, y = text.windows(ids, length, stride)
    step = length if stride is None else stride
    assert x.shape == y.shape == ((n - 1 - length) // step + 1, length)
    assert np.shares_memory(x, ids) and np.shares_memory(y, ids)  # no copy of the text
    assert not x.flags.writeable
    for k in range(len(x)):
        np.testing.assert_array_equal(x[k], ids[k * step:k * step + length])
        np.testing.assert_array_equal(y[k], ids[k * step + 1:k * step + length + 1])


def test_pad_sequences_pre_and_post():
    seqs = [[1, 2, 3], [4], []]
    assert text.pad_sequences(seqs).tolist() == [[1, 2, 3], [0, 0, 4], [0, 0, 0]]
    assert text.pad_sequences(seqs, padding="post").tolist() == [[1, 2, 3], [4, 0, 0], [0] * 3]
    assert text.pad_sequences(seqs, maxlen=2).tolist() == [[2, 3], [0, 4], [0, 0]]
    assert text.pad_sequences(seqs, maxlen=2, truncating="post").tolist() == [[1, 2], [0, 4],
                                                                              [0, 0]]
    with pytest.raises(ValueError, match="'pre' or 'post'"):
        text.pad_sequences(seqs, padding="middle")


# --- sampling -------------------------------------------------------------------------------------


def test_temperature_to_zero_picks_the_likeliest():
    p = np.array([0.1, 0.5, 0.4])
    assert text.sample_index(p, temperature=0) == 1
    rng = np.random.default_rng(0)
    assert {text.sample_index(p, 1e-4, rng=rng) for _ in range(200)} == {1}
    assert {text.sample_index(p, 5.0, top_k=1, rng=rng) for _ in range(50)} == {1}


def test_sampling_follows_the_tempered_distribution_and_top_k():
    p = np.array([0.2, 0.5, 0.3])
    rng = np.random.default_rng(1)
    draws = np.bincount([text.sample_index(p, 1.0, rng=rng) for _ in range(20000)], minlength=3)
    np.testing.assert_allclose(draws / 20000, p, atol=0.015)
    tempered = p**2 / (p**2).sum()  # temperature 0.5
    draws = np.bincount([text.sample_index(p, 0.5, rng=rng) for _ in range(20000)], minlength=3)
    np.testing.assert_allclose(draws / 20000, tempered, atol=0.015)
    top2 = {text.sample_index(p, 1.0, top_k=2, rng=rng) for _ in range(500)}
    assert top2 == {1, 2}
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        text.sample_index(p, -1.0, rng=rng)
    with pytest.raises(ValueError, match="rng="):
        text.sample_index(p, 1.0)


@pytest.fixture(scope="module")
def char_model():
    vocab = CharVocabulary.from_text("abcdefgh ")
    model = Sequential([Embedding(vocab.size, 4), LSTM(8, return_sequences=True),
                        Dense(vocab.size, activation="softmax")], seed=0)  # fmt: skip
    model.build((5,))
    return model, vocab


def test_generation_is_deterministic_for_a_seed(char_model):
    model, vocab = char_model
    a = text.generate(model, vocab, "abc", 40, temperature=1.0, rng=np.random.default_rng(7))
    b = text.generate(model, vocab, "abc", 40, temperature=1.0, rng=np.random.default_rng(7))
    c = text.generate(model, vocab, "abc", 40, temperature=1.0, rng=np.random.default_rng(8))
    assert a == b != c and len(a) == 40 and set(a) <= set(vocab.tokens)


def test_carried_state_gives_what_rerunning_the_whole_prefix_gives(char_model):
    model, vocab = char_model
    greedy = text.generate(model, vocab, "bad", 12, temperature=0)
    ids = list(vocab.encode("bad"))
    for _ in range(12):  # the slow way: the whole prefix through the layers at every step
        h = np.array([ids])
        for layer in model.layers:
            h = layer(h).numpy()
        ids.append(int(h[0, -1].argmax()))
    assert greedy == vocab.decode(ids[3:])


def test_prime_outside_the_vocabulary_or_empty_is_refused(char_model):
    model, vocab = char_model
    with pytest.raises(ValueError, match=r"4 character\(s\) outside the vocabulary of 9: 'EMOR'"):
        text.generate(model, vocab, "ROMEO", 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="prime text is empty"):
        text.generate(model, vocab, "", 5, rng=np.random.default_rng(0))


# --- corpora --------------------------------------------------------------------------------------


def test_tiny_shakespeare_ships_unchanged_and_splits_90_10():
    raw = (resources.files("scratchnn.datasets") / "data" / "tinyshakespeare.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == datasets.TINYSHAKESPEARE_SHA256
    corpus = datasets.load_tinyshakespeare()
    assert len(corpus.text) == 1_115_394 and len(set(corpus.text)) == 65
    assert corpus.train + corpus.validation == corpus.text
    assert len(corpus.train) == round(0.9 * len(corpus.text))


def test_load_text_reads_utf8_and_refuses_other_bytes(tmp_path):
    good = tmp_path / "poem.txt"
    good.write_text("Ô ma muse\n" * 10, encoding="utf-8")
    corpus = datasets.load_text(good, validation_fraction=0.2)
    assert corpus.name == "poem.txt" and len(corpus.validation) == 20
    bad = tmp_path / "bytes.txt"
    bad.write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(ValueError, match="not UTF-8 text"):
        datasets.load_text(bad)
    with pytest.raises(ValueError, match="validation_fraction"):
        datasets.load_text(good, validation_fraction=1.0)
