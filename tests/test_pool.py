"""Few labels and an unlabelled pool: data.train_labels, data.unlabelled, the pool and pool_logits stages,
and the students that learn from the pool through the teacher."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import fails_cleanly, project_env, ran_stages, run, tiny_reviews, update_params
from distillery.core.errors import DistilleryError
from distillery.corpus.label_budget import dev_labelled_count, keep_dev_labels, keep_labels, labelled_count
from distillery.corpus.pool import build_pool
from distillery.corpus.settings import PoolSettings
from distillery.project import stage_outputs

LABELLED = 40  # of the tiny project's 172 training rows
POOL_FILE = "data/raw/unlabelled.csv"


def test_keep_labels_is_stratified_seeded_and_in_row_order() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    kept = keep_labels(labels, 20, seed=3, label_names=["a", "b", "c"])
    assert len(kept) == 20 and np.all(np.diff(kept) > 0)
    assert np.bincount(labels[kept]).tolist() == [12, 6, 2]
    assert kept.tolist() == keep_labels(labels, 20, seed=3, label_names=["a", "b", "c"]).tolist()
    assert kept.tolist() != keep_labels(labels, 20, seed=4, label_names=["a", "b", "c"]).tolist()
    assert np.bincount(labels[keep_labels(labels, 3, 0, ["a", "b", "c"])]).tolist() == [1, 1, 1]  # one of each
    assert labelled_count(None, 100) == 100 and labelled_count(0.25, 100) == 25 and labelled_count(7, 100) == 7
    with pytest.raises(DistilleryError, match="fewer than the 3 classes"):
        keep_labels(labels, 2, 0, ["a", "b", "c"])
    with pytest.raises(DistilleryError, match="training split has 100 rows"):
        labelled_count(500, 100)


def test_keep_labels_multi_label_keeps_a_positive_of_every_label() -> None:
    labels = np.zeros((50, 3), dtype=np.int64)
    labels[:, 0], labels[0, 1], labels[[7, 30], 2] = 1, 1, 1  # label y has one positive (row 0), z two
    for seed in range(10):
        kept = keep_labels(labels, 10, seed, ["x", "y", "z"])
        assert len(kept) == 10 and 0 in kept and {7, 30} & set(kept.tolist()) and np.all(np.diff(kept) > 0)
    assert keep_labels(labels, 10, 3, ["x", "y", "z"]).tolist() == keep_labels(labels, 10, 3, ["x", "y", "z"]).tolist()
    with pytest.raises(DistilleryError, match="too few to keep a positive example of every one of the 3 labels"):
        keep_labels(labels, 1, 0, ["x", "y", "z"])
    labels[:, 2] = 0
    with pytest.raises(DistilleryError, match="keeps no positive example of label 'z'"):
        keep_labels(labels, 10, 0, ["x", "y", "z"])


def test_dev_keeps_its_share_of_the_label_budget() -> None:
    assert dev_labelled_count(500, 0.1) == 56 and dev_labelled_count(40, 0.1) == 4 and dev_labelled_count(3, 0.1) == 1
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    kept = keep_dev_labels(labels, 10, seed=3)
    assert np.bincount(labels[kept]).tolist() == [6, 3, 1] and np.all(np.diff(kept) > 0)
    assert kept.tolist() == keep_dev_labels(labels, 10, seed=3).tolist()
    assert kept.tolist() != keep_labels(labels, 10, seed=3, label_names=["a", "b", "c"]).tolist()  # its own stream
    assert np.bincount(labels[keep_dev_labels(labels, 1, seed=0)]).tolist() == [1, 1, 1]  # raised to every class
    multi = np.zeros((40, 4), dtype=np.int64)
    multi[:, 0], multi[5, 1], multi[9, 2], multi[9, 3] = 1, 1, 1, 1
    rows = keep_dev_labels(multi, 1, seed=1)
    assert rows.tolist() == [5, 9]  # raised from 1 row to the 2 that hold a positive of every label
    assert (multi[rows].sum(axis=0) > 0).all()


def pool_settings(source: Path, max_texts: int | None = None) -> PoolSettings:
    return PoolSettings(source=str(source), text_columns=["text"], encoding="utf-8", max_texts=max_texts, seed=0)


def test_the_pool_drops_empty_repeated_and_labelled_texts_and_reads_no_label(tmp_path: Path) -> None:
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    (folder / "README.md").write_text("not data")
    pd.DataFrame({"text": [" new one ", "a test text", "", "new one", "new two"], "label": ["x"] * 5}).to_csv(
        folder / "a.csv", index=False
    )
    pd.DataFrame({"text": ["new three", "new two"]}).to_parquet(folder / "b.parquet")
    pool = build_pool(pool_settings(folder), labelled_texts=["a test text"], moved_texts=["moved"])
    assert pool.texts == ["moved", "new one", "new two", "new three"]
    assert pool.report["dropped_empty"] == 1 and pool.report["dropped_texts_of_train_dev_test"] == 1
    assert pool.report["dropped_repeats"] == 2 and pool.report["files"] == [
        str(folder / "a.csv"),
        str(folder / "b.parquet"),
    ]
    capped = build_pool(pool_settings(folder, max_texts=2), ["a test text"], ["moved"])
    assert len(capped.texts) == 2 and set(capped.texts) <= set(pool.texts)
    assert capped.texts == build_pool(pool_settings(folder, max_texts=2), ["a test text"], ["moved"]).texts


@pytest.fixture(scope="module")
def few_labels(tmp_path_factory: pytest.TempPathFactory, reproduced: tuple[Path, str]) -> tuple[Path, str]:
    """The tiny project with 40 training labels, an unlabelled file beside them (its label column all wrong, one
    test text planted in it), chunks of 16 texts, and the bag trying the pool at 0 and 1: `dvc repro`'s output."""
    project = Path(shutil.copytree(reproduced[0], tmp_path_factory.mktemp("few-labels") / "project", symlinks=True))
    pool = tiny_reviews(60, seed=11)
    test_text = pq.read_table(project / "data/prepared/test.parquet")["text"][0].as_py()
    pool = pd.concat([pool, pd.DataFrame({"review": [test_text], "sentiment": ["pos"]})], ignore_index=True)
    pool["sentiment"] = "wrong"
    pool.to_csv(project / POOL_FILE, index=False)
    update_params(
        project,
        {
            "data": {"train_labels": LABELLED, "unlabelled": POOL_FILE},
            "teacher": {"label_chunk": 16, "min_steps": 30},  # 40 labels, batch 16: 3 steps an epoch
            "bag": {"pool": [0.0, 1.0]},
        },
    )
    output = run(["dvc", "repro"], project).stdout
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "few labels"], project)
    return project, output


