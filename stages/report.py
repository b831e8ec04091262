"""Comparing teacher, students and baselines: significance, speed, the report and its plot."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common import param
from task import correct


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


def rounded(value: Any) -> Any:
    """Floats, however deeply nested, to six significant digits (not decimals: a p of 4e-7 must not become 0)."""
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return float(f"{value:.6g}") if isinstance(value, float) else value


def accuracy_summary(per_seed: dict[int, float]) -> dict:
    """Mean, standard deviation over seeds, and each seed's accuracy."""
    accuracies = list(per_seed.values())
    return {
        "accuracy": round(float(np.mean(accuracies)), 6),
        "accuracy_sd": round(float(np.std(accuracies, ddof=1)), 6) if len(accuracies) > 1 else 0.0,
        "accuracy_per_seed": {str(seed): round(acc, 6) for seed, acc in per_seed.items()},
    }


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


LATENCY_TEXTS = 200


def median_latency_ms(score_one: Callable[[int], object], available: int) -> float:
    """Median wall time of score_one(i) over the first LATENCY_TEXTS of `available` texts, one text at a time
    on one thread (after 10 warm-ups): what a service answering one request at a time sees."""
    import torch

    count = min(LATENCY_TEXTS, available)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for i in range(min(10, count)):
            score_one(i)
        times = []
        for i in range(count):
            start = time.perf_counter()
            score_one(i)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * float(np.median(times))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plot_learning_curves(histories: dict[str, object], teacher_accuracy: float, path: Path) -> None:
    """Dev and test accuracy per epoch (mean over seeds) for each history, with the teacher as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for (name, history), color in zip(histories.items(), ("tab:blue", "tab:orange"), strict=False):
        axis.plot(history["epoch"], history["test_acc"], marker="o", color=color, label=f"{name}, test")
        axis.plot(history["epoch"], history["dev_acc"], linestyle=":", color=color, label=f"{name}, dev")
    axis.axhline(teacher_accuracy, color="grey", linestyle="--", label="teacher, test")
    axis.set_xlabel("epoch")
    axis.set_ylabel("accuracy")
    axis.set_title("Learning curves (the kept epoch is chosen on dev)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    # No 'Software' metadata: the PNG bytes depend only on the data.
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, accuracy) points no other point beats on both, fastest first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -1.0
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_pareto(board: Any, path: Path) -> None:
    """Test accuracy against single-text latency (log scale), every model labelled, the Pareto front joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = list(zip(board["latency_ms"], board["accuracy"], strict=True))
    front = pareto_front(points)
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=100)
    axis.scatter(board["latency_ms"], board["accuracy"], color="tab:blue")
    axis.plot([points[i][0] for i in front], [points[i][1] for i in front], color="tab:orange", label="Pareto front")
    for name, (latency, accuracy) in zip(board["model"], points, strict=True):
        axis.annotate(
            MODEL_TITLES.get(name, name), (latency, accuracy), fontsize=7, xytext=(4, 2), textcoords="offset points"
        )
    axis.set_xscale("log")
    axis.set_xlabel("single-text latency, ms (one thread; log scale)")
    axis.set_ylabel("test accuracy")
    axis.set_title("Accuracy against latency")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


def _accuracy(row: dict) -> str:
    sd = row.get("accuracy_sd")
    return f"{row['accuracy']:.4f}" + (f" ± {sd:.4f}" if sd else "")


def p_value(p: float) -> str:
    """Scientific notation below 0.001, so a tiny p never prints as 0."""
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _setting(chosen: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in chosen.items())


MODEL_TITLES = {
    "teacher": "teacher",
    "transformer_student": "transformer student (distilled)",
    "transformer_autodidact": "transformer autodidact (its hard-label twin)",
    "bilstm_student": "BiLSTM student (distilled)",
    "bilstm_autodidact": "BiLSTM autodidact (its hard-label twin)",
    "student": "bag student (distilled)",
    "autodidact": "bag autodidact (its hard-label twin)",
    "fasttext": "fastText C++, the student's budget",
    "fasttext_tuned": "fastText C++, tuned on dev",
    "sklearn": "scikit-learn n-grams + logistic regression, tuned on dev",
}
BASELINES = ("fasttext", "fasttext_tuned", "sklearn")
# Each distilled student and its hard-label twin. The bag's keep their first names, "student" and "autodidact".
TWINS = {
    "student": "autodidact",
    "bilstm_student": "bilstm_autodidact",
    "transformer_student": "transformer_autodidact",
}


