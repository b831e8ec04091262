"""The student: a fastText-style bag of embeddings, its losses, and the one training loop.

The distilled student and the autodidact control share everything here; only the loss differs.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from common import (
    DistilleryError,
    fraction,
    load_params,
    param,
    positive,
    read_json,
    read_parquet,
    seed_everything,
    staged_outputs,
    write_json,
)

# loss(student_logits, teacher_logits, labels) -> scalar
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")


class BagOfEmbeddings(nn.Module):
    """Mean of the token embeddings (real tokens only, no padding), then one linear layer."""

    def __init__(self, vocab_size: int, dim: int, num_classes: int) -> None:
        super().__init__()
        # sparse=True: a step touches only the rows of the tokens it saw, not the whole matrix.
        self.embedding = nn.EmbeddingBag(vocab_size, dim, mode="mean", sparse=True)
        self.output = nn.Linear(dim, num_classes)
        # Seed 000's init: small positive embeddings, a zero output layer.
        nn.init.uniform_(self.embedding.weight, 0.0, 1.0 / dim)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, flat_ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.output(self.embedding(flat_ids, offsets))

    def shape(self) -> dict[str, int]:
        vocab_size, dim = self.embedding.weight.shape
        return {"vocab_size": vocab_size, "dim": dim, "num_classes": self.output.out_features}


def save_student(model: BagOfEmbeddings, path: Path) -> None:
    """safetensors, with the shape in its metadata: it loads without unpickling any code.

    One metadata key holding sorted JSON: safetensors writes several keys in a random order,
    which would make the file's bytes differ from run to run.
    """
    save_file(model.state_dict(), path, metadata={"shape": json.dumps(model.shape(), sort_keys=True)})


def load_student(path: Path) -> BagOfEmbeddings:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        shape = json.loads(file.metadata()["shape"])
    model = BagOfEmbeddings(**shape)
    model.load_state_dict(load_file(path))
    return model.eval()


class Packed:
    """Variable-length token ids as one flat tensor plus start offsets (EmbeddingBag's input form)."""

    def __init__(self, input_ids: pa.ChunkedArray) -> None:
        lists = input_ids.combine_chunks()
        self.flat = torch.from_numpy(lists.values.to_numpy().astype(np.int64))
        self.starts = torch.from_numpy(lists.offsets.to_numpy().astype(np.int64))
        self.size = len(lists)

    def batch(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if len(rows) == 1:
            row = int(rows[0])
            return self.flat[self.starts[row] : self.starts[row + 1]], torch.zeros(1, dtype=torch.long)
        pieces = [self.flat[self.starts[r] : self.starts[r + 1]] for r in rows.tolist()]
        lengths = torch.tensor([len(p) for p in pieces])
        offsets = torch.cumsum(lengths, 0) - lengths
        return torch.cat(pieces), offsets


def cross_entropy_loss(logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def distillation_loss(kind: str, temperature: float, alpha: float) -> LossFn:
    """alpha * CE(hard labels) + (1 - alpha) * soft loss against the teacher's logits.

    mse: seed 000's mean squared error to the raw logits.
    kl: T^2 * KL(softmax(teacher/T) || softmax(student/T)), Hinton et al.'s scaling.
    """

    def soft_loss(logits: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        if kind == "mse":
            return F.mse_loss(logits, teacher)
        return temperature**2 * F.kl_div(
            F.log_softmax(logits / temperature, dim=-1),
            F.log_softmax(teacher / temperature, dim=-1),
            log_target=True,
            reduction="batchmean",
        )

    def loss(logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        total = (1 - alpha) * soft_loss(logits, teacher)
        if alpha > 0:
            total = total + alpha * F.cross_entropy(logits, labels)
        return total

    return loss


def clip_sparse_grad_norm_(parameter: torch.Tensor, max_norm: float) -> None:
    """clip_grad_norm_ for a sparse gradient, which torch's own version does not support."""
    grad = parameter.grad.coalesce()
    norm = grad.values().norm()
    if norm > max_norm:
        grad = torch.sparse_coo_tensor(
            grad.indices(), grad.values() * (max_norm / norm), grad.shape, is_coalesced=True, check_invariants=False
        )
    parameter.grad = grad


@dataclass
class Settings:
    lr: float
    seed: int
    dim: int
    epochs: int
    batch_size: int
    grad_clip: float
    lr_decay: float

    @classmethod
    def from_params(cls, params: dict) -> Settings:
        """The params both student stages read: top-level lr and seed, and the shared student keys."""
        return cls(
            lr=positive(params, "lr"),
            seed=int(param(params, "seed")),
            dim=positive(params, "student.dim", int),
            epochs=positive(params, "student.epochs", int),
            batch_size=positive(params, "student.batch_size", int),
            grad_clip=positive(params, "student.grad_clip"),
            lr_decay=fraction(params, "student.lr_decay", low_open=False),
        )


@torch.no_grad()
def evaluate(
    model: BagOfEmbeddings, data: Packed, labels: torch.Tensor, batch_size: int = 4096
) -> tuple[float, float, torch.Tensor]:
    """Cross-entropy against the true labels, accuracy, and the predictions."""
    model.eval()
    logits = torch.cat(
        [model(*data.batch(torch.arange(s, min(s + batch_size, data.size)))) for s in range(0, data.size, batch_size)]
    )
    model.train()
    predictions = logits.argmax(dim=1)
    return F.cross_entropy(logits, labels).item(), (predictions == labels).float().mean().item(), predictions


def train(
    model: BagOfEmbeddings,
    train_data: Packed,
    teacher_logits: torch.Tensor,
    train_labels: torch.Tensor,
    test_data: Packed,
    test_labels: torch.Tensor,
    loss_fn: LossFn,
    settings: Settings,
    desc: str,
) -> list[dict[str, float]]:
    """SGD with a per-epoch step decay and clipped embedding gradients. Returns the per-epoch history."""
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=settings.lr_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    history = []
    for epoch in range(1, settings.epochs + 1):
        order = torch.randperm(train_data.size, generator=generator)
        total_loss, correct = 0.0, 0
        for rows in tqdm(torch.split(order, settings.batch_size), desc=f"{desc} epoch {epoch}", mininterval=2):
            logits = model(*train_data.batch(rows))
            loss = loss_fn(logits, teacher_logits[rows], train_labels[rows])
            optimizer.zero_grad()
            loss.backward()
            clip_sparse_grad_norm_(model.embedding.weight, settings.grad_clip)
            optimizer.step()
            total_loss += loss.item() * len(rows)
            correct += int((logits.argmax(dim=1) == train_labels[rows]).sum())
        scheduler.step()
        test_loss, test_acc, _ = evaluate(model, test_data, test_labels)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total_loss / train_data.size,
                "train_acc": correct / train_data.size,
                "test_loss": test_loss,
                "test_acc": test_acc,
            }
        )
        print(f"{desc}: epoch {epoch}: " + ", ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "epoch"))
    return history


def write_history(history: list[dict[str, float]], path: Path) -> None:
    lines = [",".join(HISTORY_COLUMNS)]
    for row in history:
        lines.append(",".join(str(row["epoch"]) if k == "epoch" else f"{row[k]:.6f}" for k in HISTORY_COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def teacher_logits_for(tokenized: pa.Table, logits_path: str) -> torch.Tensor:
    """The teacher's logits for the rows of `tokenized`, checked to be for the same examples."""
    logits = read_parquet(logits_path)
    if logits["id"] != tokenized["id"]:
        raise DistilleryError(f"{logits_path} does not match data/tokenized: run 'dvc repro' to rebuild it")
    columns = [name for name in logits.column_names if name.startswith("logit_")]
    return torch.from_numpy(np.stack([logits[name].to_numpy() for name in columns], axis=1))


def train_stage(role: str, loss_fn: LossFn, use_teacher: bool) -> None:
    """Everything a student stage does: read params and data, train, write data/<role>/."""
    params = load_params()
    settings = Settings.from_params(params)
    seed_everything(settings.seed)
    vocab = read_json("data/tokenized/vocab.json")
    num_classes = len(read_json("data/prepared/labels.json")["labels"])
    train_table = read_parquet("data/tokenized/train.parquet")
    test_table = read_parquet("data/tokenized/test.parquet")
    train_labels = torch.tensor(train_table["label"].to_numpy())
    test_labels = torch.tensor(test_table["label"].to_numpy())
    if use_teacher:
        targets = teacher_logits_for(train_table, "data/logits/train.parquet")
    else:
        targets = torch.zeros(len(train_labels), num_classes)

    model = BagOfEmbeddings(vocab["vocab_size"], settings.dim, num_classes)
    print(f"{role}: {sum(p.numel() for p in model.parameters())} parameters, {train_table.num_rows} training examples")
    history = train(
        model,
        Packed(train_table["input_ids"]),
        targets,
        train_labels,
        Packed(test_table["input_ids"]),
        test_labels,
        loss_fn,
        settings,
        role,
    )
    with staged_outputs(f"data/{role}") as out:
        save_student(model, out / "model.safetensors")
        write_history(history, out / "history.csv")
        final = history[-1]
        write_json(
            {
                "accuracy": round(final["test_acc"], 6),
                "test_loss": round(final["test_loss"], 6),
                "params": sum(p.numel() for p in model.parameters()),
            },
            out / "metrics.json",
        )
    print(f"{role}: test accuracy {history[-1]['test_acc']:.4f}")


def student_loss_from_params(params: dict) -> LossFn:
    kind = param(params, "student.loss")
    if kind not in ("mse", "kl"):
        raise DistilleryError(f"params.yaml: 'student.loss' must be 'mse' or 'kl', got {kind!r}")
    temperature = positive(params, "student.temperature")
    return distillation_loss(kind, temperature, fraction(params, "student.alpha", low_open=False))
