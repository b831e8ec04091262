"""Multi-label figures: BCE, F1 (micro, macro, per label), ROC-AUC and exact match."""

from __future__ import annotations

import numpy as np

from distillery.core.task import THRESHOLD, accuracy


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def mean_bce(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """Binary cross-entropy, mean over rows and labels (seed 003's validation figure)."""
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 per entry; 0 where a label is never predicted nor true (scikit-learn's zero_division=0)."""
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp), dtype=float), where=denominator > 0)


def macro_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """The mean over labels of each label's F1, for 0/1 decisions [N, L]."""
    return float(f1_from_counts(*(count.sum(axis=0) for count in outcomes(predicted, truth))).mean())


def outcomes(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives, 0/1 per row and label."""
    return predicted * truth, predicted * (1 - truth), (1 - predicted) * truth


def multi_label_metrics(probabilities: np.ndarray, truth: np.ndarray, names: list[str], thresholds: np.ndarray) -> dict:
    """Everything reported for a multi-label model: mean BCE, macro ROC-AUC (over the labels with both
    classes present), and at each label's threshold (thresholds.py: chosen on dev) micro and macro F1, F1 per
    label and the exact-match rate; and macro-F1 at THRESHOLD, what the untuned model would give."""
    from sklearn.metrics import roc_auc_score

    predicted = (probabilities > thresholds).astype(np.int64)
    tp, fp, fn = (count.sum(axis=0) for count in outcomes(predicted, truth))  # per label
    per_label = f1_from_counts(tp, fp, fn)
    aucs = [
        roc_auc_score(truth[:, j], probabilities[:, j])
        for j in range(truth.shape[1])
        if 0 < truth[:, j].sum() < len(truth)
    ]
    return {
        "bce": mean_bce(probabilities, truth),
        "micro_f1": float(f1_from_counts(tp.sum(), fp.sum(), fn.sum())),
        "macro_f1": float(per_label.mean()),
        "macro_f1_at_half": macro_f1((probabilities > THRESHOLD).astype(np.int64), truth),
        "macro_auc": float(np.mean(aucs)) if aucs else float("nan"),
        "exact_match": accuracy(predicted, truth),
        "f1_per_label": {name: float(f1) for name, f1 in zip(names, per_label, strict=True)},
    }


def mean_metrics(per_seed: list[dict]) -> dict:
    """The mean of each metric (and each label's F1) over seeds."""
    mean = {key: float(np.mean([m[key] for m in per_seed])) for key in per_seed[0] if key != "f1_per_label"}
    names = per_seed[0]["f1_per_label"]
    return mean | {
        "f1_per_label": {name: float(np.mean([m["f1_per_label"][name] for m in per_seed])) for name in names}
    }
