"""Stage prepare: read the source (streamed), clean it, balance classes, shuffle, split.

Writes data/prepared/{train,dev,test}.parquet (id, text, label), labels.json and stats.json.
With a list of label columns the task is multi-label: `label` is then a list of 0/1, one per column.
"""

import codecs

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import DistilleryError, run_stage
from distillery.core.files import staged_outputs, write_json, write_parquet
from distillery.core.params import fraction, load_params, param, positive
from distillery.core.task import MULTI_LABEL, SINGLE_LABEL, label_column
from distillery.corpus.dataset import (
    MAX_TEXT_CHARS,
    balance_and_split,
    clean,
    example_id,
    multi_label_split,
    positive_rates,
    read_chunks,
    texts_at,
)


def main() -> None:
    params = load_params()
    seed = int(param(params, "seed"))
    source = str(param(params, "data.source"))
    text_columns = param(params, "data.text_column")
    text_columns = [text_columns] if isinstance(text_columns, str) else list(text_columns)
    label_columns = label_column_param(params)
    max_examples = param(params, "data.max_examples")
    max_examples = None if max_examples is None else positive(params, "data.max_examples", int)
    test_fraction = fraction(params, "data.test_fraction")
    dev_fraction = fraction(params, "data.dev_fraction")
    balance = param(params, "data.balance")
    if not isinstance(balance, bool):
        raise DistilleryError(f"params.yaml: 'data.balance' must be true or false, got {balance!r}")

    print(f"prepare: reading {source}")
    encoding = str(param(params, "data.encoding"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DistilleryError(f"params.yaml: 'data.encoding' {encoding!r} is not a known text encoding") from None
    columns = text_columns + label_columns
    multi_label = len(label_columns) > 1
    # Two passes over the file, never all of it in memory: the first keeps a few numbers per row
    # (what is usable, each text's digest, each label), the second the texts of the rows kept.
    cleaned = clean(read_chunks(source, columns, encoding), text_columns, label_columns, source)
    num_classes = len(cleaned.label_names)
    if multi_label:
        indices = multi_label_split(
            cleaned.labels, max_examples, balance, test_fraction, dev_fraction, seed, cleaned.label_names
        )
    else:
        indices = balance_and_split(
            cleaned.labels, num_classes, max_examples, balance, test_fraction, dev_fraction, seed, cleaned.label_names
        )
    splits = dict(zip(("train", "dev", "test"), indices, strict=True))
    kept_rows = np.concatenate([cleaned.rows[rows] for rows in splits.values()])
    text_of_row = texts_at(read_chunks(source, columns, encoding), kept_rows, text_columns)
    report = cleaned.report | {"classes": num_classes} | {split: len(rows) for split, rows in splits.items()}
    if multi_label:
        report["positive_rate"] = positive_rates(cleaned.labels, splits, cleaned.label_names)
    kind = f"{num_classes} labels (multi-label)" if multi_label else f"{num_classes} classes"
    print(
        f"prepare: {report['rows_read']} rows read, dropped {report['dropped_missing_or_empty']} with missing "
        f"or empty text/label and {report['dropped_duplicate_text']} duplicate texts; "
        f"{kind} {cleaned.label_names}; "
        f"{report['train']} train / {report['dev']} dev / {report['test']} test"
    )
    if report["truncated_long_texts"]:
        print(f"prepare: cut {report['truncated_long_texts']} texts longer than {MAX_TEXT_CHARS:,} characters")

    with staged_outputs(paths.PREPARED) as out:
        for split, rows in splits.items():
            texts = [text_of_row[row] for row in cleaned.rows[rows].tolist()]
            table = pa.table(
                {
                    "id": pa.array([example_id(text) for text in texts], pa.string()),
                    "text": pa.array(texts, pa.string()),
                    "label": label_column(cleaned.labels[rows]),
                }
            )
            write_parquet(table, out / f"{split}.parquet")
        task = MULTI_LABEL if multi_label else SINGLE_LABEL
        labels = {"labels": cleaned.label_names, "label_column": label_columns if multi_label else label_columns[0]}
        write_json(labels | {"task": task}, out / "labels.json")
        write_json(report, out / "stats.json")


def label_column_param(params: dict) -> list[str]:
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


if __name__ == "__main__":
    run_stage(main)
