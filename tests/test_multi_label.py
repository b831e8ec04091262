"""Multi-label data end to end: a tiny Jigsaw-schema CSV (six 0/1 label columns) through `dvc repro`,
the binary distillation loss, and the errors a bad label column gets."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from conftest import NEUTRAL, fails_cleanly, make_project, ran_stages, run, update_params
from distillery.evaluation.thresholds import MIN_POSITIVES, dev_thresholds
from distillery.export.predict import Classifier
from distillery.report.render import FIGURE_KEYS

JIGSAW_LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
# The word that carries each label in the tiny comments (all in the tiny teacher's vocabulary).
CUES = {"toxic": "bad", "severe_toxic": "terrible", "obscene": "awful", "threat": "hate", "insult": "dull"}
CUES["identity_hate"] = "weak"
RATES = {"toxic": 0.3, "severe_toxic": 0.12, "obscene": 0.2, "threat": 0.1, "insult": 0.2, "identity_hate": 0.1}


def tiny_comments(n: int = 300, seed: int = 0, missing: int = 4) -> pd.DataFrame:
    """Jigsaw's train.csv schema: id, comment_text and six 0/1 columns; `missing` rows lack a label value."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        labels = {name: int(rng.random() < rate) for name, rate in RATES.items()}
        labels["toxic"] |= labels["severe_toxic"]  # as in Jigsaw, severe implies toxic
        words = rng.choices(NEUTRAL, k=rng.randint(4, 9))
        for name, on in labels.items():
            if on:
                words.insert(rng.randrange(len(words) + 1), CUES[name])
        rows.append({"id": f"{i:08x}", "comment_text": " ".join(words) + f" {i}"} | labels)
    frame = pd.DataFrame(rows)
    for i in range(missing):
        frame.loc[i * 7, JIGSAW_LABELS[i % 6]] = None
    return frame


JIGSAW_PARAMS = {"data": {"text_column": "comment_text", "label_column": JIGSAW_LABELS, "balance": False}}
ONE_ENCODER_SEED = {"transformer": {"n_seeds": 1}, "bilstm": {"n_seeds": 1}}  # the suite's time; the bag keeps two


@pytest.fixture(scope="session")
def toxic(tmp_path_factory: pytest.TempPathFactory, tiny_teacher: Path) -> tuple[Path, str]:
    project = make_project(tmp_path_factory.mktemp("toxic") / "project", tiny_teacher, tiny_comments())
    tiny_comments(80, seed=5).to_csv(project / "data/raw/unlabelled.csv", index=False)  # its labels are not read
    pool = {"data": JIGSAW_PARAMS["data"] | {"unlabelled": "data/raw/unlabelled.csv"}}
    update_params(project, pool | ONE_ENCODER_SEED)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "multi-label"], project)
    return project, run(["dvc", "repro"], project).stdout


