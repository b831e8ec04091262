"""The transfer-set operations: determinism, deduplication, and the probabilities roughly respected."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.corpus.transfer_set import augment_sentence, pos_tag, transfer_set, words_by_tag

SENTENCE = [(f"w{i}", "NN" if i % 2 else "JJ") for i in range(10)]
VOCABULARY = {"NN": ["apple", "pear"], "JJ": ["red", "green"]}


def sample(n: int, **probabilities: float) -> list[list[str]]:
    rng = np.random.default_rng(0)
    settings = {"mask_token": "[MASK]", "p_mask": 0.0, "p_pos": 0.0, "p_ng": 0.0} | probabilities
    return [augment_sentence(SENTENCE, VOCABULARY, rng, **settings).split() for _ in range(n)]


def test_masking_rate_is_p_mask() -> None:
    words = [w for sentence in sample(2000, p_mask=0.1) for w in sentence]
    assert words.count("[MASK]") / len(words) == pytest.approx(0.1, abs=0.01)


def test_pos_replacement_keeps_the_tag_and_its_rate_is_p_pos() -> None:
    sentences = sample(2000, p_pos=0.2)
    replaced = 0
    for sentence in sentences:
        for position, word in enumerate(sentence):
            if word != SENTENCE[position][0]:
                replaced += 1
                assert word in VOCABULARY[SENTENCE[position][1]]
    assert replaced / (len(sentences) * len(SENTENCE)) == pytest.approx(0.2, abs=0.015)


def test_ngram_sampling_rate_is_p_ng_and_keeps_one_to_five_words() -> None:
    lengths = [len(sentence) for sentence in sample(2000, p_ng=0.25)]
    shortened = [n for n in lengths if n < len(SENTENCE)]
    assert len(shortened) / len(lengths) == pytest.approx(0.25, abs=0.03)
    assert set(shortened) <= {1, 2, 3, 4, 5}


def test_words_by_tag_keeps_frequencies() -> None:
    assert words_by_tag([[("a", "DT"), ("cat", "NN")], [("a", "DT")]]) == {"DT": ["a", "a"], "NN": ["cat"]}


def test_pos_tags_come_from_spacy() -> None:
    tagged = pos_tag(["The movie was great ."], n_jobs=1)
    assert [word for word, _ in tagged[0]] == ["The", "movie", "was", "great", "."]
    assert dict(tagged[0])["movie"] == "NN" and dict(tagged[0])["great"] == "JJ"


TEXTS = [
    "the film was great and the actors were superb",
    "a boring story with dull scenes and weak acting",
    "I loved this movie",
    "the plot made no sense",
]


def test_transfer_set_is_deterministic_deduplicated_and_new() -> None:
    args = {"mask_token": "[MASK]", "p_mask": 0.1, "p_pos": 0.1, "p_ng": 0.25, "n_iter": 20}
    first = transfer_set(TEXTS, ["I loved this"], seed=1, n_jobs=1, **args)
    assert first == transfer_set(TEXTS, ["I loved this"], seed=1, n_jobs=2, **args)
    assert first != transfer_set(TEXTS, ["I loved this"], seed=2, n_jobs=1, **args)
    assert len(first) == len(set(first))
    assert not set(first) & (set(TEXTS) | {"I loved this"})
    assert 10 < len(first) < 20 * len(TEXTS)
