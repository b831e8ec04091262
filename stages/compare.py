"""Stage compare: teacher, student, autodidact and fastText on the same test set.

Writes data/compare/metrics.json, report.md and learning_curves.png. Throughput (examples/s) is
measured here, side by side on one machine, and is the one part of the outputs that varies from
run to run.
"""

import numpy as np
import pandas as pd
import torch

from common import load_params, positive, read_json, read_parquet, run_stage, staged_outputs, write_json
from report import examples_per_second, mcnemar_p, plot_learning_curves, render_report
from student import Packed, evaluate, student_models
from teacher import load_classifier, parameter_count, predict_logits

OUT = "data/compare"


def main() -> None:
    params = load_params()
    batch_size = positive(params, "teacher.infer_batch_size", int)
    speed_examples = positive(params, "compare.speed_examples", int)
    test = read_parquet("data/tokenized/test.parquet")
    truth = test["label"].to_numpy()
    labels = torch.tensor(truth)
    teacher_pred = read_parquet("data/logits/test.parquet")["teacher_pred"].to_numpy()

    print("compare: timing the teacher")
    teacher = load_classifier("./data/teacher")
    token_ids = test["input_ids"].to_pylist()[:speed_examples]
    pad_id = read_json("data/tokenized/vocab.json")["pad_id"]
    results = {
        "teacher": {
            "accuracy": float(np.mean(teacher_pred == truth)),
            "params": parameter_count(teacher),
            "examples_per_s": examples_per_second(
                lambda: predict_logits(teacher, token_ids, pad_id, batch_size), len(token_ids)
            ),
        }
    }
    packed = Packed(test["input_ids"])
    predictions, histories = {}, {}
    for role in ("student", "autodidact"):
        print(f"compare: scoring and timing the {role}")
        models = student_models(role)
        predictions[role] = {
            seed: evaluate(model, packed, labels, batch_size)[2].numpy() for seed, model in models.items()
        }
        per_seed = {str(seed): float(np.mean(p == truth)) for seed, p in predictions[role].items()}
        accuracies = list(per_seed.values())
        first = next(iter(models.values()))
        histories[role] = pd.read_csv(f"data/{role}/history.csv")
        results[role] = {
            "accuracy": float(np.mean(accuracies)),
            "accuracy_sd": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
            "accuracy_per_seed": per_seed,
            "params": parameter_count(first),
            "examples_per_s": examples_per_second(
                lambda model=first: evaluate(model, packed, labels, batch_size), packed.size
            ),
            "train_examples": read_json(f"data/{role}/metrics.json")["train_examples"],
            "agreement_with_teacher": float(np.mean([np.mean(p == teacher_pred) for p in predictions[role].values()])),
        }
    results["fasttext"] = read_json("data/fasttext/metrics.json")
    p_values = {
        str(seed): mcnemar_p(truth, predictions["student"][seed], predictions["autodidact"][seed])
        for seed in predictions["student"]
    }
    autodidact_final = histories["autodidact"]["test_acc"].iloc[-1]
    results["student_vs_autodidact"] = {
        "delta": results["student"]["accuracy"] - results["autodidact"]["accuracy"],
        "mcnemar_p": max(p_values.values()),  # the least significant seed: every seed must pass
        "mcnemar_p_per_seed": p_values,
        "student_epochs_to_autodidact_final": next(
            (int(row.epoch) for row in histories["student"].itertuples() if row.test_acc >= autodidact_final), None
        ),
    }
    results = _rounded(results)
    report = render_report(results, params, len(truth), read_json("data/prepared/labels.json")["labels"])
    with staged_outputs(OUT) as out:
        write_json(results, out / "metrics.json")
        (out / "report.md").write_text(report, encoding="utf-8")
        plot_learning_curves(histories, results["teacher"]["accuracy"], out / "learning_curves.png")
    print(report)


def _rounded(value):
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return round(value, 6) if isinstance(value, float) else value


if __name__ == "__main__":
    run_stage(main)