def test_multi_label_data_runs_end_to_end(toxic: tuple[Path, str]) -> None:
    project, _ = toxic
    info = json.loads((project / "data/prepared/labels.json").read_text())
    assert info == {"labels": JIGSAW_LABELS, "label_column": JIGSAW_LABELS, "task": "multi_label"}
    stats = json.loads((project / "data/prepared/stats.json").read_text())
    assert stats["dropped_missing_label"] == 4 and stats["train"] + stats["dev"] + stats["test"] == 296

    splits = {s: pq.read_table(project / f"data/prepared/{s}.parquet") for s in ("train", "dev", "test")}
    labels = {s: np.array(t["label"].to_pylist()) for s, t in splits.items()}
    assert all(matrix.shape[1] == 6 and set(np.unique(matrix)) == {0, 1} for matrix in labels.values())
    overall = np.concatenate(list(labels.values())).mean(axis=0)
    for split, matrix in labels.items():  # the stated tolerance: one row's worth of that split
        assert np.all(np.abs(matrix.mean(axis=0) - overall) <= 1 / len(matrix)), split

    config = json.loads((project / "data/teacher/config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == JIGSAW_LABELS
    logits = pq.read_table(project / "data/logits/test.parquet")
    assert logits.column_names == ["id", *(f"logit_{c}" for c in range(6)), "teacher_pred"]
    scores = np.stack([logits[f"logit_{c}"].to_numpy() for c in range(6)], axis=1)
    assert np.array(logits["teacher_pred"].to_pylist()).tolist() == (scores > 0).astype(int).tolist()

    pool, pool_logits = (pq.read_table(project / f"data/{name}/pool.parquet") for name in ("pool", "logits"))
    assert pool.num_rows > 60 and pool_logits["id"] == pool["id"]
    assert {len(labels) for labels in pool_logits["teacher_pred"].to_pylist()} == {6}
    for arch in ("bag", "transformer", "bilstm"):
        student = json.loads((project / f"data/{arch}/student/metrics.json").read_text())
        assert student["teacher_labelled_examples"]["pool"] == pool.num_rows  # pool: 1.0, the default

    metrics = json.loads((project / "data/compare/metrics.json").read_text())
    models = ["teacher", "bag_student", "bag_twin", "transformer_student", "transformer_twin"]
    models += ["bilstm_student", "bilstm_twin", "fasttext", "fasttext_tuned", "sklearn"]
    for name in models:
        figures = metrics[name]["multi_label"]
        assert set(figures) == {*FIGURE_KEYS, "f1_per_label"}, name
        assert sorted(figures["f1_per_label"]) == sorted(JIGSAW_LABELS)
        assert 0 <= figures["macro_f1"] <= 1 and 0 < figures["bce"] and 0 <= figures["macro_auc"] <= 1
        assert figures["exact_match"] == pytest.approx(metrics[name]["accuracy"], abs=1e-5)
    truth = labels["test"]
    p = np.clip(1 / (1 + np.exp(-scores)), 1e-7, 1 - 1e-7)  # clipped as scikit-learn's log_loss
    bce = -np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p))
    # compare scores the teacher again (torch fp32, its own batches): about 2e-4 of the BCE apart here
    assert metrics["teacher"]["multi_label"]["bce"] == pytest.approx(bce, rel=1e-3)
    for student in ("bag_student", "transformer_student", "bilstm_student"):
        low, high = metrics[f"{student}_vs_twin"]["macro_f1_delta_ci95"]
        assert low <= metrics[f"{student}_vs_twin"]["macro_f1_delta"] + 1e-9 and low <= high
    summary = json.loads((project / "data/compare/summary.json").read_text())
    expected = {"f1_teacher", "bce_teacher", "f1_bag_student", "f1_transformer_student", "f1_bilstm_student"}
    assert expected | {"f1_sklearn", "bce_bag_twin"} <= set(summary)
    report = (project / "data/compare/report.md").read_text()
    assert "## Multi-label figures" in report and "| model | " + " | ".join(JIGSAW_LABELS) + " |" in report


@pytest.mark.parametrize("arch", ["bag", "bilstm", "transformer"])
def test_every_exported_multi_label_student_returns_every_label_above_its_dev_threshold(
    toxic: tuple[Path, str], arch: str
) -> None:
    project, _ = toxic
    folder = project / f"data/export/{arch}"
    config = json.loads((folder / "config.json").read_text())["distillery"]
    thresholds = config["thresholds"]
    assert sorted(thresholds) == sorted(JIGSAW_LABELS) and config["compression"]["metric"] == "macro_f1"  # int8 gate

    # Chosen on the shipped file's dev probabilities, and on nothing else: recomputed here from dev alone.
    dev = pq.read_table(project / "data/prepared/dev.parquet")
    shipped = Classifier(folder)
    chosen = dev_thresholds(shipped.probabilities(dev["text"].to_pylist()), np.array(dev["label"].to_pylist()))
    assert [thresholds[name] for name in JIGSAW_LABELS] == pytest.approx(chosen.tolist())
    positives = np.array(dev["label"].to_pylist()).sum(axis=0)
    rare = [name for name, count in zip(JIGSAW_LABELS, positives, strict=True) if count < MIN_POSITIVES]
    assert rare and all(thresholds[name] == 0.5 for name in rare)  # too few dev texts to set one: kept at 0.5
    assert any(value != 0.5 for value in thresholds.values())

    texts = ["the film was bad and terrible", "a plot", *dev["text"].to_pylist()[:30]]
    result = run(["python", f"data/export/{arch}/predict.py", f"data/export/{arch}", *texts], project)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    unrounded = shipped.probabilities(texts)  # predict.py prints 6 decimals
    assert len(rows) == len(texts)
    for row, probabilities in zip(rows, unrounded, strict=True):
        assert list(row["probabilities"]) == JIGSAW_LABELS and "label" not in row
        assert list(row["probabilities"].values()) == pytest.approx(probabilities.tolist(), abs=1e-6)
        above = [name for name, p in zip(JIGSAW_LABELS, probabilities, strict=True) if p > thresholds[name]]
        assert row["labels"] == above


