"""The students' losses, written once with torch and shared by every architecture.

The bag's compiled kernel (bag_kernel.py) computes the same losses by hand; tests/test_student.py
checks it step by step against these.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from distillery.core.errors import DistilleryError
from distillery.core.params import fraction, param, positive

SOFT_KINDS = ("kl", "mse")


@dataclass(frozen=True)
class Loss:
    """`kind` is ce (hard labels only), kl (T^2 * KL to the teacher at temperature T) or mse (to raw logits);
    `alpha` weighs the hard-label cross-entropy mixed into a soft loss."""

    kind: str
    temperature: float = 1.0
    alpha: float = 0.0
    beta: float = 0.0  # weight of the cosine loss to the teacher's hidden states (the transformer student)

    @classmethod
    def from_params(cls, params: dict, section: str) -> Loss:
        """A distilled student's loss from `<section>.loss`, `.temperature` and `.alpha`."""
        kind = param(params, f"{section}.loss")
        if kind not in SOFT_KINDS:
            raise DistilleryError(f"params.yaml: '{section}.loss' must be 'mse' or 'kl', got {kind!r}")
        # Only the transformer has hidden states to match.
        beta = param(params, f"{section}.beta") if "beta" in params[section] else 0.0
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise DistilleryError(f"params.yaml: '{section}.beta' must be a number >= 0, got {beta!r}")
        return cls(
            kind, positive(params, f"{section}.temperature"), fraction(params, f"{section}.alpha", low_open=False), beta
        )


TWIN_LOSS = Loss("ce")


def distillation_loss(loss: Loss, logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(1 - alpha) * soft loss, mean over the batch, + alpha * the hard-label loss, mean over the labelled rows.

    Rows labelled -1 (the transfer set) have no hard label. Single-label (labels [B]): kl is
    T^2 * KL(teacher || student) at temperature T (Hinton et al. 2015, so its gradient keeps its
    scale as T changes), the hard loss cross-entropy. Multi-label (labels [B, L] of 0/1): kl is
    T^2 * the binary cross-entropy of the student's sigmoid(s/T) against the teacher's sigmoid(t/T),
    label by label, the hard loss BCE; both summed over labels like cross-entropy is over classes.
    mse is over raw logits (Tang et al. 2019) either way. For kind ce, `teacher` is not read.
    """
    multi_label = labels.dim() == 2
    labelled = labels[:, 0] >= 0 if multi_label else labels >= 0
    if not labelled.any():
        hard = logits.sum() * 0
    elif multi_label:
        hard = binary_cross_entropy(logits[labelled], labels[labelled].float())
    else:
        hard = F.cross_entropy(logits[labelled], labels[labelled])
    if loss.kind == "ce":
        return hard
    T = loss.temperature
    if loss.kind == "mse":
        soft = F.mse_loss(logits, teacher)
    elif multi_label:
        soft = T**2 * binary_cross_entropy(logits / T, torch.sigmoid(teacher / T))
    else:
        soft = T**2 * F.kl_div(
            F.log_softmax(logits / T, -1), F.log_softmax(teacher / T, -1), log_target=True, reduction="batchmean"
        )
    return (1 - loss.alpha) * soft + loss.alpha * hard


def binary_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-label BCE of sigmoid(logits) against targets in [0, 1], summed over labels, mean over rows."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / len(logits)


def hidden_cosine_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity between student and teacher vectors, mean over the rows that have a teacher
    vector (rows of NaN, the transfer set's, have none)."""
    known = ~teacher.isnan().any(dim=1)
    if not known.any():
        return student.sum() * 0
    return (1 - F.cosine_similarity(student[known], teacher[known], dim=-1)).mean()
