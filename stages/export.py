"""Stage export: the distilled bag student as a folder anyone can serve, with no code from this repo.

Writes data/export/bag/: model.onnx (the seed with the best dev accuracy), the teacher's tokenizer
(save_pretrained files), labels.json, config.json (what predict.py needs to read a text as the student
does) and README.md, a model card. Before writing, it checks the folder end to end: predict.py's
Classifier, from raw test texts through the tokenizer and ONNX Runtime, must give the torch model's
logits on the tokenized test set within 1e-4 and the same predictions, else the stage fails.
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from bag_onnx import OPSET, export_onnx
from common import DistilleryError, load_params, param, read_json, read_parquet, run_stage, staged_outputs, write_json
from predict import Classifier
from student import load_student, predict
from teacher import load_tokenizer
from tokenize_texts import FULL_TEXT_CAP

NAME = "bag"
OUT = f"data/export/{NAME}"
TOLERANCE = 1e-4
LATENCY_TEXTS = 200
LATENCY_HOW = f"(ONNX Runtime, 1 thread, {LATENCY_TEXTS} test texts one at a time, measured by the export stage)"


def best_dev_seed(metrics: dict, multi_label: bool) -> int:
    """The seed with the best dev accuracy, or for multi-label the lowest dev loss (the lowest such seed on a
    tie): chosen on dev, never on test."""
    if multi_label:
        losses = metrics["dev_loss_per_seed"]
        return min(losses, key=lambda seed: (losses[seed], int(seed)))
    scores = metrics["dev_accuracy_per_seed"]
    return min(scores, key=lambda seed: (-scores[seed], int(seed)))


def verify(folder: Path, bag: torch.nn.Module, texts: list[str], token_ids: object) -> float:
    """Max absolute logit difference between the served folder and the torch model; fails on a mismatch."""
    served = Classifier(folder).logits(texts)
    reference = predict(bag, bag.pack(token_ids)).numpy()
    difference = float(np.abs(served - reference).max())
    disagree = int((served.argmax(axis=1) != reference.argmax(axis=1)).sum())
    if difference > TOLERANCE or disagree:
        raise DistilleryError(
            f"export: the ONNX model in {folder} differs from the torch student on the test texts "
            f"(max |logit difference| {difference:.2e}, {disagree} different predictions); not exported"
        )
    return difference


def single_text_latency_ms(folder: Path, texts: list[str]) -> dict:
    """Median and p95 of one text at a time through predict.py's path, ONNX Runtime on one thread."""
    classifier = Classifier(folder, threads=1)
    classifier.probabilities(texts[:10])  # warm-up
    times = []
    for text in texts:
        start = time.perf_counter()
        classifier.probabilities([text])
        times.append((time.perf_counter() - start) * 1000)
    return {"median": round(statistics.median(times), 3), "p95": round(float(np.percentile(times, 95)), 3)}


def model_card(info: dict) -> str:
    return f"""# distillery bag student: {info["teacher"]} distilled into a bag of embeddings

A fastText-style classifier (mean of word-piece embeddings, then one linear layer) trained by
distillery on the soft labels of a fine-tuned `{info["teacher"]}` teacher, over
the training set and a transfer set the teacher labelled (Tang et al. 2019, seed 000's recipe).

| | |
|---|---|
| data | `{info["source"]}`: {info["train"]} training, {info["test"]} test examples, classes {info["labels"]} |
| test accuracy | {info["accuracy"]:.4f} (this seed, {info["seed"]}; mean over seeds {info["mean_accuracy"]:.4f}) |
| teacher's test accuracy | {info["teacher_accuracy"]:.4f} |
| over its hard-label twin | {info["delta"]:+.4f} (mean over seeds; McNemar p per seed {info["mcnemar"]}) |
| the seed exported | {info["seed"]}: the best dev accuracy of the seeds trained ({info["dev_accuracy"]:.4f}) |
| parameters / size | {info["parameters"]:,} / {info["size_bytes"]:,} bytes (`model.onnx`, float32) |
| single-text latency | median {info["latency"]["median"]} ms, p95 {info["latency"]["p95"]} ms {LATENCY_HOW} |
| made with | `{info["params"]}` |

ONNX opset {OPSET}; checked at export against the torch model on every test text: max |logit difference|
{info["difference"]:.1e}, identical predictions. Texts are read as the student was trained: the
teacher's tokenizer (`tokenizer.json`), its frame tokens ([CLS], [SEP]) dropped, {info["reads"]}.

## Usage

```
pip install onnxruntime tokenizers numpy tqdm
echo "a gorgeous, moving film" | python predict.py data/export/{NAME}
python predict.py data/export/{NAME} --input reviews.csv --text-column text --output predictions.jsonl
```

`predict.py` is distillery's `stages/predict.py`: it needs only this folder. In Python,
`Classifier("data/export/{NAME}").probabilities(["a gorgeous, moving film"])` gives one row per text.
"""


