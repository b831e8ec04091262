"""Fitting a probe teacher (probe.py): the frozen encoder embeds train and dev once, one logistic
regression (one per label, multi-label) is fitted for each C of `teacher.probe_c`, and dev chooses
(selection.choose_on_dev). A probe costs one forward pass per text: a 110M encoder that would take hours
to fine-tune here is probed in minutes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn

from distillery.core.errors import DistilleryError
from distillery.core.params import param
from distillery.core.task import accuracy, decisions, is_multi_label
from distillery.evaluation.label_metrics import mean_bce, sigmoid
from distillery.teacher.probe import Pooling, ProbeClassifier
from distillery.training.batching import length_sorted_batches, pad_batch
from distillery.training.selection import DevScore, choose_on_dev


@torch.inference_mode()
def sentence_embeddings(
    encoder: nn.Module, pooling: Pooling, token_ids: list[list[int]], pad_id: int, batch_size: int, desc: str
) -> np.ndarray:
    """float32 [N, H] in input order, the encoder at fp32 (the embeddings the head is fitted on)."""
    from tqdm import tqdm

    encoder.float().eval()
    result = np.zeros((len(token_ids), encoder.config.hidden_size), dtype=np.float32)
    for rows in tqdm(length_sorted_batches(token_ids, batch_size), desc=desc):
        batch = pad_batch([token_ids[i] for i in rows], pad_id)
        result[rows] = pooling(encoder(**batch).last_hidden_state, batch["attention_mask"]).numpy()
    return result


def probe_cs(params: dict) -> list[float]:
    values = param(params, "teacher.probe_c")
    values = values if isinstance(values, list) else [values]
    if not values or not all(isinstance(c, int | float) and not isinstance(c, bool) and c > 0 for c in values):
        raise DistilleryError(
            f"params.yaml: 'teacher.probe_c' must be a positive number or a list of them (the probe's inverse "
            f"regularisation, each tried on dev), got {param(params, 'teacher.probe_c')!r}"
        )
    return [float(c) for c in values]


def fit_head(x: np.ndarray, labels: np.ndarray, C: float, num_labels: int, multi_label: bool) -> nn.Linear:
    """Logistic regression on embeddings as a linear layer whose outputs are logits: multinomial over the
    classes; for two classes, ±half the binary decision value (the same softmax); one per label, multi-label."""
    from sklearn.linear_model import LogisticRegression

    def fitted(targets: np.ndarray) -> Any:
        return LogisticRegression(C=C, max_iter=5000).fit(x, targets)

    if multi_label:
        models = [fitted(labels[:, j]) for j in range(num_labels)]
        weight = np.concatenate([model.coef_ for model in models])
        bias = np.concatenate([model.intercept_ for model in models])
    else:
        model = fitted(labels)
        if list(model.classes_) != list(range(num_labels)):
            raise DistilleryError(
                f"the probe's training labels hold classes {list(model.classes_)}, not 0..{num_labels - 1}"
            )
        weight, bias = model.coef_, model.intercept_
        if num_labels == 2:
            weight, bias = np.concatenate([-weight / 2, weight / 2]), np.concatenate([-bias / 2, bias / 2])
    head = nn.Linear(x.shape[1], num_labels)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    return head


def dev_score(head: nn.Linear, x: np.ndarray, labels: np.ndarray, multi_label: bool) -> DevScore:
    with torch.no_grad():
        logits = head(torch.from_numpy(x)).double()
    predicted = decisions(logits.numpy(), multi_label)
    if multi_label:
        loss = mean_bce(sigmoid(logits.numpy()), labels)
    else:
        loss = float(nn.functional.cross_entropy(logits, torch.from_numpy(labels).long()))
    return DevScore(accuracy(predicted, labels), loss)


def train_probe(
    encoder: nn.Module,
    pooling: Pooling,
    train: tuple[list[list[int]], np.ndarray],
    dev: tuple[list[list[int]], np.ndarray],
    cs: list[float],
    pad_id: int,
    batch_size: int,
) -> tuple[ProbeClassifier, dict[str, Any]]:
    """The encoder frozen, a head fitted for each C, dev choosing; with a summary of the choice."""
    multi_label = is_multi_label(train[1])
    num_labels = encoder.config.num_labels
    train_x, dev_x = (
        sentence_embeddings(encoder, pooling, ids, pad_id, batch_size, f"train_teacher: embedding {name}")
        for name, (ids, _) in (("train", train), ("dev", dev))
    )
    heads = [fit_head(train_x, train[1], C, num_labels, multi_label) for C in cs]
    scores = [dev_score(head, dev_x, dev[1], multi_label) for head in heads]
    best = choose_on_dev(scores, multi_label)
    summary = {
        "method": "probe",
        "pooling": asdict(pooling),
        "C": cs[best],
        "dev_per_C": {
            str(C): {"accuracy": round(s.accuracy, 6), "loss": round(s.loss, 6)}
            for C, s in zip(cs, scores, strict=True)
        },
        "dev_accuracy": round(scores[best].accuracy, 6),
        "dev_loss": round(scores[best].loss, 6),
    }
    return ProbeClassifier(encoder, heads[best], pooling).eval(), summary
