"""A training budget's floor in optimizer steps, for the teacher and every student that reads word order."""

from __future__ import annotations

import math


def epochs_for_steps(epochs: int, min_steps: int, steps_per_epoch: int) -> int:
    """`epochs`, raised where they would train fewer than `min_steps` optimizer steps: with few labels an
    epoch is a few steps, and a model stopped after two of them has barely left its initial state."""
    return max(epochs, math.ceil(min_steps / max(steps_per_epoch, 1)))
