"""Reading a labelled text source and turning it into balanced, shuffled train/dev/test splits."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from distillery.core.errors import DistilleryError

# Longer texts are cut to this many characters: past it, no student reads on (the bags stop at
# 16,384 ids), and a stray megabyte-long row would only slow every stage down.
MAX_TEXT_CHARS = 100_000
CHUNK_ROWS = 20_000  # rows read at a time
FORMATS = (".csv", ".tsv", ".tsv.gz", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")


def read_chunks(
    source: str,
    columns: list[str],
    encoding: str = "utf-8",
    chunk_rows: int = CHUNK_ROWS,
    column_params: str = "data.text_column / data.label_column",
) -> Iterator[pd.DataFrame]:
    """`columns` of the data file as strings, `chunk_rows` rows at a time; text is decoded strictly as `encoding`.
    Only `columns` are kept (a parquet file's others are never read); a missing one names `column_params`.

    Streaming keeps prepare's memory flat however many rows the file has (benchmarks/prepare_memory.py).
    """
    path = Path(source)
    if not path.is_file():
        raise DistilleryError(
            f"data.source: file '{source}' not found; point it at a {', '.join(FORMATS)} file "
            "(relative to the project root, or absolute)"
        )
    try:
        for chunk in _chunks(path, encoding, chunk_rows, columns):
            missing = [column for column in columns if column not in chunk.columns]
            if missing:
                raise DistilleryError(
                    f"{source}: column(s) {missing} not found (it has {list(chunk.columns)[:20]}); "
                    f"set {column_params} in params.yaml"
                )
            yield chunk[columns].astype("string")
    except UnicodeDecodeError as error:
        raise DistilleryError(
            f"{path}: not {encoding} text ({error.reason} at byte {error.start}); re-save it as UTF-8 "
            "(for example with iconv -f cp1252 -t utf-8), or set data.encoding to its encoding (latin-1, cp1252, ...)"
        ) from None
    except pd.errors.EmptyDataError:
        raise DistilleryError(
            f"{path}: the file is empty; point data.source at a file with a header and rows"
        ) from None
    except (ValueError, OSError, pa.ArrowException) as error:
        raise DistilleryError(
            f"{path}: could not be read ({error}); check that it is a valid {path.suffix} file"
        ) from None


def _chunks(path: Path, encoding: str, chunk_rows: int, columns: list[str]) -> Iterator[pd.DataFrame]:
    name = path.name.lower()
    if name.endswith((".tsv", ".tsv.gz")):
        # QUOTE_NONE: review TSVs such as Amazon's contain bare quote characters.
        options = {"sep": "\t", "quoting": csv.QUOTE_NONE, "on_bad_lines": "skip"}
        with pd.read_csv(path, dtype=str, encoding=encoding, chunksize=chunk_rows, **options) as reader:
            yield from reader  # a header with no rows gives one empty chunk, so its columns are checked
    elif name.endswith((".csv", ".csv.gz")):
        with pd.read_csv(path, dtype=str, encoding=encoding, chunksize=chunk_rows) as reader:
            yield from reader
    elif name.endswith(".parquet"):
        file = pq.ParquetFile(path)
        wanted = columns if set(columns) <= set(file.schema_arrow.names) else None  # else all, for the error
        if file.metadata.num_rows == 0:
            yield file.schema_arrow.empty_table().to_pandas()
        for batch in file.iter_batches(batch_size=chunk_rows, columns=wanted):
            yield batch.to_pandas()
    elif name.endswith((".jsonl", ".jsonl.gz")):
        with pd.read_json(path, lines=True, dtype=False, encoding=encoding, chunksize=chunk_rows) as reader:
            yield from reader
    else:
        raise DistilleryError(f"data.source: '{path}' has an unknown format; use one of {', '.join(FORMATS)}")


def clean_texts(frame: pd.DataFrame, text_columns: list[str]) -> tuple[pd.Series, int]:
    """Text columns joined by a space and stripped, cut at MAX_TEXT_CHARS; and how many texts were cut."""
    joined = frame[text_columns[0]].fillna("")
    for column in text_columns[1:]:
        joined = joined + " " + frame[column].fillna("")
    joined = joined.str.strip()
    too_long = int((joined.str.len() > MAX_TEXT_CHARS).sum())
    return joined.str.slice(0, MAX_TEXT_CHARS), too_long


BINARY_VALUES = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def binary_labels(frame: pd.DataFrame, label_columns: list[str], source: str) -> tuple[np.ndarray, np.ndarray]:
    """The 0/1 matrix [rows, L] of multi-label columns (0/1 or true/false), and which rows have every value."""
    values = np.zeros((len(frame), len(label_columns)), dtype=np.int64)
    complete = np.ones(len(frame), dtype=bool)
    for j, column in enumerate(label_columns):
        text = frame[column].str.strip().str.lower()
        present = (text.notna() & (text != "")).to_numpy(dtype=bool)
        mapped = text[present].map(BINARY_VALUES)
        if mapped.isna().any():
            bad = text[present][mapped.isna()].iloc[0]
            raise DistilleryError(
                f"{source}: label column '{column}' has the value {bad!r}; a multi-label column (data.label_column "
                "is a list) holds 0/1 or true/false in every row: fix the data, or drop the column from the list"
            )
        values[present, j] = mapped.to_numpy(dtype=np.int64)
        complete &= present
    return values, complete


@dataclass
class Cleaned:
    """What prepare keeps: one entry per usable, first-seen text, in file order (texts are read again later)."""

    rows: np.ndarray  # int64 row numbers in the data file (counting from 0 below the header)
    labels: np.ndarray  # int64 class ids [N], or 0/1 [N, L] for multi-label
    label_names: list[str]  # the classes, or the label columns for multi-label
    report: dict[str, int] = field(default_factory=dict)


def clean(chunks: Iterable[pd.DataFrame], text_columns: list[str], label_columns: list[str], source: str) -> Cleaned:
    """Drop rows with missing/empty text or label and repeated texts (the first is kept), map labels to ids.

    One label column: single-label, its values become class ids. Several: multi-label, each a 0/1
    column (a row missing any of them is dropped). One pass over the chunks that holds about 32
    bytes per usable row, not the texts: a text is known by a 128-bit BLAKE2 digest (a chance
    collision among a billion texts is about 1e-21).
    """
    multi_label = len(label_columns) > 1
    rows_read = truncated = labelled = 0
    rows, label_codes, digests = [], [], []
    codes: dict[str, int] = {}
    for chunk in chunks:
        texts, cut = clean_texts(chunk, text_columns)
        truncated += cut
        if multi_label:
            values, has_label = binary_labels(chunk, label_columns, source)
        else:
            labels = chunk[label_columns[0]].str.strip()
            has_label = (labels.notna() & (labels != "")).to_numpy(dtype=bool)
        labelled += int(has_label.sum())
        usable = np.flatnonzero((texts != "").to_numpy(dtype=bool) & has_label)
        rows.append(rows_read + usable)
        if multi_label:
            label_codes.append(values[usable])
        else:
            label_codes.append(np.array([codes.setdefault(v, len(codes)) for v in labels.iloc[usable]], np.int64))
        digest = b"".join(text_digest(text) for text in texts.iloc[usable])
        digests.append(np.frombuffer(digest, dtype=np.uint64).reshape(-1, 2))
        rows_read += len(chunk)
    if rows_read == 0:
        raise DistilleryError(f"{source}: no rows below the header; add labelled rows, or point data.source elsewhere")
    if labelled == 0:
        raise DistilleryError(
            f"{source}: column(s) {label_columns} empty in every row; point data.label_column at the labels"
        )
    usable_rows, usable_codes = np.concatenate(rows), np.concatenate(label_codes)
    if len(usable_rows) == 0:
        raise DistilleryError(
            f"{source}: no usable rows after dropping missing/empty text and labels; "
            f"check data.text_column {text_columns} and data.label_column {label_columns}"
        )
    first = np.sort(np.unique(np.concatenate(digests), axis=0, return_index=True)[1])
    report = {
        "rows_read": rows_read,
        "dropped_missing_or_empty": rows_read - len(usable_rows),
        "dropped_missing_label": rows_read - labelled,
        "dropped_duplicate_text": len(usable_rows) - len(first),
        "truncated_long_texts": truncated,
    }
    if multi_label:
        kept = usable_codes[first]
        for column, positives in zip(label_columns, kept.sum(axis=0), strict=True):
            if positives == 0:
                raise DistilleryError(
                    f"{source}: label column '{column}' is 0 in every usable row; a label no text has cannot be "
                    "learnt: drop it from data.label_column"
                )
        return Cleaned(usable_rows[first], kept, list(label_columns), report)
    kept_codes = usable_codes[first]
    by_code = {code: label for label, code in codes.items()}
    names = sorted({by_code[code] for code in np.unique(kept_codes)}, key=_label_sort_key)
    if len(names) < 2:
        raise DistilleryError(
            f"{source}: column '{label_columns[0]}' has {len(names)} class(es) after cleaning; "
            "a classifier needs at least 2: check data.label_column"
        )
    class_of_code = np.full(len(codes), -1, np.int64)
    for class_id, name in enumerate(names):
        class_of_code[codes[name]] = class_id
    return Cleaned(usable_rows[first], class_of_code[kept_codes], [str(name) for name in names], report)


def text_digest(text: str) -> bytes:
    """How prepare (and the pool) know a cleaned text: a 128-bit BLAKE2 digest."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def texts_at(chunks: Iterable[pd.DataFrame], rows: np.ndarray, text_columns: list[str]) -> dict[int, str]:
    """The cleaned texts of the given file rows: a second pass that holds only those texts."""
    wanted = np.sort(rows)
    texts: dict[int, str] = {}
    start = 0
    for chunk in chunks:
        here = wanted[np.searchsorted(wanted, start) : np.searchsorted(wanted, start + len(chunk))]
        if len(here):
            cleaned = clean_texts(chunk.iloc[here - start], text_columns)[0]
            texts |= dict(zip(here.tolist(), cleaned.tolist(), strict=True))
        start += len(chunk)
    return texts


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


def multi_label_split(
    labels: np.ndarray,
    max_examples: int | None,
    balance: bool,
    test_fraction: float,
    dev_fraction: float,
    seed: int,
    label_names: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of train, dev and test for 0/1 labels [N, L], each shuffled.

    With `balance`, every row with a positive label is kept, and as many all-negative rows (or
    all of them, if fewer); then max_examples rows at most, sampled at random. The split is
    iterative stratification (Sechidis et al. 2011): the rarest label first, each of its rows goes
    to the split that still wants most of that label, so every label's positive rate in train, dev
    and test stays close to its overall rate; all-negative rows fill the splits to their sizes.
    """
    rng = np.random.default_rng(seed)
    kept = rng.permutation(len(labels))
    if balance:
        positive = labels[kept].any(axis=1)
        negative = kept[~positive]
        kept = rng.permutation(np.concatenate([kept[positive], negative[: int(positive.sum())]]))
    if max_examples:
        kept = kept[:max_examples]
    rows = labels[kept]
    n_test = int(round(len(kept) * test_fraction))
    n_dev = int(round((len(kept) - n_test) * dev_fraction))
    shares = np.array([len(kept) - n_test - n_dev, n_dev, n_test], dtype=float) / len(kept)  # train, dev, test
    wanted_rows = shares * len(kept)
    wanted = np.outer(shares, rows.sum(axis=0))  # [split, label]: positives each split still wants
    split_of = np.full(len(kept), -1)
    left = rows.copy()  # the positives of rows not yet placed
    while left.any():
        label = int(np.argmin(np.where(left.sum(axis=0) > 0, left.sum(axis=0), np.inf)))
        for row in np.flatnonzero(left[:, label]):
            split = max(range(3), key=lambda s: (wanted[s, label], wanted_rows[s]))
            split_of[row] = split
            wanted[split] -= rows[row]
            wanted_rows[split] -= 1
            left[row] = 0
    for row in np.flatnonzero(split_of < 0):  # the all-negative rows
        split = int(np.argmax(wanted_rows))
        split_of[row] = split
        wanted_rows[split] -= 1
    splits = tuple(rng.permutation(kept[split_of == s]) for s in range(3))
    for name, part in zip(("train", "dev", "test"), splits, strict=True):
        absent = np.flatnonzero(labels[part].sum(axis=0) == 0)
        if len(absent):
            column, total = label_names[absent[0]], int(rows[:, absent[0]].sum())
            raise DistilleryError(
                f"label column '{column}' has no positive example in {name} ({total} among the rows kept): too few "
                "to put one in each of train, dev and test; add examples of it or drop it from data.label_column "
                "(or raise data.max_examples)"
            )
    return splits


def positive_rates(labels: np.ndarray, splits: dict[str, np.ndarray], label_names: list[str]) -> dict:
    """Each label's positive rate in each split, to show the split kept them."""
    return {
        split: {name: round(float(rate), 4) for name, rate in zip(label_names, labels[rows].mean(axis=0), strict=True)}
        for split, rows in splits.items()
    }
