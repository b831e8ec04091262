"""Bad input: one clear line naming the file, column or param, a non-zero exit, no partial output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import fails_cleanly, run, tiny_reviews, update_params


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"source": "data/raw/missing.csv"}, ["data.source", "data/raw/missing.csv", "not found"]),
        ({"source": "data/raw/reviews.xlsx"}, ["data.source", "unknown format", ".parquet"]),
        ({"text_column": "body"}, ["data/raw/reviews.csv", "'body'", "data.text_column"]),
        ({"label_column": "stars"}, ["'stars'", "data.label_column"]),
        ({"test_fraction": 1.5}, ["data.test_fraction", "(0, 1)"]),
        ({"test_fraction": 0}, ["data.test_fraction"]),
        ({"balance": "yes"}, ["data.balance"]),
        ({"dev_fraction": 0}, ["data.dev_fraction", "(0, 1)"]),
    ],
)
def test_prepare_rejects_bad_data_params(project: Path, changes: dict, expected: list[str]) -> None:
    (project / "data/raw/reviews.xlsx").write_bytes(b"not a table")
    update_params(project, {"data": changes})
    fails_cleanly(project, "prepare.py", *expected)


def test_prepare_rejects_a_single_class(project: Path) -> None:
    tiny_reviews().assign(sentiment="pos").to_csv(project / "data/raw/reviews.csv", index=False)
    fails_cleanly(project, "prepare.py", "data/raw/reviews.csv", "1 class", "at least 2")


def test_prepare_rejects_a_dataset_with_no_usable_rows(project: Path) -> None:
    pd.DataFrame({"review": ["", "  ", None], "sentiment": ["pos", "neg", "pos"]}).to_csv(
        project / "data/raw/reviews.csv", index=False
    )
    fails_cleanly(project, "prepare.py", "no usable rows", "data.text_column")


def test_prepare_rejects_an_unreadable_file(project: Path) -> None:
    (project / "data/raw/broken.parquet").write_bytes(b"PAR1 this is not parquet")
    update_params(project, {"data": {"source": "data/raw/broken.parquet"}})
    fails_cleanly(project, "prepare.py", "data/raw/broken.parquet", "could not be read")


def test_a_teacher_path_that_does_not_exist(project: Path) -> None:
    update_params(project, {"teacher": {"model": "./models/no-such-teacher"}})
    fails_cleanly(project, "tokenize_texts.py", "teacher.model", "./models/no-such-teacher", "save_pretrained")


@pytest.mark.parametrize(
    ("script", "changes", "expected"),
    [
        ("distil_bag.py", {"lr": 0}, ["'lr'", "> 0"]),
        ("twin_bag.py", {"lr": -0.5}, ["'lr'", "> 0"]),
        ("distil_bag.py", {"bag": {"loss": "cosine"}}, ["bag.loss", "mse", "kl"]),
        ("distil_bag.py", {"bag": {"alpha": 2}}, ["bag.alpha", "[0, 1]"]),
        ("distil_bag.py", {"bag": {"batch_size": 1.5}}, ["bag.batch_size", "whole number"]),
        ("twin_bag.py", {"bag": {"recipe": "fast"}}, ["bag.recipe", "seed000"]),
        ("distil.py teacher", {}, ["ARCH", "transformer", "bilstm"]),
        ("tune_sklearn.py", {"baselines": {"sklearn_grid": {"C": [1.0]}}}, ["baselines.sklearn_grid", "features"]),
        ("tune_sklearn.py", {"baselines": {"sklearn_grid": {"features": ["svm"], "ngrams": 2, "C": 1}}}, ["svm"]),
        (
            "tune_fasttext.py",
            {"baselines": {"fasttext_grid": {"lr": [], "epochs": 5, "word_ngrams": 1, "dim": 8}}},
            ["baselines.fasttext_grid.lr", "empty"],
        ),
        (
            "tune_setfit.py",
            {"baselines": {"setfit_grid": {"max_steps": [0], "body_learning_rate": 1e-5, "batch_size": 8}}},
            ["baselines.setfit_grid.max_steps", "whole numbers"],
        ),
        ("tune_setfit.py", {"baselines": {"setfit_max_labels": "many"}}, ["baselines.setfit_max_labels", "null"]),
        ("train_teacher.py", {"teacher": {"lr": -1}}, ["teacher.lr", "> 0"]),
        ("train_teacher.py", {"teacher": {"device": "tpu"}}, ["teacher.device"]),
        ("tokenize_texts.py", {"teacher": {"max_length": 0}}, ["teacher.max_length"]),
    ],
)
def test_invalid_params_are_named(project: Path, script: str, changes: dict, expected: list[str]) -> None:
    update_params(project, changes)
    fails_cleanly(project, script, *expected)


def test_dvc_repro_stops_at_the_failing_stage(project: Path) -> None:
    update_params(project, {"data": {"source": "data/raw/missing.csv"}})
    result = run(["dvc", "repro"], project, check=False)
    assert result.returncode != 0
    # data.source is prepare's dependency, so DVC itself names the missing file before the stage runs.
    assert "failed to reproduce 'prepare'" in result.stderr and "data/raw/missing.csv" in result.stderr
    assert not (project / "data/prepared").exists()


def test_exponent_numbers_without_a_dot_are_numbers() -> None:
    """PyYAML reads `lr: 1e-5` (and what `dvc exp run -S lr=1e-5` writes) as a string; it is still a number."""
    import yaml

    from distillery.core.errors import DistilleryError
    from distillery.core.params import fraction, positive

    params = yaml.safe_load("lr: 1e-5\nalpha: 5e-1\nbad: 1e-5x\n")
    assert params["lr"] == "1e-5"
    assert positive(params, "lr") == 1e-5 and fraction(params, "alpha") == 0.5
    with pytest.raises(DistilleryError, match="'bad' must be a number"):
        positive(params, "bad")
