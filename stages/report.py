"""Comparing teacher, student and autodidact: significance, speed, the report and its plot."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def mcnemar_p(truth: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """McNemar's test on paired predictions; exact binomial when few examples disagree."""
    from statsmodels.stats.contingency_tables import mcnemar

    first_right, second_right = first == truth, second == truth
    table = [
        [int(np.sum(first_right & second_right)), int(np.sum(first_right & ~second_right))],
        [int(np.sum(~first_right & second_right)), int(np.sum(~first_right & ~second_right))],
    ]
    discordant = table[0][1] + table[1][0]
    if discordant == 0:
        return 1.0
    return float(mcnemar(table, exact=discordant < 25, correction=True).pvalue)


def examples_per_second(predict: Callable[[], object], num_examples: int, min_seconds: float = 1.0) -> float:
    """Throughput of `predict` (which scores num_examples), after a warm-up call, over >= min_seconds."""
    predict()
    calls, start = 0, time.perf_counter()
    while True:
        predict()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * num_examples / elapsed


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plot_learning_curves(histories: dict[str, object], teacher_accuracy: float, path: Path) -> None:
    """Test accuracy per epoch for each history (a DataFrame), with the teacher as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for name, history in histories.items():
        axis.plot(history["epoch"], history["test_acc"], marker="o", label=name)
    axis.axhline(teacher_accuracy, color="grey", linestyle="--", label="teacher")
    axis.set_xlabel("epoch")
    axis.set_ylabel("test accuracy")
    axis.set_title("Learning curves on the test set")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    # No 'Software' metadata: the PNG bytes depend only on the data.
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
