"""Reading a labelled text source and turning it into balanced, shuffled train/dev/test splits."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from common import DistilleryError

# Longer texts are cut to this many characters: past it, no student reads on (the bags stop at
# 16,384 ids), and a stray megabyte-long row would only slow every stage down.
MAX_TEXT_CHARS = 100_000
FORMATS = (".csv", ".tsv", ".tsv.gz", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")


def read_source(source: str, columns: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    """Load `columns` of the data file as strings; text files are decoded strictly as `encoding`."""
    path = Path(source)
    if not path.is_file():
        raise DistilleryError(
            f"data.source: file '{source}' not found; point it at a {', '.join(FORMATS)} file "
            "(relative to the project root, or absolute)"
        )
    frame = _read_file(path, encoding)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DistilleryError(
            f"{source}: column(s) {missing} not found (it has {list(frame.columns)[:20]}); "
            "set data.text_column / data.label_column in params.yaml"
        )
    return frame[columns].astype("string")


def _read_file(path: Path, encoding: str) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith((".tsv", ".tsv.gz")):
            # QUOTE_NONE: review TSVs such as Amazon's contain bare quote characters.
            return pd.read_csv(
                path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, on_bad_lines="skip", encoding=encoding
            )
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, dtype=str, encoding=encoding)
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith((".jsonl", ".jsonl.gz")):
            return pd.read_json(path, lines=True, dtype=False, encoding=encoding)
    except UnicodeDecodeError as error:
        raise DistilleryError(
            f"{path}: not {encoding} text ({error.reason} at byte {error.start}); re-save it as UTF-8 "
            "(for example with iconv -f cp1252 -t utf-8), or set data.encoding to its encoding (latin-1, cp1252, ...)"
        ) from None
    except pd.errors.EmptyDataError:
        raise DistilleryError(
            f"{path}: the file is empty; point data.source at a file with a header and rows"
        ) from None
    except (ValueError, OSError) as error:
        raise DistilleryError(
            f"{path}: could not be read ({error}); check that it is a valid {path.suffix} file"
        ) from None
    raise DistilleryError(f"data.source: '{path}' has an unknown format; use one of {', '.join(FORMATS)}")


@dataclass
class Cleaned:
    texts: list[str]
    labels: np.ndarray  # int64 class ids
    label_names: list[str]
    report: dict[str, int] = field(default_factory=dict)


def clean(frame: pd.DataFrame, text_columns: list[str], label_column: str, source: str) -> Cleaned:
    """Join text columns, drop rows with missing/empty text or label and duplicate texts, map labels."""
    if len(frame) == 0:
        raise DistilleryError(f"{source}: no rows below the header; add labelled rows, or point data.source elsewhere")
    texts = frame[text_columns].fillna("").agg(" ".join, axis=1).str.strip()
    labels = frame[label_column].str.strip()
    if (labels.isna() | (labels == "")).all():
        raise DistilleryError(
            f"{source}: column '{label_column}' is empty in every row; point data.label_column at the labels"
        )
    too_long = texts.str.len() > MAX_TEXT_CHARS
    texts = texts.where(~too_long, texts.str.slice(0, MAX_TEXT_CHARS))
    usable = (texts != "") & labels.notna() & (labels != "")
    texts, labels = texts[usable], labels[usable]
    unique = ~texts.duplicated(keep="first")
    texts, labels = texts[unique], labels[unique]
    report = {
        "rows_read": len(frame),
        "dropped_missing_or_empty": int((~usable).sum()),
        "dropped_duplicate_text": int((~unique).sum()),
        "truncated_long_texts": int(too_long.sum()),
    }
    if len(texts) == 0:
        raise DistilleryError(
            f"{source}: no usable rows after dropping missing/empty text and labels; "
            f"check data.text_column {text_columns} and data.label_column '{label_column}'"
        )
    names = sorted(labels.unique(), key=_label_sort_key)
    if len(names) < 2:
        raise DistilleryError(
            f"{source}: column '{label_column}' has {len(names)} class(es) after cleaning; "
            "a classifier needs at least 2: check data.label_column"
        )
    index = {name: i for i, name in enumerate(names)}
    return Cleaned(
        texts=texts.tolist(),
        labels=labels.map(index).to_numpy(dtype=np.int64),
        label_names=[str(name) for name in names],
        report=report,
    )


def _label_sort_key(label: str) -> tuple[int, float, str]:
    """Numeric labels (1..5 stars) sort by value, so class ids follow them; others alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def example_id(text: str) -> str:
    """A stable id from the content, so ids survive re-ordering of the source file."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def balance_and_split(
    labels: np.ndarray,
    num_classes: int,
    max_examples: int | None,
    balance: bool,
    test_fraction: float,
    dev_fraction: float,
    seed: int,
    label_names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, dev and test, each shuffled.

    With `balance`, every class keeps min(max_examples // C, smallest class) rows
    (seed 000's rule); without it, rows are sampled regardless of class up to max_examples.
    Test takes `test_fraction` of each class; dev takes `dev_fraction` of what is left (the
    training side). Both splits are stratified, so they keep the class proportions.
    """
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(num_classes)]
    if balance:
        per_class = min(len(rows) for rows in by_class)
        if max_examples:
            per_class = min(per_class, max_examples // num_classes)
        by_class = [rows[:per_class] for rows in by_class]
    elif max_examples and len(labels) > max_examples:
        kept = np.zeros(len(labels), dtype=bool)
        kept[rng.permutation(len(labels))[:max_examples]] = True
        by_class = [rows[kept[rows]] for rows in by_class]
    train, dev, test = [], [], []
    for label, rows in enumerate(by_class):
        n_test = int(round(len(rows) * test_fraction))
        n_dev = int(round((len(rows) - n_test) * dev_fraction))
        if min(n_test, n_dev, len(rows) - n_test - n_dev) == 0:
            name = label_names[label] if label_names else label
            raise DistilleryError(
                f"class '{name}' has {len(rows)} example(s) here: too few for data.test_fraction {test_fraction} "
                f"and data.dev_fraction {dev_fraction} to put one in each of train, dev and test; add examples "
                "of it or drop it from the data (or raise data.max_examples, or the fractions)"
            )
        test.append(rows[:n_test])
        dev.append(rows[n_test : n_test + n_dev])
        train.append(rows[n_test + n_dev :])
    return tuple(rng.permutation(np.concatenate(parts)) for parts in (train, dev, test))
