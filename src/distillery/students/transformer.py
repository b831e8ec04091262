"""The transformer student: chosen encoder layers of a model, cut out as a model of that model's own class.

Like nanoGPT's from_pretrained: build the same class with fewer layers, then copy weights by name.
With `transformer.model.init: teacher` the student is cut from the fine-tuned teacher (embeddings, the
chosen layers, the pooler and the classifier head) and its hard-label twin the same way from the
pre-trained checkpoint the teacher started from, with a fresh head, so that it never sees what
fine-tuning taught the teacher. With a model reference (students/backbones.py) both are cut from that
pre-trained model with fresh heads, and read texts with its tokenizer. Either is a standard model:
save_pretrained, then AutoModelForSequenceClassification loads it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.params import param
from distillery.students.backbones import BACKBONE_PARAMS, TEACHER, backbone
from distillery.students.encoders import EncoderTask, check_model_keys
from distillery.training.batching import masked_mean

# An encoder layer's weights, in BERT/RoBERTa (encoder.layer.N.), DistilBERT (transformer.layer.N.)
# and the families built like them.
INIT = BACKBONE_PARAMS["transformer"]
LAYER_KEY = re.compile(r"^(.*\.layer\.)(\d+)\.(.+)$")


def cut_layers(model: nn.Module, layers: list[int] | None, model_name: str, param_name: str) -> nn.Module:
    """A model of the same class and config with only `layers` (in that order; None: all), every weight copied."""
    if layers is None:
        return model
    state = model.state_dict()
    count = model.config.num_hidden_layers
    if not any(LAYER_KEY.match(key) for key in state):
        raise DistilleryError(
            f"{param_name}: '{model_name}' is a {model.config.model_type} model, whose encoder layers the "
            "transformer student cannot select (it knows BERT, DistilBERT, RoBERTa, MPNet and models named like "
            "them); set transformer.model.layers: null to keep them all, or name another model"
        )
    if not layers or any(not 0 <= layer < count for layer in layers):
        raise DistilleryError(
            f"params.yaml: 'transformer.model.layers' must list layers of '{model_name}', 0 to {count - 1} "
            f"(or be null: all of them), got {layers}"
        )
    config = model.config.__class__.from_dict(model.config.to_dict())
    config.num_hidden_layers = len(layers)
    small = model.__class__(config)
    copied = {}
    for key, value in state.items():
        match = LAYER_KEY.match(key)
        if match is None:
            copied[key] = value
        elif int(match[2]) in layers:
            copied[f"{match[1]}{layers.index(int(match[2]))}.{match[3]}"] = value
    small.load_state_dict(copied, strict=True)
    return small


class TransformerClassifier(nn.Module):
    """A Hugging Face sequence classifier called the way the training loop calls every model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def width(self) -> int:
        return self.model.config.hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def with_hidden(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the last hidden layer pooled over real tokens (what teacher_hidden caches)."""
        output = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return output.logits, masked_mean(output.hidden_states[-1], attention_mask)


def layers_param(params: dict) -> list[int] | None:
    check_model_keys(params, "transformer", {"init", "layers"})
    layers = param(params, "transformer.model.layers")
    if layers is not None and (not isinstance(layers, list) or not all(isinstance(layer, int) for layer in layers)):
        raise DistilleryError(
            f"params.yaml: 'transformer.model.layers' must be a list of layer numbers (or null: all), got {layers!r}"
        )
    return layers


def build(role: str, params: dict, task: EncoderTask) -> nn.Module:
    """With init `teacher`: the student cut from the fine-tuned teacher in data/teacher, the twin from
    teacher.model with a new head. With a model reference: both cut from that pre-trained model, new heads."""
    from distillery.teacher.model import classifier_config, load_classifier

    init, layers = backbone(params, "transformer"), layers_param(params)
    head = classifier_config(task.label_names, task.multi_label)
    if init != TEACHER:
        source, name, param_name = load_classifier(init, INIT, **head), init, INIT
    elif role == "student":
        source, name, param_name = load_classifier(str(paths.TEACHER)), task.teacher_model, "teacher.model"
    else:
        source, name, param_name = load_classifier(task.teacher_model, **head), task.teacher_model, "teacher.model"
    return TransformerClassifier(cut_layers(source, layers, name, param_name))


def save(model: TransformerClassifier, directory: Path) -> None:
    model.model.save_pretrained(directory)


def load(directory: Path) -> nn.Module:
    from distillery.teacher.model import load_classifier

    return TransformerClassifier(load_classifier(str(directory))).eval()
