"""The student: a fastText-style bag of embeddings, its losses, and the one training loop.

The distilled student and the autodidact control share everything here; only the loss differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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

# loss(student_logits [B, C], teacher_logits [B, C], labels [B]) -> (mean loss, its gradient w.r.t. the logits)
LossFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, np.ndarray]]
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")


class BagOfEmbeddings(nn.Module):
    """Mean of the token embeddings (real tokens only, no padding), then one linear layer."""

    def __init__(self, vocab_size: int, dim: int, num_classes: int) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, dim, mode="mean")
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
    """Variable-length token ids as one flat array plus start offsets (EmbeddingBag's input form)."""

    def __init__(self, input_ids: pa.ChunkedArray) -> None:
        lists = input_ids.combine_chunks()
        self.flat = lists.values.to_numpy().astype(np.int64)
        self.starts = lists.offsets.to_numpy().astype(np.int64)
        self.size = len(lists)

    def bags(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The token ids of `rows`, concatenated, and each bag's length."""
        if len(rows) == 1:
            ids = self.flat[self.starts[rows[0]] : self.starts[rows[0] + 1]]
            return ids, np.array([len(ids)])
        pieces = [self.flat[self.starts[r] : self.starts[r + 1]] for r in rows]
        return np.concatenate(pieces), np.array([len(p) for p in pieces])

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """EmbeddingBag's (ids, offsets) for `rows`."""
        ids, lengths = self.bags(rows)
        return torch.from_numpy(ids), torch.from_numpy(np.cumsum(lengths) - lengths)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_loss(logits: np.ndarray, teacher: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over the labelled rows (label >= 0); unlabelled rows get no gradient."""
    labelled = np.flatnonzero(labels >= 0)
    grad = np.zeros_like(logits)
    if len(labelled) == 0:
        return 0.0, grad
    p = _softmax(logits[labelled])
    picked = labels[labelled]
    loss = -np.log(p[np.arange(len(labelled)), picked]).mean()
    p[np.arange(len(labelled)), picked] -= 1
    grad[labelled] = p / len(labelled)
    return float(loss), grad


def distillation_loss(kind: str, temperature: float, alpha: float) -> LossFn:
    """alpha * CE(hard labels, where there are any) + (1 - alpha) * a soft loss against the teacher's logits.

    mse: seed 000's mean squared error to the raw logits, mean over rows and classes.
    kl: T^2 * KL(softmax(teacher/T) || softmax(student/T)), mean over rows (Hinton et al.'s scaling);
        its gradient w.r.t. the student's logits is T * (softmax(student/T) - softmax(teacher/T)).
    Transfer-set rows have no label (-1): only the teacher speaks for them.
    """
    T = temperature

    def soft_loss(logits: np.ndarray, teacher: np.ndarray) -> tuple[float, np.ndarray]:
        rows = len(logits)
        if kind == "mse":
            diff = logits - teacher
            return float((diff**2).mean()), 2 * diff / diff.size
        p_student, p_teacher = _softmax(logits / T), _softmax(teacher / T)
        kl = (p_teacher * (np.log(p_teacher) - np.log(p_student))).sum() / rows
        return float(T**2 * kl), T * (p_student - p_teacher) / rows

    def loss(logits: np.ndarray, teacher: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = soft_loss(logits, teacher)
        value, grad = (1 - alpha) * value, (1 - alpha) * grad
        if alpha > 0:
            hard_value, hard_grad = cross_entropy_loss(logits, teacher, labels)
            value, grad = value + alpha * hard_value, grad + alpha * hard_grad
        return value, grad

    return loss


def numpy_views(model: BagOfEmbeddings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The embedding, output weight and bias as numpy arrays sharing memory with the model."""
    return tuple(p.detach().numpy() for p in (model.embedding.weight, model.output.weight, model.output.bias))


def sgd_step(
    weights: tuple[np.ndarray, np.ndarray, np.ndarray],
    data: Packed,
    rows: np.ndarray,
    teacher: np.ndarray,
    labels: np.ndarray,
    loss_fn: LossFn,
    lr: float,
    grad_clip: float,
) -> tuple[float, np.ndarray]:
    """One SGD step with hand-derived gradients, in place on `weights` (numpy_views). Returns (loss, logits).

    Autograd costs ~0.8 ms a step at batch size 1 here, many times the arithmetic; by hand, a step
    touches only the embedding rows of its tokens. The embedding gradient's norm is clipped.
    """
    embedding, weight, bias = weights
    ids, lengths = data.bags(rows)
    if len(rows) == 1:
        hidden = embedding[ids].mean(axis=0, keepdims=True)
    else:
        hidden = np.add.reduceat(embedding[ids], np.cumsum(lengths) - lengths, axis=0) / lengths[:, None]
    logits = hidden @ weight.T + bias  # [B, C]
    loss, grad_logits = loss_fn(logits, teacher[rows], labels[rows])
    grad_hidden = (grad_logits @ weight) / lengths[:, None]  # what each token of a bag receives
    if len(rows) == 1:  # every token gets the same gradient, once per occurrence
        tokens, counts = np.unique(ids, return_counts=True)
        grad_embedding = counts[:, None] * grad_hidden
    else:
        tokens, inverse = np.unique(ids, return_inverse=True)
        grad_embedding = np.zeros((len(tokens), embedding.shape[1]), dtype=embedding.dtype)
        np.add.at(grad_embedding, inverse, np.repeat(grad_hidden, lengths, axis=0))
    norm = float(np.sqrt((grad_embedding**2).sum()))
    if norm > grad_clip:
        grad_embedding *= grad_clip / norm
    weight -= lr * (grad_logits.T @ hidden)
    bias -= lr * grad_logits.sum(axis=0)
    embedding[tokens] -= lr * grad_embedding
    return loss, logits


@dataclass
class Settings:
    lr: float
    seed: int
    n_seeds: int
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
            n_seeds=positive(params, "student.n_seeds", int),
            dim=positive(params, "student.dim", int),
            epochs=positive(params, "student.epochs", int),
            batch_size=positive(params, "student.batch_size", int),
            grad_clip=positive(params, "student.grad_clip"),
            lr_decay=fraction(params, "student.lr_decay", low_open=False),
        )

    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.n_seeds)]


@torch.no_grad()
def evaluate(
    model: BagOfEmbeddings, data: Packed, labels: torch.Tensor, batch_size: int = 4096
) -> tuple[float, float, torch.Tensor]:
    """Cross-entropy against the true labels, accuracy, and the predictions."""
    model.eval()
    logits = torch.cat(
        [model(*data.batch(np.arange(s, min(s + batch_size, data.size)))) for s in range(0, data.size, batch_size)]
    )
    model.train()
    predictions = logits.argmax(dim=1)
    return F.cross_entropy(logits, labels).item(), (predictions == labels).float().mean().item(), predictions


def train(
    model: BagOfEmbeddings,
    train_data: Packed,
    teacher_logits: np.ndarray,
    train_labels: np.ndarray,
    test_data: Packed,
    test_labels: np.ndarray,
    loss_fn: LossFn,
    settings: Settings,
    seed: int,
    desc: str,
) -> list[dict[str, float]]:
    """SGD, the learning rate multiplied by lr_decay after each epoch. Returns the per-epoch history.

    Rows labelled -1 (the transfer set) count in the loss but not in the training accuracy.
    """
    rng = np.random.default_rng(seed)
    weights = numpy_views(model)
    labelled = int((train_labels >= 0).sum())
    history = []
    for epoch in range(1, settings.epochs + 1):
        lr = settings.lr * settings.lr_decay ** (epoch - 1)
        order = rng.permutation(train_data.size)
        total_loss, correct = 0.0, 0
        batches = [order[start : start + settings.batch_size] for start in range(0, len(order), settings.batch_size)]
        for rows in tqdm(batches, desc=f"{desc} epoch {epoch}", mininterval=5):
            loss, logits = sgd_step(
                weights, train_data, rows, teacher_logits, train_labels, loss_fn, lr, settings.grad_clip
            )
            total_loss += loss * len(rows)
            correct += int((logits.argmax(axis=1) == train_labels[rows]).sum())
        test_loss, test_acc, _ = evaluate(model, test_data, torch.from_numpy(test_labels))
        history.append(
            {
                "epoch": epoch,
                "train_loss": total_loss / train_data.size,
                "train_acc": correct / labelled,
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


def mean_history(histories: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    """The per-epoch mean over seeds."""
    return [
        {key: float(np.mean([run[epoch][key] for run in histories])) for key in HISTORY_COLUMNS} | {"epoch": epoch + 1}
        for epoch in range(len(histories[0]))
    ]


def teacher_logits_for(table: pa.Table, logits_path: str) -> np.ndarray:
    """The teacher's logits for the rows of `table`, checked to be for the same examples."""
    logits = read_parquet(logits_path)
    if logits["id"] != table["id"]:
        raise DistilleryError(f"{logits_path} does not match its inputs: run 'dvc repro' to rebuild it")
    columns = [name for name in logits.column_names if name.startswith("logit_")]
    return np.stack([logits[name].to_numpy() for name in columns], axis=1)


def _train_one_seed(seed: int, shape: dict[str, int], data: dict, loss_fn: LossFn, settings: Settings, role: str):
    """One seed's run, in its own worker process (one thread each, so seeds run side by side)."""
    torch.set_num_threads(1)
    seed_everything(seed)  # the embedding init
    model = BagOfEmbeddings(**shape)
    history = train(model, **data, loss_fn=loss_fn, settings=settings, seed=seed, desc=f"{role} seed {seed}")
    return model, history


def train_stage(role: str, loss_fn: LossFn, use_transfer_set: bool) -> None:
    """Everything a student stage does: read params and data, train one model per seed, write data/<role>/.

    The student (use_transfer_set) trains on the training set plus the teacher-labelled transfer set;
    the autodidact on the training set's hard labels alone.
    """
    from joblib import Parallel, delayed

    params = load_params()
    settings = Settings.from_params(params)
    vocab = read_json("data/tokenized/vocab.json")
    num_classes = len(read_json("data/prepared/labels.json")["labels"])
    train_table = read_parquet("data/tokenized/train.parquet")
    test_table = read_parquet("data/tokenized/test.parquet")
    train_ids, train_labels = train_table["input_ids"], train_table["label"].to_numpy()
    if use_transfer_set:
        targets = teacher_logits_for(train_table, "data/logits/train.parquet")
        transfer = read_parquet("data/augmented/transfer.parquet")
        targets = np.concatenate([targets, teacher_logits_for(transfer, "data/logits/transfer.parquet")])
        train_ids = pa.chunked_array(train_ids.chunks + transfer["input_ids"].chunks)
        train_labels = np.concatenate([train_labels, np.full(transfer.num_rows, -1)])
    else:
        targets = np.zeros((len(train_labels), num_classes), dtype=np.float32)
    data = {
        "train_data": Packed(train_ids),
        "teacher_logits": targets,
        "train_labels": train_labels,
        "test_data": Packed(test_table["input_ids"]),
        "test_labels": test_table["label"].to_numpy(),
    }
    shape = {"vocab_size": vocab["vocab_size"], "dim": settings.dim, "num_classes": num_classes}
    print(f"{role}: {len(train_labels)} training examples, seeds {settings.seeds()}")
    runs = Parallel(n_jobs=min(settings.n_seeds, os.cpu_count() or 1))(
        delayed(_train_one_seed)(seed, shape, data, loss_fn, settings, role) for seed in settings.seeds()
    )
    accuracies = [history[-1]["test_acc"] for _, history in runs]
    with staged_outputs(f"data/{role}") as out:
        (out / "models").mkdir()
        for seed, (model, _) in zip(settings.seeds(), runs, strict=True):
            save_student(model, out / "models" / f"seed_{seed}.safetensors")
        write_history(mean_history([history for _, history in runs]), out / "history.csv")
        write_json(
            {
                "accuracy": round(float(np.mean(accuracies)), 6),
                "accuracy_sd": round(float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0, 6),
                "accuracy_per_seed": {
                    str(seed): round(acc, 6) for seed, acc in zip(settings.seeds(), accuracies, strict=True)
                },
                "params": sum(p.numel() for p in runs[0][0].parameters()),
                "train_examples": len(train_labels),
            },
            out / "metrics.json",
        )
    print(f"{role}: test accuracy {np.mean(accuracies):.4f} mean over seeds {settings.seeds()}")


def student_models(role: str) -> dict[int, BagOfEmbeddings]:
    """data/<role>/models/seed_<s>.safetensors, by seed."""
    paths = sorted(Path(f"data/{role}/models").glob("seed_*.safetensors"), key=lambda p: int(p.stem[5:]))
    if not paths:
        raise DistilleryError(f"data/{role}/models has no models: run 'dvc repro' to build them")
    return {int(path.stem[5:]): load_student(path) for path in paths}


def student_loss_from_params(params: dict) -> LossFn:
    kind = param(params, "student.loss")
    if kind not in ("mse", "kl"):
        raise DistilleryError(f"params.yaml: 'student.loss' must be 'mse' or 'kl', got {kind!r}")
    temperature = positive(params, "student.temperature")
    return distillation_loss(kind, temperature, fraction(params, "student.alpha", low_open=False))