def render_report(results: dict, params: dict, test_size: int, label_names: list[str]) -> str:
    """The markdown report: one table, the student-vs-twin tests, what was chosen on dev, and a verdict."""
    teacher, student = results["teacher"], results["student"]
    versus = results["student_vs_autodidact"]
    seeds = list(versus["mcnemar_p_per_seed"])

    def speed(row: dict) -> str:
        return f"{row['examples_per_s']:,.0f} ({row['examples_per_s'] / teacher['examples_per_s']:,.0f}x)"

    def against_twin(name: str) -> str:
        if name not in TWINS:
            return ""
        pair = results[f"{name}_vs_autodidact"]
        ps = ", ".join(p_value(p) for p in pair["mcnemar_p_per_seed"].values())
        return f"{100 * pair['delta']:+.1f} (p {ps})"

    rows = []
    for name, title in MODEL_TITLES.items():
        row = results[name]
        dev, latency, disk = row.get("dev_accuracy"), row.get("latency_ms"), row.get("disk_mb")
        rows.append(
            [
                title,
                _accuracy(row),
                "" if dev is None else f"{dev:.4f}",
                against_twin(name),
                f"{100 * (row['accuracy'] - teacher['accuracy']):+.1f}",
                f"{row['params']:,}",
                "" if disk is None else f"{disk:,.1f}",
                speed(row),
                "" if latency is None else f"{latency:.2f} ({teacher['latency_ms'] / latency:,.1f}x)",
                row.get("note", ""),
            ]
        )
    table = markdown_table(
        [
            "model",
            "test accuracy (mean ± sd over seeds)",
            "dev accuracy",
            "Δ vs its twin, points (McNemar p per seed)",
            "Δ vs teacher",
            "parameters",
            "size (MB)",
            "examples/s, batched (vs teacher)",
            "latency, ms, one text on one thread (speed-up)",
            "settings",
        ],
        rows,
    )
    pairs = markdown_table(
        ["student", "Δ vs twin (points)", "bootstrap 95% interval", "McNemar p per seed", "agreement with teacher"],
        [
            [
                MODEL_TITLES[student],
                f"{100 * results[f'{student}_vs_autodidact']['delta']:+.2f}",
                "[{:+.2f}, {:+.2f}]".format(*(100 * x for x in results[f"{student}_vs_autodidact"]["delta_ci95"])),
                ", ".join(
                    f"{seed}: {p_value(p)}"
                    for seed, p in results[f"{student}_vs_autodidact"]["mcnemar_p_per_seed"].items()
                ),
                f"{results[student]['agreement_with_teacher']:.4f}",
            ]
            for student in TWINS
        ],
    )
    low, high = versus["delta_ci95"]
    significance = markdown_table(
        ["", "value"],
        [
            ["accuracy delta, student − autodidact (mean over seeds)", f"{100 * versus['delta']:+.2f} points"],
            [
                "paired bootstrap 95% interval (test examples resampled, seeds pooled)",
                f"[{100 * low:+.2f}, {100 * high:+.2f}] points",
            ],
            [
                "McNemar p per seed (" + ", ".join(seeds) + ")",
                ", ".join(p_value(versus["mcnemar_p_per_seed"][s]) for s in seeds),
            ],
            ["student agreement with the teacher", f"{student['agreement_with_teacher']:.4f}"],
            [
                "epochs the student needed to reach the autodidact's final test accuracy",
                str(versus["student_epochs_to_autodidact_final"] or "never"),
            ],
        ],
    )
    return "\n".join(
        [
            "# distillery report",
            "",
            *[f"> **Warning.** {warning}\n" for warning in warnings(results, params)],
            f"Test set: {test_size} examples, {len(label_names)} "
            f"{'labels, multi-label' if 'multi_label' in teacher else 'classes'} ({', '.join(label_names)}). "
            f"Teacher: `{param(params, 'teacher.model')}`. Bag models: {len(seeds)} seeds ({', '.join(seeds)}), "
            f"recipe `{param(params, 'student.recipe')}`, lr {param(params, 'lr')}, "
            f"dim {param(params, 'student.dim')}, at most {param(params, 'student.epochs')} epochs; the student's "
            f"loss is {param(params, 'student.loss')} (T={param(params, 'student.temperature')}, "
            f"alpha={param(params, 'student.alpha')}) over {student['train_examples']:,} examples: train and "
            f"{student['transfer']:.0%} of the transfer set. "
            + " ".join(encoder_setup(results, params, arch) for arch in ("transformer", "bilstm")),
            "",
            table,
            "",
            *multi_label_section(results, label_names),
            "## Each student against its twin",
            "",
            pairs,
            "",
            "The bag student in more detail:",
            "",
            significance,
            "",
            "## Chosen on dev",
            "",
            "Every choice below looked at the dev split only; test labels were used for the numbers above and for "
            "nothing else.",
            "",
            f"- Bag models, the epoch kept (best dev accuracy) per seed: student "
            f"{_setting(results['student']['best_epoch_per_seed'])}; autodidact "
            f"{_setting(results['autodidact']['best_epoch_per_seed'])}.",
            f"- Bag student, the share of the transfer set it trains on: {student['transfer']} (mean dev "
            f"accuracy per share tried: {_setting(transfer_trials(student))}).",
            f"- fastText, tuned: {_setting(results['fasttext_tuned']['chosen'])}, best of "
            f"{len(results['fasttext_tuned']['trials'])} settings of `baselines.fasttext_grid`.",
            f"- scikit-learn: {_setting(results['sklearn']['chosen'])}, best of "
            f"{len(results['sklearn']['trials'])} settings of `baselines.sklearn_grid`.",
            f"- Teacher: trained {results['teacher']['epochs_trained']} epochs, kept epoch "
            f"{results['teacher']['best_epoch']} (best dev accuracy; at most {param(params, 'teacher.epochs')} "
            f"epochs, patience {param(params, 'teacher.patience')}).",
            f"- Bag models, epochs trained per seed (at most {param(params, 'student.epochs')}, patience "
            f"{param(params, 'student.patience')}): student {_setting(results['student']['epochs_trained_per_seed'])}; "
            f"autodidact {_setting(results['autodidact']['epochs_trained_per_seed'])}.",
            *[
                f"- {MODEL_TITLES[name]}: epochs trained per seed "
                f"{_setting(results[name]['epochs_trained_per_seed'])}, "
                f"kept {_setting(results[name]['best_epoch_per_seed'])}."
                for name in MODEL_TITLES
                if name.startswith(("transformer", "bilstm"))
            ],
            "- The defaults in params.yaml (lr, recipe, temperature, alpha, transfer, epochs, n_iter) come from the "
            "dev sweeps in the README.",
            "",
            "## Verdict",
            "",
            verdict(results),
            "",
            "Examples/s: batched inference on this machine, measured side by side (fastText: its own `predict`, "
            "one thread); latency: the median over single test texts, one thread, from token ids (tokenizing "
            "excluded; the teacher at its `infer_precision`), the baselines' from the raw text in their own "
            "stages (their own word splitting included). Both vary from run to run. Accuracy against latency: "
            "`pareto.png`; learning curves (mean over seeds): `learning_curves.png`; or `dvc plots show`.",
            "",
        ]
    )


