"""The students' losses, written once with torch and shared by every architecture.

The bag's compiled kernel (bag_kernel.py) computes the same losses by hand; tests/test_student.py
checks it step by step against these.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from common import DistilleryError, fraction, param, positive

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
        beta = params[section].get("beta", 0.0)  # only the transformer has hidden states to match
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise DistilleryError(f"params.yaml: '{section}.beta' must be a number >= 0, got {beta!r}")
        return cls(
            kind, positive(params, f"{section}.temperature"), fraction(params, f"{section}.alpha", low_open=False), beta
        )


AUTODIDACT_LOSS = Loss("ce")


def distillation_loss(loss: Loss, logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(1 - alpha) * soft loss, mean over the batch, + alpha * cross-entropy, mean over the labelled rows.

    Rows labelled -1 (the transfer set) have no hard label. kl is T^2 * KL(teacher || student) at
    temperature T (Hinton et al. 2015, so its gradient keeps its scale as T changes); mse is over
    raw logits (Tang et al. 2019). For kind ce, `teacher` is not read.
    """
    labelled = labels >= 0
    hard = F.cross_entropy(logits[labelled], labels[labelled]) if labelled.any() else logits.sum() * 0
    if loss.kind == "ce":
        return hard
    if loss.kind == "mse":
        soft = F.mse_loss(logits, teacher)
    else:
        T = loss.temperature
        soft = T**2 * F.kl_div(
            F.log_softmax(logits / T, -1), F.log_softmax(teacher / T, -1), log_target=True, reduction="batchmean"
        )
    return (1 - loss.alpha) * soft + loss.alpha * hard


def hidden_cosine_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity between student and teacher vectors, mean over the rows that have a teacher
    vector (rows of NaN, the transfer set's, have none)."""
    known = ~teacher.isnan().any(dim=1)
    if not known.any():
        return student.sum() * 0
    return (1 - F.cosine_similarity(student[known], teacher[known], dim=-1)).mean()
