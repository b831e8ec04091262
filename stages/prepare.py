"""Stage prepare: read the source (streamed), clean it, balance classes, shuffle, split.

Writes data/prepared/{train,dev,test}.parquet (id, text, label), labels.json and stats.json.
With a list of label columns the task is multi-label: `label` is then a list of 0/1, one per column.
With data.train_labels, only that many training rows keep their label, and dev only its proportional
share of that budget; the others are written, text only, to data/prepared/unlabelled.parquet (id, text),
for the pool stage (empty otherwise). Test keeps every label.
"""

import numpy as np
import pyarrow as pa

from distillery.core import paths
from distillery.core.errors import run_stage
from distillery.core.files import staged_outputs, write_json, write_parquet
from distillery.core.params import load_params
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
from distillery.corpus.label_budget import dev_labelled_count, keep_dev_labels, keep_labels, labelled_count
from distillery.corpus.settings import DataSettings


def main() -> None:
    data = DataSettings.from_params(load_params())
    print(f"prepare: reading {data.source}")
    # Two passes over the file, never all of it in memory: the first keeps a few numbers per row
    # (what is usable, each text's digest, each label), the second the texts of the rows kept.
    chunks = read_chunks(data.source, data.columns, data.encoding)
    cleaned = clean(chunks, data.text_columns, data.label_columns, data.source)
    num_classes, names = len(cleaned.label_names), cleaned.label_names
    sizes = (data.max_examples, data.balance, data.test_fraction, data.dev_fraction, data.seed, names)
    if data.multi_label:
        indices = multi_label_split(cleaned.labels, *sizes)
    else:
        indices = balance_and_split(cleaned.labels, num_classes, *sizes)
    splits = dict(zip(("train", "dev", "test"), indices, strict=True))
    train = splits["train"]
    kept = keep_labels(cleaned.labels[train], labelled_count(data.train_labels, len(train)), data.seed, names)
    splits["train"], unlabelled = train[kept], np.delete(train, kept)
    dev_dropped = np.array([], dtype=splits["dev"].dtype)
    if data.train_labels is not None:  # dev inside the label budget: its other rows join the pool unlabelled
        dev = splits["dev"]
        dev_kept = keep_dev_labels(cleaned.labels[dev], dev_labelled_count(len(kept), data.dev_fraction), data.seed)
        splits["dev"], dev_dropped = dev[dev_kept], np.delete(dev, dev_kept)
        unlabelled = np.concatenate([unlabelled, dev_dropped])
    kept_rows = np.concatenate([cleaned.rows[rows] for rows in [*splits.values(), unlabelled]])
    text_of_row = texts_at(read_chunks(data.source, data.columns, data.encoding), kept_rows, data.text_columns)
    report = cleaned.report | {"classes": num_classes} | {split: len(rows) for split, rows in splits.items()}
    report["train_labels_dropped"] = len(unlabelled) - len(dev_dropped)
    report["dev_labels_dropped"] = len(dev_dropped)
    if data.multi_label:
        report["positive_rate"] = positive_rates(cleaned.labels, splits, names)
    kind = f"{num_classes} labels (multi-label)" if data.multi_label else f"{num_classes} classes"
    print(
        f"prepare: {report['rows_read']} rows read, dropped {report['dropped_missing_or_empty']} with missing "
        f"or empty text/label and {report['dropped_duplicate_text']} duplicate texts; {kind} {names}; "
        f"{report['train']} train / {report['dev']} dev / {report['test']} test"
    )
    if len(unlabelled):
        print(
            f"prepare: data.train_labels keeps {len(splits['train'])} training labels and {len(splits['dev'])} dev "
            f"labels (dev's share of the budget); {len(unlabelled)} rows join the pool without their labels"
        )
    if report["truncated_long_texts"]:
        print(f"prepare: cut {report['truncated_long_texts']} texts longer than {MAX_TEXT_CHARS:,} characters")

    with staged_outputs(paths.PREPARED) as out:
        for split, rows in [*splits.items(), ("unlabelled", unlabelled)]:
            texts = [text_of_row[row] for row in cleaned.rows[rows].tolist()]
            ids = pa.array([example_id(text) for text in texts], pa.string())
            table = {"id": ids, "text": pa.array(texts, pa.string())}
            if split != "unlabelled":
                table["label"] = label_column(cleaned.labels[rows])
            write_parquet(pa.table(table), out / f"{split}.parquet")
        label_columns = data.label_columns if data.multi_label else data.label_columns[0]
        task = MULTI_LABEL if data.multi_label else SINGLE_LABEL
        write_json({"labels": names, "label_column": label_columns, "task": task}, out / "labels.json")
        write_json(report, out / "stats.json")


if __name__ == "__main__":
    run_stage(main)
