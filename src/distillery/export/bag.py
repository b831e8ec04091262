"""The distilled bag student as a folder anyone can serve with no code from this repo: the ONNX model,
the teacher's tokenizer, labels.json, config.json, predict.py and a model card, checked end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.files import read_json, read_parquet, write_json
from distillery.core.params import param
from distillery.core.task import Task
from distillery.evaluation.timing import latencies_ms
from distillery.export import predict as predict_script
from distillery.export.bag_onnx import OPSET, export_onnx
from distillery.export.predict import Classifier
from distillery.students.bag import load_student, predict
from distillery.teacher.tokens import FULL_TEXT_CAP, load_tokenizer
from distillery.training.selection import DevScore, choose_on_dev

NAME = "bag"
TOLERANCE = 1e-4
LATENCY_TEXTS = 200
LATENCY_HOW = f"(ONNX Runtime, 1 thread, {LATENCY_TEXTS} test texts one at a time, measured by the export stage)"


def best_dev_seed(metrics: dict, multi_label: bool) -> str:
    """The seed with the best dev score (the lowest such seed on a tie): chosen on dev, never on test."""
    seeds = sorted(metrics["dev_accuracy_per_seed"], key=int)
    scores = [DevScore(metrics["dev_accuracy_per_seed"][s], metrics["dev_loss_per_seed"][s]) for s in seeds]
    return seeds[choose_on_dev(scores, multi_label)]


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
    times = latencies_ms(lambda i: classifier.probabilities([texts[i]]), len(texts))
    return {"median": round(float(np.median(times)), 3), "p95": round(float(np.percentile(times, 95)), 3)}


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
echo "a gorgeous, moving film" | python data/export/{NAME}/predict.py data/export/{NAME}
python data/export/{NAME}/predict.py data/export/{NAME} --input reviews.csv --text-column text \\
    --output predictions.jsonl
```

`predict.py` (a copy of distillery's `src/distillery/export/predict.py`) needs only this folder. In Python,
`Classifier("data/export/{NAME}").probabilities(["a gorgeous, moving film"])` gives one row per text.
"""


def export_bag(params: dict, task: Task, out: Path) -> dict:
    """Write the export folder into `out` and check it; returns what the model card says."""
    trained = paths.trained("bag", "student")
    metrics = read_json(trained / "metrics.json")
    seed = best_dev_seed(metrics, task.multi_label)
    bag = load_student(trained / "models" / f"seed_{seed}.safetensors")
    test = read_parquet(paths.tokenized("test"))
    texts = read_parquet(paths.prepared("test"))
    if texts["id"].to_pylist() != test["id"].to_pylist():
        raise DistilleryError(f"{paths.prepared('test')} and {paths.tokenized('test')} differ; run 'dvc repro'")
    texts = texts["text"].to_pylist()
    compared = read_json(paths.COMPARE / "metrics.json")
    print(f"export: the bag student of seed {seed} (chosen on dev) to {paths.EXPORT / NAME}")

    export_onnx(bag, out / "model.onnx")
    load_tokenizer(str(paths.TEACHER)).save_pretrained(out)
    shutil.copy(predict_script.__file__, out / "predict.py")
    write_json({"labels": task.label_names}, out / "labels.json")
    config = {"kind": "bag", "labels": task.label_names, "multi_label": task.multi_label}
    config |= {"skip_ids": list(bag.skip_ids), "max_length": bag.max_length, "token_cap": FULL_TEXT_CAP}
    write_json(config | {"seed": int(seed)}, out / "config.json")
    difference = verify(out, bag, texts, test["full_ids"])
    pair = compared["bag_student_vs_twin"]
    info = {
        "teacher": param(params, "teacher.model"),
        "source": param(params, "data.source"),
        "train": compared["data"]["train"],
        "test": len(texts),
        "labels": task.label_names,
        "seed": seed,
        "accuracy": compared["bag_student"]["accuracy_per_seed"][seed],
        "mean_accuracy": compared["bag_student"]["accuracy"],
        "teacher_accuracy": compared["teacher"]["accuracy"],
        "delta": pair["delta"],
        "mcnemar": ", ".join(f"{s}: {p:.2g}" for s, p in pair["mcnemar_p_per_seed"].items()),
        "dev_accuracy": metrics["dev_accuracy_per_seed"][seed],
        "parameters": sum(p.numel() for p in bag.parameters()),
        "size_bytes": (out / "model.onnx").stat().st_size,
        "latency": single_text_latency_ms(out, texts[:LATENCY_TEXTS]),
        "params": json.dumps({"lr": param(params, "lr"), "bag": param(params, "bag")}, sort_keys=True),
        "difference": difference,
        "reads": f"the first {bag.max_length} ids"
        if bag.max_length
        else f"the whole text (up to {FULL_TEXT_CAP:,} ids)",
    }
    (out / "README.md").write_text(model_card(info), encoding="utf-8")
    return info
