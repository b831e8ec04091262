"""How the teacher is made (`teacher.method`): fine-tuned in full, or a probe over its frozen encoder;
a list tries each, and dev chooses by the project's one rule (selection.choose_on_dev)."""

from __future__ import annotations

from typing import Any

from distillery.core.errors import DistilleryError
from distillery.core.params import param
from distillery.teacher.fine_tune import kept_dev_score
from distillery.training.selection import DevScore, choose_on_dev

METHODS = ("finetune", "probe")


def teacher_methods(params: dict) -> list[str]:
    methods = param(params, "teacher.method")
    methods = methods if isinstance(methods, list) else [methods]
    if not methods or any(method not in METHODS for method in methods) or len(set(methods)) < len(methods):
        raise DistilleryError(
            "params.yaml: 'teacher.method' must be finetune, probe, or a list of them (each tried, dev "
            f"choosing), got {param(params, 'teacher.method')!r}"
        )
    return methods


def method_dev_score(training: dict[str, Any]) -> DevScore:
    """The dev figures of what a method kept (training.json's summary of it)."""
    if training["method"] == "finetune":
        return kept_dev_score(training)
    return DevScore(training["dev_accuracy"], training["dev_loss"])


def choose_method(candidates: dict[str, tuple[Any, dict[str, Any]]], multi_label: bool) -> tuple[Any, dict[str, Any]]:
    """The (model, training summary) dev prefers, the summary saying what each method scored on dev."""
    scores = [method_dev_score(training) for _, training in candidates.values()]
    chosen = list(candidates)[choose_on_dev(scores, multi_label)]
    model, training = candidates[chosen]
    dev_per_method = {
        method: {"accuracy": round(score.accuracy, 6), "loss": round(score.loss, 6)}
        for method, score in zip(candidates, scores, strict=True)
    }
    return model, training | {"dev_per_method": dev_per_method}
