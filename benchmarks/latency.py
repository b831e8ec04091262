"""Benchmark: which model to serve. Every export, in each form, against the teacher, side by side in one run.

Each export folder is timed through predict.py's Classifier (tokenizer + ONNX Runtime, one thread) in
every form the export stage makes (fp32, int8, int8 with the vocabulary trimmed), whichever the dev
gate shipped: the others are rebuilt from the trained student as the export stage builds them, in a
scratch copy of the folder. The fine-tuned teacher runs through
transformers + torch fp32 and as its own int8 ONNX model (the pipeline's labelling path), one thread
each. Single texts (the serving case: one request, one text) and then batches of --batch texts are
run interleaved, model by model, so that all see the same machine load. Prints median and p95
milliseconds, the speed-ups over the torch teacher and over the teacher's int8 ONNX, texts/s in
batches, the served file's MB on disk and the test accuracy of each.

    python benchmarks/latency.py PROJECT_DIR [--texts 1000] [--batch 32] [--batches 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import yaml

from distillery.core.task import accuracy, decisions
from distillery.export.onnx_graph import export_onnx
from distillery.export.predict import Classifier
from distillery.export.student import compressed_models, served_student
from distillery.students.backbones import token_tables
from distillery.teacher.inference import int8_scorer
from distillery.teacher.model import load_trained_teacher
from distillery.teacher.tokens import load_tokenizer
from distillery.training.batching import pad_batch

TORCH_TEACHER = "teacher, torch fp32"
INT8_TEACHER = "teacher, ONNX int8"
FORMS = {"fp32": "model.onnx", "int8": "model.int8.onnx", "trimmed int8": "model.trimmed.int8.onnx"}


def every_form(folder: Path, scratch: Path, window: int) -> Path:
    """A copy of the export folder holding every form the export stage makes (FORMS; the trimmed one where
    trimming drops tokens), made by the export stage's own functions. Run from the project's root."""
    copy = scratch / folder.name
    shutil.copytree(folder, copy)
    settings = Classifier(copy).config
    tokens = token_tables(settings["kind"])
    if not (copy / FORMS["fp32"]).exists():
        served = served_student(settings["kind"], str(settings["seed"]), tokens.max_length or window)
        export_onnx(served.graph, copy / FORMS["fp32"], served.example, served.input_names)
    shipped = (copy / settings["model"]).read_bytes()
    tokenizer = load_tokenizer(str(copy))
    compressed_models(copy, tokenizer.unk_token_id, tokenizer.all_special_ids, tokens)
    if (copy / settings["model"]).read_bytes() != shipped:
        raise SystemExit(f"{folder}: {settings['model']} made again differs from the shipped one; run 'dvc repro'")
    return copy


def interleaved_ms(runners: dict[str, Callable[[list[str]], object]], inputs: list[list[str]]) -> dict[str, list]:
    """Wall time in ms of every runner on every input, runner by runner within each input, after 5 warm-ups."""
    for run in runners.values():
        for texts in inputs[:5]:
            run(texts)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for texts in inputs:
        for name, run in runners.items():
            start = time.perf_counter()
            run(texts)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--texts", type=int, default=1000, help="single texts timed")
    parser.add_argument("--batch", type=int, default=32, help="texts a batch")
    parser.add_argument("--batches", type=int, default=100, help="batches timed")
    args = parser.parse_args()
    os.chdir(args.project)  # the pipeline's paths are relative to the project's root
    test = pq.read_table("data/prepared/test.parquet")
    test_texts, truth = test["text"].to_pylist(), np.array(test["label"].to_pylist())
    pool = test_texts * (max(args.texts, args.batch * args.batches) // len(test_texts) + 1)
    singles = [[text] for text in pool[: args.texts]]
    batches = [pool[i * args.batch : (i + 1) * args.batch] for i in range(args.batches)]

    torch.set_num_threads(1)
    tokenizer = load_tokenizer("data/teacher")
    teacher = load_trained_teacher("data/teacher").eval()
    window = yaml.safe_load(Path("params.yaml").read_text())["teacher"]["max_length"]  # as in the pipeline
    teacher_int8 = int8_scorer(load_trained_teacher("data/teacher"))  # on torch's 1 thread

    @torch.inference_mode()
    def teacher_logits(texts: list[str]) -> np.ndarray:
        encoded = tokenizer(texts, truncation=True, max_length=window, padding=True, return_tensors="pt")
        return teacher(**encoded).logits.numpy()

    def teacher_int8_logits(texts: list[str]) -> np.ndarray:
        ids = tokenizer(texts, truncation=True, max_length=window)["input_ids"]
        return teacher_int8(pad_batch(ids, tokenizer.pad_token_id))

    runners: dict[str, Callable[[list[str]], np.ndarray]] = {
        TORCH_TEACHER: teacher_logits,
        INT8_TEACHER: teacher_int8_logits,
    }
    sizes = {TORCH_TEACHER: Path("data/teacher/model.safetensors").stat().st_size}
    multi_label = False
    with tempfile.TemporaryDirectory(prefix="distillery-latency-") as scratch:
        for folder in sorted(path for path in Path("data/export").iterdir() if path.is_dir()):
            copy = every_form(folder, Path(scratch), window)
            shipped = Classifier(copy).config["model"]
            for form, model_file in FORMS.items():
                if not (copy / model_file).exists():
                    continue
                classifier = Classifier(copy, threads=1, model=model_file)
                name = f"{folder.name} export, {form}" + (" (ships)" if model_file == shipped else "")
                runners[name] = classifier.logits
                sizes[name] = (copy / model_file).stat().st_size
                multi_label = classifier.multi_label
        print(f"timing {len(runners)} models: {len(singles)} single texts, then {len(batches)} batches of {args.batch}")
        single_ms = interleaved_ms(runners, singles)
        batch_ms = interleaved_ms(runners, batches)
        print("scoring the test set")
        accuracies = {}
        for name, logits in runners.items():
            scored = np.concatenate([logits(test_texts[i : i + 64]) for i in range(0, len(test_texts), 64)])
            accuracies[name] = accuracy(decisions(scored, multi_label), truth)

    torch_median = float(np.median(single_ms[TORCH_TEACHER]))
    int8_median = float(np.median(single_ms[INT8_TEACHER]))
    print(f"\n{args.project}: single test texts one at a time, then batches of {args.batch}; one thread each\n")
    header = "| model | single: median ms | p95 ms | speed-up vs torch teacher | vs teacher's int8 ONNX |"
    header += f" batch of {args.batch}: median ms | p95 ms | texts/s | MB | test accuracy |"
    print(header)
    print("|---" * 10 + "|")
    for name in runners:
        single, batch = np.array(single_ms[name]), np.array(batch_ms[name])
        median = float(np.median(single))
        size = f"{sizes[name] / 1e6:.1f}" if name in sizes else ""
        print(
            f"| {name} | {median:.2f} | {np.percentile(single, 95):.2f} | {torch_median / median:.1f}x | "
            f"{median / int8_median:.0%} of it | {np.median(batch):.1f} | {np.percentile(batch, 95):.1f} | "
            f"{1000 * args.batch / np.median(batch):,.0f} | {size} | {accuracies[name]:.4f} |"
        )


if __name__ == "__main__":
    main()
