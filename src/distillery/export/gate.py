"""Whether a compressed model may replace its fp32 original: decided on dev, never on test.

It ships only if, on the dev split, its score (accuracy; macro-F1 for multi-label) is at most
MAX_DROP below the fp32 model's, and McNemar's test of the two models' right and wrong answers does
not reject (p >= MIN_P). Otherwise the fp32 model ships and the reason is recorded for the model card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from distillery.core.task import accuracy
from distillery.evaluation.label_metrics import macro_f1
from distillery.evaluation.statistics import mcnemar_p

MAX_DROP = 0.005  # half a point
MIN_P = 0.05


@dataclass(frozen=True)
class Verdict:
    compressed_ships: bool
    metric: str  # "accuracy" or "macro_f1"
    fp32_dev: float
    compressed_dev: float
    mcnemar_p: float
    agreement: float  # share of dev texts given the same prediction (every label, for multi-label) as fp32
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def gate(truth: np.ndarray, fp32: np.ndarray, compressed: np.ndarray, multi_label: bool, what: str) -> Verdict:
    """fp32 and compressed are the two models' dev predictions (class ids, or 0/1 per label)."""
    metric = "macro_f1" if multi_label else "accuracy"
    score = macro_f1 if multi_label else accuracy
    before, after = score(fp32, truth), score(compressed, truth)
    p = mcnemar_p(truth, fp32, compressed)
    drop = before - after
    if drop > MAX_DROP:
        reason = f"{what} lost {100 * drop:.2f} points of dev {metric} (more than {100 * MAX_DROP:.1f})"
    elif p < MIN_P:
        reason = f"McNemar's test tells {what} from fp32 on dev (p {p:.2g} < {MIN_P})"
    else:
        change = f"{100 * (after - before):+.2f}"
        reason = f"{what} is within {100 * MAX_DROP:.1f} points of fp32 on dev ({change}), McNemar p {p:.2g}"
    ships = drop <= MAX_DROP and p >= MIN_P
    same = (fp32 == compressed).reshape(len(fp32), -1).all(axis=1).mean()
    return Verdict(ships, metric, round(before, 6), round(after, 6), round(p, 6), round(float(same), 6), reason)
