"""Each label's decision threshold, for a multi-label model, chosen on dev.

A sigmoid head trained with BCE learns each label's prior: a label on one text in ten rarely gets a
probability above 0.5, so at 0.5 it is hardly ever predicted and its F1 is near zero even when the
model ranks its texts well. Each label's threshold is instead the one that maximises that label's F1
on dev. A label with fewer than MIN_POSITIVES positive dev texts keeps 0.5: a threshold set by one or
two texts would say more about them than about the label.

Only dev probabilities reach dev_thresholds. compare and the baselines apply the result to test, export
writes it into the folder's config.json, and predict.py applies it to the user's texts.
"""

from __future__ import annotations

import numpy as np

from distillery.core.task import THRESHOLD
from distillery.evaluation.label_metrics import sigmoid

MIN_POSITIVES = 5


def label_threshold(probabilities: np.ndarray, positives: np.ndarray) -> float:
    """One label's F1-optimal threshold from its dev probabilities [N] and 0/1 labels [N]; 0.5 with fewer
    than MIN_POSITIVES positives.

    With rows sorted by probability, predicting the first k gives F1 = 2 TP_k / (k + positives); the cut
    falls halfway between two distinct probabilities. Among equal F1s the cut nearest 0.5 wins."""
    if positives.sum() < MIN_POSITIVES:
        return THRESHOLD
    order = np.argsort(-probabilities, kind="stable")
    ranked, hits = probabilities[order].astype(np.float64), positives[order]
    f1 = 2 * np.cumsum(hits) / (np.arange(1, len(ranked) + 1) + hits.sum())
    following = np.append(ranked[1:], 0.0)  # past the last row: below every probability
    cuts = (ranked + following) / 2
    f1[following == ranked] = -1.0  # no cut between two equal probabilities
    best = np.flatnonzero(np.isclose(f1, f1.max(), rtol=0, atol=1e-12))
    return float(cuts[best[np.argmin(np.abs(cuts[best] - THRESHOLD))]])


def dev_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Thresholds [L] from dev probabilities [N, L] and dev labels (0/1) [N, L]."""
    return np.array([label_threshold(probabilities[:, j], truth[:, j]) for j in range(truth.shape[1])])


def decide(logits: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """0/1 decisions [N, L]: each label whose probability (the sigmoid of its logit) is above its threshold."""
    return (sigmoid(logits) > thresholds).astype(np.int64)
