"""Benchmark: single-text latency of every export against the teacher, side by side in one run.

Scores `--texts` test texts one at a time (the serving case: one request, one text), each export
through predict.py's Classifier (tokenizer + ONNX Runtime, one thread) and the fine-tuned teacher
through transformers + torch (one thread), interleaved text by text so that both see the same
machine load. Prints median and p95 milliseconds and the speed-up over the teacher.

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
from distillery.teacher.model import load_classifier
from distillery.teacher.tokens import load_tokenizer


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

    runners = {"teacher (torch, 1 thread)": score_with_teacher}
    for folder in sorted(path for path in (args.project / "data/export").iterdir() if path.is_dir()):
        classifier = Classifier(folder, threads=1)
        runners[f"{folder.name} (ONNX Runtime, 1 thread)"] = lambda text, c=classifier: c.probabilities([text])

    for run in runners.values():  # warm-up
        for text in texts[:20]:
            run(text)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for text in texts:
        for name, run in runners.items():
            start = time.perf_counter()
            run(text)
            times[name].append((time.perf_counter() - start) * 1000)

    teacher_median = float(np.median(times["teacher (torch, 1 thread)"]))
    print(f"{len(texts)} test texts of {args.project}, one at a time\n")
    print(f"{'model':<36} {'median ms':>10} {'p95 ms':>8} {'speed-up':>9}")
    for name, values in times.items():
        median = float(np.median(values))
        p95 = float(np.percentile(values, 95))
        print(f"{name:<36} {median:>10.3f} {p95:>8.3f} {teacher_median / median:>8.1f}x")


if __name__ == "__main__":
    main()
