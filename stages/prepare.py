"""Stage prepare: read the source (streamed), clean it, balance classes, shuffle, split.

Writes data/prepared/{train,dev,test}.parquet (id, text, label), labels.json and stats.json.
"""

import codecs

import numpy as np
import pyarrow as pa

from common import (
    DistilleryError,
    fraction,
    load_params,
    param,
    positive,
    run_stage,
    staged_outputs,
    write_json,
    write_parquet,
)
from dataset import MAX_TEXT_CHARS, balance_and_split, clean, example_id, read_chunks, texts_at

OUT = "data/prepared"


def main() -> None:
    params = load_params()
    seed = int(param(params, "seed"))
    source = str(param(params, "data.source"))
    text_columns = param(params, "data.text_column")
    text_columns = [text_columns] if isinstance(text_columns, str) else list(text_columns)
    label_column = str(param(params, "data.label_column"))
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
    columns = text_columns + [label_column]
    # Two passes over the file, never all of it in memory: the first keeps a few numbers per row
    # (what is usable, each text's digest, each label), the second the texts of the rows kept.
    cleaned = clean(read_chunks(source, columns, encoding), text_columns, label_column, source)
    num_classes = len(cleaned.label_names)
    indices = balance_and_split(
        cleaned.labels, num_classes, max_examples, balance, test_fraction, dev_fraction, seed, cleaned.label_names
    )
    splits = dict(zip(("train", "dev", "test"), indices, strict=True))
    kept_rows = np.concatenate([cleaned.rows[rows] for rows in splits.values()])
    text_of_row = texts_at(read_chunks(source, columns, encoding), kept_rows, text_columns, label_column)
    report = cleaned.report | {"classes": num_classes} | {split: len(rows) for split, rows in splits.items()}
    print(
        f"prepare: {report['rows_read']} rows read, dropped {report['dropped_missing_or_empty']} with missing "
        f"or empty text/label and {report['dropped_duplicate_text']} duplicate texts; "
        f"{num_classes} classes {cleaned.label_names}; "
        f"{report['train']} train / {report['dev']} dev / {report['test']} test"
    )
    if report["truncated_long_texts"]:
        print(f"prepare: cut {report['truncated_long_texts']} texts longer than {MAX_TEXT_CHARS:,} characters")

    with staged_outputs(OUT) as out:
        for split, rows in splits.items():
            texts = [text_of_row[row] for row in cleaned.rows[rows].tolist()]
            table = pa.table(
                {
                    "id": pa.array([example_id(text) for text in texts], pa.string()),
                    "text": pa.array(texts, pa.string()),
                    "label": pa.array(cleaned.labels[rows], pa.int64()),
                }
            )
            write_parquet(table, out / f"{split}.parquet")
        write_json({"labels": cleaned.label_names, "label_column": label_column}, out / "labels.json")
        write_json(report, out / "stats.json")


if __name__ == "__main__":
    run_stage(main)
