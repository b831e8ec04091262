"""Comparing teacher, student and autodidact: significance, speed, the report and its plot."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common import param


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
    """Test accuracy per epoch (mean over seeds) for each history, with the teacher as a line."""
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


def _accuracy(row: dict) -> str:
    sd = row.get("accuracy_sd")
    return f"{row['accuracy']:.4f}" + (f" ± {sd:.4f}" if sd else "")


def render_report(results: dict, params: dict, test_size: int, label_names: list[str]) -> str:
    """The markdown report: one table, the per-seed tests, and a plain-language verdict."""
    teacher, student, autodidact, fast = (results[k] for k in ("teacher", "student", "autodidact", "fasttext"))
    versus = results["student_vs_autodidact"]
    seeds = list(versus["mcnemar_p_per_seed"])
    base = autodidact["accuracy"]

    def speed(row: dict) -> str:
        return f"{row['examples_per_s']:,.0f} ({row['examples_per_s'] / teacher['examples_per_s']:,.0f}x)"

    def delta(row: dict) -> str:
        return f"{100 * (row['accuracy'] - base):+.1f}"

    student_name = (
        f"student ({param(params, 'student.loss')}, T={param(params, 'student.temperature')}, "
        f"alpha={param(params, 'student.alpha')}, {student['train_examples']:,} examples with the transfer set)"
    )
    p_text = ", ".join(f"{versus['mcnemar_p_per_seed'][s]:.2g}" for s in seeds)
    reach = versus["student_epochs_to_autodidact_final"]
    rows = [
        ["teacher", _accuracy(teacher), delta(teacher), "", "1.0000", f"{teacher['params']:,}", speed(teacher), ""],
        [
            student_name,
            _accuracy(student),
            delta(student),
            p_text,
            f"{student['agreement_with_teacher']:.4f}",
            f"{student['params']:,}",
            speed(student),
            "never" if reach is None else str(reach),
        ],
        [
            f"autodidact ({autodidact['train_examples']:,} examples)",
            _accuracy(autodidact),
            "0.0",
            "",
            f"{autodidact['agreement_with_teacher']:.4f}",
            f"{autodidact['params']:,}",
            speed(autodidact),
            str(param(params, "student.epochs")),
        ],
        [
            f"fastText C++ (trained in {fast['train_seconds']:.2f} s)",
            _accuracy(fast),
            delta(fast),
            "",
            "",
            f"{fast['params']:,}",
            speed(fast),
            "",
        ],
    ]
    table = markdown_table(
        [
            "model",
            "test accuracy (mean ± sd)",
            "Δ vs autodidact (points)",
            "McNemar p vs autodidact, per seed",
            "agreement with teacher",
            "parameters",
            "examples/s (vs teacher)",
            "epochs to autodidact's final accuracy",
        ],
        rows,
    )
    return "\n".join(
        [
            "# distillery report",
            "",
            f"Test set: {test_size} examples, {len(label_names)} classes ({', '.join(label_names)}). "
            f"Teacher: `{param(params, 'teacher.model')}`. Students: {len(seeds)} seeds ({', '.join(seeds)}), "
            f"lr {param(params, 'lr')}, dim {param(params, 'student.dim')}, {param(params, 'student.epochs')} epochs.",
            "",
            table,
            "",
            "## Verdict",
            "",
            verdict(results, len(seeds)),
            "",
            "Examples/s: batched inference on this machine, measured side by side in the compare stage (fastText: "
            "its own `predict`, single-threaded); they vary from run to run. Learning curves (mean over seeds): "
            "`learning_curves.png`, or `dvc plots show`.",
            "",
        ]
    )


def verdict(results: dict, n_seeds: int) -> str:
    """What the numbers do and do not show, in plain words."""
    teacher, student, autodidact, fast = (results[k] for k in ("teacher", "student", "autodidact", "fasttext"))
    versus = results["student_vs_autodidact"]
    points = 100 * versus["delta"]
    every_seed = all(p < 0.05 for p in versus["mcnemar_p_per_seed"].values())
    gap = teacher["accuracy"] - autodidact["accuracy"]
    closed = f", closing {100 * versus['delta'] / gap:.0f}% of the gap to the teacher" if gap > 0 else ""
    if points > 0 and every_seed:
        finding = (
            f"Distillation helped: the student beats the autodidact by {points:.1f} points on average over "
            f"{n_seeds} seeds{closed}, and McNemar's test rejects 'no difference' at the 5% level for every seed."
        )
    elif points > 0:
        finding = (
            f"The student is {points:.1f} points above the autodidact on average, but the difference is not "
            "significant at the 5% level for every seed: this run does not establish that the teacher helped."
        )
    else:
        finding = (
            f"The student is not better than the autodidact ({points:+.1f} points): here the teacher did not help."
        )
    fasttext = (
        f"It is {100 * (student['accuracy'] - fast['accuracy']):+.1f} points against plain fastText "
        f"({fast['accuracy']:.4f}), which trains in {fast['train_seconds']:.2f} s; "
        + (
            "distilling bought accuracy fastText alone does not reach."
            if student["accuracy"] > fast["accuracy"]
            else "plain fastText is as good or better here, and far cheaper."
        )
    )
    size = (
        f"The student has {teacher['params'] / student['params']:.0f}x fewer parameters than the teacher and runs "
        f"{student['examples_per_s'] / teacher['examples_per_s']:.0f}x faster, at "
        f"{100 * (teacher['accuracy'] - student['accuracy']):.1f} points below it."
    )
    caveats = (
        "What this does not show: the seeds vary only the students' initialisation and data order; the split, "
        "the teacher and the transfer set are one draw each, so the spread understates the full variance, and "
        "the per-seed tests share one test set, so they are not independent replications."
    )
    return " ".join([finding, fasttext, size, caveats])
