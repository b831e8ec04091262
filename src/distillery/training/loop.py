"""The one training loop: every student and every twin, whatever its architecture, trains here.

A model, the loss and how a batch is built are what differ between them. `fit` runs the epochs,
measures dev (and test, recorded and never looked at) after each, stops once dev accuracy has not
improved for `patience` epochs and keeps the weights of the best dev epoch, which may then cool down
(schedule.py) and are kept cooled where dev says so. `torch_epoch` is one
epoch of plain torch training; the bag swaps in its compiled kernel for that part only
(bag_kernel.py), and tests/test_student.py shows the two take the same steps.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from distillery.core.task import correct, decisions, is_multi_label, labelled
from distillery.evaluation.label_metrics import mean_bce, sigmoid
from distillery.training.losses import Loss, distillation_loss, hidden_cosine_loss
from distillery.training.selection import DevScore, choose_on_dev

HISTORY_COLUMNS = ("epoch", "seeds", "train_loss", "train_acc", "dev_loss", "dev_acc", "test_loss", "test_acc")

Collate = Callable[[np.ndarray], tuple[torch.Tensor, ...]]  # rows -> the model's positional inputs


@dataclass
class Examples:
    """What a model is trained or scored on: `collate` builds its inputs for any rows; labels are class
    ids [N], or 0/1 [N, L] for multi-label (task.py), -1 where a row has none (the transfer set);
    targets are the teacher's logits (zeros for a twin)."""

    collate: Collate
    labels: np.ndarray
    targets: np.ndarray | None = None
    lengths: np.ndarray | None = None  # tokens per row, to batch rows of similar length together
    hidden: np.ndarray | None = None  # the teacher's pooled hidden state per row (NaN: none), for Loss.beta

    @property
    def size(self) -> int:
        return len(self.labels)


def shuffled_batches(
    lengths: np.ndarray | None, batch_size: int, rng: np.random.Generator, group: int = 50
) -> list[np.ndarray]:
    """A random order cut into batches. With lengths, each run of `group` batches is sorted by length
    before it is cut and the batches are shuffled again: padding shrinks, and every batch is still a
    random draw (the Trainer's group_by_length does the same)."""
    order = rng.permutation(len(lengths) if lengths is not None else 0)
    if lengths is not None:
        span = batch_size * group
        chunks = np.split(order, range(span, len(order), span))
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")] for chunk in chunks])
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))] if lengths is not None else batches


def torch_epoch(
    model: torch.nn.Module,
    data: Examples,
    batches: list[np.ndarray],
    loss: Loss,
    optimizer: torch.optim.Optimizer,
    lr_at: Callable[[int], float],
    grad_clip: float = 0.0,
    clipped: list[torch.nn.Parameter] | None = None,
) -> tuple[float, int]:
    """One epoch over `batches`; batch b runs at learning rate lr_at(b). With loss.beta and data.hidden, the
    model's with_hidden() adds beta * the cosine loss to the teacher's hidden states. `grad_clip` bounds the gradient
    norm of `clipped` (default: every parameter). Returns (sum over rows of the batch-mean loss,
    correct labelled rows), measured before each step, as the kernel does."""
    model.train()
    targets = torch.as_tensor(data.targets, dtype=torch.float32) if data.targets is not None else None
    labels = torch.as_tensor(data.labels, dtype=torch.long)
    matches_hidden = loss.beta > 0 and data.hidden is not None
    hidden = torch.as_tensor(data.hidden) if matches_hidden else None
    total_loss, right = 0.0, 0
    for b, rows in enumerate(tqdm(batches, unit="batch", leave=False, mininterval=10)):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(b)
        index = torch.from_numpy(rows)
        if matches_hidden:
            logits, pooled = model.with_hidden(*data.collate(rows))
        else:
            logits = model(*data.collate(rows))
        teacher = targets[index] if targets is not None else logits.detach()
        value = distillation_loss(loss, logits, teacher, labels[index])
        if matches_hidden:
            value = value + loss.beta * hidden_cosine_loss(pooled, hidden[index])
        optimizer.zero_grad()
        value.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(clipped if clipped is not None else model.parameters(), grad_clip)
        optimizer.step()
        total_loss += value.item() * len(rows)
        known = labelled(data.labels[rows])
        predicted = decisions(logits.detach().numpy()[known], data.labels.ndim == 2)
        right += int(correct(predicted, data.labels[rows][known]).sum())
    return total_loss, right


