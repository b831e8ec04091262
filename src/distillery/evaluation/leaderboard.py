"""Scoring every trained model on the test set, side by side: accuracy, per-seed predictions for the
paired tests, size, and speed measured on this machine. What the compare stage writes to metrics.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from distillery.core import paths
from distillery.core.files import read_json, read_parquet
from distillery.core.params import param, positive
from distillery.core.paths import ARCHITECTURES, ROLES
from distillery.core.task import Task, accuracy, decisions, is_multi_label, label_array
from distillery.evaluation.keys import model_key, pair_key
from distillery.evaluation.label_metrics import mean_bce, mean_metrics, multi_label_metrics, sigmoid
from distillery.evaluation.shipped import export_results
from distillery.evaluation.statistics import accuracy_summary, versus_twin
from distillery.evaluation.thresholds import decide, dev_thresholds
from distillery.evaluation.timing import examples_per_second, median_latency_ms
from distillery.students.backbones import token_tables
from distillery.students.bag import bag_models
from distillery.students.bag import predict as bag_predict
from distillery.students.encoders import architecture, model_folders, token_examples
from distillery.teacher.inference import TeacherScorer, resolve_precision
from distillery.teacher.model import load_trained_teacher, parameter_count
from distillery.training.loop import predict


@dataclass
class Trained:
    """One model family's seeds, ready to be scored and timed on the test set."""

    logits: dict[int, np.ndarray]  # test logits, by seed
    params: int
    disk_bytes: int
    score_timed: Callable[[], object]  # scores the timed test texts once (batched)
    score_one: Callable[[int], object]  # scores test text i alone
    folder: Path  # where its metrics.json and history.csv are
    thresholds: dict[int, np.ndarray] | None = None  # multi-label: each seed's, chosen on its dev logits

    def predictions(self, multi_label: bool) -> dict[int, np.ndarray]:
        """Test decisions by seed: class ids, or 0/1 per label at the seed's thresholds."""
        if multi_label:
            return {seed: decide(logits, self.thresholds[seed]) for seed, logits in self.logits.items()}
        return {seed: decisions(logits, multi_label) for seed, logits in self.logits.items()}


def folder_bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class Timing:
    """How every model's speed is measured: batched throughput over the first `examples` test texts
    (the same texts for all) for at least `seconds`, and single-text latency."""

    examples: int
    seconds: float

    @classmethod
    def from_params(cls, params: dict) -> Timing:
        return cls(positive(params, "compare.speed_examples", int), positive(params, "compare.speed_seconds", float))

    def throughput(self, score_timed: Callable[[], object], test_size: int) -> float:
        return examples_per_second(score_timed, min(self.examples, test_size), self.seconds)


def seed_thresholds(
    models: dict[int, Any], dev_logits: Callable[[Any], np.ndarray], dev: pa.Table | None
) -> dict[int, np.ndarray] | None:
    """Each seed's label thresholds, chosen on its dev logits; None without dev (single-label)."""
    if dev is None:
        return None
    truth = label_array(dev["label"])
    return {seed: dev_thresholds(sigmoid(dev_logits(model)), truth) for seed, model in models.items()}


def bag_family(role: str, multi_label: bool, timing: Timing) -> Trained:
    """Scored on the test ids of the bag's tokenizer; for a multi-label task each seed's thresholds are
    chosen on dev's."""
    tokens = token_tables("bag")
    test = read_parquet(tokens.split("test"))
    dev = read_parquet(tokens.split("dev")) if multi_label else None
    models = bag_models(role)
    first = next(iter(models.values()))
    packed = first.pack(test["full_ids"])
    timed = first.pack(test["full_ids"].slice(0, timing.examples))
    dev_packed = first.pack(dev["full_ids"]) if dev is not None else None
    return Trained(
        logits={seed: bag_predict(model, packed).numpy() for seed, model in models.items()},
        params=parameter_count(first),
        disk_bytes=folder_bytes(paths.trained("bag", role) / "models" / f"seed_{next(iter(models))}.safetensors"),
        score_timed=lambda: bag_predict(first, timed),
        score_one=lambda i: first(*packed.batch(np.array([i]))),
        folder=paths.trained("bag", role),
        thresholds=seed_thresholds(models, lambda model: bag_predict(model, dev_packed).numpy(), dev),
    )


