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

from common import DistilleryError

# Longer texts are cut to this many characters: past it, no student reads on (the bags stop at
# 16,384 ids), and a stray megabyte-long row would only slow every stage down.
MAX_TEXT_CHARS = 100_000
CHUNK_ROWS = 20_000  # rows read at a time
FORMATS = (".csv", ".tsv", ".tsv.gz", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")


def read_chunks(
    source: str, columns: list[str], encoding: str = "utf-8", chunk_rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """`columns` of the data file as strings, `chunk_rows` rows at a time; text is decoded strictly as `encoding`.

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
                    "set data.text_column / data.label_column in params.yaml"
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


def clean_texts(frame: pd.DataFrame, text_columns: list[str], label_column: str) -> tuple[pd.Series, pd.Series, int]:
    """Text columns joined by a space and stripped, cut at MAX_TEXT_CHARS; labels stripped (may be missing);
    and how many texts were cut."""
    joined = frame[text_columns[0]].fillna("")
    for column in text_columns[1:]:
        joined = joined + " " + frame[column].fillna("")
    joined = joined.str.strip()
    too_long = int((joined.str.len() > MAX_TEXT_CHARS).sum())
    return joined.str.slice(0, MAX_TEXT_CHARS), frame[label_column].str.strip(), too_long


@dataclass
class Cleaned:
    """What prepare keeps: one entry per usable, first-seen text, in file order (texts are read again later)."""

    rows: np.ndarray  # int64 row numbers in the data file (counting from 0 below the header)
    labels: np.ndarray  # int64 class ids
    label_names: list[str]
    report: dict[str, int] = field(default_factory=dict)


def clean(chunks: Iterable[pd.DataFrame], text_columns: list[str], label_column: str, source: str) -> Cleaned:
    """Drop rows with missing/empty text or label and repeated texts (the first is kept), map labels to ids.

    One pass over the chunks that holds about 32 bytes per usable row, not the texts: a text is known
    by a 128-bit BLAKE2 digest (a chance collision among a billion texts is about 1e-21).
    """
    rows_read = truncated = labelled = 0
    rows, label_codes, digests = [], [], []
    codes: dict[str, int] = {}
    for chunk in chunks:
        texts, labels, cut = clean_texts(chunk, text_columns, label_column)
        truncated += cut
        has_label = labels.notna() & (labels != "")
        labelled += int(has_label.sum())
        usable = np.flatnonzero(((texts != "") & has_label).to_numpy(dtype=bool))
        rows.append(rows_read + usable)
        label_codes.append(np.array([codes.setdefault(label, len(codes)) for label in labels.iloc[usable]], np.int64))
        digest = b"".join(hashlib.blake2b(text.encode(), digest_size=16).digest() for text in texts.iloc[usable])
        digests.append(np.frombuffer(digest, dtype=np.uint64).reshape(-1, 2))
        rows_read += len(chunk)
    if rows_read == 0:
        raise DistilleryError(f"{source}: no rows below the header; add labelled rows, or point data.source elsewhere")
    if labelled == 0:
        raise DistilleryError(
            f"{source}: column '{label_column}' is empty in every row; point data.label_column at the labels"
        )
    usable_rows, usable_codes = np.concatenate(rows), np.concatenate(label_codes)
    if len(usable_rows) == 0:
        raise DistilleryError(
            f"{source}: no usable rows after dropping missing/empty text and labels; "
            f"check data.text_column {text_columns} and data.label_column '{label_column}'"
        )
    first = np.sort(np.unique(np.concatenate(digests), axis=0, return_index=True)[1])
    kept_codes = usable_codes[first]
    by_code = {code: label for label, code in codes.items()}
    names = sorted({by_code[code] for code in np.unique(kept_codes)}, key=_label_sort_key)
    if len(names) < 2:
        raise DistilleryError(
            f"{source}: column '{label_column}' has {len(names)} class(es) after cleaning; "
            "a classifier needs at least 2: check data.label_column"
        )
    class_of_code = np.full(len(codes), -1, np.int64)
    for class_id, name in enumerate(names):
        class_of_code[codes[name]] = class_id
    report = {
        "rows_read": rows_read,
        "dropped_missing_or_empty": rows_read - len(usable_rows),
        "dropped_duplicate_text": len(usable_rows) - len(first),
        "truncated_long_texts": truncated,
    }
    return Cleaned(usable_rows[first], class_of_code[kept_codes], [str(name) for name in names], report)


def texts_at(
    chunks: Iterable[pd.DataFrame], rows: np.ndarray, text_columns: list[str], label_column: str
) -> dict[int, str]:
    """The cleaned texts of the given file rows: a second pass that holds only those texts."""
    wanted = np.sort(rows)
    texts: dict[int, str] = {}
    start = 0
    for chunk in chunks:
        here = wanted[np.searchsorted(wanted, start) : np.searchsorted(wanted, start + len(chunk))]
        if len(here):
            cleaned = clean_texts(chunk.iloc[here - start], text_columns, label_column)[0]
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
