"""A distilled student as a folder anyone can serve with no code from this repo: the ONNX model (the
smallest compressed copy the dev gate lets ship: int8 with the vocabulary trimmed to the training
texts' tokens, int8, else float32), the student's tokenizer (the teacher's, or its own backbone's),
labels.json, config.json, predict.py and a
model card, checked end to end. The transformer's folder also holds its save_pretrained weights, so
`transformers.pipeline("text-classification", model=folder)` loads it as it is.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.files import read_json, read_parquet, write_json
from distillery.core.params import param, positive
from distillery.core.task import Task, accuracy, label_array
from distillery.evaluation.label_metrics import macro_f1, sigmoid
from distillery.evaluation.thresholds import decide, dev_thresholds
from distillery.evaluation.timing import latencies_ms
from distillery.export import predict as predict_script
from distillery.export.bag_onnx import PaddedBag
from distillery.export.bilstm_onnx import UnpackedBiLSTM
from distillery.export.card import model_card
from distillery.export.gate import gate
from distillery.export.onnx_graph import export_onnx, quantize_int8
from distillery.export.predict import Classifier
from distillery.export.vocabulary import training_token_ids, trim_vocabulary
from distillery.students.backbones import TokenTables, token_tables
from distillery.students.bag import load_student
from distillery.students.bag import predict as bag_predict
from distillery.students.encoders import architecture, model_folders, token_examples
from distillery.students.transformer import TransformerClassifier
from distillery.teacher.tokens import FULL_TEXT_CAP, load_tokenizer
from distillery.training.batching import pad_batch
from distillery.training.loop import predict
from distillery.training.selection import DevScore, choose_on_dev

TOLERANCE = 1e-4  # max |logit difference| between the fp32 ONNX model and torch, from raw test texts
LATENCY_TEXTS = 200


def best_dev_seed(metrics: dict, multi_label: bool) -> str:
    """The seed with the best dev score (the lowest such seed on a tie): chosen on dev, never on test."""
    seeds = sorted(metrics["dev_accuracy_per_seed"], key=int)
    scores = [DevScore(metrics["dev_accuracy_per_seed"][s], metrics["dev_loss_per_seed"][s]) for s in seeds]
    return seeds[choose_on_dev(scores, multi_label)]


@dataclass
class Served:
    """One trained student made ready to export: its ONNX graph and how it reads a text."""

    model: torch.nn.Module  # the trained student, for the reference logits
    graph: torch.nn.Module  # the same arithmetic in ops ONNX has: (input_ids, mask) -> logits
    example: tuple[torch.Tensor, torch.Tensor]
    input_names: list[str]
    reads: dict  # config.json's truncate_at, skip_ids, max_length: what predict.py needs

    def reference_logits(self, arch: str, test: pa.Table, pad_id: int) -> np.ndarray:
        """The torch student's logits on the tokenized test set, as compare scores it."""
        if arch == "bag":
            return bag_predict(self.model, self.model.pack(test["full_ids"])).numpy()
        examples = token_examples(test["input_ids"].to_pylist(), label_array(test["label"]), pad_id)
        with torch.inference_mode():
            return predict(self.model, examples).numpy()


def served_student(arch: str, seed: str, window: int) -> Served:
    """`window`: where the encoders' ids were cut (teacher.max_length, or a student tokenizer's own limit
    below it); the bag reads past it."""
    if arch == "bag":
        bag = load_student(paths.trained("bag", "student") / "models" / f"seed_{seed}.safetensors")
        reads = {"truncate_at": FULL_TEXT_CAP, "skip_ids": list(bag.skip_ids), "max_length": bag.max_length}
        example = (torch.zeros((2, 3), dtype=torch.long), torch.ones((2, 3)))
        return Served(bag, PaddedBag(bag.eval()), example, ["input_ids", "mask"], reads)
    model = architecture(arch).load(model_folders(arch, "student")[int(seed)])
    reads = {"truncate_at": window, "skip_ids": [], "max_length": None}
    graph = UnpackedBiLSTM(model) if arch == "bilstm" else model
    batch = pad_batch([[0, 1, 2], [0, 1]], pad_id=0)
    example = (batch["input_ids"], batch["attention_mask"])
    return Served(model, graph.eval(), example, ["input_ids", "attention_mask"], reads)