def encoder_family(arch: str, role: str, multi_label: bool, timing: Timing) -> Trained:
    """Scored on the test ids of the student's own tokenizer (students/backbones.py); dev's too, for
    multi-label thresholds."""
    tokens = token_tables(arch)
    test, pad_id = read_parquet(tokens.split("test")), read_json(tokens.vocab)["pad_id"]
    dev = read_parquet(tokens.split("dev")) if multi_label else None
    module, folders = architecture(arch), model_folders(arch, role)
    models = {seed: module.load(folder) for seed, folder in folders.items()}
    first = next(iter(models.values()))
    examples = token_examples(test["input_ids"].to_pylist(), label_array(test["label"]), pad_id)
    dev_examples = (
        None if dev is None else token_examples(dev["input_ids"].to_pylist(), label_array(dev["label"]), pad_id)
    )
    first_texts = test.slice(0, timing.examples)
    timed = token_examples(first_texts["input_ids"].to_pylist(), label_array(first_texts["label"]), pad_id)
    with torch.inference_mode():
        return Trained(
            logits={seed: predict(model, examples).numpy() for seed, model in models.items()},
            params=parameter_count(first),
            disk_bytes=folder_bytes(next(iter(folders.values()))),
            score_timed=lambda: predict(first, timed),
            score_one=lambda i: first(*examples.collate(np.array([i]))),
            folder=paths.trained(arch, role),
            thresholds=seed_thresholds(models, lambda model: predict(model, dev_examples).numpy(), dev),
        )


def teacher_results(params: dict, test: pa.Table, truth: np.ndarray, label_names: list[str], timing: Timing) -> dict:
    """The teacher as trained, scored and timed in torch fp32 as every student is, so that the speed-ups
    compare one runtime; and `labelling`: how the logits the students learned from (at
    teacher.infer_precision, int8 on a CPU by default) score on test and agree with fp32."""
    print("compare: scoring and timing the teacher")
    teacher = load_trained_teacher(f"./{paths.TEACHER}")
    device = str(param(params, "teacher.device"))
    scorer = TeacherScorer(teacher, device, "fp32")
    pad_id = read_json(paths.VOCAB)["pad_id"]
    batch_size = positive(params, "teacher.infer_batch_size", int)
    token_ids = test["input_ids"].to_pylist()
    logits = scorer.logits(token_ids, pad_id, batch_size)
    multi_label = is_multi_label(truth)
    dev = read_parquet(paths.tokenized("dev"))
    dev_logits = scorer.logits(dev["input_ids"].to_pylist(), pad_id, batch_size)
    multi = {}
    if multi_label:
        thresholds = dev_thresholds(sigmoid(dev_logits), label_array(dev["label"]))
        predictions, dev_predictions = decide(logits, thresholds), decide(dev_logits, thresholds)
        multi = {
            "multi_label": multi_label_metrics(sigmoid(logits), truth, label_names, thresholds),
            "dev_bce": mean_bce(sigmoid(dev_logits), label_array(dev["label"])),
        }
    else:
        predictions, dev_predictions = decisions(logits, False), decisions(dev_logits, False)
    labelled = label_array(read_parquet(paths.logits("test"))["teacher_pred"])
    timed = token_ids[: timing.examples]
    return (
        multi
        | {
            "accuracy": accuracy(predictions, truth),
            "dev_accuracy": accuracy(dev_predictions, label_array(dev["label"])),
            "params": parameter_count(teacher),
            "disk_mb": folder_bytes(paths.TEACHER / "model.safetensors") / 1e6,
            "labelling": {
                "infer_precision": resolve_precision(str(param(params, "teacher.infer_precision")), device),
                "accuracy": accuracy(labelled, truth),
                "agreement_with_fp32": accuracy(labelled, predictions),
            },
            "examples_per_s": timing.throughput(lambda: scorer.logits(timed, pad_id, batch_size), len(token_ids)),
            "latency_ms": median_latency_ms(lambda i: scorer.logits([token_ids[i]], pad_id, 1), len(token_ids)),
            "predictions": predictions,
        }
        | read_json(paths.TEACHER / "training.json")
    )


def trained_families(test: pa.Table, timing: Timing) -> dict[str, Trained]:
    """Every architecture's student and twin, by their metrics.json keys."""
    families = {}
    multi_label = is_multi_label(label_array(test["label"]))
    for arch in ARCHITECTURES:
        for role in ROLES:
            if arch == "bag":
                family = bag_family(role, multi_label, timing)
            else:
                family = encoder_family(arch, role, multi_label, timing)
            families[model_key(arch, role)] = family
    return families


