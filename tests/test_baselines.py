"""The baselines' own pieces: fastText's multi-label probabilities, per label, from the real library."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from distillery.baselines.models import FastTextData, fasttext_probabilities, train_fasttext

CUES = ["alien", "love", "ghost"]  # label j is on when its word is in the text


def test_fasttext_gives_each_label_its_own_probability(tmp_path: Path) -> None:
    rng = random.Random(0)
    texts, labels = [], []
    for _ in range(600):
        on = [rng.random() < 0.3 for _ in CUES]
        words = rng.choices(["the", "a", "film", "plot", "man", "city"], k=6)
        words += [word for word, present in zip(CUES, on, strict=True) if present]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append([int(o) for o in on])
    model = train_fasttext(
        FastTextData(texts, np.array(labels), tmp_path), dim=16, epochs=10, lr=0.5, word_ngrams=1, seed=0
    )

    probabilities = fasttext_probabilities(model, ["the alien film", "a love plot", "the ghost city", "the man"], 3)
    assert probabilities.shape == (4, 3)
    for row, cue in enumerate(CUES):  # its own label high, the others low: not one value repeated
        assert probabilities[row, row] > 0.8 and np.delete(probabilities[row], row).max() < 0.5, cue
    assert probabilities[3].max() < 0.5  # no cue, no label
