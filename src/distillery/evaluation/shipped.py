"""The export folders on the leaderboard: what a user serves (predict.py: the tokenizer plus the ONNX model
the dev gate let ship), scored on the test set and timed beside the torch models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from distillery.core import paths
from distillery.core.files import read_json, read_parquet
from distillery.core.paths import ARCHITECTURES
from distillery.core.task import accuracy, label_array
from distillery.evaluation.label_metrics import multi_label_metrics, sigmoid
from distillery.evaluation.timing import median_latency_ms
from distillery.export.predict import Classifier

if TYPE_CHECKING:  # leaderboard imports this module
    from distillery.evaluation.leaderboard import Timing


def export_results(timing: Timing, label_names: list[str]) -> dict[str, dict]:
    """Every export folder that exists, by architecture: test accuracy from the raw test texts, the dev
    score the gate measured for the shipped file, its size, and its speed through predict.py's path
    (tokenizing included) on one thread. `timing`: how the leaderboard times every model."""
    test = read_parquet(paths.prepared("test"))
    texts, truth = test["text"].to_pylist(), label_array(test["label"])
    results = {}
    for arch in ARCHITECTURES:
        folder = paths.EXPORT / arch
        if not (folder / "config.json").is_file():
            continue
        print(f"compare: scoring and timing the {arch} export")
        classifier = Classifier(folder, threads=1)
        settings = classifier.config
        logits = classifier.logits(texts)
        predicted = classifier.decide(logits)
        gate = settings["compression"]
        compressed = gate["compressed_ships"]
        timed = texts[: timing.examples]
        student = read_json(paths.trained(arch, "student") / "metrics.json")
        row = {
            "accuracy": accuracy(predicted, truth),
            "dev_score": gate["compressed_dev" if compressed else "fp32_dev"],  # the gate's: accuracy or macro-F1
            "dev_metric": gate["metric"],
            "model_file": settings["model"],
            "seed": settings["seed"],
            "disk_mb": (folder / settings["model"]).stat().st_size / 1e6,
            "examples_per_s": timing.throughput(lambda t=timed, c=classifier: c.probabilities(t), len(texts)),
            "latency_ms": median_latency_ms(lambda i, c=classifier: c.probabilities([texts[i]]), len(texts)),
            "labelled_examples": student["labelled_examples"],
            "teacher_labelled_examples": student["teacher_labelled_examples"],
            "note": f"{'int8' if compressed else 'fp32'} ONNX, seed {settings['seed']}: {gate['reason']}",
        }
        if classifier.multi_label:
            row["multi_label"] = multi_label_metrics(sigmoid(logits), truth, label_names, classifier.thresholds)
        else:
            row["dev_accuracy"] = row["dev_score"]
        results[arch] = row
    return results