def family_results(
    family: Trained, truth: np.ndarray, teacher_pred: np.ndarray, label_names: list[str], timing: Timing
) -> dict:
    trained = read_json(family.folder / "metrics.json")
    predictions = family.predictions(is_multi_label(truth))
    multi = {}
    if is_multi_label(truth):
        per_seed = [
            multi_label_metrics(sigmoid(logits), truth, label_names, family.thresholds[seed])
            for seed, logits in family.logits.items()
        ]
        multi = {"multi_label": mean_metrics(per_seed)}
    test_size = len(truth)
    return (
        accuracy_summary({seed: accuracy(p, truth) for seed, p in predictions.items()})
        | multi
        | {
            "dev_accuracy": float(np.mean(list(trained["dev_accuracy_per_seed"].values()))),
            "best_epoch_per_seed": trained["best_epoch_per_seed"],
            "epochs_trained_per_seed": trained["epochs_trained_per_seed"],
            "params": family.params,
            "disk_mb": family.disk_bytes / 1e6,
            "examples_per_s": timing.throughput(family.score_timed, test_size),
            "latency_ms": median_latency_ms(family.score_one, test_size),
            "train_examples": trained["train_examples"],
            "labelled_examples": trained["labelled_examples"],
            "teacher_labelled_examples": trained["teacher_labelled_examples"],
            "train_accuracy": trained["train_accuracy"],
            "agreement_with_teacher": float(np.mean([accuracy(p, teacher_pred) for p in predictions.values()])),
        }
        | ({"cooldown_per_seed": trained["cooldown_per_seed"]} if "cooldown_per_seed" in trained else {})
    )


def setfit_results(truth: np.ndarray, families: dict[str, Trained], multi_label: bool) -> dict:
    """SetFit's row (when tune_setfit ran: few labels), and each student against it: the paired tests, each
    student seed against SetFit's one run."""
    setfit = read_json(paths.SETFIT / "metrics.json")
    if "skipped" in setfit:
        return {}
    results = {"setfit": setfit | {"note": ", ".join(f"{key} {value}" for key, value in setfit["chosen"].items())}}
    predicted = label_array(read_parquet(paths.SETFIT / "test_predictions.parquet")["prediction"])
    for arch in ARCHITECTURES:
        student = families[model_key(arch, "student")].predictions(multi_label)
        results[f"{arch}_student_vs_setfit"] = versus_twin(truth, student, dict.fromkeys(student, predicted))
    return results


def rounded(value: Any) -> Any:
    """Floats, however deeply nested, to six significant digits (not decimals: a p of 4e-7 must not become 0)."""
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return float(f"{value:.6g}") if isinstance(value, float) else value


def compare_all(params: dict, task: Task) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Every model scored (and timed) on the test set, each student against its twin, and the baselines'
    own metrics: metrics.json's content, and the bag pair's per-epoch histories for the learning curves."""
    test = read_parquet(paths.tokenized("test"))
    truth = label_array(test["label"])
    timing = Timing.from_params(params)
    results = {"teacher": teacher_results(params, test, truth, task.label_names, timing)}
    teacher_pred = results["teacher"].pop("predictions")
    families = trained_families(test, timing)
    for name, family in families.items():
        print(f"compare: scoring and timing {name}")
        results[name] = family_results(family, truth, teacher_pred, task.label_names, timing)
    for arch in ARCHITECTURES:  # the mix of transfer set and pool each student chose on dev
        choice = read_json(paths.trained(arch, "student") / "metrics.json")
        results[model_key(arch, "student")] |= {key: choice[key] for key in ("transfer", "pool", "dev_per_mix")}
    for arch, row in export_results(timing, task.label_names).items():  # what users serve: predict.py's path
        results[model_key(arch, "export")] = row | {"params": results[model_key(arch, "student")]["params"]}
    for name, folder in (
        ("fasttext", paths.FASTTEXT),
        ("fasttext_tuned", paths.FASTTEXT_TUNED),
        ("sklearn", paths.SKLEARN),
    ):
        results[name] = read_json(folder / "metrics.json")
        settings = results[name].get("chosen") or results[name].get("settings")
        results[name]["note"] = ", ".join(f"{key} {value}" for key, value in settings.items())
    results |= setfit_results(truth, families, task.multi_label)
    for arch in ARCHITECTURES:
        student, twin = (families[model_key(arch, role)].predictions(task.multi_label) for role in ROLES)
        results[pair_key(arch)] = versus_twin(truth, student, twin)
    histories = {role: pd.read_csv(families[model_key("bag", role)].folder / "history.csv") for role in ROLES}
    twin_final = histories["twin"]["test_acc"].iloc[-1]
    results[pair_key("bag")]["student_epochs_to_twin_final"] = next(
        (int(row.epoch) for row in histories["student"].itertuples() if row.test_acc >= twin_final), None
    )
    prepared = read_json(paths.PREPARED_STATS)
    results["data"] = {key: prepared[key] for key in ("classes", "train", "dev", "test")} | {
        "tokens": read_json(paths.TOKENIZED_STATS),
        # every model learned from these labels (train) and chose on these (dev); test was only scored
        "labels_seen": {"train": prepared["train"], "dev": prepared["dev"]},
        "labels_dropped": {split: prepared.get(f"{split}_labels_dropped", 0) for split in ("train", "dev")},
        "setfit_skipped": read_json(paths.SETFIT / "metrics.json").get("skipped"),
    }
    return rounded(results), histories