def table(project: Path, path: str) -> pd.DataFrame:
    return pq.read_table(project / path).to_pandas()


def metrics(project: Path, arch: str, role: str) -> dict:
    return json.loads((project / f"data/{arch}/{role}/metrics.json").read_text())


def test_few_labels_keep_n_stratified_labels_and_the_rest_join_the_pool(
    few_labels: tuple[Path, str], reproduced: tuple[Path, str]
) -> None:
    project, _ = few_labels
    train, moved = table(project, "data/prepared/train.parquet"), table(project, "data/prepared/unlabelled.parquet")
    assert len(train) == LABELLED and train["label"].value_counts().tolist() == [LABELLED // 2] * 2
    # dev keeps its share of the budget (40 x 0.1 / 0.9: 4 rows, both classes); its other rows lose their labels
    dev, every_dev = table(project, "data/prepared/dev.parquet"), table(reproduced[0], "data/prepared/dev.parquet")
    assert len(dev) == 4 and dev["label"].value_counts().tolist() == [2, 2] and set(dev["id"]) < set(every_dev["id"])
    every_train = table(reproduced[0], "data/prepared/train.parquet")
    unlabelled = set(every_train["text"]) | set(every_dev["text"])
    assert list(moved.columns) == ["id", "text"] and set(moved["text"]) == unlabelled - set(train["text"]) - set(
        dev["text"]
    )
    assert len(moved) == 172 - LABELLED + len(every_dev) - 4
    stats = json.loads((project / "data/prepared/stats.json").read_text())
    assert stats["train_labels_dropped"] == 172 - LABELLED and stats["dev_labels_dropped"] == len(every_dev) - 4
    assert table(project, "data/prepared/test.parquet").equals(table(reproduced[0], "data/prepared/test.parquet"))
    full = json.loads((reproduced[0] / "data/prepared/stats.json").read_text())  # train_labels null: nothing moves
    assert full["train_labels_dropped"] == full["dev_labels_dropped"] == 0
    assert len(table(reproduced[0], "data/prepared/unlabelled.parquet")) == 0
    assert len(table(project, "data/tokenized/train.parquet")) == LABELLED  # the teacher sees only these
    training = json.loads((project / "data/teacher/training.json").read_text())
    assert training["epochs_trained"] == 10  # teacher.min_steps 30 raised its 4 epochs; patience counted after them
    pool = table(project, "data/pool/pool.parquet")
    assert list(pool.columns) == ["id", "text", "input_ids", "full_ids"]
    assert pool["text"].iloc[: len(moved)].tolist() == moved["text"].tolist()
    test_texts = set(table(project, "data/prepared/test.parquet")["text"])
    assert not test_texts & set(pool["text"]) and pool["text"].is_unique
    stats = json.loads((project / "data/pool/stats.json").read_text())
    assert stats["dropped_texts_of_train_dev_test"] >= 1 and stats["texts"] == len(pool)
    logits = table(project, "data/logits/pool.parquet")
    assert logits["id"].tolist() == pool["id"].tolist() and logits["logit_0"].dtype == np.float32


def test_students_learn_from_the_pool_and_choose_the_mix_on_dev(few_labels: tuple[Path, str]) -> None:
    project, _ = few_labels
    pool_size = len(table(project, "data/pool/pool.parquet"))
    bag = metrics(project, "bag", "student")
    assert len(bag["dev_per_mix"]) == 6  # bag.transfer's 3 shares x bag.pool's 2
    best = max(bag["dev_per_mix"], key=lambda mix: bag["dev_per_mix"][mix]["accuracy"])
    assert (
        bag["dev_per_mix"][best]["accuracy"]
        == bag["dev_per_mix"][f"transfer {bag['transfer']}, pool {bag['pool']}"]["accuracy"]
    )
    assert bag["labelled_examples"] == LABELLED
    assert bag["teacher_labelled_examples"]["pool"] == round(bag["pool"] * pool_size)
    for arch in ("transformer", "bilstm"):
        student = metrics(project, arch, "student")
        assert student["labelled_examples"] == LABELLED and student["teacher_labelled_examples"]["pool"] == pool_size
        assert list(student["dev_per_mix"]) == [f"transfer {student['transfer']}, pool 1.0"]
    for arch in ("bag", "transformer", "bilstm"):
        twin = metrics(project, arch, "twin")
        assert twin["labelled_examples"] == LABELLED and twin["teacher_labelled_examples"] == {"transfer": 0, "pool": 0}
    report = (project / "data/compare/report.md").read_text()
    assert "texts learned from: labelled + teacher-labelled" in report and f"{LABELLED} + " in report


def test_the_mix_is_chosen_on_dev_only(few_labels: tuple[Path, str], tmp_path: Path) -> None:
    """Shuffle the test labels and train the bag student again: the same mix, dev scores and models."""
    project = Path(shutil.copytree(few_labels[0], tmp_path / "copy", symlinks=True))
    path = project / "data/tokenized/test.parquet"
    test = pq.read_table(path)
    shuffled = np.random.default_rng(0).permutation(test["label"].to_numpy())
    assert (shuffled != test["label"].to_numpy()).sum() > 10
    pq.write_table(test.set_column(test.schema.get_field_index("label"), "label", pa.array(shuffled, pa.int64())), path)
    run(["python", "stages/distil_bag.py"], project)
    first, second = metrics(few_labels[0], "bag", "student"), metrics(project, "bag", "student")
    assert len(first["dev_per_mix"]) == 6 and first == second
    models = sorted((project / "data/bag/student/models").iterdir())
    assert [m.read_bytes() for m in models] == [(few_labels[0] / m.relative_to(project)).read_bytes() for m in models]


def test_the_unlabelled_files_label_column_is_never_read(few_labels: tuple[Path, str], tmp_path: Path) -> None:
    project = Path(shutil.copytree(few_labels[0], tmp_path / "copy", symlinks=True))
    before = stage_outputs(project, "pool")
    pool = pd.read_csv(project / POOL_FILE)
    pool["sentiment"] = ["pos", "neg"] * (len(pool) // 2) + ["pos"] * (len(pool) % 2)
    pool.to_csv(project / POOL_FILE, index=False)
    output = run(["dvc", "repro"], project).stdout
    assert ran_stages(output) == ["pool"]  # its file changed; its output did not, so nothing after it re-ran
    assert stage_outputs(project, "pool") == before


# SIGKILLs pool_logits once its KILL_AFTER_CHUNKS-th chunk is in place.
KILL_AFTER_CHUNK = """
import os, signal, sys
if sys.argv and sys.argv[0] == "stages/pool_logits.py":
    _replace = os.replace
    def _replace_then_die(source, target, *args, **kwargs):
        _replace(source, target, *args, **kwargs)
        if str(target).endswith(f"chunk_{int(os.environ['KILL_AFTER_CHUNKS']) - 1:06d}.parquet"):
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = _replace_then_die
"""


def test_a_killed_labelling_run_resumes_at_its_chunk_and_ends_byte_identical(
    few_labels: tuple[Path, str], tmp_path: Path
) -> None:
    reference = few_labels[0]
    project = Path(shutil.copytree(reference, tmp_path / "copy", symlinks=True))
    chunks = -(-len(table(project, "data/pool/pool.parquet")) // 16)
    assert chunks >= 4
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject/sitecustomize.py").write_text(KILL_AFTER_CHUNK)
    env = project_env(project, KILL_AFTER_CHUNKS="2")
    env["PYTHONPATH"] = f"{tmp_path / 'inject'}{os.pathsep}{env['PYTHONPATH']}"
    command = ["dvc", "repro", "--force", "--single-item", "pool_logits"]
    killed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    assert killed.returncode != 0, killed.stdout + killed.stderr
    assert len(list(project.glob(".checkpoints/pool_logits-*/chunk_*.parquet"))) == 2

    resumed = run(command, project)  # forced: dvc.lock already holds the reference's output, in the cache

    assert f"pool_logits: resuming: 2 of {chunks} chunks were scored by an earlier run" in resumed.stdout
    assert f"chunk 3/{chunks}" in resumed.stderr and f"chunk 2/{chunks}" not in resumed.stderr  # tqdm's lines
    assert stage_outputs(project, "pool_logits") == stage_outputs(reference, "pool_logits")
    assert not (project / ".checkpoints").exists()


def test_two_processes_label_the_pool_as_one_does(few_labels: tuple[Path, str], tmp_path: Path) -> None:
    reference = few_labels[0]
    project = Path(shutil.copytree(reference, tmp_path / "copy", symlinks=True))
    (project / "data/logits/pool.parquet").unlink()
    launch = ["accelerate", "launch", "--cpu", "--num_processes", "2", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no", "stages/pool_logits.py"]
    result = run(launch, project)
    assert "pool_logits: " in result.stdout
    assert (project / "data/logits/pool.parquet").read_bytes() == (reference / "data/logits/pool.parquet").read_bytes()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unlabelled_text_column": "body"}, ["column(s) ['body'] not found", "data.unlabelled_text_column"]),
        ({"unlabelled": "data/raw/missing.csv"}, ["data.unlabelled: 'data/raw/missing.csv' not found"]),
        ({"unlabelled": "data/raw/header_only.csv"}, ["header_only.csv' has no rows"]),
        ({"unlabelled": "data/raw/labelled_again.csv"}, ["none is a new, non-empty text", "texts of train/dev/test"]),
    ],
)
def test_a_bad_pool_gets_one_clear_line(
    few_labels: tuple[Path, str], tmp_path: Path, change: dict, expected: list[str]
) -> None:
    project = Path(shutil.copytree(few_labels[0], tmp_path / "copy", symlinks=True))
    (project / "data/raw/header_only.csv").write_text("review,sentiment\n")
    table(project, "data/prepared/train.parquet").rename(columns={"text": "review"})[["review"]].to_csv(
        project / "data/raw/labelled_again.csv", index=False
    )
    shutil.rmtree(project / "data/pool")
    update_params(project, {"data": change})
    fails_cleanly(project, "pool.py", *expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "must be null, a number of rows or a fraction below 1"), (2.5, "not a whole number"), (10**6, "has 172 rows")],
)
def test_bad_train_labels_get_one_clear_line(reproduced: tuple[Path, str], tmp_path: Path, value, expected) -> None:
    project = Path(shutil.copytree(reproduced[0], tmp_path / "copy", symlinks=True))
    shutil.rmtree(project / "data/prepared")
    update_params(project, {"data": {"train_labels": value}})
    fails_cleanly(project, "prepare.py", "data.train_labels", expected)