@torch.no_grad()
def predict(model: torch.nn.Module, data: Examples, batch_size: int = 256) -> torch.Tensor:
    """Logits [N, C] in row order, computed in batches of similar length."""
    model.eval()
    lengths = data.lengths if data.lengths is not None else np.zeros(data.size)
    order = np.argsort(lengths, kind="stable")
    logits = [model(*data.collate(order[s : s + batch_size])) for s in range(0, data.size, batch_size)]
    result = torch.empty((data.size, logits[0].shape[1]))
    result[torch.from_numpy(order)] = torch.cat(logits).float()
    return result


def scores(model: torch.nn.Module, data: Examples, batch_size: int = 256) -> tuple[float, float]:
    """The loss against the true labels (cross-entropy; for multi-label the BCE, mean over labels too),
    and accuracy (the exact-match rate for multi-label)."""
    return logit_scores(predict(model, data, batch_size), data.labels)


def logit_scores(logits: torch.Tensor, labels: np.ndarray) -> tuple[float, float]:
    """`scores` for logits [N, C] already computed."""
    multi_label = is_multi_label(labels)
    if multi_label:
        loss = mean_bce(sigmoid(logits.numpy()), labels)
    else:
        loss = F.cross_entropy(logits, torch.as_tensor(labels, dtype=torch.long)).item()
    return loss, float(np.mean(correct(decisions(logits.numpy(), multi_label), labels)))


class Fitted(NamedTuple):
    """What `fit` did: the per-epoch history, the kept epoch (the best on dev while the rate held), and the
    cooldown's figures (None without one): its steps, its dev and test loss and accuracy, and whether dev
    kept the cooled weights."""

    history: list[dict[str, float]]
    best_epoch: int
    cooldown: dict[str, Any] | None


CoolDown = Callable[[int], int]  # the kept epoch -> the steps it trained, from the kept weights


def fit(
    model: torch.nn.Module,
    train_epoch: Callable[[int], tuple[float, int]],
    evaluate: Callable[[torch.nn.Module, str], tuple[float, float]],
    train_rows: int,
    labelled_rows: int,
    epochs: int,
    patience: int | None,
    desc: str,
    multi_label: bool = False,
    min_epochs: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    cool_down: CoolDown | None = None,
) -> Fitted:
    """At most `epochs` epochs of train_epoch(epoch) -> (loss sum, correct labelled rows), stopping once
    the epoch chosen on dev (selection.choose_on_dev) has not changed for `patience` epochs (None: never;
    never before `min_epochs` either);
    the model ends with the weights of that epoch. evaluate(model, split) -> (loss, accuracy) for dev and test.
    With `cool_down`, those weights then cool down, `optimizer` back at its state of that epoch (Adam's
    moments for those weights), and dev chooses between them and the cooled weights.

    Returns the per-epoch history (test columns are recorded, never looked at), the kept epoch and the cooldown.
    """
    history, best, best_state, best_epoch = [], None, None, 0
    for epoch in tqdm(range(1, epochs + 1), desc=desc, unit="epoch"):
        total_loss, right = train_epoch(epoch)
        (dev_loss, dev_acc), (test_loss, test_acc) = evaluate(model, "dev"), evaluate(model, "test")
        history.append(
            {
                "epoch": epoch,
                "train_loss": total_loss / max(train_rows, 1),
                "train_acc": right / max(labelled_rows, 1),
                "dev_loss": dev_loss,
                "dev_acc": dev_acc,
                "test_loss": test_loss,
                "test_acc": test_acc,
            }
        )
        dev_scores = [DevScore(row["dev_acc"], row["dev_loss"]) for row in history]
        if choose_on_dev(dev_scores, multi_label) == len(history) - 1:
            best, best_epoch = {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch
            best_state = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
        elif patience is not None and epoch >= min_epochs and epoch - best_epoch >= patience:
            break
    model.load_state_dict(best)
    if cool_down is None:
        return Fitted(history, best_epoch, None)
    if optimizer is not None:
        optimizer.load_state_dict(best_state)
    steps = cool_down(best_epoch)
    (dev_loss, dev_acc), (test_loss, test_acc) = evaluate(model, "dev"), evaluate(model, "test")
    held = history[best_epoch - 1]
    kept = choose_on_dev([DevScore(held["dev_acc"], held["dev_loss"]), DevScore(dev_acc, dev_loss)], multi_label) == 1
    if not kept:
        model.load_state_dict(best)
    cooldown = {"steps": steps, "dev_loss": dev_loss, "dev_acc": dev_acc, "test_loss": test_loss}
    return Fitted(history, best_epoch, cooldown | {"test_acc": test_acc, "kept": kept})


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
