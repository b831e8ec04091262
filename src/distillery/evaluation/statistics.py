"""Statistics for comparing two models on one test set: McNemar's test per seed, a paired bootstrap
interval pooled over seeds, and each family's accuracy over its seeds."""

from __future__ import annotations

import numpy as np

from distillery.core.task import accuracy, correct
from distillery.evaluation.label_metrics import f1_from_counts, macro_f1, outcomes


def mcnemar_p(truth: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """McNemar's test on paired predictions; exact binomial when few examples disagree."""
    from statsmodels.stats.contingency_tables import mcnemar

    first_right, second_right = correct(first, truth), correct(second, truth)
    table = [
        [int(np.sum(first_right & second_right)), int(np.sum(first_right & ~second_right))],
        [int(np.sum(~first_right & second_right)), int(np.sum(~first_right & ~second_right))],
    ]
    discordant = table[0][1] + table[1][0]
    if discordant == 0:
        return 1.0
    return float(mcnemar(table, exact=discordant < 25, correction=True).pvalue)


def paired_bootstrap_ci(
    truth: np.ndarray,
    first: list[np.ndarray],
    second: list[np.ndarray],
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the accuracy difference first - second, pooled over seeds.

    first[s] and second[s] are one seed's paired predictions. Each example's difference is averaged
    over seeds, then the test examples are resampled with replacement, so the interval reflects
    which examples happened to be in the test set.
    """
    difference = np.mean(
        [correct(f, truth).astype(float) - correct(s, truth) for f, s in zip(first, second, strict=True)], axis=0
    )
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [
            difference[rng.integers(0, len(difference), (1000, len(difference)))].mean(axis=1)
            for _ in range(resamples // 1000)
        ]
    )
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def macro_f1_bootstrap_ci(
    truth: np.ndarray,
    first: list[np.ndarray],
    second: list[np.ndarray],
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired bootstrap percentile interval of macro-F1(first) - macro-F1(second), mean over seeds.

    first[s] and second[s] are one seed's 0/1 decisions [N, L]. The test rows are resampled with
    replacement; each resample's true/false positive counts are a weighted sum of the rows' counts.
    """
    rng = np.random.default_rng(seed)
    counts = [outcomes(p, truth) for p in (*first, *second)]
    differences = []
    for _ in range(resamples // 500):
        weights = np.stack(
            [np.bincount(rng.integers(0, len(truth), len(truth)), minlength=len(truth)) for _ in range(500)]
        )
        macro = [f1_from_counts(*(weights @ c for c in row)).mean(axis=1) for row in counts]
        differences.append(np.mean(macro[: len(first)], axis=0) - np.mean(macro[len(first) :], axis=0))
    low, high = np.quantile(np.concatenate(differences), [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def accuracy_summary(per_seed: dict[int, float]) -> dict:
    """Mean, standard deviation over seeds, and each seed's accuracy."""
    accuracies = list(per_seed.values())
    return {
        "accuracy": round(float(np.mean(accuracies)), 6),
        "accuracy_sd": round(float(np.std(accuracies, ddof=1)), 6) if len(accuracies) > 1 else 0.0,
        "accuracy_per_seed": {str(seed): round(acc, 6) for seed, acc in per_seed.items()},
    }


def versus_twin(truth: np.ndarray, student: dict[int, np.ndarray], twin: dict[int, np.ndarray]) -> dict:
    """The student's accuracy delta over its twin, seed by seed (paired by seed), with both tests; for
    multi-label, accuracy is exact match, and the macro-F1 delta gets its own bootstrap interval."""
    seeds = sorted(set(student) & set(twin))
    p_values = {str(s): mcnemar_p(truth, student[s], twin[s]) for s in seeds}
    low, high = paired_bootstrap_ci(truth, [student[s] for s in seeds], [twin[s] for s in seeds])
    delta = np.mean([accuracy(student[s], truth) - accuracy(twin[s], truth) for s in seeds])
    result = {
        "delta": float(delta),
        "delta_ci95": [low, high],
        "mcnemar_p": max(p_values.values()),  # the least significant seed: every seed must pass
        "mcnemar_p_per_seed": p_values,
    }
    if truth.ndim == 2:  # multi-label: macro-F1 as well
        first, second = [student[s] for s in seeds], [twin[s] for s in seeds]
        differences = [macro_f1(f, truth) - macro_f1(s, truth) for f, s in zip(first, second, strict=True)]
        result["macro_f1_delta"] = float(np.mean(differences))
        result["macro_f1_delta_ci95"] = list(macro_f1_bootstrap_ci(truth, first, second))
    return result


def dev_noise(dev_size: int, accuracy: float) -> float:
    """How far apart two settings' dev accuracies must be before dev can tell them apart: the half-width
    of a 95% interval for the difference of two accuracies near `accuracy` on dev_size texts, taken as
    independent (settings of one model agree on most texts, so this errs towards calling a choice noise)."""
    variance = max(accuracy * (1 - accuracy), 1 / dev_size)  # a perfect score still has one text's worth of doubt
    return float(1.96 * np.sqrt(2 * variance / dev_size))


def standing(versus: dict) -> str:
    """Where the first model of a versus_twin comparison stands against the second: "above" or "below" only when
    McNemar rejects on every seed and the bootstrap interval excludes zero, else "level with"."""
    low, high = versus["delta_ci95"]
    if versus["mcnemar_p"] >= 0.05 or low <= 0 <= high:
        return "level with"
    return "above" if versus["delta"] > 0 else "below"
