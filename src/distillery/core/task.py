"""Single-label or multi-label: how labels are stored and read, turned into decisions, and scored.

Single-label: `label` is an int64 class id per row, the model's decision is the argmax of its logits.
Multi-label: `label` is a list of 0/1 per row (one per label column), the decision is every label
whose probability (a sigmoid per label) is above 0.5, or above the label's own threshold where one was
chosen on dev (evaluation/thresholds.py: every reported score and every export). Everywhere else the
shape tells them apart:
a label array is [N] for single-label and [N, L] for multi-label. A row that has no label (the
transfer set's) is -1, or a row of -1.

"accuracy" is the rate of rows decided exactly right: the class for single-label, every label for
multi-label (the exact-match rate). McNemar's test pairs models on exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.files import read_json

MULTI_LABEL, SINGLE_LABEL = "multi_label", "single_label"
THRESHOLD = 0.5  # a label is predicted when its probability is above this, unless dev chose another


@dataclass(frozen=True)
class Task:
    """The task as `prepare` wrote it to labels.json: the label names, and single- or multi-label.
    Every stage reads it from there (read_task); a label array's shape only mirrors it."""

    label_names: list[str]
    multi_label: bool

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


def read_task(path: Path = paths.LABELS) -> Task:
    labels_info = read_json(path)
    return Task(list(labels_info["labels"]), labels_info["task"] == MULTI_LABEL)


def label_array(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A parquet `label` column as numpy: int64 [N], or int64 [N, L] for a list column."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type):
        # Parquet reads a fixed-size list back as a plain list; every row has the same length.
        return column.flatten().to_numpy().astype(np.int64).reshape(len(column), -1)
    return column.to_numpy().astype(np.int64)


def label_column(labels: np.ndarray) -> pa.Array:
    """The inverse of label_array."""
    if labels.ndim == 2:
        return pa.FixedSizeListArray.from_arrays(pa.array(labels.ravel(), pa.int8()), labels.shape[1])
    return pa.array(labels, pa.int64())


def is_multi_label(labels: np.ndarray) -> bool:
    return labels.ndim == 2


def unlabelled(rows: int, like: np.ndarray) -> np.ndarray:
    """Labels for `rows` rows that have none (the transfer set), shaped like `like`."""
    return np.full((rows, *like.shape[1:]), -1, dtype=np.int64)


def labelled(labels: np.ndarray) -> np.ndarray:
    """Which rows have a label."""
    return labels[:, 0] >= 0 if labels.ndim == 2 else labels >= 0


def decisions(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Class ids [N] (argmax), or 0/1 [N, L] (sigmoid above THRESHOLD, that is a logit above 0)."""
    return (logits > 0).astype(np.int64) if multi_label else logits.argmax(axis=1)


def correct(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per row: was the decision exactly right (every label, for multi-label)?"""
    right = predicted == truth
    return right.all(axis=1) if right.ndim == 2 else right


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(correct(predicted, truth)))
