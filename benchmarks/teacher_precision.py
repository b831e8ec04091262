"""Benchmark: teacher inference against this machine's fp32 matmul rate, and the faster precisions.

In one run, on a project where `dvc repro` has run (its fine-tuned teacher and tokenized test set):
1. the machine's fp32 matmul rate (torch.mm, the threads torch uses), in GFLOP/s;
2. the teacher's FLOPs on the test set (torch's FlopCounterMode over the padded batches that
   `teacher_logits` runs), hence its achieved GFLOP/s and the ratio to the matmul rate;
3. for each `teacher.infer_precision` (fp32, bf16, int8), interleaved round by round: texts/s, the
   speed-up over fp32, test accuracy, agreement with the fp32 predictions, and the one-time
   conversion (for int8: ONNX export and quantization);
4. with --student: the distilled student trained on int8 logits (a copy of the project sharing its
   DVC cache, `teacher.infer_precision: int8`, `dvc repro`), against the project's own student.

    python benchmarks/teacher_precision.py PROJECT [--rounds 3] [--student]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from distillery.core.files import read_json, read_parquet
from distillery.project import ENV, copy_project
from distillery.teacher.inference import PRECISIONS, TeacherScorer
from distillery.teacher.model import load_classifier


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """The best fp32 rate of a square matmul, the machine's practical limit."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def student_on_int8_logits(project: Path) -> tuple[dict, dict]:
    """The project's student metrics, and those of a copy whose teacher logits are int8."""
    copy = copy_project(Path(tempfile.mkdtemp(prefix="distillery-int8-")), source=project)
    for cmd in (["dvc", "cache", "dir", str((project / ".dvc/cache").resolve())], ["dvc", "checkout", "-q"]):
        subprocess.run(cmd, cwd=copy, check=True, env=ENV)
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["teacher"]["infer_precision"] = "int8"
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["dvc", "repro", "compare"], cwd=copy, check=True, env=ENV)
    metrics = [json.loads((root / "data/compare/metrics.json").read_text()) for root in (project, copy)]
    return metrics[0]["bag_student"], metrics[1]["bag_student"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--student", action="store_true", help="also train the student on int8 logits")
    args = parser.parse_args()
    project = args.project.resolve()
    test = read_parquet(project / "data/tokenized/test.parquet")
    token_ids, truth = test["input_ids"].to_pylist(), test["label"].to_numpy()
    pad_id = read_json(project / "data/tokenized/vocab.json")["pad_id"]
    params = yaml.safe_load((project / "params.yaml").read_text())
    batch_size = int(params["teacher"]["infer_batch_size"])
    print(f"{len(token_ids)} test texts, batch {batch_size}, {torch.get_num_threads()} threads")

    peak = matmul_gflops()
    with FlopCounterMode(display=False) as counter:
        TeacherScorer(load_classifier(str(project / "data/teacher"))).logits(token_ids, pad_id, batch_size)
    flops = counter.get_total_flops()
    print(f"fp32 matmul: {peak:.0f} GFLOP/s; the teacher: {flops / len(token_ids) / 1e9:.2f} GFLOP a text")

    scorers, convert_seconds = {}, {}
    for precision in PRECISIONS:
        model = load_classifier(str(project / "data/teacher"))  # one each: bf16 and int8 convert it in place
        start = time.perf_counter()
        scorers[precision] = TeacherScorer(model, precision=precision)
        convert_seconds[precision] = time.perf_counter() - start
    seconds: dict[str, list[float]] = {precision: [] for precision in PRECISIONS}
    logits: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for precision in PRECISIONS:
            start = time.perf_counter()
            logits[precision] = scorers[precision].logits(token_ids, pad_id, batch_size)
            seconds[precision].append(time.perf_counter() - start)

    fp32_time = float(np.median(seconds["fp32"]))
    reference = logits["fp32"].argmax(axis=1)
    header = ["precision", "texts/s", "vs fp32", "GFLOP/s (fp32-equivalent)", "of the matmul rate"]
    header += ["test accuracy", "agreement with fp32", "max abs logit diff", "conversion (s, once)"]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for precision in PRECISIONS:
        median = float(np.median(seconds[precision]))
        predicted = logits[precision].argmax(axis=1)
        row = [precision, f"{len(token_ids) / median:.0f}", f"{fp32_time / median:.2f}x"]
        rate = flops / median / 1e9
        row += [f"{rate:.0f}", f"{rate / peak:.2f}", f"{np.mean(predicted == truth):.4f}"]
        row += [f"{np.mean(predicted == reference):.4f}", f"{np.abs(logits[precision] - logits['fp32']).max():.3f}"]
        row += [f"{convert_seconds[precision]:.1f}"]
        print("| " + " | ".join(row) + " |")
    print(f"(texts/s: median of {args.rounds} passes over the test set, each precision in turn in every round)")

    if args.student:
        fp32_student, int8_student = student_on_int8_logits(project)
        print("\n| student trained on | test accuracy (mean ± sd) | per seed |\n|---|---|---|")
        for name, student in (("fp32 teacher logits", fp32_student), ("int8 teacher logits", int8_student)):
            seeds = ", ".join(f"{value:.4f}" for value in student["accuracy_per_seed"].values())
            print(f"| {name} | {student['accuracy']:.4f} ± {student['accuracy_sd']:.4f} | {seeds} |")


if __name__ == "__main__":
    main()
