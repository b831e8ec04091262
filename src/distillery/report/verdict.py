"""The report's judgement, in plain words: warnings that come before any table, and the verdict on the
bag student against its twin and the best baseline. Pure functions of metrics.json."""

from __future__ import annotations

from distillery.core.params import param
from distillery.core.paths import ARCHITECTURES
from distillery.evaluation.keys import model_key, pair_key
from distillery.evaluation.statistics import standing
from distillery.report.titles import ARCH_TITLES, MODEL_TITLES

# What says how well a model did on dev, by multi_label: its accuracy; for multi-label its BCE (lower is
# better), what chose every multi-label model and epoch, since with many labels exact match barely moves.
DEV_FIGURE = {False: ("dev_accuracy", "dev accuracy"), True: ("dev_bce", "dev BCE")}


def dev_score(row: dict, multi_label: bool) -> float:
    """DEV_FIGURE's figure, higher is better."""
    key, _ = DEV_FIGURE[multi_label]
    return -row[key] if multi_label else row[key]


def best_baseline(results: dict) -> str:
    """The tuned baseline with the best dev score."""
    multi_label = "multi_label" in results["teacher"]
    return max(("fasttext_tuned", "sklearn"), key=lambda name: dev_score(results[name], multi_label))


def teacher_below_baseline(results: dict) -> bool:
    """Whether the best tuned baseline beat the teacher on dev: then distilling that teacher is not worth it."""
    multi_label = "multi_label" in results["teacher"]
    baseline = results[best_baseline(results)]
    return dev_score(results["teacher"], multi_label) < dev_score(baseline, multi_label)


def budget_bound(results: dict) -> dict[str, str]:
    """The models still improving when their epoch budget ran out (the epoch kept was the last one trained, so
    the ceiling, not early stopping on dev, ended training), by metrics.json key: which seeds, which epoch."""
    bound = {}
    teacher = results["teacher"]
    if teacher.get("epochs_trained") and teacher["best_epoch"] == teacher["epochs_trained"]:
        bound["teacher"] = f"epoch {teacher['epochs_trained']} of {teacher['epochs_trained']}"
    for name in MODEL_TITLES:
        row = results.get(name, {})
        trained = row.get("epochs_trained_per_seed")
        if not trained:
            continue
        seeds = [seed for seed, epochs in trained.items() if row["best_epoch_per_seed"][seed] == epochs]
        if seeds:
            bound[name] = ", ".join(f"seed {seed}: epoch {trained[seed]} of {trained[seed]}" for seed in seeds)
    return bound


def budget_param(name: str) -> str:
    """The param that sets a model's epoch budget: teacher.epochs, or its architecture's (bag.epochs, ...)."""
    return "teacher.epochs" if name == "teacher" else f"{name.rpartition('_')[0]}.epochs"


def warnings(results: dict, params: dict) -> list[str]:
    """Problems the user must hear about before any table: a teacher that a one-second baseline beats."""
    max_length = param(params, "teacher.max_length")  # read either way: compare lists it, whatever the data
    if not teacher_below_baseline(results):
        return []
    teacher, name = results["teacher"], best_baseline(results)
    baseline = results[name]
    multi_label = "multi_label" in teacher
    key, figure = DEV_FIGURE[multi_label]
    tokens = results["data"]["tokens"]["train"]
    advice = []
    if "teacher" in budget_bound(results):
        advice.append(
            f"it was still improving at its last epoch ({teacher['epochs_trained']}): raise teacher.epochs, "
            "or teacher.lr"
        )
    elif teacher["epochs_trained"]:
        advice.append(f"it stopped improving after epoch {teacher['best_epoch']}: try another teacher.lr")
    if tokens["truncated_for_teacher"]:
        advice.append(
            f"{tokens['truncated_for_teacher']:,} of {tokens['texts']:,} training texts are longer than "
            f"teacher.max_length ({max_length}) and were cut for it: raise teacher.max_length"
        )
    advice.append("or try another teacher.model")
    return [
        f"The teacher's {figure} ({teacher[key]:.4f}) is {'worse than' if multi_label else 'below'} that of "
        f"{MODEL_TITLES[name]} ({baseline[key]:.4f}), which trains in {baseline['train_seconds']:.1f} s. "
        "Distilling a teacher that a classical baseline beats is not worth it. "
        f"What to try: {'; '.join(advice)}."
    ]