def main() -> None:
    params = load_params()
    metrics = read_json("data/student/metrics.json")
    labels_info = read_json("data/prepared/labels.json")
    multi_label = labels_info.get("task") == "multi_label"
    seed = best_dev_seed(metrics, multi_label)
    bag = load_student(Path(f"data/student/models/seed_{seed}.safetensors"))
    labels = labels_info["labels"]
    test = read_parquet("data/tokenized/test.parquet")
    texts = read_parquet("data/prepared/test.parquet")
    if texts["id"].to_pylist() != test["id"].to_pylist():
        raise DistilleryError("data/prepared/test.parquet and data/tokenized/test.parquet differ; run 'dvc repro'")
    texts = texts["text"].to_pylist()
    compared = read_json("data/compare/metrics.json")
    tokenizer = load_tokenizer("data/teacher")
    print(f"export: the bag student of seed {seed} (best dev {'loss' if multi_label else 'accuracy'}) to {OUT}")

    with staged_outputs(OUT) as out:
        export_onnx(bag, out / "model.onnx")
        tokenizer.save_pretrained(out)
        write_json({"labels": labels}, out / "labels.json")
        write_json(
            {
                "kind": "bag",
                "labels": labels,
                "multi_label": multi_label,
                "skip_ids": list(bag.skip_ids),
                "max_length": bag.max_length,
                "token_cap": FULL_TEXT_CAP,
                "seed": int(seed),
            },
            out / "config.json",
        )
        difference = verify(out, bag, texts, test["full_ids"])
        info = {
            "teacher": param(params, "teacher.model"),
            "source": param(params, "data.source"),
            "train": compared["data"]["train"],
            "test": len(texts),
            "labels": labels,
            "seed": seed,
            "accuracy": compared["student"]["accuracy_per_seed"][str(seed)],
            "mean_accuracy": compared["student"]["accuracy"],
            "teacher_accuracy": compared["teacher"]["accuracy"],
            "delta": compared["student_vs_autodidact"]["delta"],
            "mcnemar": ", ".join(
                f"{s}: {p:.2g}" for s, p in compared["student_vs_autodidact"]["mcnemar_p_per_seed"].items()
            ),
            "dev_accuracy": metrics["dev_accuracy_per_seed"][seed],
            "parameters": sum(p.numel() for p in bag.parameters()),
            "size_bytes": (out / "model.onnx").stat().st_size,
            "latency": single_text_latency_ms(out, texts[:LATENCY_TEXTS]),
            "params": json.dumps({"lr": param(params, "lr"), "student": param(params, "student")}, sort_keys=True),
            "difference": difference,
            "reads": f"the first {bag.max_length} ids"
            if bag.max_length
            else f"the whole text (up to {FULL_TEXT_CAP:,} ids)",
        }
        (out / "README.md").write_text(model_card(info), encoding="utf-8")
    print(
        f"export: ONNX matches torch on {len(texts)} test texts (max |logit difference| {difference:.1e}); "
        f"{info['latency']['median']} ms a text"
    )


if __name__ == "__main__":
    run_stage(main)
