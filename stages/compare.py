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
from student import evaluate, student_models
from teacher import load_classifier, parameter_count
from teacher_inference import TeacherScorer
from training import predict

OUT = "data/compare"


@dataclass
class Trained:
    """One model family's seeds, ready to be scored and timed on the test set."""

    predictions: dict[int, np.ndarray]  # test predictions, by seed
    params: int
    disk_bytes: int
    score_all: Callable[[], object]  # scores every test text once (batched)
    score_one: Callable[[int], object]  # scores test text i alone
    folder: str  # where its metrics.json and history.csv are


def folder_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bag_family(role: str, test: pa.Table, labels: torch.Tensor) -> Trained:
    models = student_models(role)
    first = next(iter(models.values()))
    packed = first.pack(test["full_ids"])
    return Trained(
        predictions={seed: evaluate(model, packed, labels)[2].numpy() for seed, model in models.items()},
        params=parameter_count(first),
        disk_bytes=folder_bytes(Path(f"data/{role}/models/seed_{next(iter(models))}.safetensors")),
        score_all=lambda: evaluate(first, packed, labels),
        score_one=lambda i: first(*packed.batch(np.array([i]))),
        folder=f"data/{role}",
    )


def encoder_family(arch: str, role: str, test: pa.Table, pad_id: int) -> Trained:
    module, folders = architecture(arch), model_folders(arch, role)
    models = {seed: module.load(folder) for seed, folder in folders.items()}
    first = next(iter(models.values()))
    examples = token_examples(test["input_ids"].to_pylist(), test["label"].to_numpy(), pad_id)
    with torch.inference_mode():
        return Trained(
            predictions={seed: predict(model, examples).argmax(1).numpy() for seed, model in models.items()},
            params=parameter_count(first),
            disk_bytes=folder_bytes(next(iter(folders.values()))),
            score_all=lambda: predict(first, examples),
            score_one=lambda i: first(*examples.collate(np.array([i]))),
            folder=f"data/{arch}/{role}",
        )


def teacher_results(params: dict, test: pa.Table, truth: np.ndarray) -> dict:
    teacher_pred = read_parquet("data/logits/test.parquet")["teacher_pred"].to_numpy()
    dev_truth = read_parquet("data/tokenized/dev.parquet")["label"].to_numpy()
    dev_pred = read_parquet("data/logits/dev.parquet")["teacher_pred"].to_numpy()
    print("compare: timing the teacher")
    teacher = load_classifier("./data/teacher")
    token_ids = test["input_ids"].to_pylist()
    timed = token_ids[: positive(params, "compare.speed_examples", int)]
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    batch_size = positive(params, "teacher.infer_batch_size", int)
    precision = str(param(params, "teacher.infer_precision"))
    scorer = TeacherScorer(teacher, precision=precision)  # timed at the precision its logits were made with
    return {
        "accuracy": float(np.mean(teacher_pred == truth)),
        "dev_accuracy": float(np.mean(dev_pred == dev_truth)),
        "params": parameter_count(teacher),
        "disk_mb": folder_bytes(Path("data/teacher/model.safetensors")) / 1e6,
        "infer_precision": precision,
        "examples_per_s": examples_per_second(lambda: scorer.logits(timed, pad_id, batch_size), len(timed)),
        "latency_ms": median_latency_ms(lambda i: scorer.logits([token_ids[i]], pad_id, 1), len(token_ids)),
        "predictions": teacher_pred,
    } | read_json("data/teacher/training.json")


def trained_families(test: pa.Table, labels: torch.Tensor, pad_id: int) -> dict[str, Trained]:
    """The bag's student and twin under their historical names, then each architecture's pair."""
    families = {role: bag_family(role, test, labels) for role in ("student", "autodidact")}
    for student, twin in TWINS.items():
        if student != "student":
            arch = student.removesuffix("_student")
            families[student] = encoder_family(arch, "student", test, pad_id)
            families[twin] = encoder_family(arch, "autodidact", test, pad_id)
    return families


def family_results(family: Trained, truth: np.ndarray, teacher_pred: np.ndarray, test_size: int) -> dict:
    trained = read_json(f"{family.folder}/metrics.json")
    return accuracy_summary({seed: float(np.mean(p == truth)) for seed, p in family.predictions.items()}) | {
        "dev_accuracy": float(np.mean(list(trained["dev_accuracy_per_seed"].values()))),
        "best_epoch_per_seed": trained["best_epoch_per_seed"],
        "epochs_trained_per_seed": trained["epochs_trained_per_seed"],
        "params": family.params,
        "disk_mb": family.disk_bytes / 1e6,
        "examples_per_s": examples_per_second(family.score_all, test_size),
        "latency_ms": median_latency_ms(family.score_one, test_size),
        "train_examples": trained["train_examples"],
        "train_accuracy": trained["train_accuracy"],
        "agreement_with_teacher": float(np.mean([np.mean(p == teacher_pred) for p in family.predictions.values()])),
    }


def versus_twin(truth: np.ndarray, student: dict[int, np.ndarray], twin: dict[int, np.ndarray]) -> dict:
    """The student's accuracy delta over its twin, seed by seed (paired by seed), with both tests."""
    seeds = sorted(set(student) & set(twin))
    p_values = {str(s): mcnemar_p(truth, student[s], twin[s]) for s in seeds}
    low, high = paired_bootstrap_ci(truth, [student[s] for s in seeds], [twin[s] for s in seeds])
    delta = np.mean([np.mean(student[s] == truth) - np.mean(twin[s] == truth) for s in seeds])
    return {
        "delta": float(delta),
        "delta_ci95": [low, high],
        "mcnemar_p": max(p_values.values()),  # the least significant seed: every seed must pass
        "mcnemar_p_per_seed": p_values,
    }


def main() -> None:
    params = load_params()
    test = read_parquet("data/tokenized/test.parquet")
    truth = test["label"].to_numpy()
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    results = {"teacher": teacher_results(params, test, truth)}
    teacher_pred = results["teacher"].pop("predictions")
    families = trained_families(test, torch.tensor(truth), pad_id)
    for name, family in families.items():
        print(f"compare: scoring and timing {name}")
        results[name] = family_results(family, truth, teacher_pred, len(truth))
    histories = {name: pd.read_csv(f"{families[name].folder}/history.csv") for name in ("student", "autodidact")}
    for name, folder in (("fasttext", "fasttext"), ("fasttext_tuned", "fasttext_tuned"), ("sklearn", "sklearn")):
        results[name] = read_json(f"data/{folder}/metrics.json")
        settings = results[name].get("chosen") or results[name].get("settings")
        results[name]["note"] = ", ".join(f"{key} {value}" for key, value in settings.items())
    for student, twin in TWINS.items():
        results[f"{student}_vs_autodidact"] = versus_twin(
            truth, families[student].predictions, families[twin].predictions
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
    report = render_report(results, params, len(truth), read_json("data/prepared/labels.json")["labels"])
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


def headline(results: dict) -> dict:
    """The few numbers `dvc exp show` prints as columns, with short flat names so that they fit: each model's
    test accuracy, each student's delta over its twin and the largest per-seed McNemar p, and the students'
    and the bag autodidact's dev accuracies (what a sweep chooses by)."""
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
    return (
        accuracies
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
