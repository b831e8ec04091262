"""Benchmark: single-text latency of every export against the teacher, side by side in one run.

Scores `--texts` test texts one at a time (the serving case: one request, one text), each export
through predict.py's Classifier (tokenizer + ONNX Runtime, one thread) and the fine-tuned teacher
through transformers + torch and as its own int8 ONNX model (one thread each), interleaved text by
text so that all see the same machine load. Prints median and p95 milliseconds, the speed-up over the
torch teacher, the served file's MB on disk and the test accuracy of each.

    python benchmarks/latency.py PROJECT_DIR [--texts 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import yaml

from distillery.export.predict import Classifier
from distillery.teacher.inference import int8_scorer
from distillery.teacher.model import load_classifier
from distillery.teacher.tokens import load_tokenizer
from distillery.training.batching import pad_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--texts", type=int, default=1000)
    args = parser.parse_args()
    texts = pq.read_table(args.project / "data/prepared/test.parquet")["text"].to_pylist()
    texts = (texts * (args.texts // len(texts) + 1))[: args.texts]

    torch.set_num_threads(1)
    tokenizer = load_tokenizer(str(args.project / "data/teacher"))
    teacher = load_classifier(str(args.project / "data/teacher")).eval()
    window = yaml.safe_load((args.project / "params.yaml").read_text())["teacher"]["max_length"]  # as in the pipeline

    @torch.inference_mode()
    def score_with_teacher(text: str) -> None:
        teacher(**tokenizer([text], truncation=True, max_length=window, return_tensors="pt"))

    teacher_int8 = int8_scorer(load_classifier(str(args.project / "data/teacher")))  # on torch's 1 thread

    def score_with_teacher_int8(text: str) -> None:
        ids = tokenizer([text], truncation=True, max_length=window)["input_ids"]
        teacher_int8(pad_batch(ids, tokenizer.pad_token_id))

    runners = {"teacher (torch, 1 thread)": score_with_teacher}
    runners["teacher (ONNX int8, 1 thread)"] = score_with_teacher_int8
    sizes = {"teacher (torch, 1 thread)": (args.project / "data/teacher/model.safetensors").stat().st_size}
    classifiers = {}
    for folder in sorted(path for path in (args.project / "data/export").iterdir() if path.is_dir()):
        classifier = Classifier(folder, threads=1)
        name = f"{folder.name} ({classifier.config['model']}, 1 thread)"
        runners[name] = lambda text, c=classifier: c.probabilities([text])
        sizes[name] = (folder / classifier.config["model"]).stat().st_size
        classifiers[name] = classifier

    for run in runners.values():  # warm-up
        for text in texts[:20]:
            run(text)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for text in texts:
        for name, run in runners.items():
            start = time.perf_counter()
            run(text)
            times[name].append((time.perf_counter() - start) * 1000)

    test = pq.read_table(args.project / "data/prepared/test.parquet")
    truth = np.array(test["label"].to_pylist())
    accuracies = {}
    for name, classifier in classifiers.items():
        if not classifier.multi_label:
            predicted = classifier.logits(test["text"].to_pylist()).argmax(axis=1)
            accuracies[name] = f"{float(np.mean(predicted == truth)):.4f}"

    teacher_median = float(np.median(times["teacher (torch, 1 thread)"]))
    print(f"{len(texts)} test texts of {args.project}, one at a time\n")
    print(f"{'model':<44} {'median ms':>10} {'p95 ms':>8} {'speed-up':>9} {'MB':>7} {'test acc':>9}")
    for name, values in times.items():
        median = float(np.median(values))
        p95 = float(np.percentile(values, 95))
        size = f"{sizes[name] / 1e6:.1f}" if name in sizes else ""
        print(
            f"{name:<44} {median:>10.3f} {p95:>8.3f} {teacher_median / median:>8.1f}x {size:>7} "
            f"{accuracies.get(name, ''):>9}"
        )


if __name__ == "__main__":
    main()