def raw_texts(split: str, tokens: TokenTables) -> tuple[list[str], pa.Table]:
    """A split's raw texts, and its table of the student's token ids (the same rows, in the same order)."""
    tokenized, prepared = read_parquet(tokens.split(split)), read_parquet(paths.prepared(split))
    if prepared["id"].to_pylist() != tokenized["id"].to_pylist():
        raise DistilleryError(f"{paths.prepared(split)} and {tokens.split(split)} differ; run 'dvc repro'")
    return prepared["text"].to_pylist(), tokenized


def check_parity(folder: Path, texts: list[str], reference: np.ndarray) -> float:
    """Max |logit difference| between the folder (from raw texts) and torch; fails on a mismatch."""
    served = Classifier(folder).logits(texts)
    difference = float(np.abs(served - reference).max())
    disagree = int((served.argmax(axis=1) != reference.argmax(axis=1)).sum())
    if difference > TOLERANCE or disagree:
        raise DistilleryError(
            f"export: the ONNX model in {folder} differs from the torch student on the test texts "
            f"(max |logit difference| {difference:.2e} > {TOLERANCE}, {disagree} different predictions); not exported"
        )
    return difference


def write_config(out: Path, settings: dict) -> None:
    """config.json's `distillery` entry; the transformer's config.json is its Hugging Face config, kept."""
    path = out / "config.json"
    config = read_json(path) if path.exists() else {}
    write_json(config | {"distillery": settings}, path)


def ship(out: Path, shipped: str) -> str:
    """Keep the ONNX file the dev gate chose, delete the others; its name."""
    for path in out.glob("*.onnx"):
        if path.name != shipped:
            path.unlink()
    return shipped


def compressed_models(
    out: Path, unk_id: int | None, special_ids: list[int], tokens: TokenTables
) -> list[tuple[str, str]]:
    """Write the compressed copies of out/model.onnx, the smallest first: (what it is, its file name).

    int8; and int8 with the vocabulary trimmed to the tokens of the training texts, where the tokenizer
    has an [UNK] for the others and that leaves tokens out."""
    quantize_int8(out / "model.onnx", out / "model.int8.onnx")
    candidates = [("int8", "model.int8.onnx")]
    if unk_id is None:
        return candidates
    trimmed = out / "model.trimmed.onnx"
    kept, before = trim_vocabulary(out / "model.onnx", trimmed, training_token_ids(special_ids, tokens), unk_id)
    if kept < before:
        quantize_int8(trimmed, out / "model.trimmed.int8.onnx")
        what = f"int8 with the vocabulary trimmed to the {kept:,} of {before:,} tokens its training texts use"
        candidates.insert(0, (what, "model.trimmed.int8.onnx"))
    trimmed.unlink()
    return candidates


def gated_compression(
    out: Path, candidates: list[tuple[str, str]], dev_texts: list[str], dev: pa.Table, task: Task
) -> tuple[str, list[dict], np.ndarray | None]:
    """Try each compressed file, the smallest first, against model.onnx on dev; the first the gate lets
    through ships, else fp32. (The file that ships, every verdict with its file, and for multi-label the
    shipped file's label thresholds.) Multi-label: each file is judged at its own thresholds, chosen on its
    own dev probabilities, since those are what predict.py will apply them to."""
    truth = label_array(dev["label"])

    def dev_decisions(name: str) -> tuple[np.ndarray, np.ndarray | None]:
        classifier = Classifier(out, model=name)
        logits = classifier.logits(dev_texts)
        if not task.multi_label:
            return classifier.decide(logits), None
        thresholds = dev_thresholds(sigmoid(logits), truth)
        return decide(logits, thresholds), thresholds

    fp32, fp32_thresholds = dev_decisions("model.onnx")
    tried = []
    for what, name in candidates:
        decisions, thresholds = dev_decisions(name)
        verdict = gate(truth, fp32, decisions, task.multi_label, what)
        tried.append(verdict.to_json() | {"model": name})
        print(f"export: {name}: {verdict.reason}")
        if verdict.compressed_ships:
            return name, tried, thresholds
    return "model.onnx", tried, fp32_thresholds