def transfer_trials(student: dict) -> dict[str, float]:
    """The bag student's mean dev accuracy for each share of `student.transfer` it tried."""
    return {share: figures["accuracy"] for share, figures in student["dev_per_transfer"].items()}


def multi_label_section(results: dict, label_names: list[str]) -> list[str]:
    """For multi-label data: every model's BCE, F1s, ROC-AUC and exact match, F1 per label, and the
    students' macro-F1 against their twins'. Nothing for single-label data."""
    if "multi_label" not in results["teacher"]:
        return []
    models = [name for name in MODEL_TITLES if "multi_label" in results[name]]
    figures = markdown_table(
        ["model", "BCE (mean over labels)", "micro-F1", "macro-F1", "macro ROC-AUC", "exact match"],
        [
            [MODEL_TITLES[name]]
            + [f"{results[name]['multi_label'][key]:.4f}" for key in ("bce", "micro_f1", "macro_f1", "macro_auc")]
            + [f"{results[name]['multi_label']['exact_match']:.4f}"]
            for name in models
        ],
    )
    per_label = markdown_table(
        ["model", *label_names],
        [
            [MODEL_TITLES[name]]
            + [f"{results[name]['multi_label']['f1_per_label'][label]:.3f}" for label in label_names]
            for name in models
        ],
    )
    pairs = markdown_table(
        ["student", "macro-F1 Δ vs twin (points)", "paired bootstrap 95% interval"],
        [
            [
                MODEL_TITLES[student],
                f"{100 * results[f'{student}_vs_autodidact']['macro_f1_delta']:+.2f}",
                "[{:+.2f}, {:+.2f}]".format(
                    *(100 * x for x in results[f"{student}_vs_autodidact"]["macro_f1_delta_ci95"])
                ),
            ]
            for student in TWINS
        ],
    )
    return [
        "## Multi-label figures",
        "",
        f'{len(label_names)} labels. A label is predicted when its probability is above 0.5; "accuracy" above is '
        "the exact-match rate (every label right), which McNemar's test pairs on. Students and seeds: the mean over "
        "seeds. Every model and epoch was chosen by its dev BCE.",
        "",
        figures,
        "",
        "F1 per label:",
        "",
        per_label,
        "",
        "Macro-F1, each student against its twin (test rows resampled, seeds pooled):",
        "",
        pairs,
        "",
    ]