def test_a_second_repro_of_multi_label_data_runs_nothing(toxic: tuple[Path, str]) -> None:
    project, _ = toxic
    assert ran_stages(run(["dvc", "repro"], project).stdout) == []


def test_binary_distillation_loss_known_values_and_gradient() -> None:
    from distillery.training.losses import Loss, distillation_loss

    zeros, labels = torch.zeros((1, 2)), torch.tensor([[1, 0]])
    # sigmoid(0) = 1/2 against 1/2: each label's BCE is log 2; T^2 = 4, summed over the two labels.
    assert distillation_loss(Loss("kl", 2.0), zeros, zeros, labels).item() == pytest.approx(8 * np.log(2))
    assert distillation_loss(Loss("ce"), zeros, zeros, labels).item() == pytest.approx(2 * np.log(2))
    known = torch.tensor([[2.0, -1.0]])  # BCE(sigmoid(2); 1) + BCE(sigmoid(-1); 0) = log(1 + e^-2) + log(1 + e^-1)
    expected = np.log1p(np.exp(-2.0)) + np.log1p(np.exp(-1.0))
    assert distillation_loss(Loss("ce"), known, zeros, labels).item() == pytest.approx(expected, rel=1e-6)

    generator = torch.Generator().manual_seed(0)
    student = torch.randn((5, 3), generator=generator, requires_grad=True)
    teacher = torch.randn((5, 3), generator=generator) * 3
    truth = torch.randint(0, 2, (5, 3), generator=generator)
    truth[0] = -1  # a transfer-set row: no hard label
    T, alpha = 3.0, 0.4
    distillation_loss(Loss("kl", T, alpha), student, teacher, truth).backward()
    soft = T * (torch.sigmoid(student / T) - torch.sigmoid(teacher / T)) / 5
    hard = torch.where(truth[:, :1] >= 0, torch.sigmoid(student) - truth.float(), 0.0) / 4
    torch.testing.assert_close(student.grad, (1 - alpha) * soft + alpha * hard.detach())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"label_column": ["toxic"]}, ["'data.label_column'", "list of 1 column", "two or more"]),
        ({"label_column": ["toxic", "insult", "toxic"]}, ["'data.label_column'", "twice"]),
    ],
)
def test_bad_label_column_params_fail_cleanly(
    tmp_path: Path, tiny_teacher: Path, change: dict, expected: list[str]
) -> None:
    project = make_project(tmp_path / "project", tiny_teacher, tiny_comments(60))
    update_params(project, {"data": JIGSAW_PARAMS["data"] | change})
    fails_cleanly(project, "prepare.py", *expected)


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        ("threat", {5: "2"}, ["label column 'threat'", "'2'", "0/1 or true/false"]),
        ("insult", {5: "maybe"}, ["label column 'insult'", "'maybe'"]),
        ("identity_hate", "zeros", ["label column 'identity_hate'", "0 in every usable row", "drop it"]),
    ],
)
def test_bad_label_columns_fail_cleanly(
    tmp_path: Path, tiny_teacher: Path, column: str, values: dict | str, expected: list[str]
) -> None:
    data = tiny_comments(60)
    if values == "zeros":
        data[column] = 0
    else:
        data[column] = data[column].astype("object")
        for row, value in values.items():
            data.loc[row, column] = value
    project = make_project(tmp_path / "project", tiny_teacher, data)
    update_params(project, JIGSAW_PARAMS)
    fails_cleanly(project, "prepare.py", *expected)


def test_true_false_labels_and_the_balance_rule(tmp_path: Path, tiny_teacher: Path) -> None:
    """true/false columns read as 1/0; balance keeps every row with a positive label and as many without."""
    data = tiny_comments(200, missing=0)
    positive_rows = int(data[JIGSAW_LABELS].any(axis=1).sum())
    threats = int(data["threat"].sum())
    data["threat"] = data["threat"].map({1: "True", 0: "false"})
    project = make_project(tmp_path / "project", tiny_teacher, data)
    update_params(project, {"data": JIGSAW_PARAMS["data"] | {"balance": True}})
    run(["python", "stages/prepare.py"], project)
    tables = [pq.read_table(project / f"data/prepared/{split}.parquet") for split in ("train", "dev", "test")]
    kept = np.concatenate([np.array(table["label"].to_pylist()) for table in tables])
    assert (kept.sum(axis=1) > 0).sum() == positive_rows
    assert (kept.sum(axis=1) == 0).sum() == min(positive_rows, 200 - positive_rows)
    assert kept[:, JIGSAW_LABELS.index("threat")].sum() == threats
