"""The bag student: a fastText-style bag of embeddings, its training recipes, and its step of the shared loop.

The distilled student and the twin control share everything here; only the loss differs.
A step of SGD is a compiled kernel (bag_kernel.py); this module is the model and the loop around it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.params import optional_positive, param, positive
from distillery.core.task import is_multi_label, labelled
from distillery.students.bag_kernel import LOSS_KINDS, sgd_epoch
from distillery.training.loop import Fitted, fit, logit_scores
from distillery.training.losses import Loss


@dataclass(frozen=True)
class Recipe:
    """How the bag learns. The ablation in the README is what chose `fasttext` as the default."""

    init: str  # "positive": uniform [0, 1/dim) (seed 000); "symmetric": uniform (-1/dim, 1/dim) (fastText)
    frame_tokens: bool  # keep the tokenizer's [CLS]/[SEP] (and padding) inside every bag, as seed 000 did
    schedule: str  # "step": lr * step_decay**(epoch - 1); "linear": from lr down to 0 over all steps (fastText)
    step_decay: float
    grad_clip: float  # max norm of the embedding gradient per step; 0: no clipping


RECIPES = {
    "seed000": Recipe(init="positive", frame_tokens=True, schedule="step", step_decay=0.5, grad_clip=1.0),
    "fasttext": Recipe(init="symmetric", frame_tokens=False, schedule="linear", step_decay=1.0, grad_clip=0.0),
}


class BagOfEmbeddings(nn.Module):
    """Mean of the token embeddings (without the ids in `skip_ids`, the first `max_length` of the rest),
    then one linear layer."""

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        num_classes: int,
        skip_ids: tuple[int, ...] = (),
        init: str = "symmetric",
        max_length: int | None = None,
    ) -> None:
        super().__init__()
        self.skip_ids, self.max_length = tuple(sorted(skip_ids)), max_length
        self.embedding = nn.EmbeddingBag(vocab_size, dim, mode="mean")
        self.output = nn.Linear(dim, num_classes)
        low = 0.0 if init == "positive" else -1.0 / dim
        nn.init.uniform_(self.embedding.weight, low, 1.0 / dim)
        nn.init.zeros_(self.output.weight)  # both recipes start from a zero output layer
        nn.init.zeros_(self.output.bias)

    def forward(self, flat_ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.output(self.embedding(flat_ids, offsets))

    def pack(self, input_ids: pa.ChunkedArray) -> Packed:
        """Token id lists as this model reads them."""
        return Packed(input_ids, self.skip_ids, self.max_length)

    def shape(self) -> dict:
        vocab_size, dim = self.embedding.weight.shape
        return {
            "vocab_size": vocab_size,
            "dim": dim,
            "num_classes": self.output.out_features,
            "skip_ids": list(self.skip_ids),
            "max_length": self.max_length,
        }


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
    model = BagOfEmbeddings(**{**shape, "skip_ids": tuple(shape["skip_ids"])})
    model.load_state_dict(load_file(path))
    return model.eval()


class Packed:
    """Variable-length token ids as one flat array plus start offsets (EmbeddingBag's input form).

    Ids in `skip_ids` are dropped from every bag, then each bag keeps at most `max_length` ids.
    """

    def __init__(
        self, input_ids: pa.ChunkedArray, skip_ids: tuple[int, ...] = (), max_length: int | None = None
    ) -> None:
        lists = input_ids.combine_chunks() if isinstance(input_ids, pa.ChunkedArray) else input_ids
        flat = lists.flatten().to_numpy().astype(np.int64)
        offsets = lists.offsets.to_numpy().astype(np.int64)
        starts = offsets - offsets[0]  # a sliced array's offsets need not start at 0
        if skip_ids:
            flat, starts = _keep(flat, starts, ~np.isin(flat, np.array(skip_ids, dtype=np.int64)))
        if max_length is not None:
            position = np.arange(len(flat)) - np.repeat(starts[:-1], np.diff(starts))
            flat, starts = _keep(flat, starts, position < max_length)
        self.flat, self.starts, self.size = flat, starts, len(lists)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """EmbeddingBag's (ids, offsets) for `rows`."""
        pieces = [self.flat[self.starts[r] : self.starts[r + 1]] for r in rows]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        return torch.from_numpy(np.concatenate(pieces)), torch.from_numpy(np.cumsum(lengths) - lengths)


def _keep(flat: np.ndarray, starts: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids where `kept`, and the bags' new start offsets."""
    return flat[kept], np.concatenate([[0], np.cumsum(kept)])[starts]


@dataclass
class Settings:
    lr: float
    seed: int
    n_seeds: int
    dim: int
    epochs: int
    batch_size: int
    recipe: Recipe
    patience: int | None = None  # stop after this many epochs without a better dev accuracy; None: never
    max_length: int | None = None  # ids read per text; None: the whole text (the tokenizer's cap)

    @classmethod
    def from_params(cls, params: dict) -> Settings:
        """The params both bag stages read: top-level lr and seed, and the shared student keys."""
        recipe = param(params, "bag.recipe")
        if recipe not in RECIPES:
            raise DistilleryError(f"params.yaml: 'bag.recipe' must be one of {list(RECIPES)}, got {recipe!r}")
        return cls(
            lr=positive(params, "lr"),
            seed=int(param(params, "seed")),
            n_seeds=positive(params, "bag.n_seeds", int),
            dim=positive(params, "bag.dim", int),
            epochs=positive(params, "bag.epochs", int),
            batch_size=positive(params, "bag.batch_size", int),
            recipe=RECIPES[recipe],
            patience=optional_positive(params, "bag.patience"),
            max_length=optional_positive(params, "bag.max_length"),
        )

    def seeds(self) -> list[int]:
        return [self.seed + i for i in range(self.n_seeds)]

    def lr_range(self, epoch: int) -> tuple[float, float]:
        """The learning rate at the first and the last step of `epoch` (1-based)."""
        if self.recipe.schedule == "step":
            lr = self.lr * self.recipe.step_decay ** (epoch - 1)
            return lr, lr
        return self.lr * (1 - (epoch - 1) / self.epochs), self.lr * (1 - epoch / self.epochs)


@torch.no_grad()
def evaluate(model: BagOfEmbeddings, data: Packed, labels: np.ndarray, batch_size: int = 4096) -> tuple[float, float]:
    """The loss against the true labels and accuracy (training.logit_scores)."""
    return logit_scores(predict(model, data, batch_size), labels)


@torch.no_grad()
def predict(model: BagOfEmbeddings, data: Packed, batch_size: int = 4096) -> torch.Tensor:
    """Logits [N, C] for every row of `data`."""
    model.eval()
    chunks = [np.arange(s, min(s + batch_size, data.size)) for s in range(0, data.size, batch_size)]
    return torch.cat([model(*data.batch(rows)) for rows in chunks])


@dataclass
class Split:
    """Examples to evaluate on: bags and true labels (task.py's label arrays)."""

    data: Packed
    labels: np.ndarray


def train(
    model: BagOfEmbeddings,
    train_data: Packed,
    targets: np.ndarray,
    train_labels: np.ndarray,
    dev: Split,
    test: Split,
    loss: Loss,
    settings: Settings,
    seed: int,
    desc: str,
) -> Fitted:
    """The shared loop (training.fit), with an epoch of the compiled SGD kernel as its step, and no cooldown:
    fastText's rate falls linearly over `bag.epochs`, and an epoch of the bag costs seconds.

    Returns the per-epoch history and the kept epoch (the best on dev). Rows labelled -1 (the
    transfer set) count in the loss but not in the training accuracy.
    """
    rng = np.random.default_rng(seed)
    embedding, weight, bias = (p.detach().numpy() for p in model.parameters())
    targets = np.ascontiguousarray(targets, dtype=np.float64)
    multi_label = is_multi_label(train_labels)
    kernel_labels = np.ascontiguousarray(train_labels if multi_label else train_labels[:, None], dtype=np.int64)

    def epoch_of_sgd(epoch: int) -> tuple[float, int]:
        lr_first, lr_last = settings.lr_range(epoch)
        return sgd_epoch(
            embedding,
            weight,
            bias,
            train_data.flat,
            train_data.starts,
            rng.permutation(train_data.size),
            settings.batch_size,
            targets,
            kernel_labels,
            multi_label,
            LOSS_KINDS[loss.kind],
            loss.temperature,
            loss.alpha,
            lr_first,
            lr_last,
            settings.recipe.grad_clip,
        )

    def scored(model: BagOfEmbeddings, split: str) -> tuple[float, float]:
        chosen = dev if split == "dev" else test
        return evaluate(model, chosen.data, chosen.labels)

    known = int(labelled(train_labels).sum())
    return fit(
        model, epoch_of_sgd, scored, train_data.size, known, settings.epochs, settings.patience, desc, multi_label
    )


def bag_models(role: str) -> dict[int, BagOfEmbeddings]:
    """data/bag/<role>/models/seed_<s>, by seed."""
    folder = paths.trained("bag", role) / "models"
    files = sorted(folder.glob("seed_*.safetensors"), key=lambda p: int(p.stem[5:]))
    if not files:
        raise DistilleryError(f"{folder} has no models: run 'dvc repro' to build them")
    return {int(file.stem[5:]): load_student(file) for file in files}
