"""What the students that read word order (bilstm.py, transformer.py) share: their params, batches,
optimizer and schedule, and where their models live.

An architecture is a module named after its params.yaml section with three functions:
build(role, params, task) -> a model called as model(input_ids, attention_mask) -> logits,
save(model, directory) and load(directory). Adding one is adding such a module and its section.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from distillery.core import paths
from distillery.core.errors import DistilleryError
from distillery.core.params import fraction, optional_positive, param, positive
from distillery.core.task import Task, is_multi_label, labelled
from distillery.training.batching import pad_batch
from distillery.training.loop import Examples, Fitted, fit, scores, shuffled_batches, torch_epoch
from distillery.training.losses import TWIN_LOSS, Loss
from distillery.training.schedule import cooldown_steps, cooling, held, warmup_steps
from distillery.training.steps import epochs_for_steps

ARCHITECTURES = {"bilstm": "distillery.students.bilstm", "transformer": "distillery.students.transformer"}


@dataclass(frozen=True)
class EncoderTask(Task):
    """The task, and what every architecture needs to know about the teacher."""

    pad_id: int
    teacher_model: str  # the teacher.model param: the pre-trained checkpoint the teacher started from


@dataclass(frozen=True)
class Budget:
    """How one architecture trains, from its params.yaml section (the same keys for every architecture)."""

    n_seeds: int
    epochs: int
    patience: int | None
    min_steps: int  # optimizer steps at least (epochs raised to reach them); patience counts only after them
    batch_size: int
    lr: float
    weight_decay: float
    warmup_ratio: float
    cooldown: float  # the cooldown's steps, as a share of the steps that trained the kept epoch (schedule.py)

    @classmethod
    def from_params(cls, params: dict, section: str) -> Budget:
        return cls(
            n_seeds=positive(params, f"{section}.n_seeds", int),
            epochs=positive(params, f"{section}.epochs", int),
            patience=optional_positive(params, f"{section}.patience"),
            min_steps=optional_positive(params, f"{section}.min_steps") or 0,
            batch_size=positive(params, f"{section}.batch_size", int),
            lr=positive(params, f"{section}.lr"),
            weight_decay=fraction(params, f"{section}.weight_decay", low_open=False),
            warmup_ratio=fraction(params, f"{section}.warmup_ratio", low_open=False),
            cooldown=fraction(params, f"{section}.cooldown", low_open=False),
        )


def architecture(name: str) -> ModuleType:
    if name not in ARCHITECTURES:
        raise DistilleryError(f"architecture must be one of {list(ARCHITECTURES)}, got {name!r}")
    return importlib.import_module(ARCHITECTURES[name])


def check_model_keys(params: dict, section: str, known: set[str]) -> None:
    """`<section>.model` holds exactly the architecture's own keys."""
    given = param(params, f"{section}.model")
    if not isinstance(given, dict) or set(given) != known:
        raise DistilleryError(
            f"params.yaml: '{section}.model' must have the keys {sorted(known)}, got "
            f"{sorted(given) if isinstance(given, dict) else given!r}"
        )


def loss_for(role: str, params: dict, section: str) -> Loss:
    return Loss.from_params(params, section) if role == "student" else TWIN_LOSS


def token_examples(
    token_ids: list[list[int]], labels: np.ndarray, pad_id: int, targets: np.ndarray | None = None
) -> Examples:
    """Examples whose batches are padded token ids and their attention mask."""

    def collate(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        batch = pad_batch([token_ids[row] for row in rows], pad_id)
        return batch["input_ids"], batch["attention_mask"]

    lengths = np.array([len(ids) for ids in token_ids])
    return Examples(collate, labels, targets, lengths)


def train_seed(
    model: torch.nn.Module,
    train: Examples,
    splits: dict[str, Examples],
    loss: Loss,
    budget: Budget,
    seed: int,
    desc: str,
) -> Fitted:
    """AdamW, its rate warmed up, then held until dev stops improving, then cooled down (schedule.py); the
    shared loop does the rest."""
    rng = np.random.default_rng(seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=budget.lr, weight_decay=budget.weight_decay)
    steps_per_epoch = math.ceil(train.size / budget.batch_size)
    rate = held(budget.lr, warmup_steps(budget.warmup_ratio, budget.min_steps, steps_per_epoch))

    def one_epoch(epoch: int) -> tuple[float, int]:
        batches = shuffled_batches(train.lengths, budget.batch_size, rng)
        start = (epoch - 1) * steps_per_epoch
        return torch_epoch(model, train, batches, loss, optimizer, lambda b: rate(start + b))

    def cool_down(kept_epoch: int) -> int:
        steps = cooldown_steps(budget.cooldown, kept_epoch * steps_per_epoch)
        batches = []
        while len(batches) < steps:
            batches += shuffled_batches(train.lengths, budget.batch_size, rng)
        torch_epoch(model, train, batches[:steps], loss, optimizer, cooling(budget.lr, steps))
        return steps

    return fit(
        model,
        one_epoch,
        lambda model, split: scores(model, splits[split]),
        train.size,
        int(labelled(train.labels).sum()),
        epochs_for_steps(budget.epochs, budget.min_steps, steps_per_epoch),
        budget.patience,
        desc,
        multi_label=is_multi_label(train.labels),
        min_epochs=epochs_for_steps(0, budget.min_steps, steps_per_epoch),
        optimizer=optimizer,
        cool_down=cool_down if budget.cooldown > 0 else None,
    )


def model_folders(arch: str, role: str) -> dict[int, Path]:
    """data/<arch>/<role>/models/seed_<s>/, by seed."""
    folder = paths.trained(arch, role) / "models"
    folders = sorted(folder.glob("seed_*"), key=lambda p: int(p.name[5:]))
    if not folders:
        raise DistilleryError(f"{folder} has no models: run 'dvc repro' to build them")
    return {int(folder.name[5:]): folder for folder in folders}
