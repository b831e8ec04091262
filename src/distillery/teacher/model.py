"""The teacher as a classifier: loading a checkpoint with a new or existing head, and its size."""

from __future__ import annotations

import pickle
from typing import Any

import torch

from distillery.core.errors import DistilleryError
from distillery.teacher.files import hub_error, resolve_model


def load_classifier(name: str, param_name: str = "teacher.model", **config: Any) -> torch.nn.Module:
    """A sequence classifier from a model reference (the param `param_name`), with a new head where `config` asks."""
    from transformers import AutoModelForSequenceClassification

    return _load(AutoModelForSequenceClassification, name, param_name, **config)


def load_encoder(name: str, param_name: str = "teacher.model", **config: Any) -> torch.nn.Module:
    """The encoder alone, without a classifier head (a probe's)."""
    from transformers import AutoModel

    return _load(AutoModel, name, param_name, **config)


def _load(auto_class: Any, name: str, param_name: str, **config: Any) -> torch.nn.Module:
    try:
        # trust_remote_code stays off: a checkpoint's own Python code never runs here.
        return auto_class.from_pretrained(resolve_model(name, param_name), **config)
    except pickle.UnpicklingError:
        raise DistilleryError(
            f"{param_name}: '{name}' has a pickle checkpoint (pytorch_model.bin) holding more than tensors; "
            "it is only ever loaded with weights_only=True, so it was refused: convert it to safetensors "
            "where you trust it (model.save_pretrained(directory))"
        ) from None
    except (OSError, ValueError) as error:
        raise hub_error(name, error, param_name) from None


def load_trained_teacher(directory: str) -> torch.nn.Module:
    """What train_teacher wrote: a fine-tuned classifier, or a probe (probe.py) when its head file is there."""
    from distillery.teacher.probe import is_probe, load_probe

    return load_probe(directory) if is_probe(directory) else load_classifier(directory)


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def classifier_config(label_names: list[str], multi_label: bool) -> dict[str, Any]:
    """from_pretrained's settings for a new classifier head: the labels' names, and BCE for multi-label."""
    id2label = dict(enumerate(label_names))
    return {
        "num_labels": len(label_names),
        "id2label": id2label,
        "label2id": {name: i for i, name in id2label.items()},
        "problem_type": "multi_label_classification" if multi_label else "single_label_classification",
    }


def check_fine_tuned(model: torch.nn.Module, name: str, label_names: list[str], multi_label: bool) -> None:
    """A teacher taken as it is (teacher.fine_tune: false) must already classify this data's labels."""
    architectures = model.config.architectures or []
    if not any(architecture.endswith("ForSequenceClassification") for architecture in architectures):
        raise DistilleryError(
            f"teacher.fine_tune is false but '{name}' is not a fine-tuned classifier "
            f"(architectures: {architectures}); set teacher.fine_tune: true"
        )
    if model.config.num_labels != len(label_names):
        raise DistilleryError(
            f"teacher.model '{name}' has {model.config.num_labels} labels but the data has "
            f"{len(label_names)} {label_names}; use a matching checkpoint or set teacher.fine_tune: true"
        )
    if (model.config.problem_type == "multi_label_classification") != multi_label:
        raise DistilleryError(
            f"teacher.model '{name}' has problem_type {model.config.problem_type!r} but the data is "
            f"{'multi' if multi_label else 'single'}-label; use a matching checkpoint or set teacher.fine_tune: true"
        )
