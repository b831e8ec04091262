"""data.train_labels: keep the labels of only some training rows, on purpose; the others join the unlabelled pool.

This is how a user answers "how many labels do I need?", and how benchmarks/few_labels.py runs
learning curves on public labelled sets. A user with N labels has N labels in all, so dev (which
every choice is made on) keeps only its proportional share of the budget, N·f/(1−f) rows for
data.dev_fraction f, and its other rows join the pool too (Perez, Kiela and Cho 2021: a large
held-out set used for choosing overstates few-label results). Test keeps every label: it is only scored.
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
    Multi-label (labels [N, L]): a positive of every label first (rarest label first), then a seeded sample.
    """
    if count >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    if labels.ndim == 2:
        absent = np.flatnonzero(labels.sum(axis=0) == 0)
        if len(absent):
            raise DistilleryError(
                f"params.yaml: 'data.train_labels' {count} keeps no positive example of label "
                f"'{label_names[absent[0]]}' (the training split has none); use more data or drop that label"
            )
        kept = covering_sample(labels, count, rng)
        if len(kept) > count:
            raise DistilleryError(
                f"params.yaml: 'data.train_labels' {count} is too few to keep a positive example of every one of "
                f"the {labels.shape[1]} labels ({len(kept)} rows needed); raise it"
            )
        return kept
    classes = np.unique(labels)
    if count < len(classes):
        raise DistilleryError(
            f"params.yaml: 'data.train_labels' {count} is fewer than the {len(classes)} classes; keep at least one "
            "label of each class"
        )
    return stratified_sample(labels, count, rng)


def dev_labelled_count(train_labelled: int, dev_fraction: float) -> int:
    """Dev's share of a label budget: dev is dev_fraction of the training side, so N·f/(1−f) rows for N in train."""
    return max(1, int(round(train_labelled * dev_fraction / (1 - dev_fraction))))


def keep_dev_labels(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Which dev rows keep their label: `count` of them, seeded and stratified as keep_labels does, in row
    order, but raised where needed (never failing) to hold a row of every class, or for multi-label a
    positive of every label that dev has."""
    rng = np.random.default_rng([seed, 1])  # a stream of its own: train's sample does not move with dev's
    if labels.ndim == 2:
        return covering_sample(labels, count, rng)
    return stratified_sample(labels, max(count, len(np.unique(labels))), rng)


def stratified_sample(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` rows (count >= the number of classes), each class its share (largest remainders), at least one."""
    if count >= len(labels):
        return np.arange(len(labels))
    classes = np.unique(labels)
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


def covering_sample(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Multi-label ([N, L] of 0/1): a seeded sample holding a positive of every label that has one, rarest
    label first, then random rows up to `count`. More than `count` rows only when the cover needs them."""
    if count >= len(labels):
        return np.arange(len(labels))
    order = rng.permutation(len(labels))
    covered = labels.sum(axis=0) == 0  # a label with no positive at all cannot be covered
    chosen: list[int] = []
    for label in np.argsort(labels.sum(axis=0), kind="stable"):
        if not covered[label]:
            row = int(order[np.flatnonzero(labels[order, label] == 1)[0]])
            chosen.append(row)
            covered |= labels[row] == 1
    rest = order[~np.isin(order, chosen)][: max(0, count - len(chosen))]
    return np.sort(np.concatenate([np.array(chosen, dtype=np.int64), rest]))