def encoder_setup(results: dict, params: dict, arch: str) -> str:
    """One sentence on how an architecture was trained."""
    student = results[f"{arch}_student"]
    seeds = len(student["accuracy_per_seed"])
    shape = (
        f"layers {param(params, 'transformer.model.layers')} of the teacher"
        if arch == "transformer"
        else "one BiLSTM layer"
    )
    hidden = f", beta={param(params, 'transformer.beta')}" if arch == "transformer" else ""
    few_seeds = f" (to keep the default run short; raise `{arch}.n_seeds` for more)" if seeds == 1 else ""
    return (
        f"{arch}: {shape}, {seeds} seed{'s' * (seeds > 1)}{few_seeds}, at most {param(params, f'{arch}.epochs')} "
        f"epochs, loss {param(params, f'{arch}.loss')} (T={param(params, f'{arch}.temperature')}, "
        f"alpha={param(params, f'{arch}.alpha')}{hidden}) over {student['train_examples']:,} examples."
    )


def best_baseline(results: dict) -> str:
    """The tuned baseline with the best dev accuracy."""
    return max(("fasttext_tuned", "sklearn"), key=lambda name: results[name]["dev_accuracy"])


def warnings(results: dict, params: dict) -> list[str]:
    """Problems the user must hear about before any table: a teacher that a one-second baseline beats."""
    teacher, name = results["teacher"], best_baseline(results)
    baseline = results[name]
    if teacher["dev_accuracy"] >= baseline["dev_accuracy"]:
        return []
    tokens = results["data"]["tokens"]["train"]
    advice = []
    if teacher["epochs_trained"] and teacher["best_epoch"] == teacher["epochs_trained"]:
        advice.append(
            f"it was still improving at its last epoch ({teacher['epochs_trained']}): raise teacher.epochs, "
            "or teacher.lr"
        )
    elif teacher["epochs_trained"]:
        advice.append(f"it stopped improving after epoch {teacher['best_epoch']}: try another teacher.lr")
    if tokens["truncated_for_teacher"]:
        advice.append(
            f"{tokens['truncated_for_teacher']:,} of {tokens['texts']:,} training texts are longer than "
            f"teacher.max_length ({param(params, 'teacher.max_length')}) and were cut for it: raise teacher.max_length"
        )
    advice.append("or try another teacher.model")
    return [
        f"The teacher's dev accuracy ({teacher['dev_accuracy']:.4f}) is below that of {MODEL_TITLES[name]} "
        f"({baseline['dev_accuracy']:.4f}), which trains in {baseline['train_seconds']:.1f} s. Distilling a teacher "
        f"that a classical baseline beats is not worth it. What to try: {'; '.join(advice)}."
    ]


