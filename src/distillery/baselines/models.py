"""The baselines a user would pick instead of distilling: fastText (C++) and scikit-learn linear models.

Pure functions over texts and labels; the stage scripts choose settings on dev and score test once.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from distillery.core.errors import DistilleryError
from distillery.core.params import param
from distillery.core.task import THRESHOLD, accuracy, is_multi_label
from distillery.evaluation.label_metrics import mean_bce, mean_metrics, multi_label_metrics
from distillery.evaluation.thresholds import dev_thresholds
from distillery.evaluation.timing import examples_per_second, median_latency_ms
from distillery.training.selection import DevScore, choose_on_dev


def fasttext_text(text: str) -> str:
    """fastText reads one example per line and splits on whitespace; lowercase like the teacher's vocab."""
    return " ".join(text.lower().split())


# fastText drops a training line with no label, so a multi-label row with no positive label gets
# this one; it is a label of its own to fastText's one-vs-all loss, and never read back.
NO_LABEL = "__label__none"


class FastTextData:
    """A training file in fastText's format, written once and reused for every run: one label per
    line, or for multi-label ([N, L] 0/1) every positive label's index."""

    def __init__(self, texts: list[str], labels: np.ndarray, directory: Path) -> None:
        self.path = Path(directory) / "train.txt"
        self.multi_label = is_multi_label(labels)
        if self.multi_label:
            tags = [" ".join(f"__label__{j}" for j in np.flatnonzero(row)) or NO_LABEL for row in labels]
        else:
            tags = [f"__label__{label}" for label in labels]
        lines = [f"{tag} {fasttext_text(text)}" for tag, text in zip(tags, texts, strict=True)]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_fasttext(data: FastTextData, dim: int, epochs: int, lr: float, word_ngrams: int, seed: int) -> Any:
    """Real fastText, one thread, so that a seed gives one result; one-vs-all (a sigmoid per label) for
    multi-label, as fastText's documentation advises."""
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
        loss="ova" if data.multi_label else "softmax",
    )


def fasttext_predict(model: Any, texts: list[str], num_labels: int | None = None) -> np.ndarray:
    """Class ids; with num_labels (multi-label), 0/1 decisions [N, L] at task.THRESHOLD.
    (The list form of predict; the single-string form fails under numpy 2.)"""
    if num_labels is not None:
        return (fasttext_probabilities(model, texts, num_labels) > THRESHOLD).astype(np.int64)
    predicted, _ = model.predict([fasttext_text(text) for text in texts])
    return np.array([int(labels[0].removeprefix("__label__")) for labels in predicted])


def fasttext_probabilities(model: Any, texts: list[str], num_labels: int) -> np.ndarray:
    """Each label's probability [N, L] under a one-vs-all model. One line at a time through the binding's own
    predict: fasttext-wheel 0.9.2's list form (multilinePredict) ranks every label right but repeats the top
    label's probability for all of them, and its Python single-line form fails under numpy 2."""
    result = np.zeros((len(texts), num_labels))
    for row, text in enumerate(texts):
        for value, tag in model.f.predict(fasttext_text(text) + "\n", -1, 0.0, "strict"):
            if tag != NO_LABEL:
                result[row, int(tag.removeprefix("__label__"))] = value
    return result


def dev_figures(truth: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray | None = None) -> dict:
    """What a setting is chosen by on dev: accuracy; for multi-label also the mean BCE, which chooses
    (with rare labels, exact match barely moves)."""
    figures = {"dev_accuracy": accuracy(predicted, truth)}
    if probabilities is not None:
        figures["dev_bce"] = mean_bce(probabilities, truth)
    return figures


def scored_on_test(
    predict: Callable[[list[str]], Any],
    probabilities: Callable[[list[str]], np.ndarray] | None,
    texts: list[str],
    truth: np.ndarray,
    label_names: list[str] | None = None,
    thresholds: np.ndarray | None = None,
) -> tuple[dict, np.ndarray]:
    """What a baseline reports on test, from raw texts: accuracy, batched throughput and single-text latency on
    one thread; and its test decisions. With label_names (multi-label) the task.multi_label_metrics of
    `probabilities` at `thresholds` (chosen on dev), whose exact-match rate is the accuracy."""
    if label_names:
        test_probabilities = probabilities(texts)
        predicted = (test_probabilities > thresholds).astype(np.int64)
        figures = {"multi_label": multi_label_metrics(test_probabilities, truth, label_names, thresholds)}
    else:
        predicted, figures = np.asarray(predict(texts)), {}
    figures["accuracy"] = round(accuracy(predicted, truth), 6)
    figures["examples_per_s"] = round(examples_per_second(lambda: predict(texts), len(texts)), 1)
    figures["latency_ms"] = round(median_latency_ms(lambda i: predict([texts[i]]), len(texts)), 4)
    return figures, predicted


