"""Stage compare: the leaderboard. Teacher, every student, every twin and the baselines on one test set.

Writes data/compare/metrics.json (everything), summary.json (the headline numbers that
`dvc exp show` prints), leaderboard.csv (accuracy against single-text latency, a DVC plot),
report.md, learning_curves.png and pareto.png. Speed is measured here, side by side on one
machine, and is the one part of the outputs that varies between runs.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from common import load_params, param, positive, read_json, read_parquet, run_stage, staged_outputs, write_json
from encoders import architecture, model_folders, token_examples
from label_metrics import macro_f1, macro_f1_bootstrap_ci, mean_metrics, multi_label_metrics, sigmoid
from report import (
    TWINS,
    accuracy_summary,
    examples_per_second,
    mcnemar_p,
    median_latency_ms,
    paired_bootstrap_ci,
    plot_learning_curves,
    plot_pareto,
    render_report,
    rounded,
)
from student import predict as bag_predict
from student import student_models
from task import accuracy, decisions, is_multi_label, label_array
from teacher import load_classifier, parameter_count
from teacher_inference import TeacherScorer
from training import predict, teacher_logits_for

OUT = "data/compare"


@dataclass
class Trained:
    """One model family's seeds, ready to be scored and timed on the test set."""

    logits: dict[int, np.ndarray]  # test logits, by seed
    params: int
    disk_bytes: int
    score_all: Callable[[], object]  # scores every test text once (batched)
    score_one: Callable[[int], object]  # scores test text i alone
    folder: str  # where its metrics.json and history.csv are

    def predictions(self, multi_label: bool) -> dict[int, np.ndarray]:
        """Test decisions by seed: class ids, or 0/1 per label."""
        return {seed: decisions(logits, multi_label) for seed, logits in self.logits.items()}


def folder_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bag_family(role: str, test: pa.Table) -> Trained:
    models = student_models(role)
    first = next(iter(models.values()))
    packed = first.pack(test["full_ids"])
    return Trained(
        logits={seed: bag_predict(model, packed).numpy() for seed, model in models.items()},
        params=parameter_count(first),
        disk_bytes=folder_bytes(Path(f"data/{role}/models/seed_{next(iter(models))}.safetensors")),
        score_all=lambda: bag_predict(first, packed),
        score_one=lambda i: first(*packed.batch(np.array([i]))),
        folder=f"data/{role}",
    )


def encoder_family(arch: str, role: str, test: pa.Table, pad_id: int) -> Trained:
    module, folders = architecture(arch), model_folders(arch, role)
    models = {seed: module.load(folder) for seed, folder in folders.items()}
    first = next(iter(models.values()))
    examples = token_examples(test["input_ids"].to_pylist(), label_array(test["label"]), pad_id)
    with torch.inference_mode():
        return Trained(
            logits={seed: predict(model, examples).numpy() for seed, model in models.items()},
            params=parameter_count(first),
            disk_bytes=folder_bytes(next(iter(folders.values()))),
            score_all=lambda: predict(first, examples),
            score_one=lambda i: first(*examples.collate(np.array([i]))),
            folder=f"data/{arch}/{role}",
        )


def teacher_results(params: dict, test: pa.Table, truth: np.ndarray, label_names: list[str]) -> dict:
    teacher_pred = label_array(read_parquet("data/logits/test.parquet")["teacher_pred"])
    dev_truth = label_array(read_parquet("data/tokenized/dev.parquet")["label"])
    dev_pred = label_array(read_parquet("data/logits/dev.parquet")["teacher_pred"])
    print("compare: timing the teacher")
    teacher = load_classifier("./data/teacher")
    token_ids = test["input_ids"].to_pylist()
    timed = token_ids[: positive(params, "compare.speed_examples", int)]
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    batch_size = positive(params, "teacher.infer_batch_size", int)
    precision = str(param(params, "teacher.infer_precision"))
    scorer = TeacherScorer(teacher, precision=precision)  # timed at the precision its logits were made with
    multi = {}
    if is_multi_label(truth):
        logits = teacher_logits_for(test, "data/logits/test.parquet")
        multi = {"multi_label": multi_label_metrics(sigmoid(logits), truth, label_names)}
    return (
        multi
        | {
            "accuracy": accuracy(teacher_pred, truth),
            "dev_accuracy": accuracy(dev_pred, dev_truth),
            "params": parameter_count(teacher),
            "disk_mb": folder_bytes(Path("data/teacher/model.safetensors")) / 1e6,
            "infer_precision": precision,
            "examples_per_s": examples_per_second(lambda: scorer.logits(timed, pad_id, batch_size), len(timed)),
            "latency_ms": median_latency_ms(lambda i: scorer.logits([token_ids[i]], pad_id, 1), len(token_ids)),
            "predictions": teacher_pred,
        }
        | read_json("data/teacher/training.json")
    )


