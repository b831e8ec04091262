"""Stage compare: teacher vs student vs autodidact on the test set.

Writes data/compare/metrics.json, report.md and learning_curves.png. Throughput
(examples/s) is measured here, side by side on one machine, and is the one part of
the outputs that varies from run to run.
"""

import numpy as np
import pandas as pd
import torch

from common import load_params, param, positive, read_json, read_parquet, run_stage, staged_outputs, write_json
from report import examples_per_second, markdown_table, mcnemar_p, plot_learning_curves
from student import Packed, evaluate, load_student
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
    label_names = read_json("data/prepared/labels.json")["labels"]

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
        model = load_student(f"data/{role}/model.safetensors")
        _, accuracy, predicted = evaluate(model, packed, labels, batch_size)
        predictions[role] = predicted.numpy()
        histories[role] = pd.read_csv(f"data/{role}/history.csv")
        results[role] = {
            "accuracy": accuracy,
            "params": parameter_count(model),
            "examples_per_s": examples_per_second(
                lambda model=model: evaluate(model, packed, labels, batch_size), packed.size
            ),
            "agreement_with_teacher": float(np.mean(predictions[role] == teacher_pred)),
        }
    results["student_vs_autodidact"] = {
        "delta": results["student"]["accuracy"] - results["autodidact"]["accuracy"],
        "mcnemar_p": mcnemar_p(truth, predictions["student"], predictions["autodidact"]),
    }
    results = {
        name: {key: round(value, 6) if isinstance(value, float) else value for key, value in row.items()}
        for name, row in results.items()
    }

    with staged_outputs(OUT) as out:
        write_json(results, out / "metrics.json")
        (out / "report.md").write_text(render_report(results, params, len(truth), label_names), encoding="utf-8")
        plot_learning_curves(histories, results["teacher"]["accuracy"], out / "learning_curves.png")
    print(render_report(results, params, len(truth), label_names))


def render_report(results: dict, params: dict, test_size: int, label_names: list[str]) -> str:
    teacher_speed = results["teacher"]["examples_per_s"]
    rows = []
    for name in ("teacher", "student", "autodidact"):
        row = results[name]
        rows.append(
            [
                name,
                f"{row['accuracy']:.4f}",
                f"{row['params']:,}",
                f"{row['examples_per_s']:,.0f}",
                f"{row['examples_per_s'] / teacher_speed:,.0f}x",
                "1.0000" if name == "teacher" else f"{row['agreement_with_teacher']:.4f}",
            ]
        )
    versus = results["student_vs_autodidact"]
    significant = versus["mcnemar_p"] < 0.05
    verdict = (
        f"The student is {abs(versus['delta']) * 100:.1f} points {'above' if versus['delta'] >= 0 else 'below'} "
        f"the autodidact (McNemar p = {versus['mcnemar_p']:.4g}); "
        + (
            "the difference is significant at the 5% level."
            if significant
            else "that difference is not significant at the 5% level: this run does not show the teacher helped."
        )
    )
    return "\n".join(
        [
            "# distillery report",
            "",
            f"Test set: {test_size} examples, {len(label_names)} classes ({', '.join(label_names)}). "
            f"Teacher: `{param(params, 'teacher.model')}`. Student loss: `{param(params, 'student.loss')}`, "
            f"lr {param(params, 'lr')}.",
            "",
            markdown_table(
                ["model", "test accuracy", "parameters", "examples/s", "speed vs teacher", "agreement with teacher"],
                rows,
            ),
            "",
            verdict,
            "",
            "Examples/s: batched inference on this machine, measured side by side in this stage; "
            "they vary from run to run. Learning curves: `learning_curves.png`, or `dvc plots show`.",
            "",
        ]
    )


if __name__ == "__main__":
    run_stage(main)
