"""The BiLSTM student of Tang et al. (2019): word embeddings, one bidirectional LSTM layer, max-pooling
over time, a small ReLU layer and the output layer.

It reads the teacher's WordPiece ids. Its embedding is the pre-trained teacher's word embedding matrix,
kept frozen (not the fine-tuned teacher's, so that student and twin start alike and the twin learns
nothing from the teacher), optionally followed by a learned projection to a narrower width.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from distillery.core.params import optional_positive, positive
from distillery.students.backbones import BACKBONE_PARAMS, TEACHER, backbone
from distillery.students.encoders import EncoderTask, check_model_keys


class BiLSTMClassifier(nn.Module):
    def __init__(
        self, vocab_size: int, embedding_dim: int, width: int | None, hidden: int, mlp: int, num_classes: int
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.projection = nn.Linear(embedding_dim, width) if width else nn.Identity()
        self.lstm = nn.LSTM(width or embedding_dim, hidden, batch_first=True, bidirectional=True)
        self.mlp = nn.Sequential(nn.Linear(2 * hidden, mlp), nn.ReLU(), nn.Linear(mlp, num_classes))
        self.shape = {
            "vocab_size": vocab_size,
            "embedding_dim": embedding_dim,
            "width": width,
            "hidden": hidden,
            "mlp": mlp,
            "num_classes": num_classes,
        }

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        lengths = attention_mask.sum(1).clamp(min=1)
        words = self.projection(self.embedding(input_ids))
        # Packed, so that padding never enters the backward direction's states.
        packed = nn.utils.rnn.pack_padded_sequence(words, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, padding_value=float("-inf"), total_length=input_ids.shape[1]
        )
        return self.mlp(states.max(dim=1).values)


def build(role: str, params: dict, task: EncoderTask) -> BiLSTMClassifier:
    """Student and twin alike: the embedding from a pre-trained model's word embeddings, teacher.model's
    (`bilstm.model.embeddings: teacher`) or the named model's (then read with its tokenizer)."""
    from distillery.teacher.model import load_classifier

    check_model_keys(params, "bilstm", {"embeddings", "width", "hidden", "mlp"})
    source = backbone(params, "bilstm")
    name, param_name = (task.teacher_model, "teacher.model")
    if source != TEACHER:
        name, param_name = source, BACKBONE_PARAMS["bilstm"]
    # (through a classifier, whose new head draws from the seeded generator as it always has: the same weights)
    word_embeddings = load_classifier(name, param_name).get_input_embeddings().weight.detach()
    vocab_size, embedding_dim = word_embeddings.shape
    model = BiLSTMClassifier(
        vocab_size,
        embedding_dim,
        optional_positive(params, "bilstm.model.width"),
        positive(params, "bilstm.model.hidden", int),
        positive(params, "bilstm.model.mlp", int),
        task.num_labels,
    )
    with torch.no_grad():
        model.embedding.weight.copy_(word_embeddings)
    # Frozen: updating 30k x 384 embedding rows densely every step cost ten times the LSTM itself here.
    model.embedding.weight.requires_grad_(False)
    return model


def save(model: BiLSTMClassifier, directory: Path) -> None:
    """safetensors, with the shape as one sorted-JSON metadata key (so the bytes repeat run to run)."""
    directory.mkdir(parents=True, exist_ok=True)
    metadata = {"shape": json.dumps(model.shape, sort_keys=True)}
    save_file(model.state_dict(), directory / "model.safetensors", metadata=metadata)


def load(directory: Path) -> BiLSTMClassifier:
    with safe_open(str(directory / "model.safetensors"), framework="pt") as file:
        shape = json.loads(file.metadata()["shape"])
    model = BiLSTMClassifier(**shape)
    model.load_state_dict(load_file(directory / "model.safetensors"))
    return model.eval()