def trained_families(test: pa.Table, pad_id: int) -> dict[str, Trained]:
    """The bag's student and twin under their historical names, then each architecture's pair."""
    families = {role: bag_family(role, test) for role in ("student", "autodidact")}
    for student, twin in TWINS.items():
        if student != "student":
            arch = student.removesuffix("_student")
            families[student] = encoder_family(arch, "student", test, pad_id)
            families[twin] = encoder_family(arch, "autodidact", test, pad_id)
    return families


def family_results(family: Trained, truth: np.ndarray, teacher_pred: np.ndarray, label_names: list[str]) -> dict:
    trained = read_json(f"{family.folder}/metrics.json")
    predictions = family.predictions(is_multi_label(truth))
    multi = {}
    if is_multi_label(truth):
        per_seed = [multi_label_metrics(sigmoid(logits), truth, label_names) for logits in family.logits.values()]
        multi = {"multi_label": mean_metrics(per_seed)}
    test_size = len(truth)
    return (
        accuracy_summary({seed: accuracy(p, truth) for seed, p in predictions.items()})
        | multi
        | {
            "dev_accuracy": float(np.mean(list(trained["dev_accuracy_per_seed"].values()))),
            "best_epoch_per_seed": trained["best_epoch_per_seed"],
            "epochs_trained_per_seed": trained["epochs_trained_per_seed"],
            "params": family.params,
            "disk_mb": family.disk_bytes / 1e6,
            "examples_per_s": examples_per_second(family.score_all, test_size),
            "latency_ms": median_latency_ms(family.score_one, test_size),
            "train_examples": trained["train_examples"],
            "train_accuracy": trained["train_accuracy"],
            "agreement_with_teacher": float(np.mean([accuracy(p, teacher_pred) for p in predictions.values()])),
        }
    )


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
    if is_multi_label(truth):
        first, second = [student[s] for s in seeds], [twin[s] for s in seeds]
        differences = [macro_f1(f, truth) - macro_f1(s, truth) for f, s in zip(first, second, strict=True)]
        result["macro_f1_delta"] = float(np.mean(differences))
        result["macro_f1_delta_ci95"] = list(macro_f1_bootstrap_ci(truth, first, second))
    return result


