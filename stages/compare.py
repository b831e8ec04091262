"""Stage compare: teacher, bag student, its twin and the baselines on the same test set.

Writes data/compare/metrics.json (everything), summary.json (the headline numbers that
`dvc exp show` prints), report.md and learning_curves.png. Throughput (examples/s) is measured
here, side by side on one machine, and is the one part of the outputs that varies between runs.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from common import load_params, param, positive, read_json, read_parquet, run_stage, staged_outputs, write_json
from report import (
    accuracy_summary,
    examples_per_second,
    mcnemar_p,
    paired_bootstrap_ci,
    plot_learning_curves,
    render_report,
    rounded,
)
from student import evaluate, student_models
from teacher import load_classifier, parameter_count
from teacher_inference import TeacherScorer

OUT = "data/compare"


def teacher_results(params: dict, test: pa.Table, truth: np.ndarray) -> dict:
    teacher_pred = read_parquet("data/logits/test.parquet")["teacher_pred"].to_numpy()
    dev_truth = read_parquet("data/tokenized/dev.parquet")["label"].to_numpy()
    dev_pred = read_parquet("data/logits/dev.parquet")["teacher_pred"].to_numpy()
    print("compare: timing the teacher")
    teacher = load_classifier("./data/teacher")
    token_ids = test["input_ids"].to_pylist()[: positive(params, "compare.speed_examples", int)]
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    batch_size = positive(params, "teacher.infer_batch_size", int)
    precision = str(param(params, "teacher.infer_precision"))
    scorer = TeacherScorer(teacher, precision=precision)  # timed at the precision its logits were made with
    return {
        "accuracy": float(np.mean(teacher_pred == truth)),
        "dev_accuracy": float(np.mean(dev_pred == dev_truth)),
        "params": parameter_count(teacher),
        "infer_precision": precision,
        "examples_per_s": examples_per_second(lambda: scorer.logits(token_ids, pad_id, batch_size), len(token_ids)),
        "predictions": teacher_pred,
    } | read_json("data/teacher/training.json")


def main() -> None:
    params = load_params()
    test = read_parquet("data/tokenized/test.parquet")
    truth = test["label"].to_numpy()
    labels = torch.tensor(truth)
    results = {"teacher": teacher_results(params, test, truth)}
    teacher_pred = results["teacher"].pop("predictions")
    predictions, histories = {}, {}
    for role in ("student", "autodidact"):
        print(f"compare: scoring and timing the {role}")
        models = student_models(role)
        first = next(iter(models.values()))
        packed = first.pack(test["full_ids"])
        predictions[role] = {seed: evaluate(model, packed, labels)[2].numpy() for seed, model in models.items()}
        trained = read_json(f"data/{role}/metrics.json")
        histories[role] = pd.read_csv(f"data/{role}/history.csv")
        results[role] = accuracy_summary({seed: float(np.mean(p == truth)) for seed, p in predictions[role].items()})
        results[role] |= {
            "dev_accuracy": float(np.mean(list(trained["dev_accuracy_per_seed"].values()))),
            "best_epoch_per_seed": trained["best_epoch_per_seed"],
            "params": parameter_count(first),
            "examples_per_s": examples_per_second(
                lambda model=first, packed=packed: evaluate(model, packed, labels), packed.size
            ),
            "train_examples": trained["train_examples"],
            "train_accuracy": trained["train_accuracy"],
            "epochs_trained_per_seed": trained["epochs_trained_per_seed"],
            "agreement_with_teacher": float(np.mean([np.mean(p == teacher_pred) for p in predictions[role].values()])),
        }
    for name, folder in (("fasttext", "fasttext"), ("fasttext_tuned", "fasttext_tuned"), ("sklearn", "sklearn")):
        results[name] = read_json(f"data/{folder}/metrics.json")
        settings = results[name].get("chosen") or results[name].get("settings")
        results[name]["note"] = ", ".join(f"{key} {value}" for key, value in settings.items())
    seeds = list(predictions["student"])
    p_values = {str(s): mcnemar_p(truth, predictions["student"][s], predictions["autodidact"][s]) for s in seeds}
    low, high = paired_bootstrap_ci(
        truth, [predictions["student"][s] for s in seeds], [predictions["autodidact"][s] for s in seeds]
    )
    autodidact_final = histories["autodidact"]["test_acc"].iloc[-1]
    results["student_vs_autodidact"] = {
        "delta": results["student"]["accuracy"] - results["autodidact"]["accuracy"],
        "delta_ci95": [low, high],
        "mcnemar_p": max(p_values.values()),  # the least significant seed: every seed must pass
        "mcnemar_p_per_seed": p_values,
        "student_epochs_to_autodidact_final": next(
            (int(row.epoch) for row in histories["student"].itertuples() if row.test_acc >= autodidact_final), None
        ),
    }
    prepared = read_json("data/prepared/stats.json")
    results["data"] = {"classes": prepared["classes"], "train": prepared["train"]} | {
        "tokens": read_json("data/tokenized/stats.json")
    }
    results = rounded(results)
    report = render_report(results, params, len(truth), read_json("data/prepared/labels.json")["labels"])
    with staged_outputs(OUT) as out:
        write_json(results, out / "metrics.json")
        write_json(headline(results), out / "summary.json")
        (out / "report.md").write_text(report, encoding="utf-8")
        plot_learning_curves(histories, results["teacher"]["accuracy"], out / "learning_curves.png")
    print(report)


def headline(results: dict) -> dict:
    """The few numbers `dvc exp show` prints as columns, with short flat names so that they fit: each model's
    test accuracy, the student's delta over its twin and the largest per-seed McNemar p, and the bag models'
    dev accuracies (what a sweep chooses by)."""
    versus = results["student_vs_autodidact"]
    accuracies = {name: results[name]["accuracy"] for name in ("teacher", "student", "autodidact", "fasttext")}
    return accuracies | {
        "ft_tuned": results["fasttext_tuned"]["accuracy"],
        "sklearn": results["sklearn"]["accuracy"],
        "delta": versus["delta"],
        "p_max": versus["mcnemar_p"],
        "dev_student": results["student"]["dev_accuracy"],
        "dev_autodidact": results["autodidact"]["dev_accuracy"],
    }


if __name__ == "__main__":
    run_stage(main)