def single_text_latency_ms(folder: Path, texts: list[str]) -> dict:
    """Median and p95 of one text at a time through predict.py's path, ONNX Runtime on one thread."""
    classifier = Classifier(folder, threads=1)
    times = latencies_ms(lambda i: classifier.probabilities([texts[i]]), len(texts))
    return {"median": round(float(np.median(times)), 3), "p95": round(float(np.percentile(times, 95)), 3)}


def export_student(arch: str, params: dict, task: Task, out: Path) -> dict:
    """Write data/export/<arch> into `out` and check it; returns what the model card says."""
    metrics = read_json(paths.trained(arch, "student") / "metrics.json")
    seed = best_dev_seed(metrics, task.multi_label)
    tokens = token_tables(arch)
    served = served_student(arch, seed, tokens.max_length or positive(params, "teacher.max_length", int))
    print(f"export: the {arch} student of seed {seed} (chosen on dev) to {paths.EXPORT / arch}")
    test_texts, test = raw_texts("test", tokens)
    dev_texts, dev = raw_texts("dev", tokens)

    tokenizer = load_tokenizer(tokens.tokenizer_source)
    tokenizer.save_pretrained(out)
    if isinstance(served.model, TransformerClassifier):
        served.model.model.save_pretrained(out)  # config.json and model.safetensors, for transformers.pipeline
    shutil.copy(predict_script.__file__, out / "predict.py")
    write_json({"labels": task.label_names}, out / "labels.json")
    settings = {"kind": arch, "labels": task.label_names, "multi_label": task.multi_label, "seed": int(seed)}
    settings |= served.reads | {"model": "model.onnx"}
    export_onnx(served.graph, out / "model.onnx", served.example, served.input_names)
    write_config(out, settings)
    pad_id = read_json(tokens.vocab)["pad_id"]
    difference = check_parity(out, test_texts, served.reference_logits(arch, test, pad_id))

    candidates = compressed_models(out, tokenizer.unk_token_id, tokenizer.all_special_ids, tokens)
    model_file, tried, thresholds = gated_compression(out, candidates, dev_texts, dev, task)
    compression = tried[-1]  # the verdict on the file that ships, or the last refused
    settings |= {"model": ship(out, model_file), "compression": compression, "compression_tried": tried}
    if thresholds is not None:  # the shipped file's, chosen on its dev probabilities; predict.py applies them
        settings["thresholds"] = dict(zip(task.label_names, thresholds.tolist(), strict=True))
    write_config(out, settings)
    print(f"export: {model_file} ships")

    truth, classifier = label_array(test["label"]), Classifier(out)
    predicted = classifier.decide(classifier.logits(test_texts))
    info = {
        "arch": arch,
        "teacher": param(params, "teacher.model"),
        "tokenizer": "the teacher's" if tokens.folder is None else f"`{tokens.backbone}`'s",
        "source": param(params, "data.source"),
        "labels": task.label_names,
        "multi_label": task.multi_label,
        "seed": seed,
        "dev_accuracy": metrics["dev_accuracy_per_seed"][seed],
        "test": len(test_texts),
        "test_accuracy": accuracy(predicted, truth),
        "test_macro_f1": macro_f1(predicted, truth) if task.multi_label else None,
        "parameters": sum(p.numel() for p in served.model.parameters()),
        "model_file": settings["model"],
        "size_bytes": (out / settings["model"]).stat().st_size,
        "latency": single_text_latency_ms(out, test_texts[:LATENCY_TEXTS]),
        "difference": difference,
        "tolerance": TOLERANCE,
        "compression": compression,
        "compression_tried": tried,
        "reads": served.reads,
        "params": json.dumps(param(params, arch), sort_keys=True),
    }
    (out / "README.md").write_text(model_card(info), encoding="utf-8")
    return info
