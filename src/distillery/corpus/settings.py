"""The data.* params, checked once: where the examples are, which columns hold them, how they are split."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from distillery.core.errors import DistilleryError
from distillery.core.params import fraction, param, positive


@dataclass(frozen=True)
class DataSettings:
    source: str
    text_columns: list[str]  # joined into one text
    label_columns: list[str]  # one column (single-label), or two or more 0/1 columns (multi-label)
    encoding: str
    max_examples: int | None
    balance: bool
    test_fraction: float
    dev_fraction: float
    train_labels: int | float | None  # training rows that keep their label: null (all), a count, or a fraction < 1
    seed: int

    @property
    def multi_label(self) -> bool:
        return len(self.label_columns) > 1

    @property
    def columns(self) -> list[str]:
        return self.text_columns + self.label_columns

    @classmethod
    def from_params(cls, params: dict) -> DataSettings:
        text_columns = param(params, "data.text_column")
        max_examples = param(params, "data.max_examples")
        balance = param(params, "data.balance")
        if not isinstance(balance, bool):
            raise DistilleryError(f"params.yaml: 'data.balance' must be true or false, got {balance!r}")
        encoding = str(param(params, "data.encoding"))
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DistilleryError(f"params.yaml: 'data.encoding' {encoding!r} is not a known text encoding") from None
        return cls(
            source=str(param(params, "data.source")),
            text_columns=[text_columns] if isinstance(text_columns, str) else list(text_columns),
            label_columns=label_columns(params),
            encoding=encoding,
            max_examples=None if max_examples is None else positive(params, "data.max_examples", int),
            balance=balance,
            test_fraction=fraction(params, "data.test_fraction"),
            dev_fraction=fraction(params, "data.dev_fraction"),
            train_labels=train_labels(params),
            seed=int(param(params, "seed")),
        )


def train_labels(params: dict) -> int | float | None:
    """data.train_labels: null, a whole number of rows (at least 1), or a fraction strictly between 0 and 1."""
    value = param(params, "data.train_labels")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise DistilleryError(
            f"params.yaml: 'data.train_labels' must be null, a number of rows or a fraction below 1, got {value!r}"
        )
    if value >= 1 and value != int(value):
        raise DistilleryError(f"params.yaml: 'data.train_labels' {value} is not a whole number of rows nor below 1")
    return int(value) if value >= 1 else float(value)


@dataclass(frozen=True)
class PoolSettings:
    """The data.unlabelled* params: the texts without labels that the teacher labels for the students."""

    source: str  # a file, or a folder of files
    text_columns: list[str]
    encoding: str
    max_texts: int | None
    seed: int

    @classmethod
    def from_params(cls, params: dict) -> PoolSettings:
        columns = param(params, "data.unlabelled_text_column")
        if columns is None:
            columns = param(params, "data.text_column")
        max_texts = param(params, "data.unlabelled_max")
        return cls(
            source=str(param(params, "data.unlabelled")),
            text_columns=[columns] if isinstance(columns, str) else list(columns),
            encoding=str(param(params, "data.encoding")),
            max_texts=None if max_texts is None else positive(params, "data.unlabelled_max", int),
            seed=int(param(params, "seed")),
        )


def label_columns(params: dict) -> list[str]:
    """data.label_column: one column (single-label), or a list of two or more 0/1 columns (multi-label)."""
    value = param(params, "data.label_column")
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise DistilleryError(
            f"params.yaml: 'data.label_column' must be a column name or a list of them, got {value!r}"
        )
    if len(value) < 2:
        raise DistilleryError(
            f"params.yaml: 'data.label_column' is a list of {len(value)} column(s) {value}: give one name (not a "
            "list) for single-label classes, or two or more 0/1 columns for multi-label"
        )
    if len(set(value)) < len(value):
        raise DistilleryError(f"params.yaml: 'data.label_column' {value} names a column twice; list each once")
    return list(value)
