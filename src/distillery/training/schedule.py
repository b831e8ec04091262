"""The learning rate of the teacher and of the students that read word order: warm up, hold, cool down.

A rate that decays to zero at the epoch ceiling ties the model to that ceiling: raise the ceiling for
data that needs more epochs and every epoch runs at a different rate, so the ceiling becomes a tuning
knob for one data set. Here the ceiling only bounds time. The rate warms up linearly, then holds at its
peak while dev improves; once dev has stopped improving (early stopping's patience) or the ceiling is
reached, the weights of the best epoch cool down: a short run whose rate falls linearly to zero.
This is the warmup-stable-decay schedule; Hägele et al. (2024, "Scaling Laws and Compute-Optimal
Training Beyond Fixed Training Durations") found a cooldown of 10-20% of the steps trained matches a
schedule that knew the run's length in advance.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_steps(warmup_ratio: float, min_steps: int, steps_per_epoch: int) -> int:
    """The warmup: a share of the shortest run the budget allows (one epoch, or min_steps when that is more),
    never of the ceiling, so that raising the ceiling does not slow the start."""
    return math.ceil(warmup_ratio * max(min_steps, steps_per_epoch))


def held(lr: float, warmup: int) -> Callable[[int], float]:
    """The rate at optimizer step s (from 0): rising linearly to `lr` over `warmup` steps, then `lr`."""
    return lambda step: lr * min(1.0, (step + 1) / warmup) if warmup else lr


def cooldown_steps(fraction: float, steps_trained: int) -> int:
    """The cooldown's length: `fraction` of the steps the kept weights were trained for (0: no cooldown)."""
    return math.ceil(fraction * steps_trained)


def cooling(lr: float, steps: int) -> Callable[[int], float]:
    """The rate at cooldown step s (from 0): from `lr` down linearly, reaching 0 after `steps` steps."""
    return lambda step: lr * (steps - step) / steps