def main() -> None:
    params = load_params()
    test = read_parquet("data/tokenized/test.parquet")
    truth = label_array(test["label"])
    multi_label = is_multi_label(truth)
    label_names = read_json("data/prepared/labels.json")["labels"]
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    results = {"teacher": teacher_results(params, test, truth, label_names)}
    teacher_pred = results["teacher"].pop("predictions")
    families = trained_families(test, pad_id)
    for name, family in families.items():
        print(f"compare: scoring and timing {name}")
        results[name] = family_results(family, truth, teacher_pred, label_names)
    bag_choice = read_json("data/student/metrics.json")  # the share of the transfer set chosen on dev
    results["student"] |= {key: bag_choice[key] for key in ("transfer", "dev_per_transfer")}
    histories = {name: pd.read_csv(f"{families[name].folder}/history.csv") for name in ("student", "autodidact")}
    for name, folder in (("fasttext", "fasttext"), ("fasttext_tuned", "fasttext_tuned"), ("sklearn", "sklearn")):
        results[name] = read_json(f"data/{folder}/metrics.json")
        settings = results[name].get("chosen") or results[name].get("settings")
        results[name]["note"] = ", ".join(f"{key} {value}" for key, value in settings.items())
    for student, twin in TWINS.items():
        results[f"{student}_vs_autodidact"] = versus_twin(
            truth, families[student].predictions(multi_label), families[twin].predictions(multi_label)
        )
    autodidact_final = histories["autodidact"]["test_acc"].iloc[-1]
    results["student_vs_autodidact"]["student_epochs_to_autodidact_final"] = next(
        (int(row.epoch) for row in histories["student"].itertuples() if row.test_acc >= autodidact_final), None
    )
    prepared = read_json("data/prepared/stats.json")
    results["data"] = {"classes": prepared["classes"], "train": prepared["train"]} | {
        "tokens": read_json("data/tokenized/stats.json")
    }
    results = rounded(results)
    report = render_report(results, params, len(truth), label_names)
    with staged_outputs(OUT) as out:
        write_json(results, out / "metrics.json")
        write_json(headline(results), out / "summary.json")
        leaderboard(results).to_csv(out / "leaderboard.csv", index=False, float_format="%.6g")
        (out / "report.md").write_text(report, encoding="utf-8")
        plot_learning_curves(histories, results["teacher"]["accuracy"], out / "learning_curves.png")
        plot_pareto(leaderboard(results), out / "pareto.png")
    print(report)


def leaderboard(results: dict) -> pd.DataFrame:
    """Every model timed here: test accuracy against single-text latency (the Pareto plot's points)."""
    rows = [
        {"model": name, "latency_ms": row["latency_ms"], "accuracy": row["accuracy"], "params": row["params"]}
        for name, row in results.items()
        if isinstance(row, dict) and "latency_ms" in row
    ]
    return pd.DataFrame(rows)


# Multi-label: the models whose macro-F1 and BCE `dvc exp show` prints, by their short column names.
HEADLINE_NAMES = {
    "teacher": "teacher",
    "student": "student",
    "autodidact": "autodidact",
    "transformer_student": "transformer",
    "bilstm_student": "bilstm",
    "fasttext_tuned": "ft_tuned",
    "sklearn": "sklearn",
}


def headline(results: dict) -> dict:
    """The few numbers `dvc exp show` prints as columns, with short flat names so that they fit: each model's
    test accuracy, each student's delta over its twin and the largest per-seed McNemar p, and the students'
    and the bag autodidact's dev accuracies (what a sweep chooses by); for multi-label data also macro-F1
    (f1_<model>) and BCE (bce_<model>)."""
    versus = results["student_vs_autodidact"]
    accuracies = {name: results[name]["accuracy"] for name in ("teacher", "student", "autodidact", "fasttext")}
    encoders = {}
    for student in TWINS:
        if student != "student":
            arch = student.removesuffix("_student")
            encoders[arch] = results[student]["accuracy"]
            encoders[f"dev_{arch}"] = results[student]["dev_accuracy"]
            encoders[f"delta_{arch}"] = results[f"{student}_vs_autodidact"]["delta"]
            encoders[f"p_max_{arch}"] = results[f"{student}_vs_autodidact"]["mcnemar_p"]
    multi = {}
    if "multi_label" in results["teacher"]:
        for name, short in HEADLINE_NAMES.items():
            multi[f"f1_{short}"] = results[name]["multi_label"]["macro_f1"]
            multi[f"bce_{short}"] = results[name]["multi_label"]["bce"]
    return (
        accuracies
        | multi
        | {
            "ft_tuned": results["fasttext_tuned"]["accuracy"],
            "sklearn": results["sklearn"]["accuracy"],
            "delta": versus["delta"],
            "p_max": versus["mcnemar_p"],
            "dev_student": results["student"]["dev_accuracy"],
            "dev_autodidact": results["autodidact"]["dev_accuracy"],
        }
        | encoders
    )


if __name__ == "__main__":
    run_stage(main)