def likely_causes(results: dict) -> str:
    """When the student does not beat its twin: which of the usual causes the numbers point to."""
    teacher, student, twin = (results[k] for k in ("teacher", "bag_student", "bag_twin"))
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
    teacher, student, twin = (results[k] for k in ("teacher", "bag_student", "bag_twin"))
    versus = results[pair_key("bag")]
    points = 100 * versus["delta"]
    low, high = versus["delta_ci95"]
    every_seed = all(p < 0.05 for p in versus["mcnemar_p_per_seed"].values())
    gap = teacher["accuracy"] - twin["accuracy"]
    closed = f", closing {100 * versus['delta'] / gap:.0f}% of the gap to the teacher" if gap > 0 else ""
    interval = f"[{100 * low:+.1f}, {100 * high:+.1f}]"
    helped = points > 0 and every_seed and low > 0
    if "multi_label" in teacher:
        finding, helped = multi_label_finding(results)
    elif helped and teacher_below_baseline(results):
        finding = (
            f"The bag student beats its twin by {points:.1f} points{closed} (McNemar on every seed, and the "
            f"bootstrap interval {interval}), but that is no success for distillation: its teacher was below "
            f"{MODEL_TITLES[best_baseline(results)]} on dev (the warning above), so the students learned from a "
            "teacher that a quick baseline beats."
        )
    elif helped:
        finding = (
            f"Distillation helped: the bag student beats its twin by {points:.1f} points{closed}; "
            "McNemar's test rejects "
            f"'no difference' at the 5% level for every seed, and the bootstrap interval {interval} excludes zero."
        )
    elif points > 0 and (every_seed or low > 0):
        passed, failed = (
            ("McNemar on every seed", "the bootstrap interval")
            if every_seed
            else ("the bootstrap interval", "McNemar on every seed")
        )
        finding = (
            f"The bag student is {points:.1f} points above its twin (bootstrap interval {interval}); {passed} says "
            f"the difference is real but {failed} does not, so the evidence that the teacher helped is partial."
        )
    elif points > 0:
        finding = (
            f"The bag student is {points:.1f} points above its twin, but neither McNemar on every seed "
            "nor the bootstrap "
            f"interval {interval} shows it: this run does not establish that the teacher helped."
        )
    else:
        finding = f"The bag student is not better than its twin ({points:+.1f} points): here the teacher did not help."
    if not helped:
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
    return " ".join(part for part in (finding, baseline, against_setfit(results), size, caveats) if part)


def multi_label_finding(results: dict) -> tuple[str, bool]:
    """For multi-label data the bag student and its twin are judged on macro-F1 (at each model's dev
    thresholds), by the paired bootstrap interval: the exact-match rate that McNemar pairs on barely moves
    with many labels, and can rise while most labels are never predicted. (The finding, and whether it helped.)"""
    versus = results[pair_key("bag")]
    points = 100 * versus["macro_f1_delta"]
    low, high = versus["macro_f1_delta_ci95"]
    interval = f"[{100 * low:+.1f}, {100 * high:+.1f}]"
    if points > 0 and low > 0 and teacher_below_baseline(results):
        return (
            f"The bag student's macro-F1 is {points:.1f} points above its twin's (bootstrap interval {interval}), "
            f"but that is no success for distillation: its teacher was below {MODEL_TITLES[best_baseline(results)]} "
            "on dev (the warning above).",
            False,
        )
    if points > 0 and low > 0:
        return (
            f"Distillation helped: the bag student's macro-F1 is {points:.1f} points above its twin's, and the paired "
            f"bootstrap interval {interval} excludes zero.",
            True,
        )
    if points > 0:
        return (
            f"The bag student's macro-F1 is {points:.1f} points above its twin's, but the bootstrap interval "
            f"{interval} includes zero: this run does not establish that the teacher helped.",
            False,
        )
    return (
        f"The bag student's macro-F1 is not above its twin's ({points:+.1f} points, interval {interval}): here the "
        "teacher did not help.",
        False,
    )


def against_setfit(results: dict) -> str:
    """Where the best student on dev stands against SetFit (when it ran): below, level or above on test by the
    paired tests (McNemar on every seed and the bootstrap interval must agree), and how much faster it is."""
    if "setfit" not in results:
        return ""
    setfit = results["setfit"]
    arch = max(ARCHITECTURES, key=lambda name: results[model_key(name, "student")]["dev_accuracy"])
    student, versus = results[model_key(arch, "student")], results[f"{arch}_student_vs_setfit"]
    low, high = versus["delta_ci95"]
    return (
        f"Against SetFit ({setfit['accuracy']:.4f} on test, one model of {setfit['params'] / 1e6:.1f}M parameters "
        f"trained on the labels alone), the best student on dev, the {ARCH_TITLES[arch]} "
        f"({student['accuracy']:.4f}), is {standing(versus)} it ({100 * versus['delta']:+.1f} points, bootstrap "
        f"interval [{100 * low:+.1f}, {100 * high:+.1f}], McNemar p {versus['mcnemar_p']:.2g}) at "
        f"{setfit['latency_ms'] / student['latency_ms']:.1f}x its single-text speed."
    )
