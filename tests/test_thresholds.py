"""Per-label decision thresholds (evaluation/thresholds.py): the F1-optimal cut on dev, against a brute
force over every cut; the floor of positives; the tie rule; never a cut between equal probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from distillery.evaluation.thresholds import MIN_POSITIVES, decide, dev_thresholds, label_threshold


def f1_at(threshold: float, probabilities: np.ndarray, positives: np.ndarray) -> float:
    predicted = probabilities > threshold
    tp = np.sum(predicted & (positives == 1))
    return 2 * tp / (predicted.sum() + positives.sum())


def test_a_separable_label_gets_the_cut_between_its_classes() -> None:
    probabilities = np.array([0.40, 0.38, 0.36, 0.35, 0.34, 0.20, 0.10, 0.05])
    positives = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    assert label_threshold(probabilities, positives) == pytest.approx(0.27)  # halfway from 0.34 to 0.20


def test_fewer_positives_than_the_floor_keep_one_half() -> None:
    probabilities = np.linspace(0.01, 0.3, 40)
    positives = np.zeros(40, dtype=int)
    positives[-(MIN_POSITIVES - 1) :] = 1  # perfectly ranked, but too few to trust
    assert label_threshold(probabilities, positives) == 0.5
    positives[-MIN_POSITIVES:] = 1
    assert label_threshold(probabilities, positives) < 0.3


# Six positives; hits (h) and misses (m) in rank order h h h m m h m m m m h m h: predicting the top 3 and the
# top 6 both give F1 = 2/3 (6/9 and 8/12), the best of any cut. Where the cuts fall decides between them.
TIED = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1])


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ([0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1], 0.46),  # not 0.65
        ([0.9, 0.8, 0.52, 0.48, 0.3, 0.25, 0.1, 0.09, 0.08, 0.07, 0.06, 0.05, 0.04], 0.5),  # not 0.175
    ],
)
def test_of_two_cuts_with_the_same_f1_the_one_nearer_one_half_wins(probabilities: list, expected: float) -> None:
    assert label_threshold(np.array(probabilities), TIED) == pytest.approx(expected)


def cuts(probabilities: np.ndarray) -> list[float]:
    """Every distinct cut: halfway between neighbouring distinct probabilities, and below the lowest."""
    values = np.unique(probabilities)[::-1]
    return [*((values[:-1] + values[1:]) / 2), values[-1] / 2]


@pytest.mark.parametrize("seed", range(20))
def test_the_chosen_cut_has_the_best_f1_of_any_cut_and_never_splits_equal_probabilities(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(10, 80))
    probabilities = np.round(rng.random(rows), 1)  # many equal values
    positives = (rng.random(rows) < probabilities).astype(int)
    positives[:MIN_POSITIVES] = 1
    chosen = label_threshold(probabilities, positives)
    figures = {t: f1_at(t, probabilities, positives) for t in cuts(probabilities)}
    best = max(figures.values())
    assert f1_at(chosen, probabilities, positives) == pytest.approx(best)
    assert chosen not in set(probabilities.tolist())
    tied = [t for t, f in figures.items() if f == pytest.approx(best)]
    assert abs(chosen - 0.5) == pytest.approx(min(abs(t - 0.5) for t in tied))


def test_each_label_gets_its_own_threshold_and_decide_applies_them() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random((60, 3)) < [0.5, 0.2, 0.03]).astype(int)
    truth[:, 2] = 0
    truth[:2, 2] = 1  # two positives: below the floor
    logits = rng.normal(size=(60, 3)) + 2 * truth - 1
    probabilities = 1 / (1 + np.exp(-logits))
    thresholds = dev_thresholds(probabilities, truth)
    assert thresholds.shape == (3,) and thresholds[2] == 0.5
    for label in range(2):
        assert thresholds[label] == label_threshold(probabilities[:, label], truth[:, label])
    assert decide(logits, thresholds).tolist() == (probabilities > thresholds).astype(int).tolist()
