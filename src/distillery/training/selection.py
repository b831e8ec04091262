"""Choosing on dev: the project's one rule for every choice (an epoch, a seed, a transfer share, a
baseline's setting). Test figures are recorded elsewhere and never reach this function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DevScore:
    accuracy: float  # the exact-match rate for multi-label
    loss: float  # cross-entropy, or the mean BCE for multi-label


def choose_on_dev(scores: Sequence[DevScore], multi_label: bool) -> int:
    """The index of the best candidate: the highest dev accuracy, or for multi-label the lowest dev loss
    (with rare labels, exact match barely moves); the earliest candidate on a tie."""
    if not scores:
        raise ValueError("choose_on_dev: no candidates")
    if multi_label:
        return min(range(len(scores)), key=lambda i: (scores[i].loss, i))
    return min(range(len(scores)), key=lambda i: (-scores[i].accuracy, i))
