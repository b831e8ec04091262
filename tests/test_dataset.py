"""prepare's core: reading every supported format, cleaning, label mapping, balancing, splitting."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run
from distillery.core.errors import DistilleryError
from distillery.corpus.dataset import balance_and_split, clean, example_id, read_chunks, texts_at


def test_example_data_is_binary_fresh_and_rotten(tmp_path: Path) -> None:
    run([sys.executable, str(ROOT / "stages/example_data.py")], tmp_path)
    frame = pd.concat(read_chunks(str(tmp_path / "data/example/rotten_tomatoes.parquet"), ["category", "text"]))
    assert set(frame["category"]) == {"fresh", "rotten"}
    assert (frame["category"] == "fresh").sum() == 7403
    assert (frame["category"] == "rotten").sum() == 5405


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".tsv.gz", ".parquet", ".jsonl"])
def test_every_format_reads_the_same_rows(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"body": ['says "hi"', "b", "c"], "stars": [1, 2, 3], "extra": ["x", "y", "z"]})
    path = tmp_path / f"reviews{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(row) for row in frame.to_dict("records")) + "\n")
    elif ".tsv" in suffix:  # review TSVs (Amazon's) hold bare, unescaped quotes
        frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    else:
        frame.to_csv(path, index=False)
    loaded = pd.concat(read_chunks(str(path), ["body", "stars"], chunk_rows=2))
    assert loaded["body"].tolist() == ['says "hi"', "b", "c"]
    assert loaded["stars"].tolist() == ["1", "2", "3"]


def test_clean_joins_columns_drops_missing_and_duplicates_and_maps_labels() -> None:
    frame = pd.DataFrame(
        {
            "headline": ["Great", None, "Bad", "Great", "Meh", "x"],
            "body": ["film", "only body", "film", "film", "  ", "y"],
            "stars": ["5", "1", "1", "5", "3", None],
        }
    ).astype("string")
    cleaned = clean([frame], ["headline", "body"], ["stars"], "f.tsv")
    texts = texts_at([frame], cleaned.rows, ["headline", "body"])
    assert [texts[row] for row in cleaned.rows] == ["Great film", "only body", "Bad film", "Meh"]
    assert cleaned.label_names == ["1", "3", "5"]
    assert cleaned.labels.tolist() == [2, 0, 0, 1]
    assert cleaned.report == {
        "rows_read": 6,
        "dropped_missing_or_empty": 1,
        "dropped_missing_label": 1,
        "dropped_duplicate_text": 1,
        "truncated_long_texts": 0,
    }


def test_reading_in_chunks_keeps_what_reading_at_once_keeps(tmp_path: Path) -> None:
    """prepare streams the file; chunk borders must not change which rows, labels and texts it keeps."""
    rng = np.random.default_rng(0)
    words = ["good", "bad", "film", "plot", '"quoted"', "x" * 120_000]  # duplicates, and texts past the cap
    frame = pd.DataFrame(
        {
            "headline": rng.choice(["Great", "", "Meh"], 500),
            "body": [" ".join(rng.choice(words, rng.integers(0, 4))) for _ in range(500)],
            "stars": rng.choice(["1", "2", "10", "", " 2 "], 500),
        }
    )
    path = tmp_path / "reviews.tsv.gz"
    frame.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    columns, text_columns = ["headline", "body", "stars"], ["headline", "body"]

    def cleaned(chunk_rows: int) -> tuple:
        kept = clean(read_chunks(str(path), columns, chunk_rows=chunk_rows), text_columns, ["stars"], "f")
        texts = texts_at(read_chunks(str(path), columns, chunk_rows=chunk_rows), kept.rows, text_columns)
        return kept.rows.tolist(), kept.labels.tolist(), kept.label_names, kept.report, texts

    at_once = cleaned(10_000)
    assert at_once[3]["dropped_duplicate_text"] > 100 and at_once[3]["truncated_long_texts"] > 10
    assert at_once[2] == ["1", "2", "10"]
    for chunk_rows in (1, 7, 64):
        assert cleaned(chunk_rows) == at_once


def test_numeric_labels_sort_by_value_not_as_text() -> None:
    frame = pd.DataFrame({"t": [f"text {i}" for i in range(4)], "y": ["10", "2", "1", "2"]}).astype("string")
    assert clean([frame], ["t"], ["y"], "f").label_names == ["1", "2", "10"]


def test_balance_follows_seed_000_rule_and_splits_are_stratified() -> None:
    labels = np.array([0] * 100 + [1] * 40 + [2] * 70)
    train, dev, test = balance_and_split(
        labels, 3, max_examples=90, balance=True, test_fraction=0.2, dev_fraction=0.25, seed=1
    )
    for c in range(3):  # min(90 // 3, 40) = 30 per class: 6 to test, a quarter of the other 24 to dev
        assert np.sum(labels[test] == c) == 6 and np.sum(labels[dev] == c) == 6 and np.sum(labels[train] == c) == 18


def test_train_dev_and_test_never_share_a_row() -> None:
    labels = np.array([0] * 500 + [1] * 300)
    train, dev, test = balance_and_split(labels, 2, None, False, 0.2, 0.1, seed=5)
    assert len(train) + len(dev) + len(test) == 800
    assert len(set(train) | set(dev) | set(test)) == 800
    assert (len(test), len(dev)) == (160, 64)
    for rows in (train, dev, test):  # stratified: each split keeps the 5:3 class ratio
        assert abs(np.mean(labels[rows] == 0) - 0.625) < 0.01


def test_without_balance_max_examples_caps_the_total() -> None:
    labels = np.array([0] * 100 + [1] * 40)
    splits = balance_and_split(labels, 2, max_examples=50, balance=False, test_fraction=0.2, dev_fraction=0.1, seed=0)
    assert sum(len(rows) for rows in splits) == 50


def test_split_is_deterministic_for_a_seed_and_changes_with_it() -> None:
    labels = np.array([0, 1] * 50)
    first = balance_and_split(labels, 2, None, True, 0.2, 0.1, seed=3)
    again = balance_and_split(labels, 2, None, True, 0.2, 0.1, seed=3)
    other = balance_and_split(labels, 2, None, True, 0.2, 0.1, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_too_few_examples_to_split_is_an_error() -> None:
    with pytest.raises(DistilleryError, match="data.dev_fraction"):
        balance_and_split(np.array([0, 1, 0, 1]), 2, None, True, 0.5, 0.1, seed=0)


def test_example_ids_depend_on_content_only() -> None:
    assert example_id("a review") == example_id("a review") != example_id("another review")
    assert len(example_id("x")) == 16