def fasttext_per_seed(
    train: tuple[list[str], np.ndarray],
    dev: tuple[list[str], np.ndarray],
    test: tuple[list[str], np.ndarray],
    seeds: list[int],
    setting: dict,
    desc: str,
    label_names: list[str] | None = None,
) -> tuple[dict[int, float], list[float], Any, dict]:
    """One fastText per seed with `setting`, scored on test (texts, labels each): accuracy by seed, training
    seconds, the last model, and with label_names (multi-label) task.multi_label_metrics at each seed's
    thresholds chosen on dev, the mean over seeds."""
    accuracies, train_seconds, per_seed = {}, [], []
    with tempfile.TemporaryDirectory() as scratch:
        data = FastTextData(*train, Path(scratch))
        for seed in seeds:
            start = time.perf_counter()
            model = train_fasttext(data, seed=seed, **setting)
            train_seconds.append(time.perf_counter() - start)
            if label_names:
                thresholds = dev_thresholds(fasttext_probabilities(model, dev[0], len(label_names)), dev[1])
                probabilities = fasttext_probabilities(model, test[0], len(label_names))
                per_seed.append(multi_label_metrics(probabilities, test[1], label_names, thresholds))
                accuracies[seed] = per_seed[-1]["exact_match"]
            else:
                accuracies[seed] = accuracy(fasttext_predict(model, test[0]), test[1])
            print(f"{desc}: seed {seed}: test accuracy {accuracies[seed]:.4f}, trained in {train_seconds[-1]:.2f} s")
    return accuracies, train_seconds, model, mean_metrics(per_seed) if per_seed else {}


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


def tune_on_dev(candidates: list[dict], score: Any) -> tuple[dict, list[dict], dict]:
    """Score every candidate setting on dev (score(setting) -> dev_figures) and keep the one
    selection.choose_on_dev picks (the lowest dev_bce for multi-label, else the best dev_accuracy).
    Returns the setting, every trial, and the winner's figures."""
    trials = [dict(setting, **{k: round(v, 6) for k, v in score(setting).items()}) for setting in candidates]
    multi_label = "dev_bce" in trials[0]
    dev = [DevScore(t["dev_accuracy"], t["dev_bce"] if multi_label else 0.0) for t in trials]
    best = choose_on_dev(dev, multi_label)
    figures = {key: value for key, value in trials[best].items() if key.startswith("dev_")}
    return candidates[best], trials, figures


def fasttext_tuning(
    train_texts: list[str],
    train_labels: np.ndarray,
    dev_texts: list[str],
    dev_labels: np.ndarray,
    options: dict,
    seed: int,
) -> tuple[dict, list[dict], dict]:
    """fastText's grid searched on dev (fastText's own autotune is not reproducible run to run)."""
    with tempfile.TemporaryDirectory() as scratch:
        data = FastTextData(train_texts, train_labels, Path(scratch))

        def on_dev(setting: dict) -> dict:
            model = train_fasttext(data, seed=seed, **setting)
            if not data.multi_label:
                return dev_figures(dev_labels, fasttext_predict(model, dev_texts))
            probabilities = fasttext_probabilities(model, dev_texts, dev_labels.shape[1])
            return dev_figures(dev_labels, (probabilities > THRESHOLD).astype(np.int64), probabilities)

        return tune_on_dev(list(grid(options)), on_dev)


class LinearTextModel:
    """Word n-gram features into logistic regression, scikit-learn.

    features "tfidf": sublinear TF-IDF of word 1..n-grams. features "nb": binary n-grams scaled,
    per class, by the naive-Bayes log-count ratio (Wang & Manning 2012's NBSVM, one-vs-rest, with
    logistic regression in place of the SVM). Multi-label (labels [N, L] of 0/1): one logistic
    regression per label, each on its own NB-scaled features for "nb".
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
        self.multi_label = is_multi_label(labels)
        if self.features == "tfidf" and not self.multi_label:
            self.classes, self.ratios = np.unique(labels), [None]
            self.models = [LogisticRegression(C=self.C, max_iter=2000).fit(x, labels)]
            return self
        if self.multi_label:
            targets = [labels[:, j] == 1 for j in range(labels.shape[1])]
        else:
            self.classes = np.unique(labels)
            targets = [labels == c for c in self.classes]
        self.ratios, self.models = [], []
        for positive in targets:
            ratio = nb_ratio(x, positive) if self.features == "nb" else None
            self.ratios.append(ratio)
            self.models.append(LogisticRegression(C=self.C, max_iter=2000).fit(scaled(x, ratio), positive))
        return self

    def predict(self, texts: list[str]) -> np.ndarray:
        """Class ids, or 0/1 decisions [N, L] for multi-label."""
        if self.multi_label:
            return (self.probabilities(texts) > THRESHOLD).astype(np.int64)
        x = self.vectorizer.transform(texts)
        if len(self.models) == 1:
            return self.models[0].predict(x)
        scores = [model.decision_function(scaled(x, r)) for model, r in zip(self.models, self.ratios, strict=True)]
        return self.classes[np.argmax(np.stack(scores, axis=1), axis=1)]

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Multi-label: each label's probability [N, L]."""
        x = self.vectorizer.transform(texts)
        columns = [model.predict_proba(scaled(x, r))[:, 1] for model, r in zip(self.models, self.ratios, strict=True)]
        return np.stack(columns, axis=1)

    def num_params(self) -> int:
        return int(sum(model.coef_.size + model.intercept_.size for model in self.models))


def nb_ratio(x: Any, positive: np.ndarray) -> np.ndarray:
    """The naive-Bayes log-count ratio of each feature between the positive rows and the rest."""
    p = np.asarray(x[positive].sum(axis=0)).ravel() + 1.0
    q = np.asarray(x[~positive].sum(axis=0)).ravel() + 1.0
    return np.log((p / p.sum()) / (q / q.sum()))


def scaled(x: Any, ratio: np.ndarray | None) -> Any:
    """Features scaled column by column by `ratio` (none: as they are)."""
    return x if ratio is None else x.multiply(ratio).tocsr()