def likely_causes(results: dict) -> str:
    """When the student does not beat its twin: which of the usual causes the numbers point to."""
    teacher, student, twin = (results[k] for k in ("teacher", "student", "autodidact"))
    causes = []
    if teacher["dev_accuracy"] < twin["dev_accuracy"] + 0.02:
        causes.append(
            f"the teacher is weak: on dev it is {100 * (teacher['dev_accuracy'] - twin['dev_accuracy']):+.1f} points "
            "from the twin, so its soft labels say little that the hard labels do not"
        )
    if student["train_accuracy"] < teacher["dev_accuracy"]:
        causes.append(
            f"the students underfit: the student's training accuracy at its kept epoch "
            f"({student['train_accuracy']:.4f}) is below the teacher's dev accuracy; more epochs, a larger lr or "
            "a larger dim may help"
        )
    per_class = results["data"]["train"] / results["data"]["classes"]
    if per_class < 100:
        causes.append(f"there are few examples per class ({per_class:.0f} training examples on average)")
    if not causes:
        return "None of the usual causes (a weak teacher, underfitting students, few examples per class) shows."
    return "Likely causes: " + "; ".join(causes) + "."


def verdict(results: dict) -> str:
    """What the numbers do and do not show, in plain words."""
    teacher, student, autodidact = (results[k] for k in ("teacher", "student", "autodidact"))
    versus = results["student_vs_autodidact"]
    points = 100 * versus["delta"]
    low, high = versus["delta_ci95"]
    every_seed = all(p < 0.05 for p in versus["mcnemar_p_per_seed"].values())
    gap = teacher["accuracy"] - autodidact["accuracy"]
    closed = f", closing {100 * versus['delta'] / gap:.0f}% of the gap to the teacher" if gap > 0 else ""
    interval = f"[{100 * low:+.1f}, {100 * high:+.1f}]"
    if points > 0 and every_seed and low > 0:
        finding = (
            f"Distillation helped: the student beats its twin by {points:.1f} points{closed}; McNemar's test rejects "
            f"'no difference' at the 5% level for every seed, and the bootstrap interval {interval} excludes zero."
        )
    elif points > 0 and (every_seed or low > 0):
        passed, failed = (
            ("McNemar on every seed", "the bootstrap interval")
            if every_seed
            else ("the bootstrap interval", "McNemar on every seed")
        )
        finding = (
            f"The student is {points:.1f} points above its twin (bootstrap interval {interval}); {passed} says "
            f"the difference is real but {failed} does not, so the evidence that the teacher helped is partial."
        )
    elif points > 0:
        finding = (
            f"The student is {points:.1f} points above its twin, but neither McNemar on every seed nor the bootstrap "
            f"interval {interval} shows it: this run does not establish that the teacher helped."
        )
    else:
        finding = f"The student is not better than its twin ({points:+.1f} points): here the teacher did not help."
    if not (points > 0 and every_seed and low > 0):
        finding += " " + likely_causes(results)
    best_name = best_baseline(results)
    best = results[best_name]
    baseline = (
        f"The best baseline on dev is {MODEL_TITLES[best_name]} ({best['accuracy']:.4f} on test, trained in "
        f"{best['train_seconds']:.1f} s); the student is {100 * (student['accuracy'] - best['accuracy']):+.1f} points "
        "against it on test: "
        + (
            "distilling bought accuracy that a quick baseline does not reach."
            if student["accuracy"] > best["accuracy"]
            else "a user who only needs accuracy should take the baseline, which is far cheaper to train."
        )
    )
    if best["accuracy"] > teacher["accuracy"]:
        baseline += " It even beats the teacher, which is then too weak (or undertrained) to be worth distilling."
    size = (
        f"The student has {teacher['params'] / student['params']:.0f}x fewer parameters than the teacher and runs "
        f"{student['examples_per_s'] / teacher['examples_per_s']:.0f}x faster, at "
        f"{100 * (student['accuracy'] - teacher['accuracy']):+.1f} points against it on test."
    )
    caveats = (
        "What this does not show: the seeds vary only the students' initialisation and data order; the split, "
        "the teacher and the transfer set are one draw each, so the spread understates the full variance, and "
        "the per-seed tests share one test set, so they are not independent replications."
    )
    return " ".join([finding, baseline, size, caveats])
