"""The baselines a user would pick instead of distilling: fastText (C++) and scikit-learn linear models.

Pure functions over texts and labels; the stage scripts choose settings on dev and score test once.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from common import DistilleryError, param


def fasttext_text(text: str) -> str:
    """fastText reads one example per line and splits on whitespace; lowercase like the teacher's vocab."""
    return " ".join(text.lower().split())


class FastTextData:
    """A training file in fastText's format, written once and reused for every run."""

    def __init__(self, texts: list[str], labels: np.ndarray, directory: Path) -> None:
        self.path = Path(directory) / "train.txt"
        lines = [f"__label__{label} {fasttext_text(text)}" for text, label in zip(texts, labels, strict=True)]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_fasttext(data: FastTextData, dim: int, epochs: int, lr: float, word_ngrams: int, seed: int) -> Any:
    """Real fastText, one thread, so that a seed gives one result."""
    import fasttext

    return fasttext.train_supervised(
        input=str(data.path),
        dim=dim,
        epoch=epochs,
        lr=lr,
        wordNgrams=word_ngrams,
        minCount=1,
        thread=1,
        seed=seed,
        verbose=0,
    )


def fasttext_predict(model: Any, texts: list[str]) -> np.ndarray:
    """Class ids. (The list form of predict; the single-string form fails under numpy 2.)"""
    predicted, _ = model.predict([fasttext_text(text) for text in texts])
    return np.array([int(labels[0].removeprefix("__label__")) for labels in predicted])


def fasttext_per_seed(
    train_texts: list[str],
    train_labels: np.ndarray,
    test_texts: list[str],
    test_labels: np.ndarray,
    seeds: list[int],
    setting: dict,
    desc: str,
) -> tuple[dict[int, float], list[float], Any]:
    """One fastText per seed with `setting`, scored on test: accuracy by seed, training seconds, the last model."""
    accuracies, train_seconds = {}, []
    with tempfile.TemporaryDirectory() as scratch:
        data = FastTextData(train_texts, train_labels, Path(scratch))
        for seed in seeds:
            start = time.perf_counter()
            model = train_fasttext(data, seed=seed, **setting)
            train_seconds.append(time.perf_counter() - start)
            accuracies[seed] = float(np.mean(fasttext_predict(model, test_texts) == test_labels))
            print(f"{desc}: seed {seed}: test accuracy {accuracies[seed]:.4f}, trained in {train_seconds[-1]:.2f} s")
    return accuracies, train_seconds, model


def fasttext_params(model: Any) -> int:
    return int(model.get_input_matrix().size + model.get_output_matrix().size)


def grid(options: dict[str, list]) -> Iterator[dict]:
    """Every combination of the options, in a fixed order."""
    keys = sorted(options)
    for values in itertools.product(*(options[key] for key in keys)):
        yield dict(zip(keys, values, strict=True))


def grid_param(params: dict, dotted: str, keys: tuple[str, ...]) -> dict[str, list]:
    """A grid section: each key a non-empty list of values (a single value counts as a list of one)."""
    section = param(params, dotted)
    if not isinstance(section, dict) or sorted(section) != sorted(keys):
        raise DistilleryError(f"params.yaml: '{dotted}' must have exactly the keys {list(keys)}, got {section!r}")
    options = {key: value if isinstance(value, list) else [value] for key, value in section.items()}
    empty = [key for key, values in options.items() if not values]
    if empty:
        raise DistilleryError(f"params.yaml: '{dotted}.{empty[0]}' is an empty list; give at least one value")
    return options


def choose_on_dev(candidates: list[dict], score: Any) -> tuple[dict, list[dict]]:
    """Score every candidate setting on dev; the best wins, the earliest listed on a tie."""
    trials = [dict(setting, dev_accuracy=round(float(score(setting)), 6)) for setting in candidates]
    best = max(range(len(trials)), key=lambda i: (trials[i]["dev_accuracy"], -i))
    return candidates[best], trials


def fasttext_tuning(
    train_texts: list[str],
    train_labels: np.ndarray,
    dev_texts: list[str],
    dev_labels: np.ndarray,
    options: dict,
    seed: int,
) -> tuple[dict, list[dict]]:
    """fastText's grid searched on dev (fastText's own autotune is not reproducible run to run)."""
    with tempfile.TemporaryDirectory() as scratch:
        data = FastTextData(train_texts, train_labels, Path(scratch))

        def dev_accuracy(setting: dict) -> float:
            model = train_fasttext(data, seed=seed, **setting)
            return float(np.mean(fasttext_predict(model, dev_texts) == dev_labels))

        return choose_on_dev(list(grid(options)), dev_accuracy)


class LinearTextModel:
    """Word n-gram features into logistic regression, scikit-learn.

    features "tfidf": sublinear TF-IDF of word 1..n-grams. features "nb": binary n-grams scaled,
    per class, by the naive-Bayes log-count ratio (Wang & Manning 2012's NBSVM, one-vs-rest, with
    logistic regression in place of the SVM).
    """

    def __init__(self, features: str, ngrams: int, C: float) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.features, self.C = features, C
        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, ngrams),
            sublinear_tf=True,
            use_idf=features == "tfidf",
            norm="l2" if features == "tfidf" else None,
            binary=features == "nb",
            token_pattern=r"(?u)\b\w+\b|[!?]",
            dtype=np.float64,
        )

    def fit(self, texts: list[str], labels: np.ndarray) -> LinearTextModel:
        from sklearn.linear_model import LogisticRegression

        x = self.vectorizer.fit_transform(texts)
        self.classes = np.unique(labels)
        if self.features == "tfidf":
            self.models = [LogisticRegression(C=self.C, max_iter=2000).fit(x, labels)]
            return self
        self.ratios, self.models = [], []
        for c in self.classes:
            positive = labels == c
            p = np.asarray(x[positive].sum(axis=0)).ravel() + 1.0
            q = np.asarray(x[~positive].sum(axis=0)).ravel() + 1.0
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            self.ratios.append(ratio)
            self.models.append(LogisticRegression(C=self.C, max_iter=2000).fit(x.multiply(ratio).tocsr(), positive))
        return self

    def predict(self, texts: list[str]) -> np.ndarray:
        x = self.vectorizer.transform(texts)
        if self.features == "tfidf":
            return self.models[0].predict(x)
        scores = [
            model.decision_function(x.multiply(r).tocsr()) for model, r in zip(self.models, self.ratios, strict=True)
        ]
        return self.classes[np.argmax(np.stack(scores, axis=1), axis=1)]

    def num_params(self) -> int:
        return int(sum(model.coef_.size + model.intercept_.size for model in self.models))
