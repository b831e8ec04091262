"""data.train_labels: keep the labels of only some training rows, on purpose; the others join the unlabelled pool.

This is how a user answers "how many labels do I need?", and how benchmarks/few_labels.py runs
learning curves on public labelled sets. Dev and test are never touched.
"""

from __future__ import annotations

import numpy as np

from distillery.core.errors import DistilleryError


def labelled_count(train_labels: int | float | None, train_rows: int) -> int:
    """How many training rows keep their label: all (null), a count, or a fraction below 1 of them."""
    if train_labels is None:
        return train_rows
    if train_labels < 1:
        return max(1, int(round(train_rows * train_labels)))
    if train_labels > train_rows:
        raise DistilleryError(
            f"params.yaml: 'data.train_labels' is {train_labels} but the training split has {train_rows} rows; "
            "set it lower, or to null to keep every label"
        )
    return int(train_labels)


def keep_labels(labels: np.ndarray, count: int, seed: int, label_names: list[str]) -> np.ndarray:
    """Which of the training rows keep their label: `count` of them, stratified by class and seeded, in row order.

    Single-label: each class keeps its share of `count` (largest remainders first), at least one row.
    Multi-label (labels [N, L]): a seeded sample of `count` rows, which must hold a positive of every label.
    """
    rng = np.random.default_rng(seed)
    if count >= len(labels):
        return np.arange(len(labels))
    if labels.ndim == 2:
        kept = np.sort(rng.permutation(len(labels))[:count])
        absent = np.flatnonzero(labels[kept].sum(axis=0) == 0)
        if len(absent):
            name = label_names[absent[0]]
            raise DistilleryError(
                f"params.yaml: 'data.train_labels' {count} keeps no positive example of label '{name}'; raise it"
            )
        return kept
    classes = np.unique(labels)
    if count < len(classes):
        raise DistilleryError(
            f"params.yaml: 'data.train_labels' {count} is fewer than the {len(classes)} classes; keep at least one "
            "label of each class"
        )
    rows_of = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    wanted = np.array([len(rows_of[c]) for c in classes], dtype=float) * count / len(labels)
    per_class = np.maximum(np.floor(wanted).astype(int), 1)
    for position in np.argsort(-(wanted - np.floor(wanted)), kind="stable"):
        if per_class.sum() >= count:
            break
        per_class[position] += 1
    while per_class.sum() > count:  # the at-least-one rule overshot: take back from the biggest classes
        per_class[int(np.argmax(per_class))] -= 1
    return np.sort(np.concatenate([rows_of[c][:n] for c, n in zip(classes, per_class, strict=True)]))
